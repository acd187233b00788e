"""What the ISA-level benchmarks of an installed library share (bench/tf_capi_levels.py, bench/torch_levels.py):
the GLIBC_TUNABLES mask that makes each level the best one ld.so supports (debforge/core/isa.py, as the
upstream-tests autopkgtest sets them), a run that must have mapped its level's copy, and a copy's float32 output
against the generic copy's."""

import array
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge.core import isa  # noqa: E402


def masks(arch: str = "amd64") -> dict[str, str]:
    """Level -> the GLIBC_TUNABLES value that makes it the best level ld.so supports: the level above masked."""
    levels = isa.ARCHES[arch].levels
    names = [isa.GENERIC, *(lvl.name for lvl in levels)]
    return {name: f"glibc.cpu.hwcaps={above.hwcap_mask}" for name, above in zip(names, levels)} | {names[-1]: ""}


def supported(level: str) -> bool:
    rtld = subprocess.run(["ld.so", "--help"], capture_output=True, text=True).stdout
    return level == isa.GENERIC or f"  {level} (supported, searched)" in rtld.splitlines()


def runnable(chosen: str = "") -> dict[str, str]:
    """Level -> mask of the levels to measure: CHOSEN (comma-separated; e.g. generic,x86-64-v4 where only the v4
    copies were built), or every level; those this CPU does not run are left out."""
    every = masks()
    names = [n for n in chosen.split(",") if n] or list(every)
    unknown = [n for n in names if n not in every]
    if unknown:
        raise SystemExit(f"unknown level {', '.join(unknown)}: the levels are {', '.join(every)}")
    return {n: every[n] for n in names if supported(n)}


def run_at(args: list[str], level: str, mask: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """ARGS run with LEVEL's mask; fails unless it exits 0 and every file it names on stderr as 'loaded PATH' is
    that level's copy (generic: none from glibc-hwcaps/)."""
    env = {"PATH": "/usr/bin:/bin", **env, **({"GLIBC_TUNABLES": mask} if mask else {})}
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(args)} ({level}): exit {proc.returncode}\n{proc.stderr[-2000:]}")
    loaded = [line.split(None, 1)[1] for line in proc.stderr.splitlines() if line.startswith("loaded ")]
    wrong = [p for p in loaded if ("/glibc-hwcaps/" in p if level == isa.GENERIC else
                                   f"/glibc-hwcaps/{level}/" not in p)]
    if not loaded or wrong:
        raise SystemExit(f"{level}: the run mapped {loaded or 'none of the libraries'}, not that level's copy")
    return proc


def agreement(generic: Path, other: Path, tolerance: float) -> str:
    """'identical', or the largest difference relative to the generic output's scale, and whether it is within
    TOLERANCE."""
    a, b = array.array("f"), array.array("f")
    a.frombytes(generic.read_bytes())
    b.frombytes(other.read_bytes())
    if a == b:
        return "identical"
    scale = max(abs(x) for x in a) or 1.0
    worst = max(abs(x - y) for x, y in zip(a, b)) / scale
    return f"{worst:.1e} {'ok' if len(a) == len(b) and worst <= tolerance else 'BEYOND TOLERANCE'}"


def header(names: list[str]) -> str:
    """The columns of a table row below: each copy's milliseconds, each level's speed against generic."""
    return " ".join(f"{n + ' ms':>14}" for n in names) + " " + \
        " ".join(f"{n + '/generic':>18}" for n in names[1:]) + "  output against generic"


def columns(names: list[str], ms: list[float], outputs: dict[str, Path], tolerance: float) -> str:
    """One op's row: the best milliseconds of each copy (in `names`' order, generic first), the speed of the
    others against generic, and their outputs against generic's."""
    agree = [f"{n}: {agreement(outputs[isa.GENERIC], outputs[n], tolerance)}" for n in names[1:]]
    return " ".join(f"{m:>14.3f}" for m in ms) + " " + " ".join(f"{ms[0] / m:>17.2f}x" for m in ms[1:]) + \
        "  " + "; ".join(agree)
