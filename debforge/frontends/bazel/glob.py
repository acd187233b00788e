"""bazel's glob(): patterns relative to the package, '*' never crosses '/', '**' spans directories,
subpackages (directories with their own BUILD file) are not entered, symlinks never lead out of the tree."""

from __future__ import annotations

import os
import re
from functools import lru_cache

BUILD_FILES = ("BUILD.bazel", "BUILD")
MAX_RESULTS = 100_000


def _segment_regex(seg: str) -> str:
    out = []
    for ch in seg:
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern:
    if not pattern or pattern.startswith("/") or ".." in pattern.split("/") or "//" in pattern:
        raise ValueError(f"glob pattern '{pattern}' must be relative to the package (no leading /, no ..)")
    parts = []
    for seg in pattern.split("/"):
        if seg == "**":
            parts.append("(?:[^/]+/)*")
        elif "**" in seg:
            raise ValueError(f"glob pattern '{pattern}': '**' must be a whole path segment")
        else:
            parts.append(_segment_regex(seg) + "/")
    return re.compile("".join(parts)[:-1] + "$" if not pattern.endswith("**") else "".join(parts) + "[^/]+$")


@lru_cache(maxsize=4096)
def union(patterns: tuple[str, ...]) -> re.Pattern | None:
    """One regex for any of the patterns (None for none): a package's candidates are matched once, not per pattern."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{compile_pattern(p).pattern})" for p in patterns))


class Lister:
    """Lists package files once per package; shared by all glob() calls."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self._cache: dict[str, tuple[list[str], list[str]]] = {}

    def entries(self, pkg: str) -> tuple[list[str], list[str]]:
        """(files, directories) under the package, relative to it, not entering subpackages."""
        if pkg not in self._cache:
            base = os.path.join(self.root, pkg)
            files: list[str] = []
            dirs: list[str] = []
            for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
                rel = os.path.relpath(dirpath, base)
                rel = "" if rel == "." else rel + "/"
                keep = []
                for d in sorted(dirnames):
                    full = os.path.join(dirpath, d)
                    if os.path.islink(full) or any(os.path.exists(os.path.join(full, b)) for b in BUILD_FILES):
                        continue  # a subpackage, or a symlink that could lead out of the tree
                    keep.append(d)
                    dirs.append(rel + d)
                dirnames[:] = keep
                for f in sorted(filenames):
                    full = os.path.join(dirpath, f)
                    if os.path.islink(full):
                        real = os.path.realpath(full)
                        if not real.startswith(self.root + os.sep) or not os.path.isfile(real):
                            continue
                    files.append(rel + f)
                if len(files) > MAX_RESULTS:
                    raise ValueError(f"package '{pkg}' has more than {MAX_RESULTS} files: refusing to glob it")
            self._cache[pkg] = (files, dirs)
        return self._cache[pkg]

    def glob(self, pkg: str, include: list[str], exclude: list[str], exclude_directories: int = 1) -> list[str]:
        files, dirs = self.entries(pkg)
        candidates = files if exclude_directories else files + dirs
        inc = union(tuple(include))
        # a label in exclude (TF has one) names no file of the package: bazel lets it match nothing
        exc = union(tuple(p for p in exclude if not p.startswith(("//", "@", ":"))))
        if inc is None:
            return []
        found = filter(inc.match, candidates)
        return sorted(found if exc is None else (c for c in found if not exc.match(c)))
