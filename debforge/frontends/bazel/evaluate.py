"""Evaluate BUILD / BUILD.bazel and the .bzl files they load with starlark-pyo3: hermetic, bounded, no Python exec.

Upstream files are untrusted: Starlark itself cannot read files or run commands; the only window to the file
system is glob(), confined to the package. Each file's evaluation is bounded in time and call depth.
"""

from __future__ import annotations

import os
import re
import time
from importlib import resources
from pathlib import Path

import starlark as sl

from ...errors import DebforgeError
from ...graph import Graph, Package, Target
from . import labels
from .glob import BUILD_FILES, MAX_RESULTS, Lister
from .select import DEFAULT, DebianConfig

FILE_SECONDS = 30.0
MAX_CALL_DEPTH = 400
# Attributes whose strings are labels: made absolute so later stages never see package-relative names.
LABEL_ATTRS = frozenset({
    "srcs", "hdrs", "textual_hdrs", "deps", "implementation_deps", "data", "tools", "exec_tools", "outs",
    "actual", "dynamic_deps", "roots", "exports", "additional_linker_inputs", "win_def_file", "interface_library",
    "shared_library", "static_library", "tests", "exports_filter", "version_script", "match_any", "match_all",
})
_FRAME = re.compile(r"^\s*\* (.+?):(\d+)", re.M)
_RULE_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*=\s*(?:rule|repository_rule)\(", re.M)
_GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.CallStack,
                                   sl.LibraryExtension.Json, sl.LibraryExtension.Print,
                                   sl.LibraryExtension.Map, sl.LibraryExtension.Filter,
                                   sl.LibraryExtension.Partial])
PRELUDE_NAME = "<debforge prelude>"
_PRELUDE = sl.parse(PRELUDE_NAME, resources.files(__package__).joinpath("prelude.star").read_text(),
                    sl.Dialect.extended())


class _Stop(Exception):
    """Raised inside a callback; carries a DebforgeError out through starlark."""


def _caller(stack: str) -> str:
    """The outermost file:line of a starlark call stack: the BUILD line that declared the target."""
    m = _FRAME.search(stack)
    return f"{m.group(1)}:{m.group(2)}" if m else "?"


def starlark_error(exc: Exception) -> DebforgeError:
    """A StarlarkError as file:line + message (the innermost location; the BUILD call site when they differ)."""
    text = str(exc)
    message = next((ln[len("error: "):] for ln in text.splitlines() if ln.startswith("error: ")),
                   text.strip().splitlines()[-1] if text.strip() else "evaluation failed")
    # errors raised through nested evaluations arrive wrapped several times
    while (stripped := re.sub(r"^(error: |ValueError: |DebforgeError: |StarlarkError: )", "", message)) != message:
        message = stripped
    loc = re.search(r"-->\s*(.+?):(\d+)(?::\d+)?", text)
    frames = _FRAME.findall(text)
    file, line = (loc.group(1), int(loc.group(2))) if loc else (frames[-1] if frames else (None, None))
    if frames and (frames[0][0], int(frames[0][1])) != (file, line and int(line)):
        message += f" (called from {frames[0][0]}:{frames[0][1]})"
    if file == PRELUDE_NAME:   # raised in one of debforge's helpers: the upstream line that called it is to blame
        callers = [f for f in frames if f[0] != PRELUDE_NAME]
        if callers:
            file, line = callers[-1]
            message = message.removesuffix(f" (called from {file}:{line})")
    return DebforgeError(message, file, int(line) if line else None)


