"""`debforge measure-levels`: which translation units does an ISA level change, measured in their objects.

The tree is prepared and planned as `debforge generate` does, in a temporary directory (nothing but the output
file is written). Each measured translation unit is compiled with the exact command line the generated
build.ninja runs (debian/rules' toolchain and dpkg-buildflags, the plan's flags) once at Debian's baseline
("generic") and once per ISA level of the recipe, into a scratch directory.

The measure: `objdump -d --no-show-raw-insn` of each object; an instruction is *wide-vector* when an operand is a
ymm or zmm register (256- and 512-bit vectors, which the baseline cannot emit) or it is an FMA (vfmadd*, vfmsub*,
vfnmadd*, vfnmsub*: x86-64-v3 and up). Each instruction counts once. A TU's delta at a level is its wide-vector
count there less its count at the baseline (nearly always 0: SSE2 has neither). What a level changes besides
(VEX encodings, BMI) does not count: it buys little, which is why a copy per level is not worth compiling for it.
The report also says how many of a TU's wide instructions are plain moves (vmovdqu, vmovups...): the compiler
widens struct copies and zeroing at every level, so a TU sensitive through moves alone (TF's runtime and protobuf
code: hundreds of 32-byte copies, no vector arithmetic) gains copy width, not vectorised loops; the report names
them so that a maintainer lists them only where copying is the hot path (a data-movement kernel).

Whatever the threshold, a TU whose object at some level defines a strong global symbol its baseline object lacks
is sensitive: its code exists only at that level (under `#ifdef __SSSE3__`, `__AVX2__`...), and a sensitive TU
of that level may call it, which the baseline object linked into the level's copy could not satisfy (TF Lite's
optimized_4bit/sse_fully_connected.cc holds SSSE3 code and no ymm instruction; fully_connected.cc calls it).
Weak symbols (inline functions, template instances) do not count: every TU using one emits its own.

The threshold (default 16): a compiler-vectorised loop gives a main loop, a prologue/epilogue and reductions,
a dozen to a few dozen wide instructions; a TU under the threshold has only stray ones (a 32- or 64-byte struct
copy or memset becomes one or two ymm moves). So a TU is level-sensitive when its largest delta over the levels
is >= the threshold: it holds at least one vectorised hot loop, or intrinsics behind __AVX2__/__FMA__. A TU that
fails to compile at any level is counted as sensitive (the safe side: it keeps a copy per level) and named.

The compiles need the source's Build-Depends: without them the command stops before compiling and says so. A
maintainer who has built the package with every level (dpkg-buildpackage, or a tree sbuild kept) can instead count
the objects of that build: --from-build TREE compiles nothing.

The result is a file for the recipe's `level-sensitive: {file: PATH}`: one source path a line, sorted, under a
header comment that names the recipe, the upstream version, the measure and the threshold (no date: the same
tree gives the same file)."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import pipeline, upstream
from .backends import debian
from .backends.debian import tree as debian_tree
from .core import isa
from .core.errors import DebforgeError
from .drivers import archive, dpkg, ninjatree
from .plan import sensitivity
from .recipe.schema import MEASURED_HEADER

DEFAULT_THRESHOLD = 16
FMA = re.compile(r"vf(n?)m(add|sub)")
MOVES_RATIO = 8
MOVE = re.compile(r"vmov(dq[au](8|16|32|64)?|[au]p[sd]|ntdq|ntp[sd])$")   # whole-register loads, stores, copies
INSN = re.compile(r"^\s*[0-9a-f]+:\t(\S+)\s*(.*)$")
STRONG = set("TDBRGSC")


@dataclass
class Counts:
    ymm: int = 0
    zmm: int = 0
    fma: int = 0
    wide: int = 0      # instructions with any of the three, each once: the measure
    moves: int = 0     # ... of which plain vector moves (copies, zeroing stores)
    strong: frozenset[str] = frozenset()   # the object's strong global definitions


@dataclass
class Unit:
    """One translation unit measured: its library, source, and per level its counts (or the compile error)."""
    lib: str
    src: str
    also: tuple[str, ...] = ()   # the other libraries that compile it with the same command line
    counts: dict[str, Counts] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    size: int = 0       # bytes of its baseline object

    def delta(self, level: str) -> int:
        base = self.counts.get(isa.GENERIC)
        return self.counts[level].wide - base.wide if base and level in self.counts else 0

    def top_delta(self, levels: list[str]) -> tuple[int, str]:
        return max(((self.delta(lvl), lvl) for lvl in levels), default=(0, ""))

    def libs(self) -> tuple[str, ...]:
        return (self.lib, *self.also)

    def mostly_moves(self, levels: list[str]) -> bool:
        """Whether fewer than one in MOVES_RATIO of the wide instructions the levels add is other than a plain
        move: struct copies and zeroing, where a vectorised loop has an arithmetic one for every few loads and
        stores."""
        base = self.counts.get(isa.GENERIC)
        added = [(self.counts[lvl].wide - base.wide, self.counts[lvl].moves - base.moves)
                 for lvl in levels if base and lvl in self.counts]
        return bool(added) and all((wide - moves) * MOVES_RATIO < wide for wide, moves in added)

    def level_only(self, level: str) -> set[str]:
        """Strong symbols the level's object defines and the baseline's does not."""
        base = self.counts.get(isa.GENERIC)
        return set(self.counts[level].strong - base.strong) if base and level in self.counts else set()


def count(objdump: str) -> Counts:
    """The wide-vector instructions of `objdump -d --no-show-raw-insn` output."""
    c = Counts()
    for line in objdump.splitlines():
        m = INSN.match(line)
        if not m:
            continue
        ymm, zmm, fma = "%ymm" in m[2], "%zmm" in m[2], bool(FMA.match(m[1]))
        c.ymm += ymm
        c.zmm += zmm
        c.fma += fma
        c.wide += ymm or zmm or fma
        c.moves += (ymm or zmm) and bool(MOVE.match(m[1]))
    return c


def strong_definitions(nm_posix: str) -> frozenset[str]:
    """The strong global definitions in `nm -P --defined-only --extern-only` output (W/V/u: weak or unique)."""
    return frozenset(f[0] for f in map(str.split, nm_posix.splitlines()) if len(f) >= 2 and f[1] in STRONG)


def disassemble(obj: Path) -> Counts:
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)], capture_output=True, text=True,
                         check=True).stdout
    syms = subprocess.run(["nm", "-P", "--defined-only", "--extern-only", str(obj)], capture_output=True, text=True,
                          check=True).stdout
    return dataclasses.replace(count(out), strong=strong_definitions(syms))


def select(srcs: list[str], only: list[str], sample: int | None, within: list[str] = ()) -> list[str]:
    """The sources to measure, among those matching a `within` glob where any is given: those matching an --only
    glob plus `sample` spread evenly over them in path order; every one when neither is given."""
    if within:
        srcs = [s for s in srcs if any(fnmatch.fnmatchcase(s, g) for g in within)]
    if not only and sample is None:
        return list(srcs)
    chosen = {s for s in srcs if any(fnmatch.fnmatchcase(s, g) for g in only)}
    n = min(sample or 0, len(srcs))
    chosen |= {srcs[i * len(srcs) // n] for i in range(n)} if n else set()
    return sorted(chosen)


def prepare(recipe, out: upstream.Output, log) -> tuple[Path, dict]:
    """The upstream tree, planned as `generate` plans it (every TU at every level: a recipe's own level-sensitive
    list is left aside, it is what is measured) and with its debian/ written, in out's staging directory."""
    if getattr(recipe, "level_sensitive", None) is not None:
        recipe = dataclasses.replace(recipe, level_sensitive=None)
    up = upstream.prepare(recipe, out, None, log)
    contents = archive.externals_contents(recipe, log)   # as generate plans: the externals' -l and include roots
    plans = pipeline.plan_arches(recipe, up.tree, log, up.final, contents)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or upstream.newest_mtime(up.tree))
    debian_tree.apply(debian_tree.plan(up.debian, debian.render(recipe, plans, up.tree, epoch, contents),
                                       force=True))
    return up.tree, plans


