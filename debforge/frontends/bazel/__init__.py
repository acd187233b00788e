"""The bazel frontend: BUILD/.bzl files evaluated with starlark-pyo3 into the build-graph IR."""

from __future__ import annotations

from pathlib import Path

from ...errors import DebforgeError
from ...graph import Graph
from .evaluate import Workspace
from .select import DebianConfig

__all__ = ["scan", "Workspace", "DebianConfig"]


def scan(root: Path, recipe, arch: str, progress=None, *, everything: bool = True,
         display_root: str | None = None) -> Workspace:
    """Evaluate the upstream tree for one architecture.

    everything=True evaluates every package (reporting failures in graph.skipped, as `debforge scan` shows);
    otherwise packages are evaluated on demand as the planner asks for labels.
    """
    ws = Workspace(root, DebianConfig.for_arch(arch, recipe.config), display_root=display_root,
                   repo_files=recipe.repo_files)
    if everything:
        pkgs = ws.all_packages()
        for i, pkg in enumerate(pkgs, 1):
            if progress:
                progress(i, len(pkgs), f"//{pkg}")
            try:
                ws.evaluate_package(pkg)
            except DebforgeError as exc:
                ws.graph.skipped[ws.build_file(pkg) or pkg] = str(exc)
    return ws
