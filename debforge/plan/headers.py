"""The -dev package's headers: which files of the tree (or generated ones) land where under /usr/include."""

from __future__ import annotations

import os

from ..core.errors import DebforgeError
from ..core.escape import dh_path
from ..core.globs import compile_pattern
from ..core.layout import GENDIR
from ..recipe.model import Recipe


def header_files(recipe: Recipe, root: str, generated: list[str] = ()) -> list[tuple[str, str, str]]:
    """(path in tree, directory under /usr/include, build profiles) for every header of the -dev package. A
    generated file (a path under GENDIR) is matched by its package path, as bazel's bin directory overlays the tree."""
    out: list[tuple[str, str, str]] = []
    made = {os.path.relpath(g, GENDIR): g for g in generated}
    for hs in recipe.headers:
        regex = compile_pattern(hs.files)
        matched = [rel for rel in sorted(made) if regex.match(rel)]
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in ("debian", ".pc"))
            rel = os.path.relpath(dirpath, root)
            for f in sorted(filenames):
                path = f if rel == "." else f"{rel}/{f}"
                if regex.match(path):
                    matched.append(path)
        if not matched:
            raise DebforgeError(f"headers '{hs.files}' match no file in the upstream tree", str(recipe.path), hs.line)
        for glob in hs.exclude:   # a stale exclude (a release moved the files) is an error, as a stale `files`
            left_out = compile_pattern(glob)
            kept = [path for path in matched if not left_out.match(path)]
            if len(kept) == len(matched):
                raise DebforgeError(f"headers exclude '{glob}' leaves out none of the files '{hs.files}' matches",
                                    str(recipe.path), hs.line)
            matched = kept
        for path in matched:
            sub = os.path.dirname(path)
            if hs.strip:
                if not (sub + "/").startswith(hs.strip.rstrip("/") + "/"):
                    raise DebforgeError(f"header '{path}' is not under strip '{hs.strip}'", str(recipe.path), hs.line)
                sub = os.path.relpath(sub, hs.strip)
            else:
                sub = ""
            dest = os.path.normpath(os.path.join("usr/include", hs.to, sub))
            where = (str(recipe.path), hs.line)   # the pair is a line of the -dev package's .install file
            out.append((dh_path(made.get(path, path), where), dh_path(dest, where), hs.build_profiles))
    return out


def installed_dirs(dirs: list[str], headers: list[tuple[str, str, str]]) -> list[str]:
    """Where each tree directory of `dirs` (a library's include directories) lands under /usr (e.g.
    usr/include/torch/csrc/api/include), judged by the installed headers under it: the directories whose headers
    are installed, each where all of its installed headers agree; /usr/include itself is left out (the compiler
    searches it)."""
    out = []
    for d in dirs:
        found = set()
        for src, dest, _ in headers:
            rel = os.path.relpath(src.removeprefix(f"{GENDIR}/"), d)
            if rel.startswith("../"):
                continue
            sub = os.path.dirname(rel)
            if sub and not dest.endswith(f"/{sub}"):
                found.add(None)   # laid out otherwise than in the tree: no one directory to name
                continue
            found.add(dest[:len(dest) - len(sub) - 1] if sub else dest)
        if len(found) == 1 and None not in found and found != {"usr/include"}:
            out += [p for p in found if p not in out]
    return out
