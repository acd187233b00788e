#!/usr/bin/env python3
"""Compile a deterministic, stratified sample of a generated tree's translation units at one ISA level and report
each one's result and seconds (from ninja's own log), for libraries too big to build whole on every change.

The object files of the level are split into groups by source path prefix (--group, repeatable; the rest form
"other"), and each group gives --per-group files evenly spread over it in path order, so the same tree gives the
same sample. The generate steps the sample needs (its order-only inputs) run first, timed apart. Without
obj-debforge/config.ninja the toolchain and flags come from debian/rules' own override_dh_auto_configure (the
flags of a real build). With --chroot the compiler and -dev headers of a chroot are used (e.g. trixie's, when the
host's are too old); the tree must be visible there at the same path.

--direct runs the sample's compiles straight from `ninja -t commands -s`, timed here, once the generate steps ran as
far as they could: through ninja, a compile whose generate steps failed (one of them is enough) never starts; here a
TU that includes a file of a failed step fails naming it. --without-library-steps (implies --direct) leaves out the
generate steps that need a library of the recipe built first (a host tool linked against it: TensorFlow's C++ op
wrapper generators link libtensorflow_framework.so, 617 TUs), so that a library over another can be sampled alone:
every other generated file of the plan is made (a library over another includes the other's generated headers too).

    .venv/bin/python bench/sample_compile.py TREE [--lib torch_cpu] [--group aten/src/ATen/native/ ...]
        [--per-group 8] [--only PATTERN] [--level generic] [--chroot DIR] [-j 2] [--direct]
        [--without-library-steps]
"""

import argparse
import fnmatch
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge.core.layout import BUILDDIR  # noqa: E402
from debforge.drivers.ninjatree import command, configure, ninja, objects, order_only, source  # noqa: E402


