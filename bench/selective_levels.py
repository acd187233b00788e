#!/usr/bin/env python3
"""Selective ISA levels against full copies, measured side by side in one run: compile CPU-seconds, library bytes
and speed of each copy.

In one build tree, inside ROOT (a root with the recipe's Build-Depends, e.g. `mmdebstrap --variant=buildd
--include=<Build-Depends>,time sid ROOT`):
1. `debforge generate` the recipe without its level-sensitive key and build the library at every level with
   ninja (every TU at every level: the full copies). Each compile and link runs under /usr/bin/time, so every
   object's CPU-seconds are known.
2. `debforge measure-levels --from-build` on that tree: the level-sensitive list, from the objects just built.
3. For each threshold of --thresholds, generate again with the list at that threshold, in the same tree, and let
   ninja relink the level copies: a sensitive TU's level object has the same command line as in the full graph (it
   is up to date), a neutral TU's is the baseline object. Nothing is recompiled (checked).
4. The build cost of each graph is the CPU-seconds of the commands it runs: generic-only (every TU at the baseline
   and its link), full three levels (every TU at every level), selective three levels (every TU at the baseline,
   the sensitive ones again at each level, the links).
5. Speed: a TF Lite model per op (built here with flatc from JSON against the tree's schema.fbs) run through each
   copy (LD_LIBRARY_PATH, one thread), rounds interleaved; the outputs' checksums are compared with the generic
   copy's. With --no-speed (a library other than TF Lite) the costs and bytes only; with --speed-only, this step
   alone on the copies an earlier run left (to measure again on a quieter machine).

The tree stays in ROOT/build/WORK (ninja resumes an interrupted build there; the CPU log survives with it). Run
again on a built tree, ninja compiles nothing: only the relinks and the speed rounds run (minutes), so the speed
can be measured again on a quiet machine.

    sudo .venv/bin/python bench/selective_levels.py recipes/tensorflow-lite.yaml --root /srv/debforge-heavy/sid-root
        [--work tflite-levels] [-j 2] [--rounds 5] [--thresholds 16,256,512] [--no-speed | --speed-only]
"""

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from debforge.core import isa  # noqa: E402
from debforge.core.layout import BUILDDIR  # noqa: E402
from debforge.drivers import ninjatree  # noqa: E402

sys.path.insert(0, str(ROOT_DIR / "bench"))
import tflite_models  # noqa: E402

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CPUTIME = """#!/bin/sh
# CPU-seconds of one compiler run, appended to $1 with its command line
log=$1; shift
exec /usr/bin/time -a -o "$log" -f "%U %S %C" "$@"
"""


class Chroot:
    """ROOT and paths inside it: host() for this machine, inside() for commands run with chroot."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def inside(self, path: Path) -> str:
        return "/" + str(path.resolve().relative_to(self.root))

    def run(self, *cmd: str, cwd: str = "/", **kw) -> subprocess.CompletedProcess:
        """CMD in the root, in its own mount and pid namespaces (/proc there is its own), niced."""
        shell = f"cd {shlex.quote(cwd)} && exec " + shlex.join(cmd)
        return subprocess.run(["nice", "-n", "10", "unshare", "--mount", "--pid", "--fork",
                               f"--mount-proc={self.root}/proc", "chroot", str(self.root), "/usr/bin/env", "-i",
                               f"PATH={PATH}", "LC_ALL=C.UTF-8", "sh", "-c", shell], **kw)


def recipe_copies(recipe: Path, work: Path) -> Path:
    """The recipe's directory copied into WORK (its patches and lists resolve beside it), the recipe without a
    level-sensitive key: what the full graph is generated from."""
    dest = work / "recipes"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(recipe.parent, dest, ignore=shutil.ignore_patterns("*.outputs"))
    text = (dest / recipe.name).read_text()
    (dest / recipe.name).write_text(re.sub(r"(?ms)^level-sensitive:.*?(?=^\S|\Z)", "", text))
    return dest / recipe.name


def debforge(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "debforge.cli", *args], capture_output=True, text=True, cwd=ROOT_DIR)
    if proc.returncode:
        sys.exit(f"debforge {args[0]} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout + proc.stderr


def generate(recipe: Path, out: Path) -> Path:
    debforge("generate", str(recipe), "-o", str(out))
    return tree_in(out)


def tree_in(out: Path) -> Path:
    """The tree `debforge generate` wrote in OUT."""
    return next(p for p in out.iterdir() if p.is_dir() and (p / "debian/debforge").is_dir())


def configure(ch: Chroot, tree: Path, work: Path, jobs: int) -> Path:
    """debian/rules' configure step with the compilers under /usr/bin/time; the CPU log's path."""
    wrapper, log = work / "cputime", work / "cpu.log"
    wrapper.write_text(CPUTIME)
    wrapper.chmod(0o755)
    wrap = f"{ch.inside(wrapper)} {ch.inside(log)}"
    ch.run("make", "-f", "debian/rules", "override_dh_auto_configure", f"CC={wrap} x86_64-linux-gnu-gcc",
           f"CXX={wrap} x86_64-linux-gnu-g++", f"DEB_BUILD_OPTIONS=parallel={jobs}", cwd=ch.inside(tree), check=True,
           capture_output=True)
    return log


def build(ch: Chroot, tree: Path, lib: str, level: str, jobs: int) -> float:
    """ninja the library's copy at LEVEL; wall seconds."""
    started = time.monotonic()
    proc = ch.run("ninja", "-f", ninjatree.ninja_file("amd64"), f"-j{jobs}", f"{lib}@{level}", cwd=ch.inside(tree),
                  capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"ninja {lib}@{level} failed:\n{proc.stdout[-4000:]}")
    return time.monotonic() - started


