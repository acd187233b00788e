"""Shared objects: a recipe library as planned, from the target the recipe names (a cc_library, or a rule linking
a shared object, whose link options become the library's): its closure's compiles, the libraries and externals it
links, its link options and version script, what it needs generated first and its Build-Depends."""

from __future__ import annotations

import difflib

from ..core.errors import DebforgeError
from ..core.labels import absolute
from ..graph import Target, split_label
from ..recipe.model import BinaryPackage, Library
from . import linkopts, sensitivity
from .closure import Dependencies
from .flags import CompileFlags, x_lang
from .model import SharedLibrary
from .scope import Scope
from .steps import Steps
from .targets import SHARED_OBJECT_KINDS, checked, where

# the attributes of a shared-object rule the planner reads
SHARED_OBJECT_ATTRS = ("srcs", "deps", "copts", "defines", "local_defines", "includes", "linkopts", "dynamic_deps",
                       "user_link_flags", "additional_linker_inputs")


class Libraries:
    def __init__(self, scope: Scope, deps: Dependencies, flags: CompileFlags, steps: Steps):
        self.scope = scope
        self.deps = deps
        self.flags = flags
        self.steps = steps

    def check_targets(self, packages: list[BinaryPackage]) -> None:
        """Every library target the tree lacks, in one error: a new upstream release may drop several."""
        missing = [spec for pkg in packages for spec in pkg.libraries if self.scope.ws.target(spec.target) is None]
        if missing:
            more = ", ".join(f"'{s.target}' (line {s.line})" for s in missing[1:])
            raise DebforgeError(f"target '{missing[0].target}' does not exist in the upstream tree"
                                + (f"; nor do {more}" if more else ""), str(self.scope.recipe.path), missing[0].line,
                                hint=self.did_you_mean(missing[0].target))

    def did_you_mean(self, target: str) -> str | None:
        """The package's closest target name, or what the package declares."""
        ws = self.scope.ws
        _, pkg, name = split_label(target)
        known = [split_label(t)[2] for t in ws.graph.targets if split_label(t)[:2] == ("", pkg)]
        close = difflib.get_close_matches(name, known, n=1)
        return f"did you mean '//{pkg}:{close[0]}'?" if close else (
            f"//{pkg} declares: {', '.join(sorted(known)[:20])}" if known else None)

    def library(self, pkg: BinaryPackage, spec: Library) -> SharedLibrary:
        loc = (str(self.scope.recipe.path), spec.line)
        deps = self.deps
        deps.start_library()
        root, link = self.shared_root(spec, loc)
        dynamic = [self.scope.lib_by_label[d].name for d in root.attrs.get("deps", []) if d in self.scope.lib_by_label]
        closure, siblings, ext_libs = deps.closure(
            root, linked={label: name for name in dynamic for label in deps.compiled.get(name, ())})
        deps.compiled[spec.name] = [t.label for t in closure]
        lib = SharedLibrary(spec, pkg, siblings=siblings, direct=dynamic, external_libs=ext_libs,
                            linkopts=list(link.kept), left_out=sorted(deps.cut), left_out_chains=dict(deps.chains),
                            left_out_used=sorted({(cut, kept) for cut, kept, _ in deps.cut
                                                  if cut not in deps.registrations | deps.patched
                                                  and not cut.startswith("@")}))
        if spec.version_script:   # upstream's symbol map, named in the recipe for a cc_library
            lib.version_script, = self.steps.paths(root, [spec.version_script])
        elif link.version_script and not spec.exports:   # the recipe's exports, where given, are the maintainer's
            lib.version_script, = self.steps.paths(
                root, [absolute(link.version_script, "", split_label(root.label)[1])])
        self.compile_closure(lib, closure, deps.visible(closure, siblings))
        lib.interface_defines, lib.interface_includes = self.flags.interface(root, closure)
        if not lib.compiles and not lib.siblings:   # with siblings: a library that only links them (CMake's libtorch)
            raise DebforgeError(f"target '{spec.target}' has no sources to compile and links no other library of "
                                "the recipe", *loc)
        deps.external_libs[spec.name] = lib.external_libs   # with a GPU flavour's runtime and CPU library
        made = set(lib.generated)   # steps are planned once; each library that needs one needs its tools
        lib.external_labels = sorted(deps.labels)
        lib.build_depends = sorted(deps.used.union(*(s.build_depends for s in self.steps.steps.values()
                                                     if made.intersection(s.outputs))))
        return lib

    def compile_closure(self, lib: SharedLibrary, closure: list[Target], visible: list[Target] | None = None) -> None:
        """The library's compiles, generated files and link options, target by target of its closure; `visible`:
        the targets whose includes and defines its compiles see (default: the closure)."""
        seen_src: set[str] = set()
        for t in closure:
            flags = self.flags.flags(t, visible or closure)
            lib.generated += [g for g in self.steps.generated(t) if g not in lib.generated]
            if t.label in self.scope.provided:   # compiled into a CPU flavour library: link that one
                self.linked_from_cpu(lib, self.scope.provided[t.label])
                continue
            for src in self.steps.sources(t):
                if src in seen_src:
                    continue
                seen_src.add(src)
                c = self.flags.compile(src, flags, t.label)
                if c is None:
                    continue
                c.level_sensitive = sensitivity.sensitive(self.scope.recipe, src)
                lib.compiles.append(c)
                if c.lang in ("c++", "gpu") or "c++" in x_lang(flags):
                    lib.cxx_link = True
                if c.lang == "gpu":
                    lib.external_libs += [x for x in self.scope.flavor.runtime_libs if x not in lib.external_libs]
            lib.linkopts += [o for o in linkopts.words(t.attrs.get("linkopts", [])) if o not in lib.linkopts]
        lib.linkopts += [o for o in linkopts.runtimes(lib.compiles) if o not in lib.linkopts]

    def linked_from_cpu(self, lib: SharedLibrary, name: str) -> None:
        if name not in lib.external_libs:
            lib.external_libs.insert(0, name)
        recipe = self.scope.recipe
        self.deps.use(f"{recipe.dev_package} (= {recipe.full_version})")

    def shared_root(self, spec: Library, loc: tuple[str, int]) -> tuple[Target, linkopts.LinkOptions]:
        """The target whose closure the library compiles, as a cc_library, and the link options of the
        shared-object rule the recipe names (none for a cc_library)."""
        ws = self.scope.ws
        root = ws.target(spec.target)
        if root.kind == "filegroup":   # e.g. tf_cc_shared_object's name: a filegroup of the shared object
            rules = [r for r in map(ws.target, root.attrs.get("srcs", [])) if r is not None]
            if len(rules) == 1 and rules[0].kind in SHARED_OBJECT_KINDS:
                root = rules[0]
        if root.kind in self.scope.kinds:
            return root, linkopts.LinkOptions()
        if root.kind not in SHARED_OBJECT_KINDS:
            raise DebforgeError(f"target '{spec.target}' is a {root.kind} ({root.location}); a library package "
                                f"needs a cc_library, a cc_binary with linkshared = 1 or a cc_shared_library", *loc)
        if root.kind == "cc_binary" and not root.attrs.get("linkshared"):
            raise DebforgeError(f"cc_binary '{root.label}' has no linkshared = 1: it links an executable, "
                                f"not a library (recipe: {loc[0]}:{loc[1]})", *where(root.location))
        return self.shared_object_view(root, loc)

    def shared_object_view(self, root: Target, loc: tuple[str, int]) -> tuple[Target, linkopts.LinkOptions]:
        """A cc_binary with linkshared = 1 or a cc_shared_library as the cc_library of its closure, and its link
        options."""
        scope = self.scope
        at = where(root.location)
        attrs = {a: root.attrs.get(a, []) for a in SHARED_OBJECT_ATTRS}
        checked(Target(root.label, root.kind, root.location, attrs))
        if root.kind == "cc_shared_library":   # bazel 6 calls its deps 'roots'
            attrs["deps"] = root.attrs.get("deps") or root.attrs.get("roots", [])
            for dep in attrs["dynamic_deps"]:
                if dep not in scope.lib_by_label:
                    raise DebforgeError(f"dynamic_deps entry '{dep}' of '{root.label}' is not a library of "
                                        f"the recipe ({loc[0]}:{loc[1]}); add it as one", *at)
            attrs["deps"] = attrs["deps"] + attrs["dynamic_deps"]
        # a recipe library's shared object among the srcs (tf_cc_shared_object's framework_so, a symlink genrule
        # of its filegroup) is linked as a dynamic_deps entry is
        shared = {src: scope.recipe_library(src) for src in attrs["srcs"]}
        attrs["srcs"] = [src for src in attrs["srcs"] if shared[src] is None]
        # a dep naming a file, not a rule (a linker script), is a link input, used through $(location)
        rules = [d for d in attrs["deps"] if d.startswith("@") or scope.mapped_package(d) or d in scope.lib_by_label
                 or scope.ws.target(d) is not None] + [lib for lib in shared.values() if lib]
        link = linkopts.read(linkopts.words(attrs["linkopts"] + attrs["user_link_flags"]), root.label, at)
        library = Target(root.label, "cc_library", root.location,
                         {"srcs": attrs["srcs"], "deps": rules, "copts": attrs["copts"],
                          "defines": attrs["defines"], "local_defines": attrs["local_defines"],
                          "includes": attrs["includes"]})
        return library, link


