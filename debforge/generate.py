"""Generator kinds: how the planner turns a rule that makes files (cmake_configure_file, genrule, ...) into a
build step with declared inputs and outputs, run by ninja before anything that includes or compiles them.

A generator kind is a function (target, inputs) -> Generate, registered in KINDS under the rule kind it handles;
`inputs` resolves the target's label attributes to paths (tree files or outputs of other steps). Commands use
scripts shipped in debian/debforge/ (debian-skel/debforge/), so the build log shows what ran.
Adding a kind is adding a function here (and its script).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable

from .errors import DebforgeError
from .frontends.bazel.labels import absolute
from .graph import Target, split_label

BUILDDIR = "obj-debforge"
GENDIR = f"{BUILDDIR}/gen"        # bazel's bin directory: outputs keep their package path under it
SCRIPTS = "debian/debforge"


@dataclass
class Generate:
    label: str                     # the rule that declares the outputs
    kind: str
    inputs: list[str]              # tree paths or outputs of other steps
    outputs: list[str]             # paths under GENDIR
    command: list[str]             # argv, run from the tree root
    tools: list[str] = field(default_factory=list)   # scripts the command runs (rebuild when they change)


def output_path(label: str) -> str:
    """Where the file a rule declares as `label` lands."""
    _, pkg, name = split_label(label)
    return os.path.normpath(f"{GENDIR}/{pkg}/{name}")


def _loc(t: Target) -> tuple[str | None, int | None]:
    file, _, line = t.location.rpartition(":")
    return (file, int(line)) if line.isdigit() else (t.location, None)


def _one(t: Target, key: str) -> str:
    value = t.attrs.get(key)
    if not isinstance(value, str):
        raise DebforgeError(f"{t.kind} '{t.label}' needs a single label in '{key}'", *_loc(t))
    return value


def cmake_configure_file(t: Target, inputs: Callable[[Target, list[str]], list[str]]) -> Generate:
    """PyTorch's CMake configure_file stand-in: '#cmakedefine X' becomes '#define X' for the listed
    definitions and '/* #undef X */' for the rest."""
    src = inputs(t, [_one(t, "src")])
    definitions = t.attrs.get("definitions", [])
    if not all(isinstance(d, str) and re.fullmatch(r"[A-Za-z_]\w*", d) for d in definitions):
        raise DebforgeError(f"cmake_configure_file '{t.label}': definitions must be identifiers", *_loc(t))
    script = f"{SCRIPTS}/cmake-configure-file"
    out = output_path(_one(t, "out"))
    return Generate(t.label, t.kind, src, [out], ["sh", script, src[0], out, *definitions], [script])


def expand_template(t: Target, inputs: Callable[[Target, list[str]], list[str]]) -> Generate:
    """bazel's ctx.actions.expand_template (template_rule, header_template_rule, skylib's expand_template):
    each key of `substitutions` is replaced literally by its value."""
    src = inputs(t, [_one(t, "src" if "src" in t.attrs else "template")])
    subs = t.attrs.get("substitutions", {})
    if not isinstance(subs, dict) or not all(isinstance(v, str) for v in subs.values()):
        raise DebforgeError(f"{t.kind} '{t.label}': substitutions must map strings to strings", *_loc(t))
    script = f"{SCRIPTS}/expand-template"
    out = output_path(_one(t, "out"))
    pairs = [x for key, value in subs.items() for x in (key, value)]   # the BUILD file's order
    return Generate(t.label, t.kind, src, [out], ["perl", script, src[0], out, *pairs], [script])


_MAKE_VAR = re.compile(r"\$(\$|@|<|\((@D|\w+)(?:\s+([^)]+))?\))")
# a shell line ending so continues the command on the next line; any other line end separates commands
_CONTINUES = ("\\", "&&", "||", "|", "{", "(", " then", " do", " else")


def genrule(t: Target, inputs: Callable[[Target, list[str]], list[str]]) -> Generate:
    """bazel's genrule: its shell command with make variables expanded ($@, $<, $(SRCS), $(OUTS), $(RULEDIR),
    $(location[s] X), $(BINDIR)), run from the tree root. Tools built or run by bazel are not supported yet."""
    if t.attrs.get("tools") or t.attrs.get("exec_tools"):
        raise DebforgeError(f"genrule '{t.label}' runs tools ({', '.join(t.attrs.get('tools', []))}), which "
                            f"debforge cannot map to commands yet", *_loc(t))
    srcs = inputs(t, t.attrs.get("srcs", []))
    outs = [output_path(o) for o in t.attrs.get("outs", [])]
    by_label = dict(zip(t.attrs.get("outs", []), outs))
    _, pkg, _ = split_label(t.label)

    def location(label: str) -> list[str]:
        full = absolute(label.strip(), "", pkg)
        return [by_label[full]] if full in by_label else inputs(t, [full])

    def expand(m: re.Match) -> str:
        token, name, arg = m.group(1), m.group(2), m.group(3)
        if token == "$":
            return "$"
        if token == "@" or name == "OUTS":
            if token == "@" and len(outs) != 1:
                raise DebforgeError(f"genrule '{t.label}' uses $@ with {len(outs)} outputs", *_loc(t))
            return " ".join(outs)
        if token == "<" or name == "SRCS":
            if token == "<" and len(srcs) != 1:
                raise DebforgeError(f"genrule '{t.label}' uses $< with {len(srcs)} sources", *_loc(t))
            return " ".join(srcs)
        if name == "@D":   # the output's directory; with several outputs, the package's
            return os.path.dirname(outs[0]) if len(outs) == 1 else os.path.normpath(f"{GENDIR}/{pkg}")
        if name == "RULEDIR":
            return os.path.normpath(f"{GENDIR}/{pkg}")
        if name in ("BINDIR", "GENDIR"):
            return GENDIR
        if name in ("location", "locations", "execpath", "execpaths", "rootpath", "rootpaths") and arg:
            return " ".join(location(arg))
        raise DebforgeError(f"genrule '{t.label}': make variable '{m.group(0)}' is not supported", *_loc(t))

    cmd = t.attrs.get("cmd_bash") or t.attrs.get("cmd")
    if not isinstance(cmd, str) or not outs:
        raise DebforgeError(f"genrule '{t.label}' needs 'outs' and a 'cmd'", *_loc(t))
    dirs = sorted({os.path.dirname(o) for o in outs})
    script = f"mkdir -p {' '.join(dirs)} && {_one_line(_MAKE_VAR.sub(expand, cmd), t)}"
    return Generate(t.label, t.kind, srcs, outs, ["sh", "-c", script])


def _one_line(cmd: str, t: Target) -> str:
    """A multi-line genrule command as one line (a ninja command has no newlines): sh's meaning kept."""
    if "<<" in cmd:
        raise DebforgeError(f"genrule '{t.label}': here-documents in 'cmd' are not supported", *_loc(t))
    out = ""
    for line in filter(None, (ln.strip() for ln in cmd.splitlines())):
        out += line.removesuffix("\\") + (" " if f" {line}".endswith(_CONTINUES) else "; ")
    return out.rstrip("; ")


KINDS: dict[str, Callable[[Target, Callable], Generate]] = {
    "cmake_configure_file": cmake_configure_file,
    "genrule": genrule,
    "template_rule": expand_template,
    "header_template_rule": expand_template,
    "expand_template": expand_template,
}


def declared_outputs(t: Target) -> list[str]:
    """The labels a generating rule declares as its outputs (before planning)."""
    outs = t.attrs.get("outs", [])
    if isinstance(t.attrs.get("out"), str):
        outs = outs + [t.attrs["out"]]
    return outs


def make_variables(text: str) -> str:
    """bazel's predefined make variables for output directories, in copts and commands."""
    return text.replace("$(BINDIR)", GENDIR).replace("$(GENDIR)", GENDIR)
