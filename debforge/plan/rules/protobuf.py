"""protobuf's proto_gen rule (protobuf.bzl): one run of Debian's protoc per rule, writing <path>.pb.cc/.pb.h
(gen_cc) and <path>_pb2.py (gen_py) under bazel's bin directory. TensorFlow's tf_proto_library and its
cc_proto_library macro expand to proto_gen rules next to plain cc_library targets that compile their outputs.

Imports resolve as protobuf.bzl resolves them: the tree root (-I.), the bin directory where a .proto is itself
generated, and the `includes` (workspace-relative) of the rule and of its proto_gen deps, transitively.
protobuf's well-known types (@com_google_protobuf) are Debian's libprotobuf-dev, on protoc's default path
(/usr/include). protoc and the runtime headers must be one protobuf release (generated code checks the version),
so both are Debian's, whatever release upstream pins (TensorFlow 2.14.1: 3.21.9; Debian: 3.21.12).

gRPC's services come from a protoc plugin, grpc_cpp_plugin: proto_gen's `plugin` (TF's tf_proto_library_cc with a
cc_grpc_version), and gRPC's generate_cc rule (bazel/generate_cc.bzl, what cc_grpc_library expands to), which writes
<path>.grpc.pb.cc/.grpc.pb.h (and <path>_mock.grpc.pb.h with generate_mocks) for each .proto of its proto_library
srcs. The plugin is the recipe's tool (Debian's protobuf-compiler-grpc, which must match libgrpc++-dev's release),
or an upstream cc_binary built as a host tool.
"""

from __future__ import annotations

import shlex

from ...core.confine import inside
from ...core.errors import DebforgeError
from ...core.labels import absolute
from ...core.layout import GENDIR
from ...graph import Target, split_label
from .common import Context, Generate, declared_outputs, loc, output_path

KIND = "@com_google_protobuf//:protobuf.bzl%proto_gen"
GRPC_KIND = "@com_github_grpc_grpc//bazel:generate_cc.bzl%generate_cc"
PROTO_LIBRARY = "proto_library"
WKT_REPO = "com_google_protobuf"      # its protos (descriptor, any, timestamp, ...) come with libprotobuf-dev
BUILD_DEPENDS = ["libprotobuf-dev", "protobuf-compiler"]
SUFFIXES = {"gen_cc": (".pb.cc", ".pb.h"), "gen_py": ("_pb2.py",)}
OUT_FLAGS = {"gen_cc": "--cpp_out", "gen_py": "--python_out"}


def proto_gen(t: Target, ctx: Context) -> Generate:
    """The protoc step of a proto_gen rule; its outputs must be the `outs` the macro declared."""
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    if not srcs or not all(s.endswith(".proto") for s in srcs):
        raise DebforgeError(f"proto_gen '{t.label}' needs .proto files in 'srcs'", *loc(t))
    langs = [lang for lang in SUFFIXES if t.attrs.get(lang)]
    if not langs:
        raise DebforgeError(f"proto_gen '{t.label}' generates nothing (neither gen_cc nor gen_py)", *loc(t))
    imported: list[str] = []
    flags = _import_flags(t, srcs)
    for dep in _transitive_deps(t, ctx, KIND, "proto_gen"):
        dep_srcs = ctx.inputs(dep, dep.attrs.get("srcs", []))
        imported += [s for s in dep_srcs if s not in imported and s not in srcs]
        flags += [f for f in _import_flags(dep, dep_srcs) if f not in flags]
    outputs = [f"{GENDIR}/{_import_path(src)[:-len('.proto')]}{suffix}"
               for src in srcs for lang in langs for suffix in SUFFIXES[lang]]
    out_flags = [f"{OUT_FLAGS[lang]}={GENDIR}" for lang in langs]
    tool = None
    if t.attrs.get("plugin"):   # protobuf.bzl: --plugin=protoc-gen-<language>=<path> --<language>_out=<opts>:<dir>
        plugin, language, options = t.attrs["plugin"], t.attrs.get("plugin_language"), t.attrs.get("plugin_options", [])
        if not isinstance(plugin, str) or language != "grpc" or "gen_cc" not in langs or not isinstance(options, list) \
                or not all(isinstance(o, str) for o in options):
            raise DebforgeError(f"proto_gen '{t.label}' runs the protoc plugin {plugin!r} for language "
                                f"{language!r}; debforge runs only gRPC's C++ plugin (plugin_language = \"grpc\", "
                                f"with gen_cc)", *loc(t))
        tool = ctx.tool(t, absolute(plugin, "", split_label(t.label)[1]))
        outputs += [f"{GENDIR}/{_import_path(src)[:-len('.proto')]}{suffix}"
                    for src in srcs for suffix in (".grpc.pb.cc", ".grpc.pb.h")]
        out_flags.append(f"--grpc_out={','.join(options) + ':' if options else ''}{GENDIR}")
    declared = [output_path(o) for o in declared_outputs(t)]
    if sorted(outputs) != sorted(declared):
        raise DebforgeError(f"proto_gen '{t.label}' declares outs {sorted(declared)}, but protoc writes "
                            f"{sorted(outputs)}", *loc(t))
    if tool is None:
        return Generate(t.label, t.kind, srcs + imported, outputs, ["protoc", *flags, *out_flags, *srcs],
                        build_depends=list(BUILD_DEPENDS))
    return _with_plugin(t, tool, "grpc", [*flags, *out_flags, *srcs], srcs + imported, outputs)


