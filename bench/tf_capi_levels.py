#!/usr/bin/env python3
"""TensorFlow's Eigen-bound kernels through each ISA-level copy of the installed libtensorflow (issue 17, outcome 4).

bench/tf_capi_levels.c is built against libtensorflow-dev (pkg-config tensorflow) and run with each level made the
best one ld.so supports, by GLIBC_TUNABLES masks as the upstream-tests autopkgtest sets them (debforge/core/isa.py),
interleaved in rounds, with oneDNN off and on (TF_ENABLE_ONEDNN_OPTS=0/1: the recipe's --config=mkl build reads
it through onednn-opts-with-enable-mkl.patch). Each run must have mapped the copy of its
level (the program names the files it loaded). Prints per kernel the best milliseconds of each copy, the speed of
x86-64-v3 and x86-64-v4 against generic, and whether each copy's output is bit-identical to the generic copy's or
within TOLERANCE (FMA contraction and the vector width change float rounding and summation order).

Needs the packages installed (libtensorflow2 and its ISA-level packages, libtensorflow-dev): bench/in_root.py
installs the built .debs into a clean sid root and runs it there. Figures: docs/benchmarks.md.

    python3 bench/tf_capi_levels.py [--rounds 5] [--iters 20] [--kernels tanh,matmul] [--work DIR]
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from levels import ROOT, columns, header, run_at, runnable  # noqa: E402

# |copy - generic| <= TOLERANCE * max|generic| where not bit-identical: float32's epsilon is 1.2e-7; a sum of K
# products reordered (K = 512 for MatMul, 576 for Conv2D, 1024 for Sum) moves by about sqrt(K) eps of its scale
TOLERANCE = 1e-5
LINE = re.compile(r"^(\w+) ([0-9.]+) ([0-9a-f]{16}) (\d+)$")


def build(work: Path) -> Path:
    exe = work / "tf_capi_levels"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "tensorflow"], capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(ROOT / "bench/tf_capi_levels.c"), *flags, "-lm"], check=True)
    return exe


def run(exe: Path, level: str, mask: str, onednn: str, iters: int, kernels: list[str],
        dump: Path | None) -> dict[str, tuple[float, str]]:
    """kernel -> (best ms, output hash) of one run; fails when the run mapped another level's copy."""
    args = [str(exe), *(["--dump", str(dump)] if dump else []), str(iters), *kernels]
    proc = run_at(args, level, mask, {"TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return {m.group(1): (float(m.group(2)), m.group(3)) for m in map(LINE.match, proc.stdout.splitlines()) if m}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--kernels", default="", help="comma-separated (default: every kernel of the program)")
    ap.add_argument("--levels", default="", help="comma-separated copies to measure, generic first (default: every "
                    "level this CPU runs; e.g. generic,x86-64-v4 where only those copies are installed)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tf_capi_levels."))
    exe = build(work)
    kernels = [k for k in args.kernels.split(",") if k]
    levels = runnable(args.levels)
    best: dict[tuple[str, str, str], float] = {}
    for r in range(args.rounds):   # interleaved: every copy sees the machine's state of the moment
        for onednn in ("0", "1"):
            for level, mask in levels.items():
                dump = work / f"out-{onednn}-{level}" if r == 0 else None
                if dump:
                    dump.mkdir(exist_ok=True)
                for kernel, (ms, _) in run(exe, level, mask, onednn, args.iters, kernels, dump).items():
                    best[kernel, onednn, level] = min(ms, best.get((kernel, onednn, level), ms))
    names = list(levels)
    print(f"{'kernel':<10} {'oneDNN':<6} " + header(names))
    for kernel, onednn in sorted({(k, o) for k, o, _ in best}):
        print(f"{kernel:<10} {'on' if onednn == '1' else 'off':<6} " + columns(
            names, [best[kernel, onednn, n] for n in names],
            {n: work / f"out-{onednn}-{n}/{kernel}.f32" for n in names}, TOLERANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
