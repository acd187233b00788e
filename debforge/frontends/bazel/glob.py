"""bazel's glob(): patterns relative to the package (debforge.core.globs), subpackages (directories with their own
BUILD file) are not entered, symlinks never lead out of the tree."""


from __future__ import annotations

import os

from ...core.globs import union

BUILD_FILES = ("BUILD.bazel", "BUILD")
MAX_RESULTS = 100_000
# Top-level directories that are not upstream's: Debian's packaging, quilt's patch state, debforge's build tree
NOT_UPSTREAM = frozenset({"debian", ".pc", "obj-debforge"})


class Lister:
    """Lists package files once per package; shared by all glob() calls."""

    def __init__(self, root: str, expired=lambda: False):
        self.root = os.path.realpath(root)
        self._expired = expired   # the evaluation's deadline, checked in long walks and matches
        self._cache: dict[str, tuple[list[str], list[str]]] = {}

    def entries(self, pkg: str) -> tuple[list[str], list[str]]:
        """(files, directories) under the package, relative to it, not entering subpackages."""
        if pkg not in self._cache:
            files: list[str] = []
            dirs: list[str] = []
            top = _listing(os.path.join(self.root, pkg)) or []
            if not pkg:
                top = [e for e in top if e.name not in NOT_UPSTREAM]
            self._walk(pkg, "", top, files, dirs)
            self._cache[pkg] = (files, dirs)
        return self._cache[pkg]

    def _walk(self, pkg: str, rel: str, entries: list[os.DirEntry], files: list[str], dirs: list[str]) -> None:
        """os.walk's order, from scandir's entry types: no stat per file, and each subdirectory's listing is
        read once, both to see whether it is a subpackage and to descend."""
        if self._expired():
            raise ValueError(f"glob() in package '{pkg}' ran out of time")
        keep = []
        for e in entries:
            if e.is_dir() and not e.is_symlink():   # a symlinked directory could lead out of the tree
                below = _listing(e.path)
                if below is None or not any(b.name in BUILD_FILES and (b.is_file() or b.is_dir()) for b in below):
                    keep.append((e.name, below or []))   # else a subpackage
        dirs.extend(rel + name for name, _ in keep)
        for e in entries:
            if e.is_dir():
                continue
            if e.is_symlink():
                real = os.path.realpath(e.path)
                if not real.startswith(self.root + os.sep) or not os.path.isfile(real):
                    continue
            files.append(rel + e.name)
        if len(files) > MAX_RESULTS:
            raise ValueError(f"package '{pkg}' has more than {MAX_RESULTS} files: refusing to glob it")
        for name, below in keep:
            self._walk(pkg, f"{rel}{name}/", below, files, dirs)

    def glob(self, pkg: str, include: list[str], exclude: list[str], exclude_directories: int = 1) -> list[str]:
        files, dirs = self.entries(pkg)
        candidates = files if exclude_directories else files + dirs
        inc = union(tuple(include))
        # a label in exclude (TF has one) names no file of the package: bazel lets it match nothing
        exc = union(tuple(p for p in exclude if not p.startswith(("//", "@", ":"))))
        if inc is None:
            return []
        found = []
        for i, c in enumerate(candidates):
            if inc.match(c) and (exc is None or not exc.match(c)):
                found.append(c)
            if i % 4096 == 4095 and self._expired():
                raise ValueError(f"glob() in package '{pkg}' ran out of time")
        return sorted(found)


def _listing(path: str) -> list[os.DirEntry] | None:
    """A directory's entries by name; None if it can't be read (os.walk skips such a directory too)."""
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return None
