"""The native callbacks of the prelude: the targets that rules and macros declare, glob(), package(),
native.existing_rule(s), package_name(); recorded into the graph, their labels made absolute."""

from __future__ import annotations

import contextlib
import json

from ...core import labels
from ...graph import Graph, Package, Target
from .cache import listing_digest
from .glob import MAX_RESULTS
from .host import caller, frames

# Attributes whose strings are labels: made absolute so later stages never see package-relative names.
LABEL_ATTRS = frozenset({
    "srcs", "hdrs", "textual_hdrs", "deps", "implementation_deps", "data", "tools", "exec_tools", "outs",
    "actual", "dynamic_deps", "roots", "exports", "additional_linker_inputs", "win_def_file", "interface_library",
    "shared_library", "static_library", "tests", "exports_filter", "version_script", "match_any", "match_all",
    "src", "out",
})
# native.existing_rule(s) report every attribute, defaults included; macros index these without checking
EXISTING_DEFAULTS = {"tags": [], "deps": [], "srcs": [], "hdrs": [], "data": [], "visibility": [], "args": [],
                     "copts": [], "linkopts": [], "defines": [], "includes": [], "testonly": False,
                     "additional_linker_inputs": []}


class Scope:
    """The package whose BUILD file is being evaluated (innermost last), where the targets it declares go (the
    graph, or a literal pass's own table), and whether this is a literal pass (see select.Conditions.setting)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.stack: list[str] = []
        self.sink: dict[str, Target] = graph.targets
        self.literal = False

    @property
    def pkg(self) -> str:
        return self.stack[-1] if self.stack else ""

    @contextlib.contextmanager
    def entered(self, pkg: str, sink: dict[str, Target] | None = None, literal: bool = False):
        saved = self.sink, self.literal
        self.stack.append(pkg)
        self.sink, self.literal = self.graph.targets if sink is None else sink, literal
        try:
            yield
        finally:
            self.sink, self.literal = saved
            self.stack.pop()


class Natives:
    """The callbacks (`callbacks()`) that record what a BUILD file declares, and which targets each package put
    in the graph (`ws`: its graph, scope, files, recorder, loader and conditions)."""

    def __init__(self, ws):
        self.ws = ws
        self.globbed = 0   # paths glob() returned to the BUILD file being evaluated: a memory bound
        self._abs_memo: dict[tuple[str, str], str] = {}   # (label, package) -> absolute label
        self._labels: dict[str, list[str]] = {}           # package -> labels of the targets it put in the graph

    def callbacks(self) -> dict:
        return {"target": self.target, "glob": self.glob, "select": self.ws.conditions.select,
                "package": self.package, "existing": self.existing, "existing_all": self.existing_all,
                "package_name": self.package_name, "repository_name": self.repository_name,
                "rule_kind": self.rule_kind}

    # -- the graph's packages ---------------------------------------------------------------------------------
    def forget(self, pkg: str) -> None:
        """Drop what a failed evaluation of pkg recorded: a package is in the graph whole or not at all."""
        graph = self.ws.graph
        del graph.packages[pkg]
        for label in self._labels.pop(pkg, []):
            del graph.targets[label]

    def adopt(self, package: Package, targets: list[Target]) -> None:
        """A package evaluated elsewhere (the cache, a worker process) joins the graph."""
        graph = self.ws.graph
        if package.path not in graph.packages:
            graph.packages[package.path] = package
            graph.targets.update((t.label, t) for t in targets)
            self._labels[package.path] = [t.label for t in targets]

    def package_targets(self, pkg: str) -> list[Target]:
        return [self.ws.graph.targets[label] for label in self._labels.get(pkg, [])]

    def absolute(self, label: str) -> str:
        """An absolute label; "@<upstream's own repository name>//x" is the tree itself, "//x"."""
        key = (label, self.ws.scope.pkg)
        out = self._abs_memo.get(key)
        if out is None:
            out = labels.absolute(label, "", key[1])
            name = self.ws.workspace_name
            if name and out.startswith(f"@{name}//"):
                out = out[len(name) + 1:]
            self._abs_memo[key] = out
        return out

    def _absolute_labels(self, key, value):
        if isinstance(value, str):
            return self.absolute(value)
        if isinstance(value, list):
            return [self.absolute(v) if isinstance(v, str) else v for v in value]
        if isinstance(value, dict):  # e.g. label-keyed dicts
            return {self.absolute(k): v for k, v in value.items()}
        raise ValueError(f"attribute '{key}' must be a label or list of labels, not {type(value).__name__}")

    # -- callbacks from the prelude ------------------------------------------------------------------------
    def target(self, stack, kind, name, attrs):
        attrs = json.loads(attrs)
        scope = self.ws.scope
        if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"{kind}: invalid target name {name!r}")
        if not scope.stack:
            raise ValueError(f"{kind}() can only be called while evaluating a BUILD file")
        label = f"//{scope.pkg}:{name}"
        if label in scope.sink:
            raise ValueError(f"target '{name}' is declared twice in package '//{scope.pkg}' "
                             f"(first at {scope.sink[label].location})")
        clean = {}
        for key, value in attrs.items():
            if value is None:
                continue
            if key in LABEL_ATTRS:
                value = self._absolute_labels(key, value)
            clean[key] = value
        if kind == "config_setting" and "flag_values" in clean:
            clean["flag_values"] = {self.absolute(k): v for k, v in clean["flag_values"].items()}
        if kind == "config_setting" and "constraint_values" in clean:
            clean["constraint_values"] = [self.absolute(v) for v in clean["constraint_values"]]
        scope.sink[label] = Target(label, kind, caller(stack), clean)
        if scope.sink is self.ws.graph.targets:
            self._labels.setdefault(scope.pkg, []).append(label)

    def glob(self, include, exclude, exclude_directories):
        if isinstance(include, str) or isinstance(exclude, str):
            raise ValueError("glob() takes lists of patterns, not a string")
        include, exclude = list(include), list(exclude)
        pkg, files = self.ws.scope.pkg, self.ws.files
        found = files.lister.glob(pkg, include, exclude, exclude_directories)
        inputs = self.ws.recorder.top
        if inputs is not None:
            inputs.listings[pkg] = files.listing_digest(pkg)
            inputs.globs[json.dumps([pkg, include, exclude, exclude_directories])] = listing_digest(found)
        self.globbed += len(found)
        if self.globbed > MAX_RESULTS:
            raise ValueError(f"glob() calls of this file returned more than {MAX_RESULTS} paths in all: stopped")
        return found

    def package(self, attrs):
        vis = attrs.get("default_visibility")
        if vis:
            self.ws.graph.packages[self.ws.scope.pkg].default_visibility = list(vis)

    def existing(self, name):
        t = self.ws.graph.targets.get(f"//{self.ws.scope.pkg}:{name}")
        return dict(EXISTING_DEFAULTS, **t.attrs, name=name, kind=t.kind) if t else None

    def existing_all(self):
        prefix = f"//{self.ws.scope.pkg}:"
        return {lbl[len(prefix):]: dict(EXISTING_DEFAULTS, **t.attrs, name=lbl[len(prefix):], kind=t.kind)
                for lbl, t in self.ws.graph.targets.items() if lbl.startswith(prefix)}

    def package_name(self):
        return self.ws.scope.pkg

    def repository_name(self):
        return "@"

    def rule_kind(self, stack):
        found = frames(stack)
        file, line = found[0] if found else ("?", "0")
        return self.ws.loader.rule_names.get((file, int(line)), f"rule@{file}:{line}")
