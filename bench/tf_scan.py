#!/usr/bin/env python3
"""Scan TensorFlow 2.14.1's whole BUILD universe (Debian's orig tarball) and report, side by side in one run:
a cold scan (empty scan cache) and a warm one (unchanged tree) on 1 process and on 2, in wall and CPU seconds
(workers included); packages evaluated, taken from the cache, failed (by reason); targets; stubbed external
.bzl files, select() conditions naming absent packages, in-tree labels that name nothing; and, per library of
recipes/tensorflow.yaml, its translation units or why the planner can't list them yet. Each scan runs as the CLI's
does, in a child process under the evaluation's limits (debforge/bounded.py), the result sent back pickled.

    .venv/bin/python bench/tf_scan.py [--tree DIR] [--jobs 1 2]

The cache lives in a fresh temporary directory per process count, so the user's ~/.cache/debforge/scan is
neither read nor changed.
"""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge import upstream  # noqa: E402
from debforge.core import bounded  # noqa: E402
from debforge.core.errors import DebforgeError  # noqa: E402
from debforge.frontends.bazel import scan  # noqa: E402
from debforge.graph import file_path  # noqa: E402
from debforge.plan import make_plan  # noqa: E402
from debforge.recipe.schema import load_recipe  # noqa: E402

REFERENCES = ("srcs", "hdrs", "textual_hdrs", "deps", "implementation_deps", "data")


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def unresolved(tree: Path, graph) -> list[str]:
    """In-tree labels that name no target, no declared output and no file or directory of the tree."""
    known = set(graph.targets)
    for t in graph.targets.values():
        for key in ("outs", "out"):
            value = t.attrs.get(key)
            known.update(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
    out = set()
    for t in graph.targets.values():
        for key in REFERENCES:
            value = t.attrs.get(key)
            for label in value if isinstance(value, list) else [value]:
                if isinstance(label, str) and label.startswith("//") and label not in known \
                        and not (tree / file_path(label)).exists():
                    out.add(label)
    return sorted(out)


def bounded_scan(tree: Path, recipe, jobs: int, cache: Path):
    ws = scan(tree, recipe, "amd64", jobs=jobs, cache=cache)
    return ws.graph, len(ws.cache.hit)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="an unpacked TF source tree (default: fetch and unpack Debian's orig tarball)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="process counts to compare (default: 1 2)")
    args = ap.parse_args()
    recipe = load_recipe(ROOT / "recipes/tensorflow.yaml")
    tree = Path(args.tree) if args.tree else upstream.unpacked(recipe, upstream.CACHE / "bench", print)

    rows, graphs = [], {}
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory(prefix="debforge-scan-cache-") as cache:
            for state in ("cold", "warm"):
                started, cpu = time.monotonic(), cpu_seconds()
                g, hits = bounded.run(bounded_scan, tree, recipe, jobs, Path(cache))
                rows.append((jobs, state, time.monotonic() - started, cpu_seconds() - cpu, g, hits))
                graphs[jobs, state] = g.to_json()
    n = len(scan(tree, recipe, "amd64", everything=False).all_packages())
    print(f"TensorFlow {recipe.version}: {n} BUILD files; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(f"  {'processes':>9} {'cache':5} {'wall s':>7} {'CPU s':>7} {'evaluated':>9} {'cached':>6} {'failed':>6} "
          f"{'targets':>7}")
    for jobs, state, wall, cpu, g, hits in rows:
        print(f"  {jobs:>9} {state:5} {wall:7.2f} {cpu:7.2f} {n - hits:>9} {hits:>6} {len(g.skipped):>6} "
              f"{len(g.targets):>7}")
    times = {(jobs, state): wall for jobs, state, wall, *_ in rows}
    for jobs in args.jobs:
        print(f"  {jobs} process(es): warm scan x{times[jobs, 'cold'] / times[jobs, 'warm']:.1f} faster than cold")
    if len(args.jobs) > 1:
        a, b = args.jobs[0], args.jobs[-1]
        print(f"  cold: {b} processes x{times[a, 'cold'] / times[b, 'cold']:.2f} vs {a}")
    same = len(set(graphs.values())) == 1
    print(f"  every scan gave the same graph: {'yes' if same else 'NO'}")

    g = rows[-1][-2]
    kinds = g.kinds()
    print(f"  rule kinds: {len(kinds)}; most common: " +
          ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:8]))
    print(f"  external .bzl files without stand-in (stubbed): {len(g.external_loads)}")
    print(f"  select() conditions naming packages the tree lacks: {len(g.unknown_conditions)}")
    missing = unresolved(tree, g)
    print(f"  in-tree labels naming no target, output or file: {len(missing)}" +
          (f" (e.g. {', '.join(missing[:3])})" if missing else ""))
    reasons = Counter(reason.split(": error: ", 1)[-1] for reason in g.skipped.values())
    for reason, count in reasons.most_common():
        print(f"  failed: {count} x {reason}")

    try:
        plan = bounded.run(lambda: make_plan(recipe, scan(tree, recipe, "amd64", everything=False), "amd64"))
        for lib in plan.libraries:
            print(f"  lib{lib.spec.name}.so: {len(lib.compiles)} translation units")
    except DebforgeError as exc:
        print(f"  library plans: not yet: {exc}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
