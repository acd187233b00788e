"""Header-only targets of the -dev package (the recipe's dev.header-only): each cc_library of a package holding
installed headers that compiles nothing, is not testonly, and whose headers the -dev package installs becomes an
interface library (a pkg-config module and a CMake INTERFACE target), as upstream's CMake build makes absl::optional
of //absl/types:optional. Its dependencies must be shipped too: recipe libraries (or code compiled into one), other
such targets, or the recipe's externals; one that is not leaves the target out, with the reason in the plan."""

from __future__ import annotations

import os

from ..core.errors import DebforgeError
from ..core.layout import GENDIR
from ..graph import Target, file_path, split_label
from . import linkopts
from .model import THREADS, InterfaceLibrary
from .scope import Scope
from .targets import HEADER_EXT, deps_of

HEADER_ATTRS = ("hdrs", "textual_hdrs", "srcs")


class Interfaces:
    def __init__(self, scope: Scope, compiled: dict[str, list[str]]):
        self.scope = scope
        # label of each target compiled into a recipe library -> that library (the first that compiles it)
        self.holder: dict[str, str] = {}
        for name, labels in compiled.items():
            for label in labels:
                self.holder.setdefault(label, name)

    def plan(self, headers: dict[str, str]) -> tuple[list[InterfaceLibrary], dict[str, str], dict[str, list[str]]]:
        """The interface libraries, each header-only target left out -> why, and each recipe library -> the
        interface libraries its target depends on directly (its .pc requires them, as upstream's CMake build's
        absl_strings does absl_config). `headers`: each installed header's path in the tree (or under GENDIR) -> the
        build profiles it is installed under."""
        installed = {os.path.relpath(h, GENDIR) if h.startswith(GENDIR + "/") else h: p for h, p in headers.items()}
        ws = self.scope.ws
        packages = sorted({p for p in map(self.package_of, installed) if p is not None})
        candidates = {t.label: t for p in packages for t in ws.targets_in(p) if self.compiles_nothing(t)}
        why: dict[str, str] = {}
        for label, t in candidates.items():
            missing = [f for f in self.header_paths(t) if f not in installed]
            if t.attrs.get("testonly"):
                why[label] = "is testonly"
            elif missing:
                why[label] = f"has headers the -dev package does not install ({', '.join(missing[:3])})"
            elif len({installed[f] for f in self.header_paths(t)} - {""}) > 1:
                why[label] = "has headers installed under different build profiles"
        edges = {label: self.edges(t, why) for label, t in candidates.items() if label not in why}
        changed = True
        while changed:   # a target depending on one left out is left out
            changed = False
            for label, deps in edges.items():
                bad = next((d for kind, d in deps if kind == "target" and (d in why or d not in candidates)), None)
                if label not in why and bad:
                    why[label] = f"depends on {bad}, which {why.get(bad, 'is not a library the -dev package ships')}"
                    changed = True
        names = self.names([label for label in edges if label not in why], why)
        out = [self.interface(candidates[label], names, edges[label], installed)
               for label in sorted(names, key=names.get)]
        return out + self.groups(names), dict(sorted(why.items())), self.used_by_libraries(names)

    def used_by_libraries(self, names: dict[str, str]) -> dict[str, list[str]]:
        out = {}
        for label, lib in self.scope.lib_by_label.items():
            root = self.scope.ws.target(label)
            used = [names[d] for d in (deps_of(root) if root is not None else []) if d in names]
            if used:
                out[lib.name] = list(dict.fromkeys(used))
        return out

    def package_of(self, path: str) -> str | None:
        """The bazel package a tree file belongs to: its nearest directory with a BUILD file."""
        d = os.path.dirname(path)
        while self.scope.ws.build_file(d) is None:
            if not d:
                return None
            d = os.path.dirname(d)
        return d

    def compiles_nothing(self, t: Target) -> bool:
        return t.kind == "cc_library" and t.label not in self.scope.lib_by_label and all(
            isinstance(s, str) and s.endswith(HEADER_EXT) for s in t.attrs.get("srcs", []))

    @staticmethod
    def header_paths(t: Target) -> list[str]:
        return [file_path(h) for attr in HEADER_ATTRS for h in t.attrs.get(attr, []) if isinstance(h, str)]

    def edges(self, t: Target, why: dict[str, str]) -> list[tuple[str, str]]:
        """What t depends on, each as ("library", name), ("target", label) or ("external", label); a dependency that
        cannot be shipped is noted in `why` as t's reason."""
        out: list[tuple[str, str]] = []
        scope = self.scope
        for dep in deps_of(t):
            repo = scope.mapped_package(dep) or (split_label(dep)[0] if dep.startswith("@") else None)
            if repo is not None:
                ext = scope.externals.get(repo)
                if ext is None:
                    why[t.label] = f"depends on {dep}, whose repository the recipe does not map"
                elif not ext.drop:
                    out.append(("external", dep))
                continue
            if scope.recipe.leave_out_entry(dep):
                continue
            try:
                d = scope.resolve(dep, t.location)
            except DebforgeError as exc:
                why[t.label] = f"depends on {dep}: {exc.message}"
                continue
            if d.label in scope.lib_by_label:
                out.append(("library", scope.lib_by_label[d.label].name))
            elif d.label in self.holder and not self.compiles_nothing(d):
                out.append(("library", self.holder[d.label]))
            else:
                out.append(("target", d.label))
        return out

    def names(self, labels: list[str], why: dict[str, str]) -> dict[str, str]:
        """label -> its module name: the recipe's, else the CMake prefix and the target's name; clashes are
        errors at the recipe's dev.header-only."""
        recipe = self.scope.recipe
        spec = recipe.header_only
        for label, (name, line) in spec.names.items():
            if label not in labels:
                raise DebforgeError(f"dev.header-only.names: '{label}' is not a header-only target the -dev "
                                    f"package ships", str(recipe.path), line,
                                    hint=f"it {why[label]}" if label in why else "no such header-only target")
        out = {label: spec.names[label][0] if label in spec.names else recipe.cmake_prefix + split_label(label)[2]
               for label in labels}
        taken = {lib.name: lib.target for _, lib in recipe.libraries()}
        for label, name in sorted(out.items()):
            if name in taken:
                raise DebforgeError(f"dev.header-only: the header-only target '{label}' would be named '{name}', as "
                                    f"'{taken[name]}' is", str(recipe.path), spec.line,
                                    hint=f"name it under dev.header-only.names: {{\"{label}\": NAME}}, as upstream's "
                                         f"CMake build does")
            taken[name] = label
        return out

    def groups(self, names: dict[str, str]) -> list[InterfaceLibrary]:
        """The recipe's groups: modules of no target that require recipe libraries and header-only modules."""
        recipe = self.scope.recipe
        known = {lib.name for _, lib in recipe.libraries()} | set(names.values())
        out = []
        for name, (members, line) in recipe.header_only.groups.items():
            if name in known:
                raise DebforgeError(f"dev.header-only.groups: '{name}' is already a library or header-only module",
                                    str(recipe.path), line)
            unknown = [m for m in members if m not in known]
            if unknown:
                raise DebforgeError(f"dev.header-only.groups.{name}: '{unknown[0]}' is neither a library of the "
                                    f"recipe nor a header-only module the -dev package ships", str(recipe.path), line)
            out.append(InterfaceLibrary("", name, list(members)))
        return out

    def interface(self, t: Target, names: dict[str, str], deps: list[tuple[str, str]],
                  installed: dict[str, str]) -> InterfaceLibrary:
        requires = [names[d] if kind == "target" else d for kind, d in deps if kind != "external"]
        profiles = sorted({installed[f] for f in self.header_paths(t)} - {""})
        return InterfaceLibrary(t.label, names[t.label], list(dict.fromkeys(requires)),
                                [d for kind, d in deps if kind == "external"], list(t.attrs.get("defines", [])),
                                any(o in THREADS for o in linkopts.words(t.attrs.get("linkopts", []))), "".join(profiles))
