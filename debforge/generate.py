"""Generator kinds: how the planner turns a rule that makes files (cmake_configure_file, genrule, ...) into a
build step with declared inputs and outputs, run by ninja before anything that includes or compiles them.

A generator kind is a function (target, ctx) -> Generate, registered in KINDS under the rule kind it handles;
`ctx` (the planner) resolves the target's label attributes to paths (tree files or outputs of other steps) and
tool labels to commands. Commands use scripts shipped in debian/debforge/ (debian-skel/debforge/), so the build
log shows what ran. Adding a kind is adding a function here (and its script).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Protocol

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
    build_depends: list[str] = field(default_factory=list)   # Debian packages the command needs


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

    def flag(self, label: str) -> str | None: ...                      # a build setting's value


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


def cmake_configure_file(t: Target, ctx: Context) -> Generate:
    """PyTorch's CMake configure_file stand-in: '#cmakedefine X' becomes '#define X' for the listed
    definitions and '/* #undef X */' for the rest."""
    src = ctx.inputs(t, [_one(t, "src")])
    definitions = t.attrs.get("definitions", [])
    if not all(isinstance(d, str) and re.fullmatch(r"[A-Za-z_]\w*", d) for d in definitions):
        raise DebforgeError(f"cmake_configure_file '{t.label}': definitions must be identifiers", *_loc(t))
    definitions = [d for d in definitions if d not in ctx.undefined]
    script = f"{SCRIPTS}/cmake-configure-file"
    out = output_path(_one(t, "out"))
    return Generate(t.label, t.kind, src, [out], ["sh", script, src[0], out, *definitions], [script])


def expand_template(t: Target, ctx: Context) -> Generate:
    """bazel's ctx.actions.expand_template (template_rule, header_template_rule, skylib's expand_template):
    each key of `substitutions` is replaced literally by its value; a key @X@ for a macro X of a dropped external
    gets 0 (ATen's Config.h.in: @AT_MKL_ENABLED@ is 1 in BUILD.bazel, and there is no MKL)."""
    src = ctx.inputs(t, [_one(t, "src" if "src" in t.attrs else "template")])
    subs = t.attrs.get("substitutions", {})
    if not isinstance(subs, dict) or not all(isinstance(v, str) for v in subs.values()):
        raise DebforgeError(f"{t.kind} '{t.label}': substitutions must map strings to strings", *_loc(t))
    script = f"{SCRIPTS}/expand-template"
    out = output_path(_one(t, "out"))
    pairs = [x for key, value in subs.items()   # the BUILD file's order
             for x in (key, "0" if key.strip("@") in ctx.undefined else value)]
    return Generate(t.label, t.kind, src, [out], ["perl", script, src[0], out, *pairs], [script])


def tf_gen_options_header(t: Target, ctx: Context) -> Generate:
    """TensorFlow's tf_gen_options_header: the template's '#define_option X' lines become 'TF_OPTION_X()' macros
    of the build settings' values (expand_template, as tensorflow.bzl does; without its '// <label>' line, as a
    build command holds no newline)."""
    _, pkg, _ = split_label(t.label)
    src = ctx.inputs(t, [absolute(_one(t, "template"), "", pkg)])
    settings = t.attrs.get("build_settings", {})
    if not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
        raise DebforgeError(f"tf_gen_options_header '{t.label}': build_settings must map labels to names", *_loc(t))
    pairs = []
    for label, name in settings.items():
        value = ctx.flag(label)
        if value not in _BOOL:
            raise DebforgeError(f"tf_gen_options_header '{t.label}': build setting '{label}' is {value!r}, not "
                                f"a boolean", *_loc(t))
        pairs += [f"#define_option {name}", f"#define TF_OPTION_{name}() {_BOOL[value]}"]
    script = f"{SCRIPTS}/expand-template"
    out, = map(output_path, declared_outputs(t))
    return Generate(t.label, t.kind, src, [out], ["perl", script, src[0], out, *pairs], [script])


_BOOL = {"true": "true", "True": "true", "1": "true", "false": "false", "False": "false", "0": "false"}
_MAKE_VAR = re.compile(r"\$(\$|@|<|\((@D|\w+)(?:\s+([^)]+))?\))")
# a shell line ending so continues the command on the next line; any other line end separates commands
_CONTINUES = ("\\", "&&", "||", "|", "{", "(", " then", " do", " else")


def genrule(t: Target, ctx: Context) -> Generate:
    """bazel's genrule: its shell command with make variables expanded ($@, $<, $(SRCS), $(OUTS), $(RULEDIR),
    $(location[s] X), $(BINDIR)), run from the tree root. A tool (tools, exec_tools) expands to its command."""
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
    return Generate(t.label, t.kind, srcs + [f for tool in tools.values() for f in tool.files], outs,
                    ["sh", "-c", script], build_depends=_union(tool.build_depends for tool in tools.values()))


def generate_aten(t: Target, ctx: Context) -> Generate:
    """PyTorch's generate_aten (aten.bzl): torchgen writes ATen's generated sources and one header set per operator
    under aten/src/ATen. Its outputs are what torchgen says it writes (a dry run at planning time): the BUILD
    file's `outs` are a hand-kept subset, and each must be among them."""
    tool = ctx.tool(t, _one(t, "generator"))
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    install_dir = f"{GENDIR}/aten/src/ATen"   # aten.bzl: the parent of the declared aten/src/ATen/ops directory
    args = ["--source-path", "aten/src/ATen", "--per-operator-headers", "--install_dir", install_dir]
    outputs = _torchgen_outputs(t, ctx.root, tool, args, install_dir)
    missing = [o for o in map(output_path, declared_outputs(t)) if o not in outputs]
    if missing:
        raise DebforgeError(f"generate_aten '{t.label}' declares {len(missing)} file(s) that torchgen does not "
                            f"write: {', '.join(missing[:5])}", *_loc(t))
    return Generate(t.label, t.kind, srcs + tool.files, outputs, tool.command + args,
                    build_depends=tool.build_depends)


def _torchgen_outputs(t: Target, root: str, tool: Tool, args: list[str], install_dir: str) -> list[str]:
    """The files torchgen writes, from its --dry-run --output-dependencies lists (one CMake list per writer), run
    into a scratch directory; the *Everything.cpp files it leaves out of those lists are not compiled by anyone."""
    with tempfile.TemporaryDirectory(prefix="debforge-torchgen-") as tmp:
        scratch = os.path.join(tmp, install_dir)
        host = [sys.executable if tool.command[0] == "python3" else tool.command[0], *tool.command[1:]]
        argv = [*host, *args[:-1], scratch, "--dry-run",
                "--output-dependencies", os.path.join(tmp, "outputs.cmake")]
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DebforgeError(f"generate_aten '{t.label}': torchgen's dry run failed: "
                                f"{proc.stderr.strip()[-500:]}", *_loc(t))
        listed = [m for f in sorted(os.listdir(tmp)) if f.endswith("outputs.cmake")
                  for m in re.findall(r'"([^"]+)"', open(os.path.join(tmp, f)).read())]
        return sorted({os.path.normpath(os.path.join(install_dir, os.path.relpath(m, scratch))) for m in listed})


def _union(lists) -> list[str]:
    return sorted({x for xs in lists for x in xs})


def _one_line(cmd: str, t: Target) -> str:
    """A multi-line genrule command as one line (a ninja command has no newlines): sh's meaning kept."""
    if "<<" in cmd:
        raise DebforgeError(f"genrule '{t.label}': here-documents in 'cmd' are not supported", *_loc(t))
    out = ""
    for line in filter(None, (ln.strip() for ln in cmd.splitlines())):
        out += line.removesuffix("\\") + (" " if f" {line}".endswith(_CONTINUES) else "; ")
    return out.rstrip("; ")


def proto_gen(t: Target, ctx: Context) -> Generate:
    """protobuf.bzl's proto_gen: protoc, in its own module (which builds on this one, hence imported here)."""
    from . import protos
    return protos.proto_gen(t, ctx)


def grpc_generate_cc(t: Target, ctx: Context) -> Generate:
    """gRPC's generate_cc (cc_grpc_library): protoc with grpc_cpp_plugin, in the protos module."""
    from . import protos
    return protos.grpc_generate_cc(t, ctx)


def gentbl_cc_library(t: Target, ctx: Context) -> Generate:
    """MLIR's gentbl_cc_library: mlir-tblgen, in its own module (which builds on this one, hence imported here)."""
    from . import tblgen
    return tblgen.gentbl_cc_library(t, ctx)


KINDS: dict[str, Callable[[Target, Context], Generate]] = {
    "@com_google_protobuf//:protobuf.bzl%proto_gen": proto_gen,
    "@com_github_grpc_grpc//bazel:generate_cc.bzl%generate_cc": grpc_generate_cc,
    "@llvm-project//mlir:tblgen.bzl%gentbl_cc_library": gentbl_cc_library,
    "cmake_configure_file": cmake_configure_file,
    "generate_aten": generate_aten,
    "genrule": genrule,
    "template_rule": expand_template,
    "tf_gen_options_header": tf_gen_options_header,
    "header_template_rule": expand_template,
    "expand_template": expand_template,
}


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
