"""The bazel frontend: BUILD/.bzl files evaluated with starlark-pyo3 into the build-graph IR."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ...core import bounded
from ...core.errors import DebforgeError
from . import cache as scan_cache
from .evaluate import Workspace
from .select import DebianConfig

__all__ = ["scan", "Workspace", "DebianConfig"]

CHUNK = 16          # packages per task of a parallel scan
PARALLEL_FROM = 64  # fewer packages than this are not worth the worker start-up

_worker: Workspace | None = None


def scan(root: Path, recipe, arch: str, progress=None, *, everything: bool = True,
         display_root: str | None = None, jobs: int | None = None, config=None,
         cache: bool | Path = True) -> Workspace:
    """Evaluate the upstream tree for one architecture.

    everything=True evaluates every package (reporting failures in graph.skipped, as `debforge scan` shows),
    in `jobs` processes (default: one per CPU), reusing the scan cache's entries that still hold (`cache`: False,
    or a directory instead of ~/.cache/debforge/scan; $DEBFORGE_NO_SCAN_CACHE=1 turns it off); otherwise
    packages are evaluated on demand as the planner asks. `config` replaces the recipe's configuration
    (a GPU flavour's).
    """
    ws = Workspace(root, DebianConfig.for_arch(arch, config or recipe.config), display_root=display_root,
                   repo_files=recipe.repo_files)
    if not everything:
        return ws
    if cache and scan_cache.enabled_by_env():
        ws.cache = scan_cache.ScanCache(
            scan_cache.default_dir() if cache is True else Path(cache),
            scan_cache.fingerprint(ws.graph.config, ws.display, ws.workspace_name, ws.repo_files))
    pkgs = ws.all_packages()
    todo = []
    for pkg in pkgs:   # what the cache still holds first: the rest may then reuse it
        if ws.load_cached(pkg):
            _evaluate(ws, pkg)   # a cached failure goes to graph.skipped
        else:
            todo.append(pkg)
    done = len(pkgs) - len(todo)
    if progress and done:
        progress(done, len(pkgs), "(cached)")
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(todo) < PARALLEL_FROM:
        for pkg in todo:
            done += 1
            if progress:
                progress(done, len(pkgs), f"//{pkg}")
            _evaluate(ws, pkg)
        return ws
    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    # fork: the workers inherit the Workspace's configuration (and the evaluation's limits); each evaluates its
    # packages (and, on demand, the packages their select()s name), and the graphs are merged: the same package
    # gives the same targets. Unlike multiprocessing.Pool, the executor notices a worker that a limit killed.
    with ProcessPoolExecutor(jobs, multiprocessing.get_context("fork"), _init_worker, (ws,)) as pool:
        try:
            for future in as_completed([pool.submit(_evaluate_chunk, chunk) for chunk in chunks]):
                part = future.result()
                _merge(ws, part)
                done += part[0]
                if progress:
                    progress(done, len(pkgs), "")
        except BrokenProcessPool:
            memory, cpu = bounded.limits()
            raise DebforgeError(f"a scan worker process died evaluating this file or another one started at the "
                                f"same time (limits {bounded.gib(memory)} of memory, {cpu} s of CPU time)",
                                bounded.last_file()) from None
    return ws


def _evaluate(ws: Workspace, pkg: str) -> None:
    try:
        ws.evaluate_package(pkg)
    except DebforgeError as exc:
        if bounded.exceeded():   # the process is past its memory or CPU limit: nothing after this can succeed
            raise
        ws.graph.skipped[ws.build_file(pkg) or pkg] = str(exc)


def _init_worker(ws: Workspace) -> None:
    global _worker
    _worker = ws


def _evaluate_chunk(pkgs: list[str]):
    """Evaluate some packages in a worker; return what that added to the worker's graph, and the inputs of
    each package it evaluated (the graph counts what they met once per package)."""
    g = _worker.graph
    packages, skipped, finished = set(g.packages), set(g.skipped), set(_worker.finished())
    for pkg in pkgs:
        _evaluate(_worker, pkg)
    new = set(g.packages) - packages
    return (len(pkgs), {p: (g.packages[p], _worker.package_targets(p)) for p in new},
            {k: v for k, v in g.skipped.items() if k not in skipped},
            {p: i for p, i in _worker.finished().items() if p not in finished})


def _merge(ws: Workspace, part) -> None:
    _, packages, skipped, inputs = part
    for pkg, (package, targets) in packages.items():
        ws.adopt(package, targets)
    ws.graph.skipped.update(skipped)
    for pkg, pkg_inputs in inputs.items():   # a package two workers evaluated counts once
        ws.finish(pkg, pkg_inputs)
