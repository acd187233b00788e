#!/usr/bin/env python3
"""Scan TensorFlow 2.14.1's whole BUILD universe (Debian's orig tarball) and report, side by side in one run:
seconds on 1 process and on all CPUs, packages evaluated / failed, targets, stubbed external .bzl files,
select() conditions naming absent packages, and, per library of recipes/tensorflow.yaml, its translation units
or why the planner can't list them yet.

    .venv/bin/python bench/tf_scan.py [--tree DIR]
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge import sources  # noqa: E402
from debforge.errors import DebforgeError  # noqa: E402
from debforge.frontends.bazel import scan  # noqa: E402
from debforge.plan import make_plan  # noqa: E402
from debforge.recipe import load_recipe  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="an unpacked TF source tree (default: fetch and unpack Debian's orig tarball)")
    args = ap.parse_args()
    recipe = load_recipe(ROOT / "recipes/tensorflow.yaml")
    tree = Path(args.tree) if args.tree else sources.prepare(recipe, sources.CACHE / "bench", print)[0]

    rows = []
    for jobs in (1, os.cpu_count() or 1):
        started, cpu = time.monotonic(), time.process_time()
        ws = scan(tree, recipe, "amd64", jobs=jobs)
        rows.append((jobs, time.monotonic() - started, ws))
    print(f"TensorFlow {recipe.version}: {len(ws.all_packages())} BUILD files")
    for jobs, seconds, ws in rows:
        g = ws.graph
        print(f"  {jobs} process(es): {seconds:6.2f} s  {len(g.packages)} packages evaluated, {len(g.skipped)} failed, "
              f"{len(g.targets)} targets")
    print(f"  speed-up {rows[0][1] / rows[-1][1]:.2f}x with {rows[-1][0]} processes")
    g = rows[-1][2].graph
    kinds = g.kinds()
    print(f"  rule kinds: {len(kinds)}; most common: " +
          ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:8]))
    print(f"  external .bzl files without stand-in (stubbed): {len(g.external_loads)}")
    print(f"  select() conditions naming packages the tree lacks: {len(g.unknown_conditions)}")
    for reason in sorted(g.skipped.values()):
        print(f"  failed: {reason}")

    ws = scan(tree, recipe, "amd64", everything=False)
    try:
        plan = make_plan(recipe, ws, "amd64")
        for lib in plan.libraries:
            print(f"  lib{lib.spec.name}.so: {len(lib.compiles)} translation units")
    except DebforgeError as exc:
        print(f"  library plans: not yet: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
