#!/usr/bin/env python3
"""TensorFlow's Eigen-bound kernels through each ISA-level copy of the installed libtensorflow (issue 17, outcome 4).

bench/tf_capi_levels.c is built against libtensorflow-dev (pkg-config tensorflow) and run with each level made the
best one ld.so supports, by GLIBC_TUNABLES masks as the upstream-tests autopkgtest sets them (debforge/core/isa.py),
interleaved in rounds, with oneDNN off and on (TF_ENABLE_ONEDNN_OPTS=0/1). Each run must have mapped the copy of its
level (the program names the files it loaded). Prints per kernel the best milliseconds of each copy, the speed of
x86-64-v3 and x86-64-v4 against generic, and whether each copy's output is bit-identical to the generic copy's or
within TOLERANCE (FMA contraction and the vector width change float rounding and summation order).

Needs the packages installed (libtensorflow2 and its ISA-level packages, libtensorflow-dev); they are not built yet,
so this has not run.

    python3 bench/tf_capi_levels.py [--rounds 5] [--iters 20] [--kernels tanh,matmul] [--work DIR]
"""

import argparse
import array
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge.core import isa  # noqa: E402

# |copy - generic| <= TOLERANCE * max|generic| where not bit-identical: float32's epsilon is 1.2e-7; a sum of K
# products reordered (K = 512 for MatMul, 576 for Conv2D, 1024 for Sum) moves by about sqrt(K) eps of its scale
TOLERANCE = 1e-5
LINE = re.compile(r"^(\w+) ([0-9.]+) ([0-9a-f]{16}) (\d+)$")


def masks(arch: str = "amd64") -> dict[str, str]:
    """Level -> the GLIBC_TUNABLES value that makes it the best level ld.so supports: the level above masked."""
    levels = isa.ARCHES[arch].levels
    names = [isa.GENERIC, *(lvl.name for lvl in levels)]
    return {name: f"glibc.cpu.hwcaps={above.hwcap_mask}" for name, above in zip(names, levels)} | {names[-1]: ""}


def supported(level: str) -> bool:
    rtld = subprocess.run(["ld.so", "--help"], capture_output=True, text=True).stdout
    return level == isa.GENERIC or f"  {level} (supported, searched)" in rtld.splitlines()


def build(work: Path) -> Path:
    exe = work / "tf_capi_levels"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "tensorflow"], capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(ROOT / "bench/tf_capi_levels.c"), *flags, "-lm"], check=True)
    return exe


def run(exe: Path, level: str, mask: str, onednn: str, iters: int, kernels: list[str],
        dump: Path | None) -> dict[str, tuple[float, str]]:
    """kernel -> (best ms, output hash) of one run; fails when the run mapped another level's copy."""
    env = {"PATH": "/usr/bin:/bin", "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "2",
           **({"GLIBC_TUNABLES": mask} if mask else {})}
    args = [str(exe), *(["--dump", str(dump)] if dump else []), str(iters), *kernels]
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(args)} ({level}): exit {proc.returncode}\n{proc.stderr[-2000:]}")
    loaded = [line.split(None, 1)[1] for line in proc.stderr.splitlines() if line.startswith("loaded ")]
    wrong = [p for p in loaded if ("/glibc-hwcaps/" in p if level == isa.GENERIC else
                                   f"/glibc-hwcaps/{level}/" not in p)]
    if not loaded or wrong:
        raise SystemExit(f"{level}: the run mapped {loaded or 'no libtensorflow'}, not that level's copy")
    return {m.group(1): (float(m.group(2)), m.group(3)) for m in map(LINE.match, proc.stdout.splitlines()) if m}


def agreement(generic: Path, other: Path) -> str:
    """'identical', or the largest difference relative to the generic output's scale, and whether it is within
    TOLERANCE."""
    a, b = array.array("f"), array.array("f")
    a.frombytes(generic.read_bytes())
    b.frombytes(other.read_bytes())
    if a == b:
        return "identical"
    scale = max(abs(x) for x in a) or 1.0
    worst = max(abs(x - y) for x, y in zip(a, b)) / scale
    return f"{worst:.1e} {'ok' if len(a) == len(b) and worst <= TOLERANCE else 'BEYOND TOLERANCE'}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--kernels", default="", help="comma-separated (default: every kernel of the program)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tf_capi_levels."))
    exe = build(work)
    kernels = [k for k in args.kernels.split(",") if k]
    levels = {lvl: m for lvl, m in masks().items() if supported(lvl)}
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
    print(f"{'kernel':<10} {'oneDNN':<6} " + " ".join(f"{n + ' ms':>14}" for n in names) +
          " " + " ".join(f"{n + '/generic':>18}" for n in names[1:]) + "  output against generic")
    for kernel, onednn in sorted({(k, o) for k, o, _ in best}):
        ms = [best[kernel, onednn, n] for n in names]
        out = {n: work / f"out-{onednn}-{n}/{kernel}.f32" for n in names}
        agree = [f"{n}: {agreement(out[isa.GENERIC], out[n])}" for n in names[1:]]
        print(f"{kernel:<10} {'on' if onednn == '1' else 'off':<6} " + " ".join(f"{m:>14.3f}" for m in ms) + " " +
              " ".join(f"{ms[0] / m:>17.2f}x" for m in ms[1:]) + "  " + "; ".join(agree))
    return 0


if __name__ == "__main__":
    sys.exit(main())
