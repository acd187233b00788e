"""What the planner knows of a scanned target: the rule kinds it compiles, links or looks through, the source
file kinds, and the check that a target's attributes have the types the planner reads (upstream files are
untrusted)."""

from __future__ import annotations

import posixpath
import shlex

from ..core.confine import inside, option_problem
from ..core.errors import DebforgeError
from ..core.escape import refuse_control
from ..graph import Target, split_label
from . import linkopts
from .rules import tblgen

C_EXT = (".c",)
CXX_EXT = (".cc", ".cpp", ".cxx", ".c++", ".C")
ASM_EXT = (".S",)
HEADER_EXT = (".h", ".hh", ".hpp", ".hxx", ".inc", ".inl", ".ipp", ".tcc", ".def")
CC_KINDS = ("cc_library",)
# rules that link a shared object: their deps are the library's closure, their link options its ABI
SHARED_OBJECT_KINDS = ("cc_binary", "cc_shared_library")
# TensorFlow's cc_header_only_library (tsl.bzl): rules passing on the headers, defines and include paths of their
# deps without linking them; the closure compiles those deps anyway, so they add nothing to it
HEADER_ONLY_KINDS = ("_transitive_hdrs", "_transitive_parameters_library")
# generating rules that are also a cc_library of their outputs -> that cc_library
LIBRARY_VIEWS = {tblgen.KIND: tblgen.as_library}
# cc_library attributes the planner reads; upstream files are untrusted, so their types are checked first
STRING_LIST_ATTRS = ("srcs", "hdrs", "textual_hdrs", "deps", "implementation_deps", "copts", "local_defines",
                     "defines", "includes", "linkopts", "dynamic_deps", "user_link_flags", "additional_linker_inputs")
STRING_ATTRS = ("strip_include_prefix", "include_prefix")


def where(location: str) -> tuple[str | None, int | None]:
    """A target's 'file:line' location as the (file, line) of an error."""
    file, _, line = location.rpartition(":")
    return (file, int(line)) if line.isdigit() else (location, None)


def reached(via: list[str]) -> str:
    """' (reached through a -> b -> c)': how a library's closure came to a target, for errors."""
    return f" (reached through {' -> '.join(via)})" if len(via) > 1 else ""


def deps_of(t: Target) -> list[str]:
    """The labels t depends on, as a cc_library: deps, then implementation_deps."""
    return t.attrs.get("deps", []) + t.attrs.get("implementation_deps", [])


def checked(t: Target) -> Target:
    """t, once the attributes the planner reads have their types and its include paths stay in the tree."""
    loc = where(t.location)
    for attr in STRING_LIST_ATTRS:
        value = t.attrs.get(attr, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DebforgeError(f"attribute '{attr}' of '{t.label}' must be a list of strings, not {value!r:.60}",
                                *loc)
    for attr in STRING_ATTRS:
        if not isinstance(t.attrs.get(attr, ""), str):
            raise DebforgeError(f"attribute '{attr}' of '{t.label}' must be a string", *loc)
    for attr in STRING_LIST_ATTRS + STRING_ATTRS:   # what reaches build.ninja and debian/ is one line
        for value in t.attrs.get(attr, []) if attr in STRING_LIST_ATTRS else [t.attrs.get(attr, "")]:
            refuse_control(value, f"attribute '{attr}' of '{t.label}':", loc)
    _check_paths(t, loc)
    _check_options(t, loc)
    return t


def _check_paths(t: Target, loc: tuple[str | None, int | None]) -> None:
    """Its include directories and strip_include_prefix stay in the tree."""
    pkg = split_label(t.label)[1]
    paths = [(f"include directory '{inc}'", posixpath.join(pkg, inc)) for inc in t.attrs.get("includes", [])]
    if "strip_include_prefix" in t.attrs:
        strip = t.attrs["strip_include_prefix"]
        paths.append((f"strip_include_prefix '{strip}'", strip[1:] or "." if strip.startswith("/")
                      else posixpath.join(pkg, strip)))
    for what, path in paths:
        if inside(path) is None:
            raise DebforgeError(f"{what} of '{t.label}' leads out of the tree", *loc)


def _check_options(t: Target, loc: tuple[str | None, int | None]) -> None:
    """Its copts split into words, and neither they nor its link options are ones debforge refuses."""
    try:   # bazel tokenizes copts and linkopts as a Bourne shell would (see flags.CompileFlags)
        copts = [w for f in t.attrs.get("copts", []) for w in shlex.split(f)]
        link = linkopts.words(t.attrs.get("linkopts", []) + t.attrs.get("user_link_flags", []))
    except ValueError as exc:
        raise DebforgeError(f"copts or linkopts of '{t.label}' cannot be split into words: {exc}", *loc) from None
    for what, options in (("copt", copts), ("link option", link)):
        problem = option_problem(options)
        if problem:
            raise DebforgeError(f"{what} {problem[0]} of '{t.label}' {problem[1]}", *loc)
