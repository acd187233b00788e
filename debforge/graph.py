"""The build-graph IR: what a frontend produces and the planner reads. Plain data, serialisable to JSON.

Labels are absolute bazel-style strings: "//pkg:name" for the upstream tree, "@repo//pkg:name" for externals.
A label that names no target names a source file, at path "<pkg>/<name>" in the tree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass
class Target:
    label: str
    kind: str                 # cc_library, cc_binary, genrule, ... or the name of an unknown rule
    location: str             # "<file>:<line>" of the call in the BUILD file
    attrs: dict = field(default_factory=dict)   # select()s resolved, label attributes made absolute


@dataclass
class Package:
    path: str                 # directory relative to the tree root ("" for the root)
    build_file: str
    default_visibility: list[str] = field(default_factory=list)


@dataclass
class Graph:
    root: str                                   # upstream tree the paths are relative to
    config: dict                                # the configuration select() was resolved against
    targets: dict[str, Target] = field(default_factory=dict)
    packages: dict[str, Package] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)   # build file -> reason it failed to evaluate
    external_loads: dict[str, list[str]] = field(default_factory=dict)  # stubbed .bzl of other repos -> symbols
    unknown_conditions: dict[str, int] = field(default_factory=dict)   # select() keys in absent packages -> packages

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.targets.values():
            counts[t.kind] = counts.get(t.kind, 0) + 1
        return dict(sorted(counts.items()))


@runtime_checkable
class ScanView(Protocol):
    """What the planner and the rule kinds read of a scan, read-only (the bazel frontend's Workspace is one).
    target() may evaluate the label's package on first use: that only adds to graph."""

    @property
    def root(self) -> Path: ...                                   # the upstream tree, resolved

    @property
    def graph(self) -> Graph: ...                                 # what has been evaluated so far

    def target(self, label: str) -> Target | None: ...           # the rule a label names; None: none (or external)

    def build_file(self, pkg: str) -> str | None: ...             # a package's BUILD file; None: no such package

    def flag(self, label: str) -> str | None: ...                 # a build setting's value ("true"/"false" for
    #                                                                booleans); None: unknown

    @property
    def workspace_name(self) -> str | None: ...                  # upstream's name for its repository, if it gives one

    def all_packages(self) -> list[str]: ...                      # every package of the tree (test patterns //x/...)

    def targets_in(self, pkg: str) -> list[Target]: ...          # a package's targets, evaluating it (//pkg:all)


def split_label(label: str) -> tuple[str, str, str]:
    """"@repo//pkg:name" -> ("repo", "pkg", "name"); the main repository is ""."""
    repo = ""
    if label.startswith("@"):
        repo, _, label = label[1:].partition("//")
    else:
        label = label[2:]
    pkg, _, name = label.partition(":")
    return repo, pkg, name or pkg.rsplit("/", 1)[-1]


def file_path(label: str) -> str:
    """The tree path a file label names."""
    _, pkg, name = split_label(label)
    return f"{pkg}/{name}" if pkg else name
