#!/usr/bin/env python3
"""Compile a deterministic sample of a generated tree's translation units at one ISA level and report each one's
result and seconds (from ninja's own log), for libraries too big to build whole on every change.

The sample is every Nth object file of the level in path order, so the same tree gives the same sample. The
generate steps the sample needs run first (ninja orders them). With --chroot the compiler and -dev headers of a
chroot are used (e.g. trixie's, when the host's are too old); the tree must be visible there at the same path.

    .venv/bin/python bench/sample_compile.py TREE [--every 4] [--level generic] [--chroot DIR] [-j 2]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge.generate import BUILDDIR  # noqa: E402


def objects(tree: Path, ninja_file: str, level: str) -> list[str]:
    """The object files of `level` in the ninja file, in path order."""
    out = subprocess.run(["ninja", "-C", str(tree), "-f", ninja_file, "-t", "targets", "all"],
                         capture_output=True, text=True, check=True).stdout
    prefix = f"{BUILDDIR}/{level}/obj/"
    return sorted(line.split(":")[0] for line in out.splitlines() if line.startswith(prefix)
                  and line.split(":")[0].endswith(".o"))


def log_seconds(tree: Path) -> dict[str, float]:
    """Seconds each output took, from ninja's log (start and end in ms); the last record of an output counts."""
    seconds = {}
    for line in (tree / BUILDDIR / ".ninja_log").read_text().splitlines()[1:]:
        start, end, _, output, _ = line.split("\t")
        seconds[output] = (int(end) - int(start)) / 1000
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path, help="a tree written by debforge generate (debian/debforge/build-*.ninja)")
    ap.add_argument("--arch", default="amd64")
    ap.add_argument("--level", default="generic")
    ap.add_argument("--every", type=int, default=4, help="take every Nth object file (default 4)")
    ap.add_argument("--chroot", help="run ninja in this chroot directory")
    ap.add_argument("-j", type=int, default=2)
    args = ap.parse_args()
    tree = args.tree.resolve()
    ninja_file = f"debian/debforge/build-{args.arch}.ninja"
    sample = objects(tree, ninja_file, args.level)[::args.every]
    wrap = ["chroot", args.chroot] if args.chroot else []
    started = time.monotonic()
    proc = subprocess.run([*wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-k", "0", f"-j{args.j}", *sample],
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    failed = {line.split(" ", 1)[1].strip() for line in proc.stdout.splitlines() if line.startswith("FAILED: ")}
    seconds = log_seconds(tree)
    for obj in sample:
        status = "FAIL" if obj in failed else "ok" if obj in seconds else "not run"
        print(f"{status:8} {seconds.get(obj, 0):7.1f} s  {obj}")
    passed = sum(1 for obj in sample if obj not in failed and obj in seconds)
    times = sorted(seconds[o] for o in sample if o in seconds and o not in failed)
    median = times[len(times) // 2] if times else 0
    print(f"{passed} of {len(sample)} translation units compiled ({args.level}, every {args.every}th), "
          f"{wall:.0f} s wall at -j{args.j}, median {median:.1f} s")
    if failed:
        print("\n".join(line for line in proc.stdout.splitlines() if "error:" in line)[:6000], file=sys.stderr)
    return 0 if passed == len(sample) else 1


if __name__ == "__main__":
    sys.exit(main())