def measured_plan(plans: dict):
    """The plan of the first architecture that has ISA levels."""
    plan = next((p for p in plans.values() if p.levels), None)
    if plan is None:
        raise DebforgeError("the recipe builds no ISA level: there is nothing to measure",
                            hint="its architectures' levels come from isa-levels (core/isa.py's table)")
    return plan


def units(plan, only: list[str], sample: int | None, within: list[str], built: Path | None = None) -> list[Unit]:
    """The units to measure, library by library. A source that several libraries compile with the same command
    line (libtensorflow's kernels are libtensorflow_cc's too) gives the same objects: it is measured once, in the
    library whose objects BUILT already holds at the most levels, else the smallest (the cheapest built whole);
    with other flags it is measured in each, and is sensitive if it is in either."""
    chosen: dict[tuple, list[str]] = {}
    for lib in plan.libraries:
        flags = {c.src: (c.lang, tuple(c.flags)) for c in lib.compiles if c.lang != "gpu"}
        for src in select(sorted(flags), only, sample, within):
            chosen.setdefault((src, flags[src]), []).append(lib.spec.name)
    if not chosen:
        raise DebforgeError("no translation unit to measure: --only and --within match no source the plan compiles")
    size = {lib.spec.name: len(lib.compiles) for lib in plan.libraries}
    names = [isa.GENERIC, *(lvl.name for lvl in plan.levels)]

    def cost(lib: str, src: str) -> tuple[int, int]:
        held = sum((built / ninjatree.object_of(n, lib, src)).is_file() for n in names) if built else 0
        return -held, size[lib]
    out = []
    for (src, _), libs in chosen.items():
        best = min(libs, key=lambda lib: cost(lib, src))
        out.append(Unit(best, src, tuple(lib for lib in libs if lib != best)))
    return out


