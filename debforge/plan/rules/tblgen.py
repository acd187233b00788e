"""MLIR's gentbl_cc_library (mlir/tblgen.bzl): its tool (mlir-tblgen, or mlir-pdll for .pdll patterns) writes each
file of `tbl_outs` from `td_file`, and the rule is also a cc_library whose textual headers are those files (what
code including ops.h.inc depends on).

The tool is the recipe's (tools: "@llvm-project//mlir:mlir-tblgen" -> Debian's mlir-tblgen-N, mlir-N-tools, which
also tells LLVM's version), or an upstream tblgen backend (a cc_binary, built as a host tool).
Includes are tblgen.bzl's: the tree root and bin directory, td_file's directory in both, then each td_library
dep's `includes` (package-relative), transitively; deps of other kinds give none (tblgen.bzl reads only
td_library's TdInfo). MLIR's own .td files (@llvm-project td_library deps) are libmlir-N-dev's, under
/usr/lib/llvm-N/include. MLIR's dialect definitions change between LLVM releases: a tree written for another
LLVM than Debian's (TensorFlow 2.14.1 pins a mid-2023 LLVM 17 snapshot) may need patches for Debian's.
"""

from __future__ import annotations

import posixpath
import re
import shlex

from ...core.confine import inside
from ...core.errors import DebforgeError
from ...core.labels import absolute
from ...core.layout import GENDIR
from ...graph import Target, split_label
from .common import Context, Generate, loc, one, output_path

KIND = "@llvm-project//mlir:tblgen.bzl%gentbl_cc_library"
TD_KIND = "@llvm-project//mlir:tblgen.bzl%td_library"
LLVM_REPO = "llvm-project"
MLIR_TBLGEN = "@llvm-project//mlir:mlir-tblgen"
DEBIAN_TOOL = re.compile(r"mlir-tblgen-(\d+)")   # Debian's name; its .td files are in /usr/lib/llvm-N/include


def outputs(t: Target) -> list[str]:
    """The labels of the files a gentbl_cc_library writes."""
    outs = t.attrs.get("tbl_outs", [])
    if not isinstance(outs, list) or not all(isinstance(o, list) and len(o) == 2 and isinstance(o[1], str)
                                             and isinstance(o[0], list) and all(isinstance(x, str) for x in o[0])
                                             for o in outs) or not outs:
        raise DebforgeError(f"gentbl_cc_library '{t.label}' needs 'tbl_outs': a list of ([options], file)", *loc(t))
    pkg = split_label(t.label)[1]
    return [absolute(f, "", pkg) for _, f in outs]


def as_library(t: Target) -> Target:
    """The rule as the cc_library it also is: its outputs as textual headers, nothing to compile or link."""
    strip = {"strip_include_prefix": t.attrs["strip_include_prefix"]} if "strip_include_prefix" in t.attrs else {}
    return Target(t.label, "cc_library", t.location, {"textual_hdrs": [t.label], **strip})


def gentbl_cc_library(t: Target, ctx: Context) -> Generate:
    """One run of the tool per file of tbl_outs, as one step."""
    pkg = split_label(t.label)[1]
    tool = ctx.tool(t, absolute(one(t, "tblgen"), "", pkg))   # Debian's, or upstream's backend as a host tool
    debian = ctx.tool(t, MLIR_TBLGEN).command[0]
    version = DEBIAN_TOOL.fullmatch(debian)
    if version is None:
        raise DebforgeError(f"gentbl_cc_library '{t.label}': the recipe's tool for {MLIR_TBLGEN} tells LLVM's "
                            f"version and must be Debian's mlir-tblgen-N, not '{debian}'", *loc(t),
                            hint='tools: {"@llvm-project//mlir:mlir-tblgen": {command: mlir-tblgen-19, '
                                 'package: mlir-19-tools}}')
    td_file, = ctx.inputs(t, [absolute(one(t, "td_file"), "", pkg)])
    inputs = [td_file] + ctx.inputs(t, [absolute(s, "", pkg) for s in t.attrs.get("td_srcs", [])])
    includes = [".", GENDIR]
    # td_file's own directory, in the tree and the bin directory (tblgen.bzl's _prefix_roots of td_file.dirname):
    # a .td may include a sibling by its bare name (TF's dtensor_ops.td: include "dtensor_dialect.td")
    here = posixpath.dirname(td_file.removeprefix(f"{GENDIR}/"))
    if here:
        includes += [here, f"{GENDIR}/{here}"]
    for dep in _td_libraries(t, ctx):
        if split_label(dep.label)[0] == LLVM_REPO:
            includes.append(f"/usr/lib/llvm-{version.group(1)}/include")
            continue
        inputs += [s for s in ctx.inputs(dep, dep.attrs.get("srcs", [])) if s not in inputs]
        dep_pkg = split_label(dep.label)[1]
        for inc in dep.attrs.get("includes", []):
            path = inside(posixpath.join(dep_pkg, inc)) if isinstance(inc, str) else None
            if path is None:
                raise DebforgeError(f"td_library '{dep.label}': include '{inc}' leads out of the tree", *loc(dep))
            includes += [path, f"{GENDIR}/{path}"]
    flags = [f for inc in dict.fromkeys(includes) for f in ("-I", inc)]
    runs = []
    outs = []
    for (opts, _), label in zip(t.attrs["tbl_outs"], outputs(t)):
        outs.append(output_path(label))
        runs.append(shlex.join([*tool.command, *opts, td_file, *flags, "-o", outs[-1]]))
    return Generate(t.label, t.kind, inputs + tool.files, outs, ["sh", "-c", " && ".join(runs)],
                    build_depends=sorted({*tool.build_depends, f"libmlir-{version.group(1)}-dev"}))


def _td_libraries(t: Target, ctx: Context) -> list[Target]:
    """The td_library deps of t, transitively; one of @llvm-project stands for all of MLIR's."""
    out: list[Target] = []
    seen: set[str] = set()
    queue = list(t.attrs.get("deps", []))
    while queue:
        label = queue.pop(0)
        if label in seen:
            continue
        seen.add(label)
        if split_label(label)[0] == LLVM_REPO:
            if not any(split_label(d.label)[0] == LLVM_REPO for d in out):
                out.append(Target(label, TD_KIND, t.location))
            continue
        dep = ctx.rule(label)
        if dep is None:
            raise DebforgeError(f"'{t.label}' depends on '{label}', which names no target", *loc(t))
        if dep.kind != TD_KIND:
            continue
        out.append(dep)
        queue += dep.attrs.get("deps", [])
    return out
