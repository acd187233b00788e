"""Paths from recipes and upstream metadata stay inside their tree: the one check every stage uses."""

from __future__ import annotations

import os
import posixpath


def inside(path: str) -> str | None:
    """`path` normalised, or None when it is absolute or climbs out of its tree with '..'."""
    if not path or path.startswith("/"):
        return None
    norm = posixpath.normpath(path)
    return None if norm == ".." or norm.startswith("../") else norm


def in_tree(root: str | os.PathLike, rel: str) -> bool:
    """Does `rel` name something that is in the tree at `root` once symlinks are followed?"""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    return real == real_root or real.startswith(real_root + os.sep)