def level_command(tree: Path, nf: str, unit: Unit, level: isa.Level | None, known: set[str]) -> list[str]:
    """The argv ninja runs for the unit's object at a level (None: generic). Where the plan compiles the TU once
    (the recipe's level-sensitive list left it neutral), the level's flags go into the baseline command
    before `-fPIC -c`."""
    obj = ninjatree.object_of(level.name if level else isa.GENERIC, unit.lib, unit.src)
    if obj in known:
        return shlex.split(ninjatree.command(tree, nf, obj))
    argv = shlex.split(ninjatree.command(tree, nf, ninjatree.object_of(isa.GENERIC, unit.lib, unit.src)))
    at = argv.index("-fPIC") if "-fPIC" in argv else len(argv)
    return argv[:at] + shlex.split(level.cflags) + argv[at:]


def retarget(argv: list[str], obj: Path) -> list[str]:
    """The command with its object (-o) and dependency file (-MF) in the scratch directory."""
    out = list(argv)
    for flag, path in (("-o", obj), ("-MF", obj.with_suffix(".d"))):
        if flag in out[:-1]:
            out[out.index(flag) + 1] = str(path)
    return out


def compile_one(tree: Path, argv: list[str], obj: Path) -> tuple[Counts | None, str, int]:
    """Compile into obj and count: (counts or None, the first error line, the object's bytes)."""
    obj.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(retarget(argv, obj), cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr + proc.stdout).splitlines()
        return None, next((ln.strip() for ln in lines if "error" in ln), (lines or ["(no output)"])[-1]), 0
    return disassemble(obj), "", obj.stat().st_size


def progress(done: int, total: int, what: str, verb: str = "compiled") -> None:
    if sys.stderr.isatty():
        print(f"\r\033[Kdebforge: {verb} {done}/{total} {what}", end="" if done < total else "\n",
              file=sys.stderr, flush=True)
    elif done == total or done % 50 == 0 or total <= 50:
        print(f"debforge: {verb} {done}/{total} {what}", file=sys.stderr, flush=True)


