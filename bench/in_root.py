#!/usr/bin/env python3
"""Run one of bench/'s level benchmarks (tf_capi_levels.py, torch_levels.py) on built .debs, installed with their
dependencies into a clean root of SUITE (tests/testbed.py: the cached mmdebstrap tarball, an overlay, apt from
the archive), so that the host is left as it was and the libraries run with the suite they were built for.
Arguments after the benchmark's name go to it. Needs root.

    .venv/bin/python bench/in_root.py --suite sid --debs DIR tf_capi_levels.py --rounds 5 --iters 20
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # the clean-root testbed is a test helper

import testbed  # noqa: E402

# what the benchmarks need beside the packages: a compiler for their program, pkg-config for the -dev package's
# flags, python3 for the driver
TOOLS = ("g++", "gcc", "pkgconf", "python3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="sid", help="the suite the .debs were built for (default sid)")
    ap.add_argument("--debs", type=Path, required=True,
                    help="directory of the built .debs; all are installed but -dbgsym and -src packages")
    ap.add_argument("bench", help="the benchmark script in bench/")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    args = ap.parse_args()
    if not (ROOT / "bench" / args.bench).is_file():
        ap.error(f"bench/{args.bench} does not exist")
    debs = sorted(p for p in args.debs.glob("*.deb") if not p.name.split("_")[0].endswith(("-dbgsym", "-src")))
    if not debs:
        ap.error(f"{args.debs} holds no .deb")
    with tempfile.TemporaryDirectory(prefix="debforge-bench-") as tmp:
        work = Path(tmp)
        base = testbed.unpack(testbed.tarball(args.suite, "amd64"), work / "base")
        with testbed.Root(base, work / "root") as root:
            print(f"installing {len(debs)} packages into a clean {args.suite} root", file=sys.stderr)
            root.install(*TOOLS, debs=debs)
            opt = root.path / "opt/debforge"
            shutil.copytree(ROOT / "bench", opt / "bench")
            (opt / "debforge").mkdir()
            shutil.copy2(ROOT / "debforge/__init__.py", opt / "debforge")
            shutil.copytree(ROOT / "debforge/core", opt / "debforge/core")   # bench/levels.py reads the ISA table
            proc = root.run("python3", f"/opt/debforge/bench/{args.bench}", *args.args, check=False)
    print(proc.stdout, end="")
    print(proc.stderr, end="", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
