"""Compile flags: how each source of a target is compiled, with the recipe's and the target's copts, the defines
of the target and its deps, and their include directories, in bazel's order on the command line."""

from __future__ import annotations

import os
import shlex

from ..core.errors import DebforgeError
from ..core.layout import GENDIR
from ..graph import Target, split_label
from .model import Compile
from .rules.common import make_variables
from .scope import Scope
from .targets import ASM_EXT, C_EXT, CXX_EXT, HEADER_EXT, deps_of, where


def x_lang(flags: list[str]) -> set[str]:
    """The languages that -x options among the flags name."""
    return {flags[i + 1] for i, f in enumerate(flags[:-1]) if f == "-x"}


def closure_deps(t: Target, closure: list[Target]) -> list[Target]:
    """Transitive in-tree deps of t (within the closure), for defines and includes."""
    by_label = {c.label: c for c in closure}
    seen: list[Target] = []
    stack = [d for d in deps_of(t) if d in by_label]
    while stack:
        label = stack.pop()
        d = by_label[label]
        if d in seen:
            continue
        seen.append(d)
        stack += [x for x in d.attrs.get("deps", []) if x in by_label]
    return seen


class CompileFlags:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.config = scope.recipe.config
        self.flavor = scope.flavor
        self.ext_interface: dict[str, tuple[list[str], list[str]]] = {}   # label -> external_interface(), memoised

    def compile(self, src: str, flags: list[str], owner: str) -> Compile | None:
        """How src is compiled with its target's flags; None for headers, data and scripts."""
        if src.endswith(HEADER_EXT):
            return None
        if self.flavor and src.endswith(self.flavor.source_ext):
            lang = "gpu"
        elif src.endswith(CXX_EXT):
            lang = "c++"
        elif src.endswith(C_EXT):
            lang = "c"
        elif src.endswith(ASM_EXT):
            lang = "asm"
        else:
            return None
        # bazel's order: --copt, --cxxopt, then the target's own copts
        n = len(self.config.copts)
        cxxopts = list(self.config.cxxopts) if lang in ("c++", "gpu") else []
        ordered = flags[:n] + cxxopts + flags[n:]
        return Compile(src, lang, self.flavor.flags(ordered) if lang == "gpu" else ordered, owner)

    def flags(self, t: Target, closure: list[Target]) -> list[str]:
        """The recipe's copts (bazel's --copt), the target's copts, then defines (own + transitive), then include
        dirs: bazel's order on the command line. $(BINDIR)/$(GENDIR) are bazel's make variables."""
        own = [f for f in t.attrs.get("copts", []) if f not in self.config.drop_copts]
        # bazel tokenizes a target's copts as a Bourne shell would (torch has "-fno-math-errno "); --copt is not
        flags = [make_variables(f) for f in self.config.copts] + \
            [w for f in own for w in shlex.split(make_variables(f))]
        defines: list[str] = list(t.attrs.get("local_defines", []))
        targets = [t] + closure_deps(t, closure)
        for d in targets:
            defines += [x for x in d.attrs.get("defines", []) if x not in defines]
        includes = self.includes(targets)
        # the recipe's defines and include directories of the externals the target reaches (-D and -isystem, as
        # bazel passes an external cc_library's), after the tree's own
        ext_includes, ext_defines = self.external_interface(t)
        defines += [x for x in ext_defines if x not in defines]
        for inc in ext_includes:
            if inc not in includes:
                includes += ["-isystem", inc]
        return [f for f in flags + [f"-D{x}" for x in defines] if not self.undefines(f)] + includes

    def includes(self, targets: list[Target]) -> list[str]:
        """The include options of the targets' includes and strip_include_prefix, in their order."""
        includes: list[str] = ["-iquote", ".", "-iquote", GENDIR]
        for option, path in self.include_dirs(targets):
            # bazel's include directories (and strip_include_prefix's virtual one) hold the generated headers too
            includes += [option, path, option, os.path.normpath(f"{GENDIR}/{path}")]
        return includes

    @staticmethod
    def include_dirs(targets: list[Target]) -> list[tuple[str, str]]:
        """(-isystem or -I, tree directory) of the targets' includes and strip_include_prefix, in their order."""
        out = []
        for d in targets:
            pkg = split_label(d.label)[1]
            out += [("-isystem", os.path.normpath(os.path.join(pkg, inc))) for inc in d.attrs.get("includes", [])]
            if "strip_include_prefix" in d.attrs:
                strip = d.attrs["strip_include_prefix"]
                out.append(("-I", os.path.normpath(strip.lstrip("/") if strip.startswith("/") else
                                                   os.path.join(pkg, strip))))
            if d.attrs.get("include_prefix"):
                raise DebforgeError(f"'{d.label}' uses include_prefix, which is not supported yet",
                                    *where(d.location))
        return out

    def interface(self, t: Target, closure: list[Target]) -> tuple[list[str], list[str]]:
        """(defines, include directories) bazel gives a target depending on t: the `defines` (not local_defines)
        of t and its deps, and of the externals they reach, less the undefined; their includes' directories."""
        targets = [t] + closure_deps(t, closure)
        defines = list(dict.fromkeys([x for d in targets for x in d.attrs.get("defines", [])]
                                     + self.external_interface(t)[1]))
        dirs = list(dict.fromkeys(path for _, path in self.include_dirs(targets)))
        return [x for x in defines if not self.undefines(f"-D{x}")], dirs

    def external_interface(self, t: Target) -> tuple[list[str], list[str]]:
        """The `includes` and `defines` of the externals t reaches through in-tree deps, also those compiled into a
        library it links (their headers are still included), in dependency order; memoised per target."""
        memo = self.ext_interface
        if t.label in memo:
            return memo[t.label]
        memo[t.label] = ([], [])   # a cycle (reported elsewhere) ends here
        out: tuple[list[str], list[str]] = ([], [])
        ws, scope = self.scope.ws, self.scope
        for dep in deps_of(t):
            d = ws.target(dep)
            for _ in range(20):   # an alias, perhaps of an external target
                if d is None or d.kind != "alias" or not isinstance(d.attrs.get("actual"), str):
                    break
                dep = d.attrs["actual"]
                d = ws.target(dep)
            if dep.startswith("@") or scope.mapped_package(dep):
                ext = scope.externals.get(scope.mapped_package(dep) or split_label(dep)[0])
                found = (list(ext.includes), list(ext.defines)) if ext and not ext.drop else ([], [])
            else:
                found = self.external_interface(d) if d is not None else ([], [])
            for have, new in zip(out, found):
                have += [x for x in new if x not in have]
        memo[t.label] = out
        return out

    def undefines(self, flag: str) -> bool:
        """Whether flag is -DX or -DX=... for a macro of a dropped external."""
        return defined_macro(flag) in self.scope.undefined


def defined_macro(flag: str) -> str:
    """The macro a -DX or -DX=... flag defines; "" for any other flag."""
    return flag[2:].split("=", 1)[0].strip() if flag.startswith("-D") else ""