def check_link_also(recipe_path: str, libs: list[SharedLibrary]) -> None:
    """A library's link-also names recipe libraries it links: -l<name> links them too, for the part of its
    upstream API they hold; one it does not link would be a dependency upstream's library does not have."""
    for lib in libs:
        for name in lib.spec.link_also:
            if name not in lib.siblings:
                raise DebforgeError(f"link-also of library '{lib.spec.name}' names '{name}', which it does not link",
                                    recipe_path, lib.spec.link_also_line,
                                    hint=f"it links {', '.join(lib.siblings)}" if lib.siblings else
                                    "it links no other library of the recipe: remove link-also")


def link_transitively(libs: list[SharedLibrary]) -> None:
    """Each library links the recipe libraries its siblings link, and their externals, as bazel links every
    transitive dependency: inline code of a sibling's headers calls into the libraries below it (abseil's
    malloc_internal links base, whose call_once.h calls spinlock_wait), which -z defs requires to be linked;
    --as-needed drops those it does not call."""
    by_name = {lib.spec.name: lib for lib in libs}
    for lib in libs:
        order = list(lib.siblings)
        for name in order:   # grows while it is walked: breadth first, direct siblings first
            below = by_name.get(name)
            if below is None:
                continue
            order += [s for s in below.siblings if s not in order and s != lib.spec.name]
            lib.external_libs += [x for x in below.external_libs if x not in lib.external_libs]
        lib.siblings = order
