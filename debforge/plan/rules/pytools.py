"""Python tools: a py_binary that a generating rule runs becomes `python3 -m <module>` from the tree root (bazel
puts the workspace root on the tool's path; -m does the same), rerun when any of its sources changes. Its
third-party requirements (@pip_deps//:name, from rules_python's requirement()) are Debian packages the recipe
maps under python-requirements: Build-Depends of the source package."""

from __future__ import annotations

import posixpath

from ...core.errors import DebforgeError
from ...core.labels import absolute
from ...graph import ScanView, Target, file_path, split_label
from .common import Tool, loc

PY_KINDS = ("py_binary", "py_library")


def python_tool(ws: ScanView, requirements: dict[str, str], recipe_path: str, user: Target, label: str) -> Tool:
    """The command that runs the py_binary `label` (named by `user`), its source files and Build-Depends."""
    t = ws.target(label)
    where = loc(user)
    if t is None or t.kind != "py_binary":
        what = f"a {t.kind} ({t.location})" if t else "no target"
        raise DebforgeError(f"tool '{label}' of '{user.label}' is {what}; debforge runs py_binary tools", *where)
    files: list[str] = []
    packages: list[str] = ["python3"]
    seen: set[str] = set()

    def visit(target: Target):
        if target.label in seen:
            return
        seen.add(target.label)
        for src in target.attrs.get("srcs", []):
            rule = ws.target(src)
            if rule is not None and rule.kind in PY_KINDS:
                visit(rule)
            elif src.endswith(".py") and file_path(src) not in files:
                files.append(file_path(src))
        for dep in target.attrs.get("deps", []):
            if dep.startswith("@"):
                name = split_label(dep)[2]
                if name not in requirements:
                    raise DebforgeError(f"'{target.label}' needs the Python requirement '{dep}', which the recipe "
                                        f"does not map to a Debian package", *loc(target),
                                        hint=f"add to {recipe_path} under python-requirements: {name}: python3-...")
                if requirements[name] not in packages:
                    packages.append(requirements[name])
                continue
            rule = ws.target(dep)
            if rule is None or rule.kind not in PY_KINDS:
                raise DebforgeError(f"'{target.label}' depends on '{dep}', which is not a py_library",
                                    *loc(target))
            visit(rule)

    visit(t)
    main = _main(t, files)
    return Tool(["python3", "-m", main[:-len(".py")].replace("/", ".")], sorted(files), packages)


def _main(t: Target, files: list[str]) -> str:
    """bazel's py_binary main: the `main` attribute or <name>.py, in the package or matched by file name."""
    pkg, name = split_label(t.label)[1:]
    main = t.attrs.get("main")
    # `main` is a label as the BUILD file writes it (main = "gen.py"): relative to the binary's package
    wanted = file_path(absolute(main, "", pkg)) if isinstance(main, str) else posixpath.join(pkg, f"{name}.py")
    if wanted in files:
        return wanted
    matches = [f for f in files if posixpath.basename(f) == posixpath.basename(wanted)]
    if len(matches) != 1:
        raise DebforgeError(f"py_binary '{t.label}': cannot tell its main file ({wanted} is not among its "
                            f"sources)", *loc(t))
    return matches[0]