def measure(tree: Path, plan, todo: list[Unit], jobs: int, scratch: Path) -> None:
    """Compile every unit at the baseline and each level, `jobs` at once, filling their counts and errors."""
    nf = ninjatree.ninja_file(plan.arch)
    known = set(ninjatree.targets(tree, nf))
    levels: list[isa.Level | None] = [None, *plan.levels]
    work = [(u, lvl) for u in todo for lvl in levels]

    def one(item):
        unit, level = item
        name = level.name if level else isa.GENERIC
        try:
            argv = level_command(tree, nf, unit, level, known)
        except (subprocess.CalledProcessError, ValueError) as exc:
            return unit, name, (None, f"no command line: {exc}", 0)
        return unit, name, compile_one(tree, argv, scratch / name / unit.lib / f"{unit.src}.o")

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for done, (unit, name, (counts, error, size)) in enumerate(pool.map(one, work), 1):
            if counts is None:
                unit.errors[name] = error
            else:
                unit.counts[name] = counts
                unit.size = size if name == isa.GENERIC else unit.size
            progress(done, len(work), f"{unit.src} ({name})")


def generated_first(tree: Path, plan, todo: list[Unit], jobs: int, log) -> None:
    """Make the generated files the units' compiles wait for (their order-only inputs), as ninja would."""
    nf = ninjatree.ninja_file(plan.arch)
    known = set(ninjatree.targets(tree, nf))
    objs = [o for u in todo if (o := ninjatree.object_of(isa.GENERIC, u.lib, u.src)) in known]
    steps = ninjatree.order_only(tree, nf, [], objs) if objs else []
    if steps:
        log(f"debforge: making {len(steps)} generated inputs of the measured compiles")
        rc, out, _ = ninjatree.ninja(tree, nf, [], jobs, steps)
        if rc:
            log(f"debforge: warning: some generate steps failed; TUs that include their outputs fail to compile "
                f"(counted as sensitive):\n{out[-2000:]}")


def failures(ninja_output: str) -> dict[str, str]:
    """The outputs of ninja's FAILED edges, each with the first error line the compiler printed for it."""
    out: dict[str, str] = {}
    current: list[str] = []
    for line in ninja_output.splitlines():
        if line.startswith("FAILED: "):
            current = re.sub(r"^\[code=\d+\] ", "", line.removeprefix("FAILED: ")).split()
            out.update((obj, "") for obj in current)
        elif re.match(r"\[\d+/\d+\] ", line):
            current = []
        elif current and not out[current[0]] and re.search(r"\berror: ", line):   # not the command's -Werror=...
            out.update((obj, line.strip()) for obj in current)
    return out


def build_in(root: Path, tree: Path, plan, todo: list[Unit], jobs: int, log) -> dict[str, str]:
    """Build the measured units' objects that TREE lacks, at every level, through its own ninja file in ROOT (a
    root with the Build-Depends and TREE mounted at its own path: tools/chroot-build setup); their generate steps
    run first, as ninja orders them. The objects that did not build, each with its first error line."""
    nf = ninjatree.ninja_file(plan.arch)
    names = [isa.GENERIC, *(lvl.name for lvl in plan.levels)]
    missing = [obj for u in todo for name in names
               if not (tree / (obj := ninjatree.object_of(name, u.lib, u.src))).is_file()]
    if missing:
        log(f"debforge: building {len(missing)} objects of the {len(todo)} measured TUs in {root} "
            f"(ninja -j{jobs}, their generate steps first)")
        rc, out, seconds = ninjatree.ninja(tree, nf, ["chroot", str(root)], jobs, missing,
                                           lambda done, total: progress(done, total, "ninja edges", verb="built"))
        failed = [ln for ln in out.splitlines() if ln.startswith("FAILED: ")]
        log(f"debforge: built in {seconds / 60:.0f} min" + (f"; {len(failed)} edges failed:\n  " + "\n  ".join(
            failed[:20]) if rc else ""))
        errors = failures(out)
        return {obj: errors.get(obj) or "did not build (ninja's FAILED lines above)" for obj in missing
                if not (tree / obj).is_file()}
    return {}