def grpc_generate_cc(t: Target, ctx: Context) -> Generate:
    """gRPC's generate_cc (cc_grpc_library): protoc with the plugin over the .proto files of its proto_library
    srcs; its outputs are generate_cc.bzl's, under the bin directory at each .proto's path."""
    plugin = t.attrs.get("plugin")
    if not isinstance(plugin, str):
        raise DebforgeError(f"generate_cc '{t.label}' has no plugin: protoc's own C++ code comes from proto_gen "
                            f"rules, which debforge plans instead", *loc(t))
    options = t.attrs.get("flags", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise DebforgeError(f"generate_cc '{t.label}': 'flags' must be a list of strings", *loc(t))
    # well_known_protos adds protobuf's own .proto directory: Debian's protoc has it on its default path
    protos: list[str] = []
    imported: list[str] = []
    for label in t.attrs.get("srcs", []):
        lib = ctx.rule(label)
        if lib is None or lib.kind != PROTO_LIBRARY:
            what = f"a {lib.kind}" if lib else "no target"
            raise DebforgeError(f"generate_cc '{t.label}' compiles '{label}', which is {what}, not a proto_library",
                                *loc(t))
        protos += [s for s in ctx.inputs(lib, lib.attrs.get("srcs", [])) if s not in protos]
        for dep in _transitive_deps(lib, ctx, PROTO_LIBRARY, "proto_library"):
            imported += [s for s in ctx.inputs(dep, dep.attrs.get("srcs", [])) if s not in imported]
    if not protos or not all(p.endswith(".proto") for p in protos):
        raise DebforgeError(f"generate_cc '{t.label}' needs proto_library srcs with .proto files", *loc(t))
    suffixes = [".grpc.pb.h", ".grpc.pb.cc"] + (["_mock.grpc.pb.h"] if t.attrs.get("generate_mocks") else [])
    outputs = [f"{GENDIR}/{_import_path(p)[:-len('.proto')]}{suffix}" for suffix in suffixes for p in protos]
    pkg = split_label(t.label)[1]
    stray = [o for o in outputs if pkg and not o.startswith(f"{GENDIR}/{pkg}/")]
    if stray:   # generate_cc.bzl fails on a .proto outside the rule's package
        raise DebforgeError(f"generate_cc '{t.label}': '{stray[0]}' does not lie within its package", *loc(t))
    opts = options + (["generate_mock_code=true"] if t.attrs.get("generate_mocks") else [])
    flags = ["-I."] + ([f"-I{GENDIR}"] if any(p.startswith(GENDIR + "/") for p in protos + imported) else [])
    args = [*flags, f"--PLUGIN_out={','.join(opts) + ':' if opts else ''}{GENDIR}", *protos]
    tool = ctx.tool(t, absolute(plugin, "", pkg))
    return _with_plugin(t, tool, "PLUGIN", args, protos + imported, outputs)


def _with_plugin(t: Target, tool, language: str, args: list[str], inputs: list[str], outputs: list[str]) -> Generate:
    """protoc running a plugin: protoc wants its path; a Debian program is looked up on PATH when the step runs."""
    if len(tool.command) != 1:
        raise DebforgeError(f"{t.kind} '{t.label}': the protoc plugin must be one program, not "
                            f"{shlex.join(tool.command)}", *loc(t))
    program = tool.command[0]
    where = program if "/" in program else f'"$(command -v {shlex.quote(program)})"'
    script = " ".join(["protoc", shlex.quote(f"--plugin=protoc-gen-{language}=") + where,
                       *map(shlex.quote, args)])
    return Generate(t.label, t.kind, inputs + tool.files, outputs, ["sh", "-c", script],
                    build_depends=sorted({*BUILD_DEPENDS, *tool.build_depends}))


def _import_path(src: str) -> str:
    """The path protoc knows a .proto by (and names its outputs after): relative to the tree or bin directory."""
    return src[len(GENDIR) + 1:] if src.startswith(GENDIR + "/") else src


def _import_flags(t: Target, srcs: list[str]) -> list[str]:
    """protobuf.bzl's -I flags of one rule: the tree root, the bin directory, then its `includes`."""
    flags = []
    if any(not s.startswith(GENDIR + "/") for s in srcs):
        flags.append("-I.")
    if any(s.startswith(GENDIR + "/") for s in srcs):
        flags.append(f"-I{GENDIR}")
    includes = t.attrs.get("includes", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise DebforgeError(f"proto_gen '{t.label}': 'includes' must be a list of strings", *loc(t))
    for inc in includes:
        path = inside(inc)
        if path is None:
            raise DebforgeError(f"proto_gen '{t.label}': include '{inc}' leads out of the tree", *loc(t))
        flags.append(f"-I{path}")
    return flags


def _transitive_deps(t: Target, ctx: Context, kind: str, name: str) -> list[Target]:
    """The rules of t's `kind` (`name` in messages: proto_gen, proto_library) t imports from, transitively, breadth
    first (protobuf.bzl's flag order); protobuf's own well-known types are libprotobuf-dev's."""
    out: list[Target] = []
    seen: set[str] = set()
    queue = [t]
    while queue:
        rule = queue.pop(0)
        for label in rule.attrs.get("deps", []):
            if split_label(label)[0] == WKT_REPO:
                continue
            if label.startswith("@"):
                raise DebforgeError(f"{name} '{rule.label}' imports '{label}', protos of an external repository "
                                    f"that debforge cannot map yet", *loc(rule))
            dep = ctx.rule(label)
            if dep is None or dep.kind != kind:
                what = f"a {dep.kind}" if dep else "no target"
                raise DebforgeError(f"{name} '{rule.label}' depends on '{label}', which is {what}, not a {name}",
                                    *loc(rule))
            if dep.label not in seen:
                seen.add(dep.label)
                out.append(dep)
                queue.append(dep)
    return out
