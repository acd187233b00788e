#!/usr/bin/env python3
"""Does an ISA-level copy pay off? gemmlowp's .debs (recipes/gemmlowp.yaml) installed into a clean bookworm root;
one 8-bit GEMM workload (bench/gemm_bench.cc) run through the library ld.so picks there, and through each lower
copy by masking levels with GLIBC_TUNABLES, interleaved in one run. Prints GOP/s per copy, the speed ratio of
each to the generic copy (results must be bit-identical), and the byte ratio of all variant .debs to the generic
.deb. Needs root (dpkg in the clean root).

    .venv/bin/python bench/hwcaps_gemm.py [--debs DIR] [--size N] [--rounds R]
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # the clean-root testbed is a test helper

import testbed  # noqa: E402
from debforge.backends.debian.packages import all_variants, generic_name  # noqa: E402
from debforge.core import isa  # noqa: E402
from debforge.recipe.schema import load_recipe  # noqa: E402

RECIPE = ROOT / "recipes/gemmlowp.yaml"


def built_debs(debs_dir: Path | None, work: Path) -> dict[str, Path]:
    if debs_dir is None:
        debs_dir = work / "build"
        subprocess.run([sys.executable, "-m", "debforge.cli", "build", str(RECIPE), "-o", str(debs_dir)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return {p.name.split("_")[0]: p for p in debs_dir.glob("*.deb") if "-dbgsym_" not in p.name}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debs", type=Path, help="directory with the built .debs (default: build them now)")
    ap.add_argument("--size", type=int, default=512, help="N of the N x N x N GEMM (default 512)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per copy, each best of 5 (default 3)")
    args = ap.parse_args()
    recipe = load_recipe(RECIPE)
    [pkg] = recipe.packages
    variants = [v for v in all_variants(recipe) if "amd64" in v.arches]
    with tempfile.TemporaryDirectory(prefix="debforge-bench-") as tmp:
        work = Path(tmp)
        debs = built_debs(args.debs, work)
        base = testbed.unpack(testbed.tarball("bookworm", "amd64"), work / "base")
        with testbed.Root(base, work / "root") as root:
            root.run("dpkg", "-i", *root.copy_in(*(debs[p] for p in [generic_name(pkg), pkg.name, recipe.dev_package]
                                                    + [v.name for v in variants])))
            root.copy_in(ROOT / "bench/gemm_bench.cc")
            root.run("g++", "-O2", "-o", "/tmp/gemm_bench", "/tmp/gemm_bench.cc", "-leight_bit_int_gemm")
            # each copy: what ld.so picks unmasked, then with the levels above it masked, down to generic
            masks = [""] + [f"glibc.cpu.hwcaps={lvl.hwcap_mask}" for lvl in reversed([v.level for v in variants])]
            runs: dict[str, list[float]] = {}
            sums: dict[str, set[str]] = {}
            for _ in range(args.rounds):
                for mask in masks:
                    out = root.run("/tmp/gemm_bench", str(args.size), "5", env={"GLIBC_TUNABLES": mask}).stdout
                    path, gops, checksum = out.split()
                    copy = re.search(r"glibc-hwcaps/([^/]+)/", path)
                    name = copy.group(1) if copy else isa.GENERIC
                    runs.setdefault(name, []).append(float(gops))
                    sums.setdefault(name, set()).add(checksum)
            cpu = re.search(r"^model name\s*: (.*)$", Path("/proc/cpuinfo").read_text(), re.M).group(1)
            best = root.run("/tmp/gemm_bench", "64", "1").stdout.split()[0]
        gsize = debs[generic_name(pkg)].stat().st_size   # before the .debs' temporary directory goes
        vsize = sum(debs[v.name].stat().st_size for v in variants)
    print(f"host CPU: {cpu}; ld.so picks {best}")
    print(f"EightBitIntGemm {args.size}x{args.size}x{args.size}, 1 thread, median of {args.rounds} interleaved "
          f"rounds (each best of 5):")
    generic = statistics.median(runs[isa.GENERIC])
    for name, values in runs.items():
        print(f"  {name:10} {statistics.median(values):8.2f} GOP/s   x{statistics.median(values) / generic:5.2f} "
              f"vs generic")
    identical = len(set().union(*sums.values())) == 1
    print(f"  results bit-identical across copies: {'yes' if identical else 'NO'}")
    print(f"bytes: variant .debs {vsize} / generic .deb {gsize} = x{vsize / gsize:.2f}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
