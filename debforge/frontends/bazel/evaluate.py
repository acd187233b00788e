"""Evaluate BUILD / BUILD.bazel and the .bzl files they load with starlark-pyo3: hermetic, bounded, no Python exec.

Workspace is the frontend's face to the rest of debforge: one upstream tree evaluated under one Debian
configuration, packages evaluated on demand (or taken from the scan cache) into its graph. Its parts, one job each:
files.TreeFiles (confined reads, digests), cache.Recorder (what each evaluation read), host.Host (the Starlark
session and its bounds), loader.Loader (load()), natives.Natives (the callbacks that record targets),
select.Conditions (select() and the settings it reads).
"""

from __future__ import annotations

import time
from pathlib import Path

import starlark as sl

from ...core import bounded
from ...core.errors import DebforgeError
from ...graph import Graph, Package, Target
from .cache import Inputs, Recorder, ScanCache
from .files import TreeFiles, workspace_name
from .glob import Lister
from .host import Host, starlark_error
from .loader import Loader
from .natives import Natives, Scope
from .select import Conditions, DebianConfig, flag_text

FILE_SECONDS = 30.0


class Workspace:
    """One upstream tree evaluated under one Debian configuration."""

    def __init__(self, root: Path, config: DebianConfig, *, display_root: str | None = None,
                 repo_files: dict | None = None, cache: ScanCache | None = None):
        self.root = Path(root).resolve()
        self.display = display_root if display_root is not None else ""
        self.config = config
        self.graph = Graph(root=str(self.root), config=config.to_dict())
        self.workspace_name = workspace_name(self.root)
        self.repo_files = repo_files or {}   # recipe: external repository files made from tree files
        self.cache = cache
        self.recorder = Recorder(self.graph)
        self.host = Host()
        self.files = TreeFiles(self.root, self.display, Lister(str(self.root), self.host.expired), self.recorder)
        self.scope = Scope(self.graph)
        self.loader = Loader(self)
        self.conditions = Conditions(self)
        self.natives = Natives(self)
        self.host.callbacks = self.natives.callbacks()
        self.evaluating: set[str] = set()                   # packages whose evaluation is under way
        self._failed: dict[str, DebforgeError] = {}         # packages whose evaluation failed, and why
        self._looked_up: set[str] = set()                   # packages looked for in the cache

    # -- what the planner reads (graph.ScanView) -----------------------------------------------------------
    def target(self, label: str) -> Target | None:
        """The target for a label, evaluating its package on first use. None if the package has no such rule."""
        if label.startswith("@"):
            return None
        if self.scope.literal:  # inside a literal pass (see Conditions.setting), no full evaluation may happen
            return self.conditions.literal_target(label)
        pkg = label[2:].partition(":")[0]
        if pkg in self.graph.packages or self.build_file(pkg) is not None:
            self.evaluate_package(pkg)
        return self.graph.targets.get(label)

    def build_file(self, pkg: str) -> str | None:
        """The BUILD file of a package; None if the directory is no package."""
        return self.files.build_file(pkg)

    def flag(self, label: str) -> str | None:
        """A build setting's value: the recipe config's, else the setting's build_setting_default; as bazel reads
        it (a boolean's true/True/1 is "true", false/False/0 "false"; anything else as text); None when unknown.
        Inside an evaluation (a select()), the setting is found as select() finds conditions; outside, its package
        is evaluated whole."""
        if label in self.config.flag_values:
            return flag_text(self.config.flag_values[label])
        if label.startswith("@"):
            return None
        setting = self.conditions.setting(label) if self.scope.stack else self.target(label)
        if setting is None or "build_setting_default" not in setting.attrs:
            return None
        return flag_text(setting.attrs["build_setting_default"])

    def targets_in(self, pkg: str) -> list[Target]:
        """The targets of a package, evaluating it on first use (errors propagate as DebforgeError)."""
        self.evaluate_package(pkg)
        return self.package_targets(pkg)

    # -- the scan and the scan cache ----------------------------------------------------------------------
    def probe(self, pkg: str) -> str | None:
        return self.files.probe(pkg)

    def file_digest(self, rel: str) -> str:
        return self.files.file_digest(rel)

    def listing_digest(self, pkg: str) -> str:
        return self.files.listing_digest(pkg)

    def glob_digest(self, pkg: str, include: list[str], exclude: list[str], exclude_directories) -> str | None:
        return self.files.glob_digest(pkg, include, exclude, exclude_directories)

    def all_packages(self) -> list[str]:
        return self.files.all_packages()

    def adopt(self, package: Package, targets: list[Target]) -> None:
        """A package evaluated elsewhere (the cache, a worker process) joins the graph."""
        self.natives.adopt(package, targets)

    def package_targets(self, pkg: str) -> list[Target]:
        return self.natives.package_targets(pkg)

    def finish(self, pkg: str, inputs: Inputs) -> None:
        """A package's evaluation is over (or its result came from elsewhere): keep its inputs, count what it met."""
        self.recorder.finish(pkg, inputs)

    def finished(self) -> dict[str, Inputs]:
        """The inputs of every package evaluated (or taken from the cache) so far."""
        return self.recorder.packages

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

    # -- evaluation ---------------------------------------------------------------------------------------------
    def evaluate_package(self, pkg: str) -> None:
        """Evaluate one package's BUILD file into the graph (once), or take it from the scan cache.
        Errors propagate as DebforgeError."""
        if pkg not in self.graph.packages and pkg not in self._failed and pkg not in self.evaluating:
            self.load_cached(pkg)
        if pkg in self.graph.packages or pkg in self._failed:
            self.recorder.depend(self.recorder.packages.get(pkg))
            if pkg in self._failed:
                raise self._failed[pkg]
            return
        if pkg in self.evaluating:
            raise DebforgeError(f"package '//{pkg}' needs itself to resolve a select() (cycle)")
        rel = self.build_file(pkg)
        if rel is None:
            raise DebforgeError(f"no BUILD file in package '//{pkg}'")
        self._evaluate(pkg, rel)

    def _evaluate(self, pkg: str, rel: str) -> None:
        """Evaluate a package's BUILD file `rel`, within its file's time bound; keep the result or the failure
        (in the scan cache too, where it is the package's own)."""
        shown = self.files.shown(rel)
        self.evaluating.add(pkg)
        saved = self.host.deadline, self.natives.globbed
        self.host.deadline, self.natives.globbed = time.monotonic() + FILE_SECONDS, 0
        self.graph.packages[pkg] = Package(pkg, shown)
        err, done, cacheable = None, False, True
        with self.scope.entered(pkg):
            try:
                with self.recorder.recording() as inputs, bounded.evaluating(shown):
                    self.build_file(pkg)   # the package's own BUILD file: which one it is belongs to its inputs
                    module = self.host.new_module()
                    ast = self.host.parse(shown, self.files.read(rel))
                    self.host.eval(module, ast, self.loader.for_module("", pkg, ast))
                done = True
            except (sl.StarlarkError, DebforgeError) as exc:
                err, cacheable = self._failure(pkg, exc)
                raise err from None
            finally:
                self.host.deadline, self.natives.globbed = saved
                self.evaluating.discard(pkg)
                if done or pkg in self._failed:
                    self.finish(pkg, inputs)
                    if self.cache is not None and (done or cacheable):
                        self.cache.store(self, pkg, rel, inputs, self.graph.packages.get(pkg),
                                         self.package_targets(pkg), err)

    def _failure(self, pkg: str, exc: Exception) -> tuple[DebforgeError, bool]:
        """A package's failed evaluation as a DebforgeError, and whether it may be cached; what the package
        recorded is dropped."""
        err = exc if isinstance(exc, DebforgeError) else starlark_error(exc)
        cacheable = True
        if (limit := bounded.exceeded()) is not None:   # the whole evaluation stops: see scan()
            err = DebforgeError(limit, err.file, err.line)
            cacheable = False
        elif time.monotonic() > self.host.deadline:
            err = DebforgeError(f"evaluation took longer than {FILE_SECONDS:g} s: stopped", err.file, err.line)
            cacheable = False
        self.natives.forget(pkg)
        # inside a .bzl load, a failure can be that load's cycle: try again later; a package evaluated
        # for another one's select() may fail for that one's sake: not the package's own verdict to keep
        cacheable = cacheable and not self.loader.loading and len(self.scope.stack) == 1
        if not self.loader.loading:
            self._failed[pkg] = err
        return err, cacheable
