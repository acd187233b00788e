"""The bazel frontend: BUILD/.bzl files evaluated with starlark-pyo3 into the build-graph IR."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from ...errors import DebforgeError
from .evaluate import Workspace
from .select import DebianConfig

__all__ = ["scan", "Workspace", "DebianConfig"]

CHUNK = 16          # packages per task of a parallel scan
PARALLEL_FROM = 64  # fewer packages than this are not worth the worker start-up

_worker: Workspace | None = None


def scan(root: Path, recipe, arch: str, progress=None, *, everything: bool = True,
         display_root: str | None = None, jobs: int | None = None, config=None) -> Workspace:
    """Evaluate the upstream tree for one architecture.

    everything=True evaluates every package (reporting failures in graph.skipped, as `debforge scan` shows),
    in `jobs` processes (default: one per CPU); otherwise packages are evaluated on demand as the planner asks.
    `config` replaces the recipe's configuration (a GPU flavour's).
    """
    ws = Workspace(root, DebianConfig.for_arch(arch, config or recipe.config), display_root=display_root,
                   repo_files=recipe.repo_files)
    if not everything:
        return ws
    pkgs = ws.all_packages()
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(pkgs) < PARALLEL_FROM:
        for i, pkg in enumerate(pkgs, 1):
            if progress:
                progress(i, len(pkgs), f"//{pkg}")
            _evaluate(ws, pkg)
        return ws
    chunks = [pkgs[i:i + CHUNK] for i in range(0, len(pkgs), CHUNK)]
    done = 0
    # fork: the workers inherit the Workspace's configuration; each evaluates its packages (and, on demand,
    # the packages their select()s name), and the graphs are merged: the same package gives the same targets.
    with multiprocessing.get_context("fork").Pool(jobs, _init_worker, (ws,)) as pool:
        for part in pool.imap_unordered(_evaluate_chunk, chunks):
            _merge(ws, part)
            done += part[0]
            if progress:
                progress(done, len(pkgs), "")
    return ws


def _evaluate(ws: Workspace, pkg: str) -> None:
    try:
        ws.evaluate_package(pkg)
    except DebforgeError as exc:
        ws.graph.skipped[ws.build_file(pkg) or pkg] = str(exc)


def _init_worker(ws: Workspace) -> None:
    global _worker
    _worker = ws


def _evaluate_chunk(pkgs: list[str]):
    """Evaluate some packages in a worker; return what that added to the worker's graph."""
    g = _worker.graph
    packages, skipped, unknown = set(g.packages), set(g.skipped), dict(g.unknown_conditions)
    for pkg in pkgs:
        _evaluate(_worker, pkg)
    new = set(g.packages) - packages
    prefixes = tuple(f"//{p}:" for p in new)
    return (len(pkgs), {p: g.packages[p] for p in new}, {k: v for k, v in g.skipped.items() if k not in skipped},
            {lbl: t for lbl, t in g.targets.items() if lbl.startswith(prefixes)}, g.external_loads,
            {k: n - unknown.get(k, 0) for k, n in g.unknown_conditions.items() if n != unknown.get(k, 0)})


def _merge(ws: Workspace, part) -> None:
    _, packages, skipped, targets, external_loads, unknown = part
    g = ws.graph
    g.packages.update(packages)
    g.skipped.update(skipped)
    g.targets.update(targets)
    for label, symbols in external_loads.items():
        g.external_loads[label] = sorted(set(g.external_loads.get(label, [])) | set(symbols))
    for label, n in unknown.items():
        g.unknown_conditions[label] = g.unknown_conditions.get(label, 0) + n