def stratified(objs: list[str], level: str, groups: list[str], per_group: int) -> dict[str, list[str]]:
    """`per_group` objects of each group (first matching source prefix, else "other"), evenly spread in path order."""
    members: dict[str, list[str]] = {g: [] for g in [*groups, "other"]}
    for obj in objs:
        src = source(obj, level)
        members[next((g for g in groups if src.startswith(g)), "other")].append(obj)
    return {g: objs if len(objs) <= per_group else [objs[i * len(objs) // per_group] for i in range(per_group)]
            for g, objs in members.items() if objs}


def phony_inputs(tree: Path, ninja_file: str, wrap: list[str], targets: list[str]) -> list[str]:
    """The inputs of phony targets (a library's generated-LIB), other targets as they are."""
    out = []
    for target in targets:
        q = subprocess.run([*wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-t", "query", target],
                           capture_output=True, text=True, check=True).stdout.splitlines()
        if len(q) > 1 and q[1].strip() == "input: phony":   # its inputs, up to "  outputs:" (what uses it)
            end = next((i for i, line in enumerate(q) if line.strip() == "outputs:"), len(q))
            out += [line.strip() for line in q[2:end] if line.startswith("    ") and not line.startswith("    |")]
        else:
            out.append(target)
    return out


def needing_libraries(tree: Path, ninja_file: str, wrap: list[str], targets: list[str]) -> set[str]:
    """Files under `targets` whose making needs a recipe library's shared object (from `ninja -t graph`)."""
    dot = subprocess.run([*wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-t", "graph", *targets],
                         capture_output=True, text=True, check=True).stdout
    labels: dict[str, str] = {}
    succ: dict[str, list[str]] = defaultdict(list)
    for line in dot.splitlines():
        if m := re.match(r'"(\w+)" \[label="([^"]*)"', line):
            labels[m[1]] = m[2]
        elif m := re.match(r'"(\w+)" -> "(\w+)"', line):
            succ[m[1]].append(m[2])
    todo = [n for n, label in labels.items() if re.fullmatch(rf"{BUILDDIR}/[^/]+/lib[^/]*\.so[.0-9]*", label)]
    seen = set(todo)
    while todo:
        for n in succ[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return {labels[n] for n in seen if n in labels}


def compile_directly(tree: Path, ninja_file: str, wrap: list[str], jobs: int, objs: list[str]
                     ) -> tuple[dict[str, float], dict[str, tuple[list[str], str]], float]:
    """Run each object's own command (`ninja -t commands -s`), `jobs` at once: seconds and failures by object.
    Results are kept in obj-debforge/sample-direct.json: an object compiled before with the same command line, and
    still there, is not compiled again (its seconds are the recorded ones), as ninja would not."""
    record_file = tree / BUILDDIR / "sample-direct.json"
    record = json.loads(record_file.read_text()) if record_file.is_file() else {}

    def one(obj: str) -> tuple[str, float, int, str]:
        cmd = command(tree, ninja_file, obj, wrap)
        old = record.get(obj)
        if old and old["command"] == cmd and old["rc"] == 0 and (tree / obj).is_file():
            return obj, old["seconds"], 0, ""
        os.makedirs(tree / os.path.dirname(obj), exist_ok=True)
        started = time.monotonic()
        proc = subprocess.run(["nice", "-n", "10", *wrap, "sh", "-c", f"cd {tree} && {cmd}"],
                              capture_output=True, text=True)
        error = next((line.strip() for line in (proc.stdout + proc.stderr).splitlines()
                      if re.search(r"\berror:", line, re.I)), "(no error line)")
        record[obj] = {"command": cmd, "seconds": time.monotonic() - started, "rc": proc.returncode, "error": error}
        return obj, record[obj]["seconds"], proc.returncode, error

    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, objs))
    record_file.write_text(json.dumps(record, indent=1, sort_keys=True))
    seconds = {obj: s for obj, s, rc, _ in results if rc == 0}
    failed = {obj: ([obj], error) for obj, _, rc, error in results if rc != 0}
    return seconds, failed, time.monotonic() - started


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
    ap.add_argument("--lib", help="only this library's object files")
    ap.add_argument("--group", action="append", default=[], help="a source path prefix that forms a group")
    ap.add_argument("--per-group", type=int, default=8, help="objects taken from each group (default 8)")
    ap.add_argument("--only", help="only sources matching this shell pattern (fnmatch), e.g. '*.AVX512.cpp'")
    ap.add_argument("--chroot", help="run make and ninja in this chroot directory")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--direct", action="store_true",
                    help="compile the sample without ninja, also where a generate step failed")
    ap.add_argument("--without-library-steps", action="store_true",
                    help="leave out generate steps that need a recipe library built (implies --direct)")
    args = ap.parse_args()
    args.direct = args.direct or args.without_library_steps
    tree = args.tree.resolve()
    ninja_file = f"debian/debforge/build-{args.arch}.ninja"
    wrap = ["chroot", args.chroot] if args.chroot else []
    if not (tree / BUILDDIR / "config.ninja").is_file():   # the pools' depths are written for -j as well
        configure(tree, args.j, wrap)
    objs = [o for o in objects(tree, ninja_file, args.level, args.lib)
            if not args.only or fnmatch.fnmatchcase(source(o, args.level), args.only)]
    groups = stratified(objs, args.level, args.group, args.per_group)
    sample = sorted(o for objs in groups.values() for o in objs)
    steps = order_only(tree, ninja_file, wrap, sample)
    if args.without_library_steps:
        # a library over another includes the other's generated headers too: every generated file of the plan
        steps = phony_inputs(tree, ninja_file, wrap, ["generated"])
        left_out = needing_libraries(tree, ninja_file, wrap, steps)
        print(f"left out: {sum(s in left_out for s in steps)} of {len(steps)} generated files, made by steps that "
              f"need a recipe library built")
        steps = [s for s in steps if s not in left_out]
    rc, out, gen_wall = ninja(tree, ninja_file, wrap, args.j, steps)
    gen_failed = failures(out)
    print(f"generate steps of the sample: {gen_wall:.0f} s wall at -j{args.j} (exit {rc})")
    for outputs, error in sorted({(" ".join(o), e) for o, e in gen_failed.values()}):
        print(f"FAILED step {outputs}\n    {error}")
    if args.direct:
        seconds, failed, wall = compile_directly(tree, ninja_file, wrap, args.j, sample)
    else:
        _, out, wall = ninja(tree, ninja_file, wrap, args.j, sample)
        failed = failures(out)
        seconds = log_seconds(tree)
    for group, objs in groups.items():
        print(f"== {group}")
        for obj in objs:
            status = "FAIL" if obj in failed else "ok" if obj in seconds else "not run"
            print(f"{status:8} {seconds.get(obj, 0):7.1f} s  {obj}")
            if obj in failed:
                print(f"{'':19}{failed[obj][1]}")
            elif obj not in seconds:
                print(f"{'':19}(a generate step it waits for failed)")
    times = [seconds[o] for o in sample if o in seconds and o not in failed]
    print(f"{len(times)} of {len(sample)} translation units compiled ({args.level}), {wall:.0f} s wall at "
          f"-j{args.j}, median {statistics.median(times) if times else 0:.1f} s, max {max(times, default=0):.1f} s")
    for group, objs in groups.items():
        ok = [seconds[o] for o in objs if o in seconds and o not in failed]
        print(f"  {group}: {len(ok)} of {len(objs)}, median {statistics.median(ok) if ok else 0:.1f} s, "
              f"max {max(ok, default=0):.1f} s")
    heaviest = sorted((seconds[o], o) for o in sample if o in seconds and o not in failed)[-5:]
    print("heaviest: " + ", ".join(f"{source(o, args.level)} {s:.0f} s" for s, o in reversed(heaviest)))
    if failed and not args.direct:
        print("\n".join(line for line in out.splitlines() if "error:" in line)[:8000], file=sys.stderr)
    return 0 if len(times) == len(sample) else 1


def failures(out: str) -> dict[str, tuple[list[str], str]]:
    """Each output of a failed edge -> (the edge's outputs, the first error line it printed). ninja prints
    "FAILED: [code=N] OUTPUTS" (older releases without "[code=N]"), the command, then the tool's output."""
    found: dict[str, tuple[list[str], str]] = {}
    outputs: list[str] = []
    error = ""
    for line in out.splitlines() + ["[end]"]:
        if line.startswith("FAILED: ") or line.startswith("["):
            for o in outputs:
                found[o] = (outputs, error or "(no error line)")
            outputs, error = [], ""
        if line.startswith("FAILED: "):
            outputs = re.sub(r"^\[code=\d+\] ", "", line[len("FAILED: "):]).split()
        elif outputs and not error and re.search(r"\berror:", line, re.I):
            error = line.strip()
    return found

if __name__ == "__main__":
    sys.exit(main())
