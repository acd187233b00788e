"""load(): the .bzl files a module loads, each evaluated once and shared frozen; from the tree, a recipe's
repository file, a stand-in of an external repository, or a stub whose symbols record targets of an unknown rule."""

from __future__ import annotations

import ast as pyast
import re

import starlark as sl

from ...core import bounded, labels
from ...core.errors import DebforgeError
from .cache import Inputs
from .files import STANDINS, read_confined

_RULE_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*=\s*(?:rule|repository_rule)\(", re.M)


def statements(text: str, tree, keep) -> str:
    """The top-level statements of a parsed file that `keep` selects, at their original line numbers;
    `keep` may instead return a one-line replacement."""
    lines = text.splitlines(keepends=True)
    out = ["\n"] * len(lines)
    for node in tree.body:
        verdict = keep(node)
        if verdict is True:
            out[node.lineno - 1:node.end_lineno] = lines[node.lineno - 1:node.end_lineno]
        elif verdict:
            out[node.lineno - 1] = verdict + "\n"
    return "".join(out)


def _defs_only(tree):
    """For a .bzl still being loaded: a filter for statements() keeping its loads, functions and the globals
    that call none of its own or its loaded functions (those could select() on the package being read);
    the other globals exist, as None, so that the functions still compile."""
    own = {n.name for n in tree.body if isinstance(n, pyast.FunctionDef)}
    for n in tree.body:
        if _is_load(n):
            own |= {kw.arg for kw in n.value.keywords} | {a.value for a in n.value.args[1:]
                                                           if isinstance(a, pyast.Constant)}

    def keep(node):
        if isinstance(node, pyast.FunctionDef) or _is_load(node):
            return True
        if isinstance(node, (pyast.Assign, pyast.AnnAssign, pyast.AugAssign)):
            calls = [n.func.id for n in pyast.walk(node) if isinstance(n, pyast.Call) and isinstance(n.func, pyast.Name)]
            if not own.intersection(calls):
                return True
            targets = node.targets if isinstance(node, pyast.Assign) else [node.target]
            names = [n.id for t in targets for n in pyast.walk(t) if isinstance(n, pyast.Name)]
            return "; ".join(f"{n} = None" for n in names) or None
        return None
    return keep


def _is_load(node) -> bool:
    return isinstance(node, pyast.Expr) and isinstance(node.value, pyast.Call) and \
        getattr(node.value.func, "id", "") == "load"


class Loader:
    """The loaded .bzl modules of one workspace (`ws`: its files, host, recorder and scope)."""

    def __init__(self, ws):
        self.ws = ws
        self._modules: dict[str, tuple[sl.FrozenModule, Inputs]] = {}
        self.loading: list[str] = []   # the chain of loads under way
        self.rule_names: dict[tuple[str, int], str] = {}   # (file, line) of a rule() -> the name it is bound to

    def for_module(self, repo: str, pkg: str, ast) -> sl.FileLoader:
        """The loader of a module of repository `repo`, package `pkg`."""
        wanted = {ld.module_id: sorted(ld.symbols.values()) for ld in ast.loads()}
        return sl.FileLoader(lambda module_id: self.load_bzl(labels.absolute(module_id, repo, pkg),
                                                             wanted.get(module_id, [])))

    def _source_of(self, label: str, symbols: list[str]) -> tuple[str, str, str, str]:
        """(repo, pkg, display name, Starlark text) of a loaded .bzl."""
        ws = self.ws
        repo, rest = (label[1:].split("//", 1) if label.startswith("@") else ("", label[2:]))
        pkg, _, name = rest.partition(":")
        if repo == ws.workspace_name:
            repo = ""
        rel = f"{pkg}/{name}" if pkg else name
        if not repo:
            return "", pkg, ws.files.shown(rel), ws.files.read(rel)
        provided = ws.repo_files.get(f"@{repo}//{pkg}:{name}")
        if provided is not None:
            text = ws.files.read(provided.path)
            for key, value in provided.substitutions.items():
                text = text.replace(key, value)
            return repo, pkg, ws.files.shown(provided.path), text
        if (STANDINS / repo / rel).is_file():
            shown = f"<stand-in @{repo}//{rel}>"
            return repo, pkg, shown, read_confined(STANDINS, f"{repo}/{rel}", shown).decode("utf-8")
        ws.recorder.met(external=(label, symbols))
        stub = "".join(f'{s} = __df_stub("{label}%{s}")\n' for s in symbols)
        return repo, pkg, f"<stub {label}>", stub

    def load_bzl(self, label: str, symbols: list[str] = ()) -> sl.FrozenModule:
        """Evaluate a .bzl file once; later loads share the frozen module."""
        key = label if not label.startswith("@") else f"{label}%{','.join(symbols)}"
        if key in self._modules:
            return self._reuse(key)
        if self.ws.scope.literal:
            # inside a literal pass (see select.Conditions.setting): a .bzl still being loaded is read for its
            # functions only, and whatever loads it is kept apart from the modules of full evaluations
            key = ("defs-only:" if label in self.loading else "literal:") + key
        elif label in self.loading:
            chain = " -> ".join(self.loading + [label])
            raise DebforgeError(f"load cycle: {chain}")
        if key in self._modules:
            return self._reuse(key)
        self.loading.append(label)
        try:
            with self.ws.recorder.recording() as inputs:
                frozen = self._evaluate(key, *self._source_of(label, list(symbols)))
        finally:
            self.loading.pop()
        self._modules[key] = frozen, inputs
        return frozen

    def _evaluate(self, key: str, repo: str, pkg: str, shown: str, text: str) -> sl.FrozenModule:
        host = self.ws.host
        with bounded.evaluating(shown):
            if key.startswith("defs-only:"):
                tree = pyast.parse(text)
                text = statements(text, tree, _defs_only(tree))
            ast = host.parse(shown, text)
            module = host.new_module()
            for m in _RULE_ASSIGN.finditer(text):
                self.rule_names[(shown, text.count("\n", 0, m.start()) + 1)] = m.group(1)
            host.eval(module, ast, self.for_module(repo, pkg, ast))
            return module.freeze()

    def _reuse(self, key: str) -> sl.FrozenModule:
        frozen, inputs = self._modules[key]
        self.ws.recorder.depend(inputs)
        return frozen
