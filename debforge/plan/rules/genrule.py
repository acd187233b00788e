"""bazel's genrule: upstream's shell command with make variables expanded, as one ninja command line."""

from __future__ import annotations

import os
import re

from ...core.errors import DebforgeError
from ...core.labels import absolute
from ...core.layout import GENDIR
from ...graph import Target, split_label
from .common import Context, Generate, loc, output_path, union

_MAKE_VAR = re.compile(r"\$(\$|@|<|\((@D|@|<|\w+)(?:\s+([^)]+))?\))")
# a shell line ending so continues the command on the next line; any other line end separates commands
_CONTINUES = ("\\", "&&", "||", "|", "{", "(", " then", " do", " else")


def genrule(t: Target, ctx: Context) -> Generate:
    """bazel's genrule: its shell command with make variables expanded ($@, $<, $(@), $(<), $(SRCS), $(OUTS),
    $(RULEDIR), $(location[s] X), $(BINDIR)), run from the tree root. A tool (tools, exec_tools) expands to its
    command."""
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    outs = [output_path(o) for o in t.attrs.get("outs", [])]
    by_label = dict(zip(t.attrs.get("outs", []), outs))
    _, pkg, _ = split_label(t.label)
    tool_labels = [absolute(x, "", pkg) for x in t.attrs.get("tools", []) + t.attrs.get("exec_tools", [])]
    tools = {label: ctx.tool(t, label) for label in tool_labels}

    def location(label: str) -> list[str]:
        full = absolute(label.strip(), "", pkg)
        if full in tools:
            return tools[full].command
        return [by_label[full]] if full in by_label else ctx.inputs(t, [full])

    def expand(m: re.Match) -> str:
        token, name, arg = m.group(1), m.group(2), m.group(3)
        if token == "$":
            return "$"
        if name in ("@", "<"):   # $(@) and $(<): make's other spelling of $@ and $< (TF Lite's genrules use it)
            token = name
        if token == "@" or name == "OUTS":
            if token == "@" and len(outs) != 1:
                raise DebforgeError(f"genrule '{t.label}' uses $@ with {len(outs)} outputs", *loc(t))
            return " ".join(outs)
        if token == "<" or name == "SRCS":
            if token == "<" and len(srcs) != 1:
                raise DebforgeError(f"genrule '{t.label}' uses $< with {len(srcs)} sources", *loc(t))
            return " ".join(srcs)
        if name == "@D":   # the output's directory; with several outputs, the package's
            return os.path.dirname(outs[0]) if len(outs) == 1 else os.path.normpath(f"{GENDIR}/{pkg}")
        if name == "RULEDIR":
            return os.path.normpath(f"{GENDIR}/{pkg}")
        if name in ("BINDIR", "GENDIR"):
            return GENDIR
        if name in ("location", "locations", "execpath", "execpaths", "rootpath", "rootpaths") and arg:
            return " ".join(location(arg))
        raise DebforgeError(f"genrule '{t.label}': make variable '{m.group(0)}' is not supported", *loc(t))

    cmd = t.attrs.get("cmd_bash") or t.attrs.get("cmd")
    if not isinstance(cmd, str) or not outs:
        raise DebforgeError(f"genrule '{t.label}' needs 'outs' and a 'cmd'", *loc(t))
    dirs = sorted({os.path.dirname(o) for o in outs})
    script = f"mkdir -p {' '.join(dirs)} && {_one_line(_MAKE_VAR.sub(expand, cmd), t)}"
    return Generate(t.label, t.kind, srcs + [f for tool in tools.values() for f in tool.files], outs,
                    ["sh", "-c", script], build_depends=union(tool.build_depends for tool in tools.values()))


def _one_line(cmd: str, t: Target) -> str:
    """A multi-line genrule command as one line (a ninja command has no newlines): sh's meaning kept."""
    if "<<" in cmd:
        raise DebforgeError(f"genrule '{t.label}': here-documents in 'cmd' are not supported", *loc(t))
    out = ""
    for line in filter(None, (ln.strip() for ln in cmd.splitlines())):
        out += line.removesuffix("\\") + (" " if f" {line}".endswith(_CONTINUES) else "; ")
    return out.rstrip("; ")
