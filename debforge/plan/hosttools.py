"""Host tools: a cc_binary that a build step runs is built for the build machine at the generic level (its closure
compiled in whole, recipe libraries it links taken from their generic copies), before the steps that run it."""

from __future__ import annotations

from typing import Protocol

from ..core.errors import DebforgeError
from ..core.layout import HOST_DIR
from ..graph import Target, split_label
from . import linkopts
from .closure import Dependencies
from .flags import CompileFlags, x_lang
from .model import HostTool, TestLibrary, TestProgram
from .rules.common import Tool
from .scope import Scope
from .targets import STRING_ATTRS, STRING_LIST_ATTRS, checked, where


class Sources(Protocol):
    """What host tools ask of the generate steps (steps.Steps): a target's sources and generated files as paths."""

    def sources(self, t: Target, attr: str = "srcs") -> list[str]: ...

    def generated(self, t: Target) -> list[str]: ...


def program_view(scope: Scope, t: Target) -> tuple[Target, list[str]]:
    """A program (a host tool, a test, a shared object a test loads) as the cc_library of its closure, and the
    recipe libraries it links by naming their shared object: among its srcs (TensorFlow's macros put
    libtensorflow_framework.so.2 there), or imported by a cc_import dependency."""
    attrs = {k: v for k, v in t.attrs.items() if k in STRING_LIST_ATTRS + STRING_ATTRS}
    shared = [scope.lib_by_label[lib].name for lib in map(scope.recipe_library, attrs.get("srcs", [])) if lib]
    shared += [n for n in map(scope.imported_library, attrs.get("deps", [])) if n and n not in shared]
    attrs["srcs"] = [src for src in attrs.get("srcs", []) if not scope.recipe_library(src)]
    return Target(t.label, "cc_library", t.location, attrs), shared


def compile_program(exe: HostTool | TestProgram | TestLibrary, closure: list[Target], flags: CompileFlags,
                    steps: Sources, visible: list[Target] | None = None) -> None:
    """A program's compiles (each source once), the generated files they wait on and its link options, from the
    targets of its closure; `visible`: the targets whose includes and defines its compiles see (default: the
    closure)."""
    seen_src: set[str] = set()
    for d in closure:
        opts = flags.flags(d, visible or closure)
        exe.generated += [g for g in steps.generated(d) if g not in exe.generated]
        for src in steps.sources(d):
            c = flags.compile(src, opts, d.label) if src not in seen_src else None
            seen_src.add(src)
            if c is not None:
                exe.compiles.append(c)
                exe.cxx_link |= c.lang == "c++" or "c++" in x_lang(opts)
        # upstream's -rpath options point into bazel's output tree: the backend gives the RUNPATH
        exe.linkopts += [o for o in linkopts.words(d.attrs.get("linkopts", [])) if o not in exe.linkopts and
                         "-rpath" not in o]
    exe.linkopts += [o for o in linkopts.runtimes(exe.compiles) if o not in exe.linkopts]


class HostTools:
    def __init__(self, scope: Scope, deps: Dependencies, flags: CompileFlags, steps: Sources):
        self.scope = scope
        self.deps = deps
        self.flags = flags
        self.steps = steps
        self.tools: dict[str, HostTool] = {}   # label -> the tool

    def tool(self, user: Target, t: Target) -> Tool:
        """How the step of `user` runs the cc_binary t: its host executable, planned once."""
        if t.label not in self.tools:
            self.plan(user, t)
        exe = self.tools[t.label]
        return Tool([exe.path], [exe.path], [])

    def plan(self, user: Target, t: Target) -> None:
        checked(t)
        if t.attrs.get("linkshared"):
            raise DebforgeError(f"tool '{t.label}' of '{user.label}' is a shared object, not a program",
                                *where(user.location))
        _, pkg, name = split_label(t.label)
        exe = self.tools[t.label] = HostTool(t.label, f"{HOST_DIR}/bin/{pkg}/{name}")
        view, shared = self.library_view(user, t)
        closure, exe.siblings, exe.external_libs = self.deps.closure(
            view, static=True, linked={label: name for name in shared for label in self.deps.compiled[name]})
        exe.siblings += [n for n in shared if n not in exe.siblings]
        compile_program(exe, closure, self.flags, self.steps)

    def library_view(self, user: Target, t: Target) -> tuple[Target, list[str]]:
        """The tool as a cc_library whose closure is compiled into it, and the recipe libraries it links: a
        recipe library's shared object among its srcs or imported by a cc_import dep is linked (the library's
        generic copy is built first; what the tool's closure holds of it is not compiled again)."""
        scope = self.scope
        view, shared = program_view(scope, t)
        for name in shared:
            if name not in self.deps.compiled:
                raise DebforgeError(f"tool '{t.label}' of '{user.label}' links the recipe library '{name}', "
                                    f"which is planned after the library that runs the tool",
                                    *where(user.location), hint=f"list {name} earlier in {scope.recipe.path}")
        return view, shared
