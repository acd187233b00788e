"""The scan cache: one entry per evaluated package, reused only while everything its evaluation read is unchanged.

An evaluation records its inputs (Inputs): the digest of every tree file it read (its BUILD file, the .bzl files
it loaded, the BUILD files of packages whose config_settings its select()s consulted, recipe templates), which
directories are packages, and the glob() calls it made with a digest of their results. The scan configuration
(what select() sees, recipe repository files, the frontend's own files, debforge and starlark versions) is one
fingerprint. Entries are JSON written here; anything unreadable, foreign or malformed is a miss, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ... import __version__
from ...core.errors import DebforgeError
from ...graph import Package, Target

SCHEMA = 1
DISABLE_ENV = "DEBFORGE_NO_SCAN_CACHE"
_OWN_FILES = (Path(__file__).resolve().parent, Path(__file__).resolve().parents[2] / "graph.py")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing_digest(names: list[str]) -> str:
    return digest("\0".join(names).encode("utf-8", "surrogateescape"))


def default_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "debforge" / "scan"


def enabled_by_env() -> bool:
    return os.environ.get(DISABLE_ENV, "") in ("", "0")


@dataclass
class Inputs:
    """What one evaluation (a package, a loaded .bzl, a select() condition) read, and what it met on the way."""
    files: dict[str, str] = field(default_factory=dict)          # tree path -> digest (or "error: ...")
    probes: dict[str, str | None] = field(default_factory=dict)  # package -> its BUILD file; None: not a package
    listings: dict[str, str] = field(default_factory=dict)       # globbed package -> digest of its file listing
    globs: dict[str, str] = field(default_factory=dict)          # JSON [pkg, include, exclude, dirs] -> digest
    external: dict[str, set[str]] = field(default_factory=dict)  # stubbed external .bzl -> symbols
    unknown: set[str] = field(default_factory=set)               # select() conditions in packages the tree lacks
    conditions: set[str] = field(default_factory=set)            # conditions merged in already (not stored)

    def merge(self, other: "Inputs | None") -> None:
        if other is None or other is self:
            return
        self.files.update(other.files)
        self.probes.update(other.probes)
        self.listings.update(other.listings)
        self.globs.update(other.globs)
        for label, symbols in other.external.items():
            self.external.setdefault(label, set()).update(symbols)
        self.unknown |= other.unknown
        self.conditions |= other.conditions

    def to_json(self) -> dict:
        # the files' digests as one: most packages read the same hundred .bzl files, each entry names them
        return {"files": sorted(self.files), "files_digest": files_digest(self.files), "probes": self.probes,
                "listings": self.listings, "globs": self.globs,
                "external": {k: sorted(v) for k, v in self.external.items()}, "unknown": sorted(self.unknown)}

    @classmethod
    def from_json(cls, data: dict, current) -> "Inputs | None":
        """The recorded inputs, if the files they name still have the recorded digests (`current(path)` gives a
        file's digest now)."""
        out = cls(files={rel: current(rel) for rel in data["files"]}, probes=dict(data["probes"]),
                  listings=_str_map(data["listings"]), globs=_str_map(data["globs"]),
                  external={k: set(v) for k, v in data["external"].items()}, unknown=set(data["unknown"]))
        if not all(isinstance(v, (str, type(None))) for v in out.probes.values()) or \
                not all(isinstance(s, str) for v in out.external.values() for s in v) or \
                not all(isinstance(s, str) for s in out.unknown):
            raise TypeError("not a map of strings")
        return out if files_digest(out.files) == data["files_digest"] else None


class Recorder:
    """What the evaluations under way read: one Inputs per evaluation (a package, a loaded .bzl, a select()
    condition), innermost last, merged into the enclosing one's when it ends (or when a finished result is reused);
    and the inputs of each package evaluated or taken from the cache, whose stubbed loads and unknown conditions
    the graph counts once per package."""

    def __init__(self, graph):
        self.graph = graph
        self.stack: list[Inputs] = []
        self.packages: dict[str, Inputs] = {}

    @property
    def top(self) -> Inputs | None:
        return self.stack[-1] if self.stack else None

    @contextlib.contextmanager
    def recording(self):
        """Record the inputs of an evaluation into its own Inputs, merged into the enclosing one's at the end."""
        inputs = Inputs()
        self.stack.append(inputs)
        try:
            yield inputs
        finally:
            self.stack.pop()
            self.depend(inputs)

    def depend(self, inputs: Inputs | None) -> None:
        """The evaluation under way reuses a result that these inputs gave."""
        if self.stack:
            self.stack[-1].merge(inputs)

    def file(self, rel: str, value: str) -> None:
        if self.stack:
            self.stack[-1].files[rel] = value

    def probe(self, pkg: str, rel: str | None) -> None:
        if self.stack:
            self.stack[-1].probes[pkg] = rel

    def met(self, external: tuple[str, list[str]] | None = None, unknown: str | None = None) -> None:
        """A stubbed external .bzl or an absent package's select() condition: counted per package in the graph."""
        inputs = self.top or Inputs()
        if external:
            inputs.external.setdefault(external[0], set()).update(external[1])
        if unknown:
            inputs.unknown.add(unknown)
        if not self.stack:   # outside any package evaluation: straight into the graph
            self._count(inputs)

    def _count(self, inputs: Inputs) -> None:
        g = self.graph
        for label, symbols in inputs.external.items():
            g.external_loads[label] = sorted(set(g.external_loads.get(label, [])) | symbols)
        for label in inputs.unknown:
            g.unknown_conditions[label] = g.unknown_conditions.get(label, 0) + 1

    def finish(self, pkg: str, inputs: Inputs) -> None:
        """A package's evaluation is over (or its result came from elsewhere): keep its inputs, count what it met."""
        if pkg not in self.packages:
            self.packages[pkg] = inputs
            self._count(inputs)


def files_digest(files: dict[str, str]) -> str:
    return digest("\0".join(f"{rel}\0{d}" for rel, d in sorted(files.items())).encode("utf-8", "surrogateescape"))


def _str_map(data) -> dict[str, str]:
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise TypeError("not a map of strings")
    return data


@dataclass
class Hit:
    """A cache entry that still holds: the package's targets, or its (deterministic) failure."""
    inputs: Inputs
    package: Package | None = None
    targets: list[Target] = field(default_factory=list)
    error: DebforgeError | None = None


def fingerprint(config: dict, display: str, workspace_name: str | None, repo_files: dict) -> str:
    """Everything besides tree files that an evaluation's result depends on."""
    own = hashlib.sha256()
    for base in _OWN_FILES:
        for path in sorted(base.rglob("*")) if base.is_dir() else [base]:
            if path.is_file() and "__pycache__" not in path.parts:
                own.update(f"{path.relative_to(base)}\0".encode() + path.read_bytes())
    text = json.dumps({
        "schema": SCHEMA, "debforge": __version__, "starlark": metadata.version("starlark-pyo3"),
        "python": list(sys.version_info[:2]), "frontend": own.hexdigest(), "config": config, "display": display,
        "workspace_name": workspace_name,
        "repo_files": {k: [v.path, v.substitutions] for k, v in sorted(repo_files.items())},
    }, sort_keys=True)
    return digest(text.encode())


class ScanCache:
    """Entries under `directory`, named by (fingerprint, package, digest of its BUILD file)."""

    def __init__(self, directory: Path, fingerprint: str):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.hit: set[str] = set()      # packages taken from the cache in this scan
        self.missed: set[str] = set()   # packages looked up and evaluated anew

    def _path(self, pkg: str, build_digest: str) -> Path:
        name = digest("\0".join((self.fingerprint, pkg, build_digest)).encode("utf-8", "surrogateescape"))
        return self.directory / f"{name}.json"

    def lookup(self, ws, pkg: str, build_rel: str) -> Hit | None:
        """The entry for pkg if every input it recorded is unchanged; None on a miss or a bad entry."""
        hit = self._read(ws, pkg, ws.file_digest(build_rel))
        try:
            holds = hit is not None and _holds(ws, hit.inputs)
        except (ValueError, TypeError, AttributeError):
            holds = False   # a malformed glob record
        if not holds:
            self.missed.add(pkg)
            return None
        self.hit.add(pkg)
        return hit

    def _read(self, ws, pkg: str, build_digest: str) -> Hit | None:
        try:
            data = json.loads(self._path(pkg, build_digest).read_bytes())
            if data.get("schema") != SCHEMA or data.get("fingerprint") != self.fingerprint or \
                    data.get("package") != pkg:
                return None
            inputs = Inputs.from_json(data["inputs"], ws.file_digest)
            if inputs is None:
                return None
            if "error" in data:
                e = data["error"]
                return Hit(inputs, error=DebforgeError(str(e["message"]), e["file"], e["line"], e["hint"]))
            p, prefix = data["result"], f"//{pkg}:"
            targets = [Target(label, kind, loc, attrs) for label, kind, loc, attrs in p["targets"]]
            if not all(isinstance(t.label, str) and t.label.startswith(prefix) and isinstance(t.kind, str) and
                       isinstance(t.location, str) and isinstance(t.attrs, dict) for t in targets):
                return None
            return Hit(inputs, Package(pkg, str(p["build_file"]), [str(v) for v in p["default_visibility"]]),
                       targets)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None   # absent, unreadable, not ours or malformed: evaluate anew

    def store(self, ws, pkg: str, build_rel: str, inputs: Inputs, package: Package | None, targets: list[Target],
              error: DebforgeError | None = None) -> None:
        entry = {"schema": SCHEMA, "fingerprint": self.fingerprint, "package": pkg, "inputs": inputs.to_json()}
        if error is not None:
            entry["error"] = {"message": error.message, "file": error.file, "line": error.line, "hint": error.hint}
        else:
            entry["result"] = {"build_file": package.build_file, "default_visibility": package.default_visibility,
                               "targets": [[t.label, t.kind, t.location, t.attrs] for t in targets]}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(entry, separators=(",", ":")).encode())
            os.replace(tmp, self._path(pkg, ws.file_digest(build_rel)))
        except (OSError, TypeError, ValueError):
            try:  # a cache that can't be written only costs time
                os.unlink(tmp)
            except (OSError, NameError):
                pass


def _holds(ws, inputs: Inputs) -> bool:
    """Are the recorded inputs (files checked already) still what the tree has? glob() results are compared
    only where a globbed package's file listing changed."""
    if not all(map(_in_tree, [*inputs.probes, *inputs.listings])):
        return False   # not an entry debforge wrote: never look outside the tree
    if any(ws.probe(pkg) != rel for pkg, rel in inputs.probes.items()):
        return False
    changed = {pkg for pkg, d in inputs.listings.items() if ws.listing_digest(pkg) != d}
    for key, d in inputs.globs.items():
        pkg, include, exclude, dirs = json.loads(key)
        if not _in_tree(pkg):
            return False
        if (pkg in changed or pkg not in inputs.listings) and ws.glob_digest(pkg, include, exclude, dirs) != d:
            return False
    return True


def _in_tree(pkg) -> bool:
    return isinstance(pkg, str) and not pkg.startswith("/") and ".." not in pkg.split("/")
