"""Bazel labels: parsing and making them absolute, confined to the tree."""

from __future__ import annotations

import re
from functools import lru_cache

_BAD_PART = re.compile(r"(^|/)\.\.?(/|$)")
# bazel's repository names: "@name" (apparent) or "@@name" (canonical, which may hold '+' and '~'); never '/' or
# a leading '.', so a repository can't name a path (stand-ins are found under standins/<name>/)
_REPO = {"@": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*"), "@@": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+~-]*")}


_LABEL_STRUCT = re.compile(r'struct\(__df_label=True, name="([^"]*)", package="([^"]*)", repo_name="([^"]*)"[^)]*\)')


def decode_label_structs(text: str) -> str:
    """str(Label(x)) in the prelude gives a struct's repr: turn each back into the label it stands for."""
    if "__df_label" not in text:
        return text
    return _LABEL_STRUCT.sub(lambda m: f"{'@' + m.group(3) if m.group(3) else ''}//{m.group(2)}:{m.group(1)}", text)


@lru_cache(maxsize=65536)
def absolute(label: str, repo: str, pkg: str) -> str:
    """Make `label` absolute relative to package `pkg` of repository `repo` ("" = main).

    Accepts "name", ":name", "//pkg", "//pkg:name", "@repo//pkg:name", "@//pkg:name", "@@repo//...", "@repo".
    The one parser of labels: raises ValueError on labels that are malformed or escape the tree.
    """
    if not isinstance(label, str) or not label:
        raise ValueError(f"invalid label {label!r}")
    text = label = decode_label_structs(label)
    if text.startswith("@"):
        at = "@@" if text.startswith("@@") else "@"
        repo, sep, text = text[len(at):].partition("//")
        if not sep:   # "@repo" means "@repo//:repo"
            text = f":{repo}"
        if repo and not _REPO[at].fullmatch(repo):
            raise ValueError(f"invalid label '{label}': '{repo}' is not a repository name (letters, digits, "
                             f"'_', '.', '-'; not starting with '.' or '-')")
        text = "//" + text
    if text.startswith("//"):
        body = text[2:]
        p, sep, name = body.partition(":")
        if not sep:
            name = p.rsplit("/", 1)[-1] if p else ""
    else:
        p, name = pkg, text[1:] if text.startswith(":") else text
    if not name or _BAD_PART.search(p) or _BAD_PART.search(name) or p.startswith("/") or name.startswith("/") \
            or "//" in p or "//" in name:
        raise ValueError(f"invalid label '{label}': labels must stay inside the tree")
    return f"{'@' + repo if repo else ''}//{p}:{name}"
