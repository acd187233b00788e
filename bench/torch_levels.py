#!/usr/bin/env python3
"""libtorch_cpu's ops through each ISA-level copy of the installed library (issue 18, outcome 4: do the hwcaps
copies pay, where ATen already picks its kernels at run time?).

bench/torch_levels.cpp is built against the installed libtorch-dev and run with each level made the best one ld.so
supports, by GLIBC_TUNABLES masks as the upstream-tests autopkgtest sets them (debforge/core/isa.py), interleaved in
rounds: the generic copy, x86-64-v3's and x86-64-v4's, each with ATen's own dispatch at its best (the CPU's
capability; ATEN_CPU_CAPABILITY unset, or --aten-capability for all runs alike). Each run must have mapped the
libtorch_cpu and libc10 of its level (the program names the files it loaded). Prints per op the best milliseconds
of each copy, v3/generic and v4/generic side by side, and whether each copy's output is bit-identical to the generic
copy's or within TOLERANCE. matmul calls the system's BLAS (and conv2d oneDNN), which dispatch by themselves:
those ops measure what the copies cannot change.

Needs the packages installed (libtorch-cpu2.6 and its ISA-level packages, libtorch-dev). Since its verdict (5 Dec
2026: v4/generic 0.98-1.01x on every op, outputs bit-identical; docs/pytorch.md) the recipe packages no copies of
libtorch_cpu: bench/torch_levels_tree.sh runs this on a build tree's copies laid out as the packages would install
them.

    python3 bench/torch_levels.py [--rounds 5] [--iters 20] [--threads 1] [--ops matmul,conv2d] [--work DIR]
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from levels import ROOT, columns, header, run_at, runnable  # noqa: E402

# |copy - generic| <= TOLERANCE * max|generic| where not bit-identical: float32's epsilon is 1.2e-7; FMA contraction
# and the vector width reorder sums of up to K = 576 products (conv2d: 64 channels x 3 x 3; matmul 512, sum 1024),
# which move by about sqrt(K) eps of their scale
TOLERANCE = 1e-5
LINE = re.compile(r"^(\w+) ([0-9.]+) ([0-9a-f]{16}) (\d+)$")


def build(work: Path) -> Path:
    exe = work / "torch_levels"
    subprocess.run(["g++", "-O2", "-o", str(exe), str(ROOT / "bench/torch_levels.cpp"), "-ltorch_cpu", "-lc10"],
                   check=True)
    return exe


def run(exe: Path, level: str, mask: str, env: dict[str, str], iters: int, threads: int, ops: list[str],
        dump: Path | None) -> tuple[dict[str, tuple[float, str]], str]:
    """op -> (best ms, output hash) of one run, and the capability ATen chose; fails when the run mapped another
    level's copy."""
    args = [str(exe), *(["--dump", str(dump)] if dump else []), "--threads", str(threads), str(iters), *ops]
    proc = run_at(args, level, mask, env)
    capability = next((line.split(None, 1)[1] for line in proc.stderr.splitlines()
                       if line.startswith("capability ")), "?")   # "NO AVX" is one
    return ({m.group(1): (float(m.group(2)), m.group(3)) for m in map(LINE.match, proc.stdout.splitlines()) if m},
            capability)


def measure(exe: Path, work: Path, args: argparse.Namespace) -> tuple[dict, dict[str, str], list[str]]:
    """Best ms per (op, level) over interleaved rounds, ATen's capability per level, the levels run."""
    env = {"ATEN_CPU_CAPABILITY": args.aten_capability} if args.aten_capability else {}
    ops = [op for op in args.ops.split(",") if op]
    levels = runnable(args.levels)
    best: dict[tuple[str, str], float] = {}
    capability: dict[str, str] = {}
    for r in range(args.rounds):   # interleaved: every copy sees the machine's state of the moment
        for level, mask in levels.items():
            dump = work / f"out-{level}" if r == 0 else None
            if dump:
                dump.mkdir(exist_ok=True)
            times, capability[level] = run(exe, level, mask, env, args.iters, args.threads, ops, dump)
            for op, (ms, _) in times.items():
                best[op, level] = min(ms, best.get((op, level), ms))
    return best, capability, list(levels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="ATen's intra-op threads (default 1: less noise)")
    ap.add_argument("--ops", default="", help="comma-separated (default: every op of the program)")
    ap.add_argument("--aten-capability", default="", help="ATEN_CPU_CAPABILITY for every run (default: the CPU's)")
    ap.add_argument("--levels", default="", help="comma-separated copies to measure, generic first (default: every "
                    "level this CPU runs; e.g. generic,x86-64-v4 where only those copies are installed)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="torch_levels."))
    best, capability, names = measure(build(work), work, args)
    print("ATen's kernels: " + ", ".join(f"{n} copy {capability[n]}" for n in names))
    print(f"{'op':<10} " + header(names))
    for op in sorted({o for o, _ in best}):
        print(f"{op:<10} " + columns(names, [best[op, n] for n in names],
                                     {n: work / f"out-{n}/{op}.f32" for n in names}, TOLERANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
