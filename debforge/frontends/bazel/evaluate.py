"""Evaluate BUILD / BUILD.bazel and the .bzl files they load with starlark-pyo3: hermetic, bounded, no Python exec.

Upstream files are untrusted: Starlark itself cannot read files or run commands; the only windows to the file
system are load() and glob(). Every file read goes through read_confined(): once symlinks are resolved, it lies in
the tree or the stand-ins. Each file's evaluation is bounded in time and call depth, and the process that runs it
in memory and CPU time (see debforge/bounded.py).
"""

from __future__ import annotations

import ast as pyast
import contextlib
import json
import math
import os
import re
import time
from importlib import resources
from pathlib import Path

import starlark as sl

from ...core import bounded, labels
from ...core.errors import DebforgeError
from ...graph import Graph, Package, Target
from .cache import Inputs, ScanCache, digest, listing_digest
from .glob import BUILD_FILES, MAX_RESULTS, Lister
from .select import DEFAULT, DebianConfig

FILE_SECONDS = 30.0
MAX_CALL_DEPTH = 400
# Attributes whose strings are labels: made absolute so later stages never see package-relative names.
LABEL_ATTRS = frozenset({
    "srcs", "hdrs", "textual_hdrs", "deps", "implementation_deps", "data", "tools", "exec_tools", "outs",
    "actual", "dynamic_deps", "roots", "exports", "additional_linker_inputs", "win_def_file", "interface_library",
    "shared_library", "static_library", "tests", "exports_filter", "version_script", "match_any", "match_all",
    "src", "out",
})
_FRAME = re.compile(r"^\s*\* (.+?):(\d+)", re.M)
_RULE_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*=\s*(?:rule|repository_rule)\(", re.M)
_GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.CallStack,
                                   sl.LibraryExtension.Json, sl.LibraryExtension.Print,
                                   sl.LibraryExtension.Map, sl.LibraryExtension.Filter,
                                   sl.LibraryExtension.Partial])
PRELUDE_NAME = "<debforge prelude>"
_PRELUDE_TEXT = resources.files(__package__).joinpath("prelude.star").read_text()
_PRELUDE = sl.parse(PRELUDE_NAME, _PRELUDE_TEXT, sl.Dialect.extended())
# Each upstream module starts with one load() of the prelude (evaluated once per workspace, then frozen): its
# public names, and the helpers that stand-ins and stubs call. Evaluating the prelude anew per module cost
# as much as a tenth of a TensorFlow scan.
_PUBLIC = {a or b for a, b in re.findall(r"^(?:def\s+([A-Za-z]\w*)|([A-Za-z]\w*)\s*=)", _PRELUDE_TEXT, re.M)}
_IMPORT = sl.parse("<debforge prelude import>", "load(%s)\n" % ", ".join(
    ['"prelude"', '__df_rule = "DEBFORGE_RULE"', '__df_stub = "DEBFORGE_STUB"'] +
    ['json = "DEBFORGE_JSON"'] +
    [f'"{name}"' for name in sorted(_PUBLIC) if not name.startswith("DEBFORGE_")]), sl.Dialect.extended())


STANDINS = Path(__file__).resolve().parent / "standins"
# native.existing_rule(s) report every attribute, defaults included; macros index these without checking
EXISTING_DEFAULTS = {"tags": [], "deps": [], "srcs": [], "hdrs": [], "data": [], "visibility": [], "args": [],
                     "copts": [], "linkopts": [], "defines": [], "includes": [], "testonly": False,
                     "additional_linker_inputs": []}
# Rules read on their own to resolve select() conditions (see Workspace._setting)
SETTING_RULES = frozenset({"config_setting", "config_setting_group", "alias", "constraint_value", "bool_flag",
                           "bool_setting", "string_flag", "string_setting", "int_flag", "int_setting",
                           "string_list_flag", "string_list_setting"})
_WORKSPACE_NAME = re.compile(r"""^\s*(?:workspace|module)\(\s*name\s*=\s*["']([A-Za-z0-9_.-]+)["']""", re.M)


