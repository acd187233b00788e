"""protobuf's proto_gen rule (protobuf.bzl): one run of Debian's protoc per rule, writing <path>.pb.cc/.pb.h
(gen_cc) and <path>_pb2.py (gen_py) under bazel's bin directory. TensorFlow's tf_proto_library and its
cc_proto_library macro expand to proto_gen rules next to plain cc_library targets that compile their outputs.

Imports resolve as protobuf.bzl resolves them: the tree root (-I.), the bin directory where a .proto is itself
generated, and the `includes` (workspace-relative) of the rule and of its proto_gen deps, transitively.
protobuf's well-known types (@com_google_protobuf) are Debian's libprotobuf-dev, on protoc's default path
(/usr/include). protoc and the runtime headers must be one protobuf release (generated code checks the version),
so both are Debian's, whatever release upstream pins (TensorFlow 2.14.1: 3.21.9; Debian: 3.21.12).
"""

from __future__ import annotations

from .confine import inside
from .errors import DebforgeError
from .generate import GENDIR, Context, Generate, _loc, declared_outputs, output_path
from .graph import Target, split_label

KIND = "@com_google_protobuf//:protobuf.bzl%proto_gen"
WKT_REPO = "com_google_protobuf"      # its protos (descriptor, any, timestamp, ...) come with libprotobuf-dev
BUILD_DEPENDS = ["libprotobuf-dev", "protobuf-compiler"]
SUFFIXES = {"gen_cc": (".pb.cc", ".pb.h"), "gen_py": ("_pb2.py",)}
OUT_FLAGS = {"gen_cc": "--cpp_out", "gen_py": "--python_out"}


def proto_gen(t: Target, ctx: Context) -> Generate:
    """The protoc step of a proto_gen rule; its outputs must be the `outs` the macro declared."""
    if t.attrs.get("plugin"):
        raise DebforgeError(f"proto_gen '{t.label}' runs the protoc plugin '{t.attrs['plugin']}', which debforge "
                            f"does not run yet", *_loc(t))
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    if not srcs or not all(s.endswith(".proto") for s in srcs):
        raise DebforgeError(f"proto_gen '{t.label}' needs .proto files in 'srcs'", *_loc(t))
    langs = [lang for lang in SUFFIXES if t.attrs.get(lang)]
    if not langs:
        raise DebforgeError(f"proto_gen '{t.label}' generates nothing (neither gen_cc nor gen_py)", *_loc(t))
    imported: list[str] = []
    flags = _import_flags(t, srcs)
    for dep in _proto_deps(t, ctx):
        dep_srcs = ctx.inputs(dep, dep.attrs.get("srcs", []))
        imported += [s for s in dep_srcs if s not in imported and s not in srcs]
        flags += [f for f in _import_flags(dep, dep_srcs) if f not in flags]
    outputs = [f"{GENDIR}/{_import_path(src)[:-len('.proto')]}{suffix}"
               for src in srcs for lang in langs for suffix in SUFFIXES[lang]]
    declared = [output_path(o) for o in declared_outputs(t)]
    if sorted(outputs) != sorted(declared):
        raise DebforgeError(f"proto_gen '{t.label}' declares outs {sorted(declared)}, but protoc writes "
                            f"{sorted(outputs)}", *_loc(t))
    command = ["protoc", *flags, *(f"{OUT_FLAGS[lang]}={GENDIR}" for lang in langs), *srcs]
    return Generate(t.label, t.kind, srcs + imported, outputs, command, build_depends=list(BUILD_DEPENDS))


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
        raise DebforgeError(f"proto_gen '{t.label}': 'includes' must be a list of strings", *_loc(t))
    for inc in includes:
        path = inside(inc)
        if path is None:
            raise DebforgeError(f"proto_gen '{t.label}': include '{inc}' leads out of the tree", *_loc(t))
        flags.append(f"-I{path}")
    return flags


def _proto_deps(t: Target, ctx: Context) -> list[Target]:
    """The proto_gen rules t imports from, transitively (breadth first: protobuf.bzl's flag order)."""
    out: list[Target] = []
    seen: set[str] = set()
    queue = [t]
    while queue:
        rule = queue.pop(0)
        for label in rule.attrs.get("deps", []):
            if split_label(label)[0] == WKT_REPO:
                continue
            if label.startswith("@"):
                raise DebforgeError(f"proto_gen '{rule.label}' imports '{label}', protos of an external repository "
                                    f"that debforge cannot map yet", *_loc(rule))
            dep = ctx.rule(label)
            if dep is None or dep.kind != KIND:
                what = f"a {dep.kind}" if dep else "no target"
                raise DebforgeError(f"proto_gen '{rule.label}' depends on '{label}', which is {what}, not a "
                                    f"proto_gen", *_loc(rule))
            if dep.label not in seen:
                seen.add(dep.label)
                out.append(dep)
                queue.append(dep)
    return out
