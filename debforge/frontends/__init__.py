"""Frontends read an upstream's own build metadata into the build-graph IR (debforge.graph).

A frontend is a subpackage here exposing `scan(root, recipe, arch, progress) -> Graph`; adding one is adding a folder.
"""

from __future__ import annotations

import importlib
import pkgutil


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def get(name: str):
    return importlib.import_module(f"{__name__}.{name}")
