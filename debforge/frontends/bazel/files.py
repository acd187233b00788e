"""The evaluator's windows on the file system: confined reads of the tree and the stand-ins, and the digests,
BUILD file probes and listings that the scan cache compares.

Upstream files are untrusted: every file the evaluator reads goes through read_confined(): once symlinks are
resolved, it lies in the tree or the stand-ins.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...core.errors import DebforgeError
from .cache import Recorder, digest, listing_digest
from .glob import BUILD_FILES, Lister

STANDINS = Path(__file__).resolve().parent / "standins"
_WORKSPACE_NAME = re.compile(r"""^\s*(?:workspace|module)\(\s*name\s*=\s*["']([A-Za-z0-9_.-]+)["']""", re.M)


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


class TreeFiles:
    """The upstream tree as evaluations read it: each read, and which directories are packages, is recorded into
    the evaluation under way; digests, probes and listings are computed once per scan."""

    def __init__(self, root: Path, display: str, lister: Lister, recorder: Recorder):
        self.root = root
        self.display = display
        self.lister = lister
        self.recorder = recorder
        self._digests: dict[str, str] = {}
        self._probes: dict[str, str | None] = {}
        self._listings: dict[str, str] = {}

    def shown(self, rel: str) -> str:
        """How error messages name a tree file."""
        return os.path.join(self.display, rel) if self.display else rel

    def _bytes(self, rel: str) -> bytes:
        return read_confined(self.root, rel, self.shown(rel))

    def read(self, rel: str) -> str:
        """A tree file's text, recorded as an input of the evaluation under way."""
        try:
            data = self._bytes(rel)
        except DebforgeError as exc:
            self._record(rel, f"error: {exc.message}")
            raise
        self._record(rel, digest(data))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DebforgeError(f"cannot read {rel}: not UTF-8 text", self.shown(rel)) from None

    def _record(self, rel: str, value: str) -> None:
        self._digests.setdefault(rel, value)
        self.recorder.file(rel, value)

    def file_digest(self, rel: str) -> str:
        """A tree file's digest as an evaluation that read it records it (once per scan)."""
        if rel not in self._digests:
            try:
                self._digests[rel] = digest(self._bytes(rel))
            except DebforgeError as exc:
                self._digests[rel] = f"error: {exc.message}"
        return self._digests[rel]

    def probe(self, pkg: str) -> str | None:
        """The BUILD file of a package; None if the directory is no package."""
        if pkg not in self._probes:
            self._probes[pkg] = next((rel for name in BUILD_FILES
                                      if (self.root / (rel := f"{pkg}/{name}" if pkg else name)).is_file()), None)
        return self._probes[pkg]

    def build_file(self, pkg: str) -> str | None:
        """probe(), recorded as an input of the evaluation under way."""
        rel = self.probe(pkg)
        self.recorder.probe(pkg, rel)
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

    def all_packages(self) -> list[str]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "debian")
            if any(b in filenames for b in BUILD_FILES):
                rel = os.path.relpath(dirpath, self.root)
                out.append("" if rel == "." else rel)
        return sorted(out)
