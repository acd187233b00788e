#!/usr/bin/env python3
"""Compile a deterministic, stratified sample of a generated tree's translation units at one ISA level and report
each one's result and seconds (from ninja's own log), for libraries too big to build whole on every change.

The object files of the level are split into groups by source path prefix (--group, repeatable; the rest form
"other"), and each group gives --per-group files evenly spread over it in path order, so the same tree gives the
same sample. The generate steps the sample needs (its order-only inputs) run first, timed apart. Without
obj-debforge/config.ninja the toolchain and flags come from debian/rules' own override_dh_auto_configure (the
flags of a real build). With --chroot the compiler and -dev headers of a chroot are used (e.g. trixie's, when the
host's are too old); the tree must be visible there at the same path.

    .venv/bin/python bench/sample_compile.py TREE [--lib torch_cpu] [--group aten/src/ATen/native/ ...]
        [--per-group 8] [--level generic] [--chroot DIR] [-j 2]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge.generate import BUILDDIR  # noqa: E402


def objects(tree: Path, ninja_file: str, level: str, lib: str | None) -> list[str]:
    """The object files of `level` (of library `lib` if given) in the ninja file, in path order."""
    out = subprocess.run(["ninja", "-C", str(tree), "-f", ninja_file, "-t", "targets", "all"],
                         capture_output=True, text=True, check=True).stdout
    prefix = f"{BUILDDIR}/{level}/obj/{lib + '/' if lib else ''}"
    return sorted(line.split(":")[0] for line in out.splitlines() if line.startswith(prefix)
                  and line.split(":")[0].endswith(".o"))


def source(obj: str, level: str) -> str:
    """The source path of an object file: obj-debforge/LEVEL/obj/LIB/SRC.o -> SRC."""
    return obj.removeprefix(f"{BUILDDIR}/{level}/obj/").split("/", 1)[1].removesuffix(".o")


def stratified(objs: list[str], level: str, groups: list[str], per_group: int) -> dict[str, list[str]]:
    """`per_group` objects of each group (first matching source prefix, else "other"), evenly spread in path order."""
    members: dict[str, list[str]] = {g: [] for g in [*groups, "other"]}
    for obj in objs:
        src = source(obj, level)
        members[next((g for g in groups if src.startswith(g)), "other")].append(obj)
    return {g: [objs[i * len(objs) // per_group] for i in range(min(per_group, len(objs)))]
            for g, objs in members.items() if objs}


def order_only(tree: Path, ninja_file: str, wrap: list[str], objs: list[str]) -> list[str]:
    """The order-only inputs (generated files, phonies) of the objects, from ninja -t query."""
    out = subprocess.run([*wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-t", "query", *objs],
                         capture_output=True, text=True, check=True).stdout
    deps = {line.strip().removeprefix("|| ") for line in out.splitlines() if line.startswith("    || ")}
    return sorted(deps)


def log_seconds(tree: Path) -> dict[str, float]:
    """Seconds each output took, from ninja's log (start and end in ms); the last record of an output counts."""
    seconds = {}
    for line in (tree / BUILDDIR / ".ninja_log").read_text().splitlines()[1:]:
        start, end, _, output, _ = line.split("\t")
        seconds[output] = (int(end) - int(start)) / 1000
    return seconds


def ninja(tree: Path, ninja_file: str, wrap: list[str], jobs: int, targets: list[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(["nice", "-n", "10", *wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-k", "0",
                           f"-j{jobs}", *targets], capture_output=True, text=True)
    return proc.returncode, proc.stdout, time.monotonic() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path, help="a tree written by debforge generate (debian/debforge/build-*.ninja)")
    ap.add_argument("--arch", default="amd64")
    ap.add_argument("--level", default="generic")
    ap.add_argument("--lib", help="only this library's object files")
    ap.add_argument("--group", action="append", default=[], help="a source path prefix that forms a group")
    ap.add_argument("--per-group", type=int, default=8, help="objects taken from each group (default 8)")
    ap.add_argument("--chroot", help="run make and ninja in this chroot directory")
    ap.add_argument("-j", type=int, default=2)
    args = ap.parse_args()
    tree = args.tree.resolve()
    ninja_file = f"debian/debforge/build-{args.arch}.ninja"
    wrap = ["chroot", args.chroot] if args.chroot else []
    if not (tree / BUILDDIR / "config.ninja").is_file():
        subprocess.run([*wrap, "make", "-C", str(tree), "-f", "debian/rules", "override_dh_auto_configure"],
                       check=True, capture_output=True)
    groups = stratified(objects(tree, ninja_file, args.level, args.lib), args.level, args.group, args.per_group)
    sample = sorted(o for objs in groups.values() for o in objs)
    rc, out, gen_wall = ninja(tree, ninja_file, wrap, args.j, order_only(tree, ninja_file, wrap, sample))
    print(f"generate steps of the sample: {gen_wall:.0f} s wall at -j{args.j} (exit {rc})")
    if rc:
        print(out[-6000:], file=sys.stderr)
        return 1
    _, out, wall = ninja(tree, ninja_file, wrap, args.j, sample)
    failed = {line.split(" ", 1)[1].strip() for line in out.splitlines() if line.startswith("FAILED: ")}
    seconds = log_seconds(tree)
    for group, objs in groups.items():
        print(f"== {group}")
        for obj in objs:
            status = "FAIL" if obj in failed else "ok" if obj in seconds else "not run"
            print(f"{status:8} {seconds.get(obj, 0):7.1f} s  {obj}")
    times = [seconds[o] for o in sample if o in seconds and o not in failed]
    print(f"{len(times)} of {len(sample)} translation units compiled ({args.level}), {wall:.0f} s wall at "
          f"-j{args.j}, median {statistics.median(times) if times else 0:.1f} s, max {max(times, default=0):.1f} s")
    if failed:
        print("\n".join(line for line in out.splitlines() if "error:" in line)[:8000], file=sys.stderr)
    return 0 if len(times) == len(sample) else 1


if __name__ == "__main__":
    sys.exit(main())