def _statements(text: str, tree, keep) -> str:
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
    """For a .bzl still being loaded: a filter for _statements keeping its loads, functions and the globals
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


def read_confined(base: Path, rel: str, shown: str) -> bytes:
    """The one place the evaluator opens files: `rel` under `base` (the resolved tree or stand-ins directory),
    refused when it leads out of `base` once symlinks are resolved, so that nothing else on the machine is
    evaluated, or quoted in an error message."""
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise DebforgeError(f"'{rel}' leads out of the {'source tree' if base != STANDINS else 'stand-ins'}", shown)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DebforgeError(f"file not found: {rel}") from None
    except OSError as exc:
        raise DebforgeError(f"cannot read {rel}: {exc.strerror}", shown) from None


def workspace_name(root: Path) -> str | None:
    """The name upstream gives its own repository: labels "@<name>//..." then mean the tree itself."""
    for name in ("MODULE.bazel", "WORKSPACE.bazel", "WORKSPACE"):
        if (root / name).is_file():
            m = _WORKSPACE_NAME.search(read_confined(root, name, name).decode("utf-8", errors="replace"))
            if m:
                return m.group(1)
    return None


def _caller(stack: str) -> str:
    """The outermost file:line of a starlark call stack: the BUILD line that declared the target."""
    m = _FRAME.search(stack)
    return f"{m.group(1)}:{m.group(2)}" if m else "?"


def starlark_error(exc: Exception) -> DebforgeError:
    """A StarlarkError as file:line + message (the innermost location; the BUILD call site when they differ)."""
    text = str(exc)
    # Nested evaluations (loads, macros) wrap the error: the last "error:" line is the innermost cause,
    # the first "-->" after it its location, the last "-->" the BUILD file that started it all.
    lines = text.splitlines()
    last = max((i for i, ln in enumerate(lines) if ln.startswith("error: ")), default=None)
    message = lines[last][len("error: "):] if last is not None else (lines[-1] if lines else "evaluation failed")
    after = "\n".join(lines[last:]) if last is not None else text
    # errors raised through nested evaluations arrive wrapped several times
    # (a DebforgeError's own "<file>: error: " goes too: the message names the file, the location is the caller;
    # one with a line, a loaded file's parse error, is the innermost location)
    inner = None
    while (m := re.match(r"(error: |ValueError: |DebforgeError: |StarlarkError: |([^\s:]+)(?::(\d+))?: error: )",
                         message)):
        if m.group(3) and inner is None:
            inner = (m.group(2), m.group(3))
        message = message[m.end():]
    locs = re.findall(r"-->\s*(.+?):(\d+)(?::\d+)?", after)
    frames = _FRAME.findall(text)
    if inner:
        locs = [inner, *(locs or frames[-1:])]
    file, line = locs[0] if locs else (frames[-1] if frames else (None, None))
    origin = locs[-1] if len(locs) > 1 else (frames[0] if frames else None)
    if origin and (origin[0], int(origin[1])) != (file, int(line)):
        message += f" (called from {origin[0]}:{origin[1]})"
    if file == PRELUDE_NAME:   # raised in one of debforge's helpers: the upstream line that called it is to blame
        callers = [f for f in frames if f[0] != PRELUDE_NAME]
        if callers:
            file, line = callers[-1]
            message = message.removesuffix(f" (called from {file}:{line})")
    return DebforgeError(message, file, int(line) if line else None)


class Workspace:
    """One upstream tree evaluated under one Debian configuration."""

    def __init__(self, root: Path, config: DebianConfig, *, display_root: str | None = None,
                 repo_files: dict | None = None, cache: ScanCache | None = None):
        self.root = Path(root).resolve()
        self.display = display_root if display_root is not None else ""
        self.config = config
        self.graph = Graph(root=str(self.root), config=config.to_dict())
        self.lister = Lister(str(self.root), self._expired)
        self._modules: dict[str, tuple[sl.FrozenModule, Inputs]] = {}
        self._loading: list[str] = []
        self._pkg_stack: list[str] = []
        self._evaluating: set[str] = set()
        self._deadline = math.inf   # no file under evaluation: nothing to stop
        self._globbed = 0        # paths glob() returned to the BUILD file being evaluated: a memory bound
        self._rule_names: dict[tuple[str, int], str] = {}
        self._settings: dict[str, dict[str, Target]] = {}   # package -> its literal config_settings
        self._sink = self.graph.targets                     # where recorded targets go
        self._defs_only = False                             # inside _literal_settings()
        self._failed: dict[str, DebforgeError] = {}         # packages whose evaluation failed, and why
        self._verdicts: dict[str, tuple[bool, int]] = {}    # select() condition -> (matches, specialisation)
        self.workspace_name = workspace_name(self.root)
        self.repo_files = repo_files or {}   # recipe: external repository files made from tree files
        # What evaluations read (see cache.py): one Inputs per evaluation under way, innermost last; and those of
        # finished ones, merged into whatever reuses their result
        self.cache = cache
        self._recorders: list[Inputs] = []
        self._pkg_inputs: dict[str, Inputs] = {}
        self._verdict_inputs: dict[str, Inputs] = {}
        self._settings_inputs: dict[str, Inputs] = {}
        self._digests: dict[str, str] = {}
        self._abs_memo: dict[tuple[str, str], str] = {}   # (label, package) -> absolute label
        self._prelude: sl.FrozenModule | None = None
        self._prelude_loader = sl.FileLoader(lambda _: self._prelude)
        self._probes: dict[str, str | None] = {}
        self._listings: dict[str, str] = {}
        self._looked_up: set[str] = set()   # packages looked for in the cache
        self._labels: dict[str, list[str]] = {}   # package -> labels of the targets it put in the graph

    # -- files ------------------------------------------------------------------------------------------------
    def _shown(self, rel: str) -> str:
        return os.path.join(self.display, rel) if self.display else rel

    def _bytes(self, rel: str) -> bytes:
        return read_confined(self.root, rel, self._shown(rel))

    def _read(self, rel: str) -> str:
        try:
            data = self._bytes(rel)
        except DebforgeError as exc:
            self._record_file(rel, f"error: {exc.message}")
            raise
        self._record_file(rel, digest(data))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DebforgeError(f"cannot read {rel}: not UTF-8 text", self._shown(rel)) from None

    def file_digest(self, rel: str) -> str:
        """A tree file's digest as an evaluation that read it records it (once per scan)."""
        if rel not in self._digests:
            try:
                self._digests[rel] = digest(self._bytes(rel))
            except DebforgeError as exc:
                self._digests[rel] = f"error: {exc.message}"
        return self._digests[rel]

    def _record_file(self, rel: str, value: str) -> None:
        self._digests.setdefault(rel, value)
        if self._recorders:
            self._recorders[-1].files[rel] = value

    def probe(self, pkg: str) -> str | None:
        """The BUILD file of a package; None if the directory is no package."""
        if pkg not in self._probes:
            self._probes[pkg] = next((rel for name in BUILD_FILES
                                      if (self.root / (rel := f"{pkg}/{name}" if pkg else name)).is_file()), None)
        return self._probes[pkg]

    def build_file(self, pkg: str) -> str | None:
        rel = self.probe(pkg)
        if self._recorders:
            self._recorders[-1].probes[pkg] = rel
        return rel

    def listing_digest(self, pkg: str) -> str:
        """A digest of what glob() can see of a package (once per scan)."""
        if pkg not in self._listings:
            files, dirs = self.lister.entries(pkg)
            self._listings[pkg] = listing_digest(files + ["/"] + dirs)
        return self._listings[pkg]

    def glob_digest(self, pkg: str, include: list[str], exclude: list[str], exclude_directories) -> str | None:
        try:
            return listing_digest(self.lister.glob(pkg, include, exclude, exclude_directories))
        except ValueError:
            return None

    # -- what evaluations read --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _recording(self):
        """Record the inputs of an evaluation into its own Inputs, merged into the enclosing one's at the end."""
        inputs = Inputs()
        self._recorders.append(inputs)
        try:
            yield inputs
        finally:
            self._recorders.pop()
            self._depend(inputs)

    def _depend(self, inputs: Inputs | None) -> None:
        """The evaluation under way reuses a result that these inputs gave."""
        if self._recorders:
            self._recorders[-1].merge(inputs)

    def _met(self, external: tuple[str, list[str]] | None = None, unknown: str | None = None) -> None:
        """A stubbed external .bzl or an absent package's select() condition: counted per package in the graph."""
        inputs = self._recorders[-1] if self._recorders else Inputs()
        if external:
            inputs.external.setdefault(external[0], set()).update(external[1])
        if unknown:
            inputs.unknown.add(unknown)
        if not self._recorders:   # outside any package evaluation: straight into the graph
            self._count(inputs)

    def _count(self, inputs: Inputs) -> None:
        g = self.graph
        for label, symbols in inputs.external.items():
            g.external_loads[label] = sorted(set(g.external_loads.get(label, [])) | symbols)
        for label in inputs.unknown:
            g.unknown_conditions[label] = g.unknown_conditions.get(label, 0) + 1

    def finish(self, pkg: str, inputs: Inputs) -> None:
        """A package's evaluation is over (or its result came from elsewhere): keep its inputs, count what it met."""
        if pkg not in self._pkg_inputs:
            self._pkg_inputs[pkg] = inputs
            self._count(inputs)

    def finished(self) -> dict[str, Inputs]:
        """The inputs of every package evaluated (or taken from the cache) so far."""
        return self._pkg_inputs

    def load_cached(self, pkg: str) -> bool:
        """Take pkg's targets (or its failure) from the scan cache if the entry still holds."""
        if self.cache is None or pkg in self.graph.packages or pkg in self._failed or pkg in self._looked_up:
            return False
        self._looked_up.add(pkg)
        rel = self.probe(pkg)
        hit = self.cache.lookup(self, pkg, rel) if rel else None
        if hit is None:
            return False
        if hit.error is not None:
            self._failed[pkg] = hit.error
        else:
            self.adopt(hit.package, hit.targets)
        self.finish(pkg, hit.inputs)
        return True

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
        if self._prelude is None:
            m = sl.Module()
            for name in ("target", "glob", "select", "package", "existing", "existing_all", "package_name",
                         "repository_name", "rule_kind"):
                m.add_callable(f"__df_{name}", getattr(self, f"_cb_{name}"))
            sl.eval(m, _PRELUDE, _GLOBALS)
            self._prelude = m.freeze()
        m = sl.Module()
        self._eval(m, _IMPORT, self._prelude_loader)
        return m

    def _expired(self) -> bool:
        """Starlark's periodic check (and glob()'s): past the file's deadline, or the process past its limits."""
        return time.monotonic() > self._deadline or bounded.exceeded() is not None

    def _options(self) -> sl.EvalOptions:
        return sl.EvalOptions(check_cancelled=self._expired, max_callstack_size=MAX_CALL_DEPTH)

    def _eval(self, module: sl.Module, ast, loader) -> None:
        sl.eval_with(self._options(), module, ast, _GLOBALS, loader)

    def _parse(self, shown: str, text: str):
        try:
            return sl.parse(shown, text, sl.Dialect.extended())
        except sl.StarlarkError as exc:
            raise starlark_error(exc) from None

    def _loader(self, repo: str, pkg: str, ast) -> sl.FileLoader:
        wanted = {ld.module_id: sorted(ld.symbols.values()) for ld in ast.loads()}
        return sl.FileLoader(lambda module_id: self.load_bzl(labels.absolute(module_id, repo, pkg),
                                                             wanted.get(module_id, [])))

    def _source_of(self, label: str, symbols: list[str]) -> tuple[str, str, str, str]:
        """(repo, pkg, display name, Starlark text) of a loaded .bzl: in the tree, a stand-in of an external
        repository, or a stub whose symbols record targets of an unknown rule."""
        repo, rest = (label[1:].split("//", 1) if label.startswith("@") else ("", label[2:]))
        pkg, _, name = rest.partition(":")
        if repo == self.workspace_name:
            repo = ""
        rel = f"{pkg}/{name}" if pkg else name
        if not repo:
            return "", pkg, self._shown(rel), self._read(rel)
        provided = self.repo_files.get(f"@{repo}//{pkg}:{name}")
        if provided is not None:
            text = self._read(provided.path)
            for key, value in provided.substitutions.items():
                text = text.replace(key, value)
            return repo, pkg, self._shown(provided.path), text
        if (STANDINS / repo / rel).is_file():
            shown = f"<stand-in @{repo}//{rel}>"
            return repo, pkg, shown, read_confined(STANDINS, f"{repo}/{rel}", shown).decode("utf-8")
        self._met(external=(label, symbols))
        stub = "".join(f'{s} = __df_stub("{label}%{s}")\n' for s in symbols)
        return repo, pkg, f"<stub {label}>", stub

    def load_bzl(self, label: str, symbols: list[str] = ()) -> sl.FrozenModule:
        """Evaluate a .bzl file once; later loads share the frozen module."""
        key = label if not label.startswith("@") else f"{label}%{','.join(symbols)}"
        if key in self._modules:
            return self._reuse(key)
        if self._defs_only:
            # inside a literal pass (see _setting): a .bzl still being loaded is read for its functions only,
            # and whatever loads it is kept apart from the modules of full evaluations
            key = ("defs-only:" if label in self._loading else "literal:") + key
        elif label in self._loading:
            chain = " -> ".join(self._loading + [label])
            raise DebforgeError(f"load cycle: {chain}")
        if key in self._modules:
            return self._reuse(key)
        self._loading.append(label)
        try:
            with self._recording() as inputs:
                repo, pkg, shown, text = self._source_of(label, list(symbols))
                with bounded.evaluating(shown):
                    if key.startswith("defs-only:"):
                        tree = pyast.parse(text)
                        text = _statements(text, tree, _defs_only(tree))
                    ast = self._parse(shown, text)
                    module = self._new_module()
                    for m in _RULE_ASSIGN.finditer(text):
                        self._rule_names[(shown, text.count("\n", 0, m.start()) + 1)] = m.group(1)
                    self._eval(module, ast, self._loader(repo, pkg, ast))
                    frozen = module.freeze()
        finally:
            self._loading.pop()
        self._modules[key] = frozen, inputs
        return frozen

    def _reuse(self, key: str) -> sl.FrozenModule:
        frozen, inputs = self._modules[key]
        self._depend(inputs)
        return frozen

    def evaluate_package(self, pkg: str) -> None:
        """Evaluate one package's BUILD file into the graph (once), or take it from the scan cache.
        Errors propagate as DebforgeError."""
        if pkg not in self.graph.packages and pkg not in self._failed and pkg not in self._evaluating:
            self.load_cached(pkg)
        if pkg in self.graph.packages or pkg in self._failed:
            self._depend(self._pkg_inputs.get(pkg))
            if pkg in self._failed:
                raise self._failed[pkg]
            return
        if pkg in self._evaluating:
            raise DebforgeError(f"package '//{pkg}' needs itself to resolve a select() (cycle)")
        rel = self.build_file(pkg)
        if rel is None:
            raise DebforgeError(f"no BUILD file in package '//{pkg}'")
        self._evaluating.add(pkg)
        self._pkg_stack.append(pkg)
        saved_deadline, saved_globbed = self._deadline, self._globbed
        saved_mode = self._sink, self._defs_only   # a literal pass (see _setting) may have led here
        self._deadline, self._globbed = time.monotonic() + FILE_SECONDS, 0
        self._sink, self._defs_only = self.graph.targets, False
        self.graph.packages[pkg] = Package(pkg, self._shown(rel))
        err, done, cacheable = None, False, True
        try:
            with self._recording() as inputs, bounded.evaluating(self._shown(rel)):
                self.build_file(pkg)   # the package's own BUILD file: which one it is belongs to its inputs
                module = self._new_module()
                ast = self._parse(self._shown(rel), self._read(rel))
                self._eval(module, ast, self._loader("", pkg, ast))
            done = True
        except (sl.StarlarkError, DebforgeError) as exc:
            err = exc if isinstance(exc, DebforgeError) else starlark_error(exc)
            if (limit := bounded.exceeded()) is not None:   # the whole evaluation stops: see scan()
                err = DebforgeError(limit, err.file, err.line)
                cacheable = False
            elif time.monotonic() > self._deadline:
                err = DebforgeError(f"evaluation took longer than {FILE_SECONDS:g} s: stopped", err.file, err.line)
                cacheable = False
            self._forget(pkg)
            # inside a .bzl load, a failure can be that load's cycle: try again later; a package evaluated
            # for another one's select() may fail for that one's sake: not the package's own verdict to keep
            cacheable = cacheable and not self._loading and len(self._pkg_stack) == 1
            if not self._loading:
                self._failed[pkg] = err
            raise err from None
        finally:
            self._deadline, self._globbed = saved_deadline, saved_globbed
            self._sink, self._defs_only = saved_mode
            self._pkg_stack.pop()
            self._evaluating.discard(pkg)
            if done or pkg in self._failed:
                self.finish(pkg, inputs)
                if self.cache is not None and (done or cacheable):
                    self.cache.store(self, pkg, rel, inputs, self.graph.packages.get(pkg),
                                     self.package_targets(pkg), err)

    def _forget(self, pkg: str) -> None:
        """Drop what a failed evaluation of pkg recorded: a package is in the graph whole or not at all."""
        del self.graph.packages[pkg]
        for label in self._labels.pop(pkg, []):
            del self.graph.targets[label]

    def adopt(self, package: Package, targets: list[Target]) -> None:
        """A package evaluated elsewhere (the cache, a worker process) joins the graph."""
        if package.path not in self.graph.packages:
            self.graph.packages[package.path] = package
            self.graph.targets.update((t.label, t) for t in targets)
            self._labels[package.path] = [t.label for t in targets]

    def package_targets(self, pkg: str) -> list[Target]:
        return [self.graph.targets[label] for label in self._labels.get(pkg, [])]

    def target(self, label: str) -> Target | None:
        """The target for a label, evaluating its package on first use. None if the package has no such rule."""
        if label.startswith("@"):
            return None
        pkg = label[2:].partition(":")[0]
        if self._defs_only:  # inside a literal pass (see _setting), a full evaluation is what must not happen
            self._depend(self._pkg_inputs.get(pkg))
            self._depend(self._settings_inputs.get(pkg))
            return self.graph.targets.get(label) or self._settings.get(pkg, {}).get(label)
        if pkg in self.graph.packages or self.build_file(pkg) is not None:
            self.evaluate_package(pkg)
        return self.graph.targets.get(label)

    def _abs(self, label: str) -> str:
        """An absolute label; "@<upstream's own repository name>//x" is the tree itself, "//x"."""
        key = (label, self._pkg)
        out = self._abs_memo.get(key)
        if out is None:
            out = labels.absolute(label, "", key[1])
            if self.workspace_name and out.startswith(f"@{self.workspace_name}//"):
                out = out[len(self.workspace_name) + 1:]
            self._abs_memo[key] = out
        return out

    # -- callbacks from the prelude ------------------------------------------------------------------------
    @property
    def _pkg(self) -> str:
        return self._pkg_stack[-1] if self._pkg_stack else ""

    def _cb_target(self, stack, kind, name, attrs):
        attrs = json.loads(attrs)
        if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"{kind}: invalid target name {name!r}")
        if not self._pkg_stack:
            raise ValueError(f"{kind}() can only be called while evaluating a BUILD file")
        label = f"//{self._pkg}:{name}"
        if label in self._sink:
            raise ValueError(f"target '{name}' is declared twice in package '//{self._pkg}' "
                             f"(first at {self._sink[label].location})")
        clean = {}
        for key, value in attrs.items():
            if value is None:
                continue
            if key in LABEL_ATTRS:
                value = self._absolute_labels(key, value)
            clean[key] = value
        if kind == "config_setting" and "flag_values" in clean:
            clean["flag_values"] = {self._abs(k): v for k, v in clean["flag_values"].items()}
        if kind == "config_setting" and "constraint_values" in clean:
            clean["constraint_values"] = [self._abs(v) for v in clean["constraint_values"]]
        self._sink[label] = Target(label, kind, _caller(stack), clean)
        if self._sink is self.graph.targets:
            self._labels.setdefault(self._pkg, []).append(label)

    def _absolute_labels(self, key, value):
        if isinstance(value, str):
            return self._abs(value)
        if isinstance(value, list):
            return [self._abs(v) if isinstance(v, str) else v for v in value]
        if isinstance(value, dict):  # e.g. label-keyed dicts
            return {self._abs(k): v for k, v in value.items()}
        raise ValueError(f"attribute '{key}' must be a label or list of labels, not {type(value).__name__}")

    def _cb_glob(self, include, exclude, exclude_directories):
        if isinstance(include, str) or isinstance(exclude, str):
            raise ValueError("glob() takes lists of patterns, not a string")
        include, exclude = list(include), list(exclude)
        found = self.lister.glob(self._pkg, include, exclude, exclude_directories)
        if self._recorders:
            inputs = self._recorders[-1]
            inputs.listings[self._pkg] = self.listing_digest(self._pkg)
            inputs.globs[json.dumps([self._pkg, include, exclude, exclude_directories])] = listing_digest(found)
        self._globbed += len(found)
        if self._globbed > MAX_RESULTS:
            raise ValueError(f"glob() calls of this file returned more than {MAX_RESULTS} paths in all: stopped")
        return found

    def _cb_select(self, keys, no_match_error):
        """Indices of the select() keys that win here; the values stay in Starlark (they may hold anything)."""
        keys = json.loads(keys)
        if not keys:
            raise ValueError("select() needs a non-empty dict of conditions")
        best: list[tuple[int, int]] = []
        for i, key in enumerate(keys):
            if key == DEFAULT:
                continue
            if not isinstance(key, str):
                raise ValueError(f"select() condition {key!r} is not a label")
            try:
                label = self._abs(key)
                if label in self._verdicts:
                    ok, weight = self._verdicts[label]
                    top = self._recorders[-1] if self._recorders else None
                    if top is not None and label not in top.conditions:
                        top.conditions.add(label)
                        top.merge(self._verdict_inputs[label])
                else:
                    with self._recording() as inputs:
                        ok, weight = self._condition(label)
                    if not self._defs_only:   # a literal pass may not know every setting yet
                        self._verdicts[label] = ok, weight
                        self._verdict_inputs[label] = inputs
            except ValueError:
                if not self._defs_only:
                    raise
                ok, weight = False, 0   # literal pass (see _setting): function defaults, not what we look for
            if ok:
                best.append((weight, i))
        if best:
            top = max(w for w, _ in best)
            return [i for w, i in best if w == top]
        if DEFAULT in keys:
            return [keys.index(DEFAULT)]
        raise ValueError(no_match_error or f"select(): no condition matches the Debian configuration "
                                           f"(arch {self.config.arch}) and there is no //conditions:default")

    def _condition(self, label: str) -> tuple[bool, int]:
        if self.config.is_constraint(label):
            return label in self.config.constraints, 1
        if label.startswith("@"):
            return False, 0   # a config_setting of a repository outside the tree: not this configuration
        target = self._setting(label)
        if target is None and self.build_file(label[2:].partition(":")[0]) is None:
            # upstream's BUILD files name packages its published tree lacks (copybara leftovers such as
            # //tools/cpp): such a condition can't describe this build
            self._met(unknown=label)
            return False, 0
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
        return self.config.matches_setting(target.attrs, self._flag_default)

    def _setting(self, label: str) -> Target | None:
        """The target a select() condition names. Conditions are resolved eagerly, so a .bzl file whose
        top-level code calls select() may need a package whose BUILD loads that very .bzl: bazel never meets
        this cycle (its select() is lazy). The package's literal config_setting calls are read first."""
        pkg = label[2:].partition(":")[0]
        if label in self.graph.targets or pkg in self.graph.packages and pkg not in self._evaluating:
            self._depend(self._pkg_inputs.get(pkg))
            return self.graph.targets.get(label)
        if pkg not in self._settings:
            self._settings[pkg] = {}   # while reading them, a condition of the same package can't be known
            with self._recording() as inputs:
                self._settings[pkg] = self._literal_settings(pkg)
            self._settings_inputs[pkg] = inputs
        else:
            self._depend(self._settings_inputs.get(pkg))
        found = self._settings[pkg].get(label)
        if found is None and self._defs_only:
            return None   # no full evaluation inside the literal pass: that is where the cycle came from
        return found or self.target(label)

    def _literal_settings(self, pkg: str) -> dict[str, Target]:
        """config_setting / config_setting_group calls at the top level of a BUILD file, evaluated on their own.
        Python's ast module only parses the text (Starlark's call syntax is Python's); nothing is executed."""
        rel = self.build_file(pkg)
        if rel is None:
            return {}
        text = self._read(rel)
        try:
            tree = pyast.parse(text)
        except (SyntaxError, ValueError):
            return {}
        def call_name(node):
            call = node.value if isinstance(node, pyast.Expr) and isinstance(node.value, pyast.Call) else None
            func = call.func if call else None
            return func.id if isinstance(func, pyast.Name) else func.attr if isinstance(func, pyast.Attribute) else ""

        settings = [n for n in tree.body if call_name(n) in SETTING_RULES]
        if not settings:
            return {}
        sink: dict[str, Target] = {}
        saved = self._sink, self._defs_only
        self._sink, self._defs_only = sink, True
        self._pkg_stack.append(pkg)
        try:
            module = self._new_module()
            loads = self._parse(self._shown(rel), _statements(text, tree, lambda n: call_name(n) == "load"))
            self._eval(module, loads, self._loader("", pkg, loads))
            for node in settings:  # one by one: a setting that is not literal after all is left to the full pass
                try:
                    self._eval(module, self._parse(self._shown(rel), _statements(text, tree, lambda n: n is node)),
                               None)
                except (sl.StarlarkError, ValueError):
                    pass
        except (sl.StarlarkError, DebforgeError, ValueError):
            pass
        finally:
            self._pkg_stack.pop()
            self._sink, self._defs_only = saved
        return sink

    def _flag_default(self, label: str) -> str | None:
        """A build setting's value when the recipe's config does not set it: its build_setting_default."""
        flag = self._setting(label) if not label.startswith("@") else None
        if flag is None or "build_setting_default" not in flag.attrs:
            return None
        value = flag.attrs["build_setting_default"]
        return str(value).lower() if isinstance(value, bool) else str(value)

    def _cb_package(self, attrs):
        vis = attrs.get("default_visibility")
        if vis:
            self.graph.packages[self._pkg].default_visibility = list(vis)

    def _cb_existing(self, name):
        t = self.graph.targets.get(f"//{self._pkg}:{name}")
        return dict(EXISTING_DEFAULTS, **t.attrs, name=name, kind=t.kind) if t else None

    def _cb_existing_all(self):
        prefix = f"//{self._pkg}:"
        return {lbl[len(prefix):]: dict(EXISTING_DEFAULTS, **t.attrs, name=lbl[len(prefix):], kind=t.kind)
                for lbl, t in self.graph.targets.items() if lbl.startswith(prefix)}

    def _cb_package_name(self):
        return self._pkg

    def _cb_repository_name(self):
        return "@"

    def _cb_rule_kind(self, stack):
        frames = _FRAME.findall(stack)
        file, line = frames[0] if frames else ("?", "0")
        return getattr(self, "_rule_names", {}).get((file, int(line)), f"rule@{file}:{line}")