class Workspace:
    """One upstream tree evaluated under one Debian configuration."""

    def __init__(self, root: Path, config: DebianConfig, *, display_root: str | None = None):
        self.root = Path(root).resolve()
        self.display = display_root if display_root is not None else ""
        self.config = config
        self.graph = Graph(root=str(self.root), config=config.to_dict())
        self.lister = Lister(str(self.root))
        self._modules: dict[str, sl.FrozenModule] = {}
        self._loading: list[str] = []
        self._pkg_stack: list[str] = []
        self._evaluating: set[str] = set()
        self._deadline = 0.0
        self._globbed = 0        # paths glob() returned to the BUILD file being evaluated: a memory bound

    # -- files ------------------------------------------------------------------------------------------------
    def _shown(self, rel: str) -> str:
        return os.path.join(self.display, rel) if self.display else rel

    def _read(self, rel: str) -> str:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise DebforgeError(f"'{rel}' leads out of the source tree", self._shown(rel))
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DebforgeError(f"file not found: {rel}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DebforgeError(f"cannot read: {exc}", self._shown(rel)) from None

    def build_file(self, pkg: str) -> str | None:
        for name in BUILD_FILES:
            rel = f"{pkg}/{name}" if pkg else name
            if (self.root / rel).is_file():
                return rel
        return None

    def all_packages(self) -> list[str]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "debian")
            if any(b in filenames for b in BUILD_FILES):
                rel = os.path.relpath(dirpath, self.root)
                out.append("" if rel == "." else rel)
        return sorted(out)

    # -- evaluation ---------------------------------------------------------------------------------------------
    def _new_module(self) -> sl.Module:
        m = sl.Module()
        for name in ("target", "glob", "select", "package", "existing", "existing_all", "package_name",
                     "repository_name", "parse_label", "rule_kind"):
            m.add_callable(f"__df_{name}", getattr(self, f"_cb_{name}"))
        self._eval(m, _PRELUDE, None)
        return m

    def _options(self) -> sl.EvalOptions:
        return sl.EvalOptions(check_cancelled=lambda: time.monotonic() > self._deadline,
                              max_callstack_size=MAX_CALL_DEPTH)

    def _eval(self, module: sl.Module, ast, loader) -> None:
        sl.eval_with(self._options(), module, ast, _GLOBALS, loader)

    def _parse(self, rel: str, text: str):
        try:
            return sl.parse(self._shown(rel), text, sl.Dialect.extended())
        except sl.StarlarkError as exc:
            raise starlark_error(exc) from None

    def _loader(self, repo: str, pkg: str) -> sl.FileLoader:
        return sl.FileLoader(lambda module_id: self.load_bzl(labels.absolute(module_id, repo, pkg)))

    def load_bzl(self, label: str) -> sl.FrozenModule:
        """Evaluate a .bzl file once; later loads share the frozen module."""
        if label in self._modules:
            return self._modules[label]
        if label in self._loading:
            chain = " -> ".join(self._loading + [label])
            raise DebforgeError(f"load cycle: {chain}")
        repo, rest = (label[1:].split("//", 1) if label.startswith("@") else ("", label[2:]))
        pkg, _, name = rest.partition(":")
        if repo:
            raise DebforgeError(f"load of '{label}' from external repository @{repo}, which is not part of the "
                                f"upstream tree")
        rel = f"{pkg}/{name}" if pkg else name
        self._loading.append(label)
        try:
            text = self._read(rel)
            ast = self._parse(rel, text)
            module = self._new_module()
            self._rule_names = getattr(self, "_rule_names", {})
            for m in _RULE_ASSIGN.finditer(text):
                self._rule_names[(self._shown(rel), text.count("\n", 0, m.start()) + 1)] = m.group(1)
            self._eval(module, ast, self._loader(repo, pkg))
            frozen = module.freeze()
        finally:
            self._loading.pop()
        self._modules[label] = frozen
        return frozen

    def evaluate_package(self, pkg: str) -> None:
        """Evaluate one package's BUILD file into the graph (once). Errors propagate as DebforgeError."""
        if pkg in self.graph.packages or pkg in self.graph.skipped:
            return
        if pkg in self._evaluating:
            raise DebforgeError(f"package '//{pkg}' needs itself to resolve a select() (cycle)")
        rel = self.build_file(pkg)
        if rel is None:
            raise DebforgeError(f"no BUILD file in package '//{pkg}'")
        self._evaluating.add(pkg)
        self._pkg_stack.append(pkg)
        saved_deadline, saved_globbed = self._deadline, self._globbed
        self._deadline, self._globbed = time.monotonic() + FILE_SECONDS, 0
        self.graph.packages[pkg] = Package(pkg, self._shown(rel))
        try:
            module = self._new_module()
            self._eval(module, self._parse(rel, self._read(rel)), self._loader("", pkg))
        except sl.StarlarkError as exc:
            del self.graph.packages[pkg]
            err = starlark_error(exc)
            if time.monotonic() > self._deadline:
                err = DebforgeError(f"evaluation took longer than {FILE_SECONDS:.0f} s: stopped", err.file, err.line)
            raise err from None
        except DebforgeError:
            del self.graph.packages[pkg]
            raise
        finally:
            self._deadline, self._globbed = saved_deadline, saved_globbed
            self._pkg_stack.pop()
            self._evaluating.discard(pkg)

    def target(self, label: str) -> Target | None:
        """The target for a label, evaluating its package on first use. None if the package has no such rule."""
        if label.startswith("@"):
            return None
        pkg = label[2:].partition(":")[0]
        if pkg not in self.graph.packages and self.build_file(pkg) is not None:
            self.evaluate_package(pkg)
        return self.graph.targets.get(label)

    # -- callbacks from the prelude ------------------------------------------------------------------------
    @property
    def _pkg(self) -> str:
        return self._pkg_stack[-1] if self._pkg_stack else ""

    def _cb_target(self, stack, kind, name, attrs):
        if not isinstance(name, str) or not name or "/" in name and name.startswith("/"):
            raise ValueError(f"{kind}: invalid target name {name!r}")
        if not self._pkg_stack:
            raise ValueError(f"{kind}() can only be called while evaluating a BUILD file")
        label = f"//{self._pkg}:{name}"
        if label in self.graph.targets:
            raise ValueError(f"target '{name}' is declared twice in package '//{self._pkg}' "
                             f"(first at {self.graph.targets[label].location})")
        clean = {}
        for key, value in attrs.items():
            if value is None:
                continue
            if key in LABEL_ATTRS:
                value = self._absolute_labels(key, value)
            clean[key] = value
        if kind == "config_setting" and "flag_values" in clean:
            clean["flag_values"] = {labels.absolute(k, "", self._pkg): v for k, v in clean["flag_values"].items()}
        if kind == "config_setting" and "constraint_values" in clean:
            clean["constraint_values"] = [labels.absolute(v, "", self._pkg) for v in clean["constraint_values"]]
        self.graph.targets[label] = Target(label, kind, _caller(stack), clean)

    def _absolute_labels(self, key, value):
        if isinstance(value, str):
            return labels.absolute(value, "", self._pkg)
        if isinstance(value, list):
            return [labels.absolute(v, "", self._pkg) if isinstance(v, str) else v for v in value]
        if isinstance(value, dict):  # e.g. label-keyed dicts
            return {labels.absolute(k, "", self._pkg): v for k, v in value.items()}
        raise ValueError(f"attribute '{key}' must be a label or list of labels, not {type(value).__name__}")

    def _cb_glob(self, stack, include, exclude, exclude_directories):
        if isinstance(include, str) or isinstance(exclude, str):
            raise ValueError("glob() takes lists of patterns, not a string")
        found = self.lister.glob(self._pkg, list(include), list(exclude), exclude_directories)
        self._globbed += len(found)
        if self._globbed > MAX_RESULTS:
            raise ValueError(f"glob() calls of this file returned more than {MAX_RESULTS} paths in all: stopped")
        return found

    def _cb_select(self, stack, conditions, no_match_error):
        if not isinstance(conditions, dict) or not conditions:
            raise ValueError("select() needs a non-empty dict of conditions")
        best: list[tuple[int, str]] = []
        for key in conditions:
            if key == DEFAULT:
                continue
            label = labels.absolute(key, "", self._pkg)
            ok, weight = self._condition(label)
            if ok:
                best.append((weight, key))
        if best:
            best.sort(key=lambda kv: -kv[0])
            top = [k for w, k in best if w == best[0][0]]
            values = {repr(conditions[k]) for k in top}
            if len(values) > 1:
                raise ValueError(f"select(): conditions {', '.join(top)} all match with different values")
            return conditions[top[0]]
        if DEFAULT in conditions:
            return conditions[DEFAULT]
        raise ValueError(no_match_error or f"select(): no condition matches the Debian configuration "
                                           f"(arch {self.config.arch}) and there is no //conditions:default")

    def _condition(self, label: str) -> tuple[bool, int]:
        if self.config.is_constraint(label):
            return label in self.config.constraints, 1
        if label.startswith("@"):
            return False, 0   # a config_setting of a repository outside the tree: not this configuration
        target = self.target(label)
        if target is None:
            raise ValueError(f"select() condition '{label}' names no config_setting")
        if target.kind == "alias":
            return self._condition(target.attrs["actual"])
        if target.kind == "config_setting_group":  # bazel-skylib: any or all of other conditions
            any_of = [self._condition(c) for c in target.attrs.get("match_any", [])]
            all_of = [self._condition(c) for c in target.attrs.get("match_all", [])]
            if any_of:
                return any(ok for ok, _ in any_of), max(n for _, n in any_of)
            return all(ok for ok, _ in all_of), sum(n for _, n in all_of)
        if target.kind != "config_setting":
            raise ValueError(f"select() condition '{label}' is a {target.kind}, not a config_setting")
        return self.config.matches_setting(target.attrs)

    def _cb_package(self, stack, attrs):
        vis = attrs.get("default_visibility")
        if vis:
            self.graph.packages[self._pkg].default_visibility = list(vis)

    def _cb_existing(self, name):
        t = self.graph.targets.get(f"//{self._pkg}:{name}")
        return dict(t.attrs, name=name, kind=t.kind) if t else None

    def _cb_existing_all(self):
        prefix = f"//{self._pkg}:"
        return {lbl[len(prefix):]: dict(t.attrs, kind=t.kind) for lbl, t in self.graph.targets.items()
                if lbl.startswith(prefix)}

    def _cb_package_name(self):
        return self._pkg

    def _cb_repository_name(self):
        return "@"

    def _cb_parse_label(self, text):
        if not isinstance(text, str):
            raise ValueError("Label() takes a string")
        if not text.startswith(("@", "//")):
            text = labels.absolute(text, "", self._pkg)
        return labels.parts(text)

    def _cb_rule_kind(self, stack):
        frames = _FRAME.findall(stack)
        file, line = frames[0] if frames else ("?", "0")
        return getattr(self, "_rule_names", {}).get((file, int(line)), f"rule@{file}:{line}")