def cpu_log_lines(lines: list[str]) -> dict[str, float]:
    """output file -> CPU-seconds of the last command that made it (a resumed build appends)."""
    seconds = {}
    for line in lines:
        m = re.match(r"([\d.]+) ([\d.]+) (.*)$", line)
        if m and " -o " in m[3]:
            seconds[m[3].split(" -o ", 1)[1].split()[0]] = float(m[1]) + float(m[2])
    return seconds


def library_of(tree: Path) -> tuple[str, str]:
    """The (first) recipe library of the tree's ninja file and its file name: from `build LIB@generic: phony
    obj-debforge/generic/FILE`."""
    text = (tree / ninjatree.ninja_file("amd64")).read_text()
    m = re.search(rf"^build (\S+)@{isa.GENERIC}: phony {BUILDDIR}/{isa.GENERIC}/(\S+)", text, re.M)
    if not m:
        sys.exit(f"no library at the {isa.GENERIC} level in {tree}")
    return m[1], m[2]


def copy_out(tree: Path, lib: str, soname: str, levels: list[str], dest: Path, tag: str) -> dict[str, Path]:
    """The built copies into DEST/TAG-LEVEL/ (one directory each: LD_LIBRARY_PATH picks it)."""
    out = {}
    for level in levels:
        d = dest / f"{tag}-{level}"
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tree / BUILDDIR / level / soname, d / soname)
        out[f"{tag}-{level}"] = d / soname
    return out


def costs(seconds: dict[str, float], lib: str, soname: str, levels: list[str], sensitive: set[str],
          sel_links: dict[str, float]) -> dict[str, float]:
    """CPU-seconds of the commands each graph runs."""
    def objs(level: str, only: set[str] | None = None) -> float:
        prefix = f"{BUILDDIR}/{level}/obj/{lib}/"
        return sum(s for o, s in seconds.items() if o.startswith(prefix)
                   and (only is None or ninjatree.source(o, level) in only))
    link = {lvl: seconds.get(f"{BUILDDIR}/{lvl}/{soname}", 0.0) for lvl in levels}
    generic = objs(isa.GENERIC) + link[isa.GENERIC]
    others = [lvl for lvl in levels if lvl != isa.GENERIC]
    return {"generic only": generic,
            "full, three levels": generic + sum(objs(lvl) + link[lvl] for lvl in others),
            "selective, three levels": generic + sum(objs(lvl, sensitive) + sel_links[lvl] for lvl in others)}


def report_costs(cost: dict[str, float], n_sensitive: int, threshold: int, tree: Path, lib: str) -> None:
    total = len(list((tree / BUILDDIR / isa.GENERIC / "obj" / lib).rglob("*.o")))
    print(f"\n== compile + link CPU-seconds ({n_sensitive} of {total} TUs level-sensitive at threshold {threshold})")
    base = cost["generic only"] or 1
    for name, seconds in cost.items():
        print(f"   {name:26} {seconds:9.0f} s   x{seconds / base:.2f} of generic only")