def from_build(tree: Path, plan, todo: list[Unit], unbuilt: dict[str, str] | None = None) -> list[Unit]:
    """Fill the units' counts from the objects a build of every level left in TREE; the units measured (those
    whose object exists at every level, and those UNBUILT names at some level: they failed to compile, and count
    as sensitive)."""
    names = [isa.GENERIC, *(lvl.name for lvl in plan.levels)]
    done = []
    for n, unit in enumerate(todo, 1):
        objs = {name: tree / ninjatree.object_of(name, unit.lib, unit.src) for name in names}
        failed = {name: unbuilt[obj] for name in names if (obj := ninjatree.object_of(name, unit.lib, unit.src))
                  in (unbuilt or {})}
        if failed:
            unit.errors = failed
        if failed or all(o.is_file() for o in objs.values()):
            unit.counts = {name: disassemble(o) for name, o in objs.items() if o.is_file()}
            unit.size = objs[isa.GENERIC].stat().st_size if objs[isa.GENERIC].is_file() else 0
            done.append(unit)
        progress(n, len(todo), f"{unit.src} (counted)", verb="read")
    if not done:
        raise DebforgeError(f"{tree} holds no translation unit built at every level ({', '.join(names)})",
                            hint="build it with the recipe's level-sensitive key removed (every TU at every level), "
                                 "e.g. dpkg-buildpackage -b in a tree written by `debforge generate`")
    return done


def check_build_depends(tree: Path) -> None:
    """Compiles without the Build-Depends fail for want of headers, which would count every TU as sensitive."""
    missing = dpkg.missing_build_depends(tree)
    if missing:
        raise DebforgeError(f"measuring compiles the source, and this machine lacks its Build-Depends: {missing}",
                            hint="install them (apt-get build-dep on the generated tree), run measure-levels in "
                                 "a root that has them, or count a build you have: --from-build TREE")


def sensitive(unit: Unit, levels: list[str], threshold: int) -> bool:
    return bool(unit.errors) or unit.top_delta(levels)[0] >= threshold or any(unit.level_only(lvl) for lvl in levels)


def sensitivity_file(recipe, todo: list[Unit], levels: list[str], threshold: int, total: int) -> str:
    """The level-sensitive file: a header comment, then the sensitive sources, sorted."""
    hot = sorted({u.src for u in todo if sensitive(u, levels, threshold)})
    head = [f"{MEASURED_HEADER}{recipe.source} {recipe.version} "
            f"(recipe {Path(recipe.path).name}), for its `level-sensitive: {{file: ...}}`.",
            f"# Written by `debforge measure-levels`: {len(todo)} of {total} translation units measured, "
            f"{len(hot)} sensitive; the others are compiled once.",
            "# Measure: instructions with a ymm or zmm operand or an FMA (objdump -d), each once; sensitive when "
            f"a level ({', '.join(levels)})",
            f"# has >= {threshold} more than the baseline, defines a strong symbol the baseline lacks, or the TU "
            f"failed to compile.",
            "# Regenerate for a new upstream version."]
    return "\n".join(head + hot) + "\n"


def report_library(lib: str, members: list[Unit], levels: list[str], threshold: int, total: int) -> list[str]:
    """The lines for one library: shares of TUs and bytes, the largest deltas, failures, and the verdict."""
    hot = [u for u in members if sensitive(u, levels, threshold)]
    size = sum(u.size for u in members) or 1
    out = [f"lib{lib}: {len(members)} of {total} TUs measured; level-sensitive {len(hot)} "
           f"({100 * len(hot) / max(1, len(members)):.0f}%), {100 * sum(u.size for u in hot) / size:.0f}% of "
           f"the measured object bytes (baseline objects)"]
    for u in sorted(members, key=lambda u: -u.top_delta(levels)[0])[:5]:
        if u.top_delta(levels)[0] > 0:
            parts = [f"{lvl} +{u.delta(lvl)} (ymm {u.counts[lvl].ymm}, zmm {u.counts[lvl].zmm}, "
                     f"fma {u.counts[lvl].fma}; moves {u.counts[lvl].moves})" for lvl in levels if lvl in u.counts]
            out.append(f"  {u.src}: " + "; ".join(parts))
    movers = [u for u in hot if not u.errors and u.mostly_moves(levels) and not any(map(u.level_only, levels))]
    if movers:
        out.append(f"  {len(movers)} of the {len(hot)} sensitive TUs are so through wide moves (fewer than one in "
                   f"{MOVES_RATIO} of what a level adds is not a plain move: copies and zeroing): their copies buy "
                   f"copy width, not vectorised arithmetic; keep them in the list only where copying is their hot "
                   f"path, e.g. {', '.join(u.src for u in movers[:3])}")
    out += [f"  FAILED {u.src} at {', '.join(sorted(u.errors))}: {next(iter(u.errors.values()))}"
            for u in members if u.errors]
    for u in members:
        if u.top_delta(levels)[0] < threshold and (only := next(filter(None, map(u.level_only, levels)), None)):
            out.append(f"  {u.src}: defines {len(only)} symbols at a level that its baseline object lacks (code "
                       f"under a level's macro), e.g. {min(only)}: sensitive whatever its count")
    if broken := sum(isa.GENERIC in u.errors for u in members):
        out.append(f"  {broken} TUs failed at the baseline too: they do not compile here (missing Build-Depends, "
                   f"or source this toolchain rejects: their errors above; a patch fixes the latter); counted as "
                   f"sensitive until measured")
    if not hot:
        best = max((u.top_delta(levels) for u in members), default=(0, ""))
        out.append(f"  no TU gains >= {threshold} wide-vector instructions at any level (largest delta "
                   f"{best[0]}): its ISA variants change nothing measured; a candidate to drop them")
    return out


