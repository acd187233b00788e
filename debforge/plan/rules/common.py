"""What every rule-kind module shares: the build step a kind makes (Generate), how it runs an upstream tool
(Tool), what it may ask the planner (Context), and small helpers on targets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from ...core.errors import DebforgeError
from ...core.labels import absolute
from ...core.layout import GENDIR
from ...graph import Target, split_label


@dataclass
class Generate:
    label: str                     # the rule that declares the outputs
    kind: str
    inputs: list[str]              # tree paths or outputs of other steps
    outputs: list[str]             # paths under GENDIR
    command: list[str]             # argv, run from the tree root
    tools: list[str] = field(default_factory=list)   # scripts the command runs (rebuild when they change)
    build_depends: list[str] = field(default_factory=list)   # Debian packages the command needs
    # where ninja writes the step's outputs (its rspfile, $out) for a command that checks what it wrote against them
    outputs_list: str | None = None


@dataclass
class Tool:
    """How a build step runs an upstream executable target (a genrule's tools, a generator attribute)."""
    command: list[str]             # argv prefix, run from the tree root
    files: list[str]               # its sources: the step reruns when they change
    build_depends: list[str]       # Debian packages it needs to run


class Context(Protocol):
    """What a generator kind asks the planner."""
    root: str                      # the upstream tree
    undefined: set[str]            # macros of dropped externals: generated headers turn them off

    def inputs(self, t: Target, labels: list[str]) -> list[str]: ...   # label attributes -> paths

    def tool(self, t: Target, label: str) -> Tool: ...                  # an executable label -> how to run it

    def rule(self, label: str) -> Target | None: ...                   # the rule a label names, if any

    def flag(self, label: str) -> str | None: ...                      # a build setting's value ("true"/"false")

    def recorded_outputs(self, label: str) -> tuple[str, ...] | None: ...   # the recipe's rule-outputs of a rule


def output_path(label: str) -> str:
    """Where the file a rule declares as `label` lands."""
    _, pkg, name = split_label(label)
    return os.path.normpath(f"{GENDIR}/{pkg}/{name}")


def loc(t: Target) -> tuple[str | None, int | None]:
    file, _, line = t.location.rpartition(":")
    return (file, int(line)) if line.isdigit() else (t.location, None)


def one(t: Target, key: str) -> str:
    value = t.attrs.get(key)
    if not isinstance(value, str):
        raise DebforgeError(f"{t.kind} '{t.label}' needs a single label in '{key}'", *loc(t))
    return value


def union(lists) -> list[str]:
    return sorted({x for xs in lists for x in xs})



def declared_outputs(t: Target) -> list[str]:
    """The labels a generating rule declares as its outputs (before planning)."""
    outs = t.attrs.get("outs", [])
    if isinstance(t.attrs.get("out"), str):
        outs = outs + [t.attrs["out"]]
    if t.kind in OUTPUT_ATTRS and isinstance(t.attrs.get(OUTPUT_ATTRS[t.kind]), str):
        outs = outs + [absolute(t.attrs[OUTPUT_ATTRS[t.kind]], "", split_label(t.label)[1])]
    return outs


# rules declaring their one output under another attribute name, which the frontend leaves package-relative
OUTPUT_ATTRS = {"tf_gen_options_header": "output_header"}


def make_variables(text: str) -> str:
    """bazel's predefined make variables for output directories, in copts and commands."""
    return text.replace("$(BINDIR)", GENDIR).replace("$(GENDIR)", GENDIR)