def report_bytes(copies: dict[str, Path], scratch: Path) -> None:
    """Each copy's size as it ships (strip --strip-unneeded, as dh_strip does), against the generic copy's."""
    sizes = {}
    for name, path in copies.items():
        out = scratch / f"{name}.stripped"
        subprocess.run(["strip", "--strip-unneeded", "-o", str(out), str(path)], check=True)
        sizes[name] = out.stat().st_size
    base = sizes[f"full-{isa.GENERIC}"]
    print("\n== library bytes, stripped")
    for name, size in sizes.items():
        print(f"   {name:24} {size:12,d}   x{size / base:.2f} of generic")
    full = sum(v for k, v in sizes.items() if k.startswith("full-"))
    sel = base + sum(v for k, v in sizes.items() if k.startswith("selective"))
    print(f"   all three levels: full x{full / base:.2f}, selective x{sel / base:.2f} of generic")


def selective(ch: Chroot, recipe: Path, work: Path, log: Path, lib: str, soname: str, levels: list[str],
              threshold: int, jobs: int) -> tuple[set[str], dict[str, float], dict[str, Path]]:
    """The list at THRESHOLD from the built tree, the tree generated again with it and the level copies relinked
    (nothing recompiled: checked): (sensitive sources, link CPU-seconds per level, the copies)."""
    listing = work / "level-sensitive"
    print(debforge("measure-levels", str(recipe), "--from-build", str(tree_in(work / "out")), "-o",
                   str(listing), "--threshold", str(threshold)))
    sensitive = {ln for ln in listing.read_text().splitlines() if ln and not ln.startswith("#")}
    if not (recipe.parent / listing.name).exists():
        with open(recipe, "a") as fh:
            fh.write(f"level-sensitive: {{file: {listing.name}}}\n")
    shutil.copy2(listing, recipe.parent / listing.name)
    before = len(log.read_text().splitlines())
    tree = generate(recipe, work / "out")
    for level in levels[1:]:
        build(ch, tree, lib, level, jobs)
    rerun = log.read_text().splitlines()[before:]
    recompiled = [ln for ln in rerun if " -c " in ln]
    if recompiled:
        sys.exit(f"the selective graph recompiled {len(recompiled)} objects: its commands differ from the full "
                 f"graph's, the costs would not compare (first: {recompiled[0][:300]})")
    sel_links = {lvl: cpu_log_lines(rerun).get(f"{BUILDDIR}/{lvl}/{soname}", 0.0) for lvl in levels[1:]}
    return sensitive, sel_links, copy_out(tree, lib, soname, levels[1:], work / "copies", f"selective{threshold}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", type=Path)
    ap.add_argument("--root", type=Path, required=True, help="a root with the recipe's Build-Depends and time")
    ap.add_argument("--work", default="selective-levels", help="the build directory's name under ROOT/build/")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved speed rounds (default 5)")
    ap.add_argument("--thresholds", default="16", help="comma-separated measure-levels thresholds: a selective "
                    "graph (relinked, nothing recompiled) for each (default 16, measure-levels' own)")
    ap.add_argument("--no-speed", action="store_true", help="costs and bytes only (no TF Lite workload)")
    ap.add_argument("--speed-only", action="store_true",
                    help="the TF Lite workload alone, on the copies an earlier run left in WORK (a quieter machine)")
    args = ap.parse_args()
    ch = Chroot(args.root)
    work = ch.root / "build" / args.work
    work.mkdir(parents=True, exist_ok=True)
    if args.speed_only:
        copies = {d.name: next(d.iterdir()) for d in sorted((work / "copies").iterdir())}
        tflite_models.compare(ch, tree_in(work / "out"), work, copies, args.rounds)
        return 0

    recipe = recipe_copies(args.recipe.resolve(), work)
    tree = generate(recipe, work / "out")
    lib, soname = library_of(tree)
    levels = [isa.GENERIC, *(lvl.name for lvl in isa.ARCHES["amd64"].levels)]
    log = configure(ch, tree, work, args.j)
    print(f"== {args.recipe.name}: lib{lib} ({soname}), every TU at {', '.join(levels)} in {tree}")
    for level in levels:
        print(f"   ninja {lib}@{level}: {build(ch, tree, lib, level, args.j):.0f} s wall at -j{args.j}", flush=True)
    full = copy_out(tree, lib, soname, levels, work / "copies", "full")
    copies = dict(full)
    full_run = cpu_log_lines(log.read_text().splitlines())

    for threshold in map(int, args.thresholds.split(",")):
        sensitive, sel_links, sel_copies = selective(ch, recipe, work, log, lib, soname, levels, threshold, args.j)
        report_costs(costs(full_run, lib, soname, levels, sensitive, sel_links), len(sensitive), threshold, tree,
                     lib)
        report_bytes(full | sel_copies, work)
        copies |= sel_copies
    if not args.no_speed:
        tflite_models.compare(ch, tree, work, copies, args.rounds)
    return 0

if __name__ == "__main__":
    sys.exit(main())