def declared_neutral(recipe, plan, todo: list[Unit], levels: list[str], threshold: int) -> list[str]:
    """The measured vector-hot TUs the recipe compiles once today: in a library whose package has no ISA variants,
    or left out of the recipe's current level-sensitive list."""
    hot = [u for u in todo if not u.errors and sensitive(u, levels, threshold)]
    plain = {lib.spec.name for lib in plan.libraries if not lib.variants}

    def top(units: list[Unit]) -> str:
        return ", ".join(f"{u.src} +{u.top_delta(levels)[0]}" for u in
                         sorted(units, key=lambda u: -u.top_delta(levels)[0])[:3])
    out = []
    for lib in sorted(plain):
        if units := [u for u in hot if lib in u.libs()]:
            out.append(f"warning: lib{lib}'s package has variants: false, yet {len(units)} of its TUs gain "
                       f">= {threshold} wide-vector instructions at a level ({top(units)}): ISA copies would pay")
    if recipe.level_sensitive is not None:
        if units := [u for u in hot if set(u.libs()) - plain and not sensitivity.sensitive(recipe, u.src)]:
            out.append(f"warning: the recipe's current level-sensitive list compiles {len(units)} vector-hot TUs "
                       f"once ({top(units)}): the list written now includes them")
    return out


def run(recipe_path: str, output: Path | None, sample: int | None, only: list[str], threshold: int, jobs: int,
        log, built: Path | None = None, root: Path | None = None, within: list[str] = ()) -> tuple[Path, list[str]]:
    """Measure the recipe (or count the objects of BUILT, a tree built with every level, building in ROOT those
    the measured units lack) and write its level-sensitive file: (the file, the report's lines)."""
    recipe = pipeline.load_recipe(recipe_path)
    output = output or Path(recipe.path).parent / f"{recipe.source}.level-sensitive"
    if built:
        plan = measured_plan(pipeline.plan_arches(dataclasses.replace(recipe, level_sensitive=None), built, log,
                                                  contents=archive.externals_contents(recipe, log)))
        todo = units(plan, only, sample, within, built)
        todo = from_build(built, plan, todo, build_in(root, built, plan, todo, jobs, log) if root else None)
    else:
        with tempfile.TemporaryDirectory(prefix="debforge-measure-") as tmp, \
                upstream.Output(Path(tmp) / "out") as out:
            tree, plans = prepare(recipe, out, log)
            check_build_depends(tree)
            plan = measured_plan(plans)
            ninjatree.configure(tree, jobs)
            todo = units(plan, only, sample, within)
            generated_first(tree, plan, todo, jobs, log)
            measure(tree, plan, todo, jobs, Path(tmp) / "objects")
    levels = [lvl.name for lvl in plan.levels]
    totals = {lib.spec.name: len({c.src for c in lib.compiles}) for lib in plan.libraries}
    output.write_text(sensitivity_file(recipe, todo, levels, threshold, sum(totals.values())))
    lines = [ln for lib in totals for ln in report_library(
        lib, [u for u in todo if lib in u.libs()], levels, threshold, totals[lib])
        if any(lib in u.libs() for u in todo)]
    return output, lines + declared_neutral(recipe, plan, todo, levels, threshold)
