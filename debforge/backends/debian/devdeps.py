"""What the -dev package needs beside itself: the externals' -dev packages whose headers its installed headers
include (its Depends), and per library the pkg-config modules of those externals (its .pc's Requires). Computed
from the #include lines of the headers it installs, looked up in the files the externals' packages install under
their include directories (/usr/include, those their .pc files add, and the recipe's `includes`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...core import confine
from ...core.devpackage import DevPackage
from ...core.layout import GENDIR
from ...recipe.model import Recipe

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)
MAX_HEADER_BYTES = 8 << 20


@dataclass
class DevDeps:
    # Debian package -> (installed header, the include line's path) of each inclusion of its headers
    included: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def packages(self) -> list[str]:
        return sorted(self.included)


def _index(recipe: Recipe, contents: dict[str, DevPackage]) -> dict[str, str]:
    """Include path -> the Debian package installing it, over the externals' packages (recipe order: the first
    package mapping a path wins)."""
    index: dict[str, str] = {}
    for ext in recipe.externals.values():
        for name in ext.packages:
            pkg = contents.get(name)
            if pkg is None:
                continue
            for root in [*pkg.roots(), *ext.includes]:
                for path in pkg.headers(root):
                    index.setdefault(path, name)
    return index


def compute(recipe: Recipe, headers: list[tuple[str, str, str]], root: Path,
            contents: dict[str, DevPackage]) -> DevDeps:
    """`headers`: (path in the tree, directory under usr/include, profiles) of each installed header. A generated
    header is not at hand when debian/ is written; its includes are not read."""
    installed = {os.path.relpath(os.path.join(dest, os.path.basename(src)), "usr/include"): src
                 for src, dest, _ in headers}
    index = _index(recipe, contents)
    out = DevDeps()
    for inc_path, src in sorted(installed.items()):
        # a symlink out of the tree is not read (the copy that dh_install makes of it is another matter)
        if src.startswith(GENDIR + "/") or not confine.in_tree(root, src) or not (root / src).is_file():
            continue
        with open(root / src, "rb") as fh:
            text = fh.read(MAX_HEADER_BYTES).decode("utf-8", "replace")
        for m in INCLUDE.finditer(text):
            name = os.path.normpath(m.group(2).strip())
            beside = os.path.normpath(os.path.join(os.path.dirname(inc_path), name))
            if name in installed or (m.group(1) == '"' and beside in installed):
                continue   # the package's own header
            if name in index:
                out.included.setdefault(index[name], []).append((f"/usr/include/{inc_path}", name))
    return out
