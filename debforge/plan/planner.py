"""The planner: recipe + build graph -> what to compile and link for each library, per architecture.

Static closure like bazel's cc_shared_library: a library's own sources plus those of the in-tree cc_library targets
it depends on are compiled into it; a dependency that is another library of the recipe is linked dynamically;
a dependency on an external repository becomes a Debian -dev package (Build-Depends) and its -l flags.

A GPU flavour plans its own packages under its configuration; what the CPU flavour's libraries already hold is not
compiled again but linked from them (installed by the main source package's -dev package, at the exact version).
"""

from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass, field

from ..core import isa
from ..core.confine import in_tree, inside, option_problem
from ..core.errors import DebforgeError
from ..core.escape import dh_path, refuse_control
from ..core.globs import compile_pattern
from ..core.labels import absolute
from ..core.layout import BUILDDIR, GENDIR, HOST_DIR
from ..flavors import Flavor
from ..graph import Target, file_path, split_label
from ..recipe.model import BinaryPackage, Library, Recipe
from . import linkopts
from .rules import KINDS, pytools, tblgen
from .rules.common import Generate, Tool, declared_outputs, make_variables, output_path

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


@dataclass
class Compile:
    src: str                 # path in the tree
    lang: str                # "c", "c++", "asm" or "gpu" (the flavour's compiler): decides the compiler and flags
    flags: list[str]         # the target's copts, defines and include directories, in bazel's order
    owner: str               # label of the cc_library the source belongs to


@dataclass
class SharedLibrary:
    spec: Library
    package: BinaryPackage
    compiles: list[Compile] = field(default_factory=list)
    cxx_link: bool = False
    linkopts: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)    # other recipe libraries linked dynamically
    external_libs: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)   # generated files its compiles need first
    build_depends: list[str] = field(default_factory=list)   # the Debian packages its build needs
    version_script: str | None = None    # upstream's ld version script (path), where the recipe has no exports
    # dependencies the recipe cut from the closure (leave-out, or a dropped external): (what was left out, the
    # kept target that named it, the recipe's reason)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)
    # ... those of them in the tree (leave-out) that are not alwayslink registrations: kept code includes or calls
    # what was left out, so the library does not compile or link as planned until the recipe or upstream's tree
    # changes. A dropped external is not among them: its reason is the recipe's decision (and its `undefine`)
    left_out_used: list[tuple[str, str]] = field(default_factory=list)

    @property
    def soname(self) -> str:
        return f"lib{self.spec.name}.so.{self.spec.soversion}"

    @property
    def filename(self) -> str:
        return f"lib{self.spec.name}.so.{self.spec.version}"

    @property
    def variants(self) -> bool:
        return self.package.variants


@dataclass
class HostTool:
    """A cc_binary that a build step runs: built for the build machine at the generic level, never installed."""
    label: str
    path: str                # the executable, under BUILDDIR/host
    compiles: list[Compile] = field(default_factory=list)
    cxx_link: bool = False
    linkopts: list[str] = field(default_factory=list)
    external_libs: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    # recipe libraries it links (upstream links the tool against their shared object, as TF's op generators link
    # libtensorflow_framework): their generic copies of this build, found through the tool's RUNPATH
    siblings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.removeprefix(f"{HOST_DIR}/bin/")




@dataclass
class Plan:
    recipe: Recipe
    arch: str
    levels: list[isa.Level]
    libraries: list[SharedLibrary]
    externals_used: list[str]            # Debian -dev packages
    steps: list[Generate] = field(default_factory=list)   # generated files, before any compile
    flavor: Flavor | None = None
    gpu_archs: list[str] = field(default_factory=list)   # the flavour compiler's architecture flags
    host_tools: list[HostTool] = field(default_factory=list)   # built before the steps that run them


@dataclass(frozen=True)
class FlavorBuild:
    """What a flavour's planner needs beyond the recipe: the flavour and the CPU flavour's plan."""
    flavor: Flavor
    cpu: "Plan"

    def provided(self, rebuilt: set[str]) -> dict[str, str]:
        """Label of every target the CPU flavour's libraries compile -> the library holding it; a library the
        flavour builds itself (`rebuilt`: its own copy, which replaces the CPU one) provides nothing."""
        return {c.owner: lib.spec.name for lib in self.cpu.libraries if lib.spec.name not in rebuilt
                for c in lib.compiles}


def levels_for(recipe: Recipe, arch: str) -> list[isa.Level]:
    return [lvl for lvl in isa.ARCHES[arch].levels if lvl.name in recipe.isa_levels]


class _Planner:
    def __init__(self, recipe: Recipe, ws, flavor: FlavorBuild | None = None):
        self.recipe = recipe
        self.ws = ws
        self.flavor = flavor.flavor if flavor else None
        spec = recipe.flavor(self.flavor.name) if flavor else None
        self.packages = spec.packages if spec else recipe.packages
        self.externals = {**recipe.externals, **spec.externals} if spec else recipe.externals
        self.kinds = CC_KINDS + (self.flavor.rule_kinds if flavor else ())
        self.lib_by_label = {lib.target: lib for p in self.packages for lib in p.libraries}
        for label, lib in list(self.lib_by_label.items()):   # tf_cc_shared_object's filegroup names a library;
            group = ws.target(label)                          # dynamic_deps name the shared object in it
            if group is not None and group.kind == "filegroup" and len(group.attrs.get("srcs", [])) == 1:
                self.lib_by_label.setdefault(group.attrs["srcs"][0], lib)
        self.provided = flavor.provided({lib.name for lib in self.lib_by_label.values()}) if flavor else {}
        self.externals_used: set[str] = set()
        self.used: set[str] = set()              # ... by the library being planned
        # macros of the features the recipe drops: gone from every compile, however upstream spells them
        self.undefined = {m for ext in self.externals.values() for m in ext.undefine}
        self.steps: dict[str, Generate] = {}
        self.made_by: dict[str, Target] = {}    # output label -> the rule declaring it
        self.indexed: set[str] = set()           # packages whose rules are in made_by
        self.host_tools: dict[str, HostTool] = {}
        self.compiled: dict[str, list[str]] = {}   # library name -> labels of the targets compiled into it
        self.external_libs: dict[str, list[str]] = {}   # library name -> the external -l it links
        self.cut: list[tuple[str, str, str]] = []   # ... and what leave-out cut from the one being planned
        self.registrations: set[str] = set()        # targets left out that are alwayslink registrations

    def target(self, label: str, referrer: str, chain: tuple[str, ...] = ()) -> Target:
        t = self.ws.target(label)
        if t is None:
            pkg = split_label(label)[1]
            hint = None if self.ws.build_file(pkg) else (
                f"the tree has no package //{pkg}; if the Debian source removed it, map it in "
                f"{self.recipe.path} under externals: //{pkg}: lib...-dev")
            raise DebforgeError(f"'{label}' names no target", *_split_loc(referrer), hint=hint)
        if t.kind == "alias":
            actual = t.attrs.get("actual")
            if not isinstance(actual, str):
                raise DebforgeError(f"alias '{t.label}' has no 'actual' label", *_split_loc(t.location))
            if actual in chain + (label,):
                raise DebforgeError(f"alias cycle: {' -> '.join(chain + (label, actual))}", *_split_loc(t.location))
            t = self.target(actual, t.location, chain + (label,))
        return t

    def mapped_package(self, label: str) -> str | None:
        """The externals key of an in-tree label whose package the recipe maps to a Debian package instead
        (e.g. a third_party directory that the dfsg tarball removed)."""
        pkg = split_label(label)[1]
        return f"//{pkg}" if f"//{pkg}" in self.externals else None

    def external(self, label: str, referrer: str, via: list[str] = ()) -> list[str]:
        repo = self.mapped_package(label) or split_label(label)[0]
        ext = self.externals.get(repo)
        if ext is None:
            raise DebforgeError(f"dependency '{label}' is in external repository @{repo}, which the recipe does "
                                f"not map to a Debian package{_reached(via)}", *_split_loc(referrer),
                                hint=f"add to {self.recipe.path} under externals: {repo}: lib...-dev")
        if ext.drop:   # noted for the plan, as leave-out's cuts are
            via_label = via[-1] if via else referrer
            if (label, via_label, ext.drop) not in self.cut:
                self.cut.append((label, via_label, ext.drop))
        else:
            self.use(*ext.packages)
        return list(ext.libs)

    def use(self, *packages: str) -> None:
        self.externals_used.update(packages)
        self.used.update(packages)

    def closure(self, root: Target, static: bool = False, linked: dict[str, str] | None = None
                ) -> tuple[list[Target], list[str], list[str]]:
        """In-tree cc_library targets compiled into the library (deps first), sibling libraries, external -l.
        `static`: recipe libraries are compiled in too (a host tool runs before they exist). `linked`: targets
        compiled into a library this one links -> that library, which is linked instead (as cc_shared_library's
        dynamic_deps: one copy of each target, so TF's op and kernel registrations run once)."""
        order: list[Target] = []
        siblings: list[str] = []
        ext_libs: list[str] = []
        state: dict[str, str] = {}

        def visit(t: Target, chain: list[str]):
            if state.get(t.label) == "done":
                return
            if state.get(t.label) == "active":
                raise DebforgeError(f"dependency cycle: {' -> '.join(chain + [t.label])}", *_split_loc(t.location))
            state[t.label] = "active"
            _checked(t)
            for dep in t.attrs.get("deps", []) + t.attrs.get("implementation_deps", []):
                if dep.startswith("@") or self.mapped_package(dep):
                    for lib in self.external(dep, t.location, chain + [t.label]):
                        if lib not in ext_libs:
                            ext_libs.append(lib)
                    continue
                name = self.lib_by_label[dep].name if dep in self.lib_by_label and not static else \
                    (linked or {}).get(dep)
                imported = self.imported_library(dep)
                if imported and (not static or imported in (linked or {}).values()):
                    name = imported   # a cc_import of a recipe library's shared object
                if name:
                    if name not in siblings:
                        siblings.append(name)
                    continue
                if self.leave_out(dep, t):
                    continue
                d = self.target(dep, t.location)
                if d.label != dep and self.leave_out(d.label, t):   # an alias of a target left out
                    continue
                if d.label != dep and d.label in (linked or {}):   # an alias of what a linked library holds
                    if linked[d.label] not in siblings:
                        siblings.append(linked[d.label])
                    continue
                if d.kind in HEADER_ONLY_KINDS:
                    continue
                if d.kind in LIBRARY_VIEWS:
                    d = LIBRARY_VIEWS[d.kind](d)
                if d.kind not in self.kinds:
                    raise DebforgeError(f"'{t.label}' depends on '{dep}', a {d.kind} ({d.location}); only "
                                        f"cc_library dependencies can be built so far", *_split_loc(t.location))
                visit(d, chain + [t.label])
            state[t.label] = "done"
            order.append(t)

        visit(root, [])
        # what links a recipe library links its externals too, as bazel links every transitive dependency: inline
        # code of their headers (protobuf's logging in TF's op generators) calls into them (--as-needed drops the rest)
        for lib in (x for name in siblings for x in self.external_libs.get(name, ())):
            if lib not in ext_libs:
                ext_libs.append(lib)
        return order, siblings, ext_libs

    def leave_out(self, label: str, user: Target) -> bool:
        """Whether the recipe's leave-out cuts the dependency of `user` on `label` (noted for the plan)."""
        for entry in self.recipe.leave_out:
            if entry.matches(label):
                rule = self.ws.target(label)
                if rule is not None and rule.kind == "alias" and isinstance(rule.attrs.get("actual"), str):
                    rule = self.ws.target(rule.attrs["actual"])
                if rule is not None and rule.attrs.get("alwayslink"):   # a registration: nothing calls into it
                    self.registrations.add(label)
                if (label, user.label, entry.reason) not in self.cut:
                    self.cut.append((label, user.label, entry.reason))
                return True
        return False

    def sources(self, t: Target, attr: str = "srcs") -> list[str]:
        """Paths of the files a label list names: tree files, or outputs of generating rules (planned as steps)."""
        return self.paths(t, t.attrs.get(attr, []))

    def paths(self, t: Target, labels: list[str], via: tuple[str, ...] = ()) -> list[str]:
        out = []
        for label in labels:
            if label.startswith("@"):
                ext = self.externals.get(split_label(label)[0])
                if ext is not None and not ext.drop and label.endswith(HEADER_EXT):
                    self.use(ext.package)   # a header of the Debian -dev package (MLIR's, named by TF's hdrs)
                    continue
                raise DebforgeError(f"source '{label}' of '{t.label}' is in an external repository",
                                    *_split_loc(t.location))
            rule = self.ws.target(label)
            if rule is not None:
                if rule.kind in HEADER_ONLY_KINDS:
                    continue
                if rule.kind == "filegroup":
                    out.extend(self.sources(_checked(rule)))
                elif rule.kind == "alias":   # a file or rule under another name
                    actual = rule.attrs.get("actual")
                    if not isinstance(actual, str) or actual in via + (label,):
                        raise DebforgeError(f"alias '{rule.label}' has no 'actual' label or is a cycle",
                                            *_split_loc(rule.location))
                    out.extend(self.paths(t, [actual], via + (label,)))
                else:
                    out.extend(self.step(rule, label, t).outputs)
                continue
            maker = self.maker(label)
            if maker is not None:
                step = self.step(maker, label, t)
                out.append(output_path(label))
                if out[-1] not in step.outputs:
                    raise DebforgeError(f"'{label}' is declared by '{maker.label}' ({maker.location}), but its "
                                        f"{maker.kind} step does not write it", *_split_loc(t.location))
                continue
            path = file_path(label)
            if not os.path.isfile(os.path.join(self.ws.root, path)):
                raise DebforgeError(f"'{t.label}' lists source '{path}', which is not in the tree",
                                    *_split_loc(t.location))
            if not in_tree(self.ws.root, path):
                raise DebforgeError(f"source '{path}' of '{t.label}' is a symlink that leads out of the tree",
                                    *_split_loc(t.location))
            out.append(path)
        return out

    def maker(self, label: str) -> Target | None:
        """The rule of the label's package that declares the file `label` as an output, if any."""
        pkg = split_label(label)[1]
        if pkg not in self.indexed:   # paths() looked the label up first, so its package is evaluated
            self.indexed.add(pkg)
            for rule in self.ws.graph.targets.values():
                if split_label(rule.label)[1] == pkg:
                    for out in tblgen.outputs(rule) if rule.kind == tblgen.KIND else declared_outputs(rule):
                        self.made_by.setdefault(out, rule)
        return self.made_by.get(label)

    def step(self, rule: Target, label: str, user: Target) -> Generate:
        """The build step of a generating rule (once), its inputs resolved like sources; `user` names `label`."""
        if rule.label not in self.steps:
            if rule.kind not in KINDS:
                raise DebforgeError(f"source '{label}' of '{user.label}' is made by a {rule.kind} "
                                    f"({rule.location}), which debforge cannot generate yet",
                                    *_split_loc(user.location),
                                    hint=f"generator kinds: {', '.join(sorted(KINDS))} "
                                         f"(debforge/plan/rules/)")
            self.steps[rule.label] = KINDS[rule.kind](rule, self)
            self.externals_used.update(self.steps[rule.label].build_depends)
        return self.steps[rule.label]

    # what generator kinds ask (Context)
    @property
    def root(self) -> str:
        return str(self.ws.root)

    def inputs(self, t: Target, labels: list[str]) -> list[str]:
        return self.paths(t, labels)

    def rule(self, label: str) -> Target | None:
        return self.ws.target(label)

    def flag(self, label: str) -> str | None:
        """A build setting's value: the recipe's config, else the setting's build_setting_default."""
        if label in self.ws.config.flag_values:
            return self.ws.config.flag_values[label]
        setting = self.ws.target(label)
        value = setting.attrs.get("build_setting_default") if setting else None
        return None if value is None else str(value)

    def tool(self, t: Target, label: str) -> Tool:
        if label in self.recipe.tools:   # a program the recipe takes from Debian, on PATH
            debian = self.recipe.tools[label]
            return Tool([debian.command], [], [debian.package])
        shared = self.recipe_library(label)
        if shared is not None:   # a recipe library's shared object a tool loads (bazel's runfiles): its generic copy
            lib = self.lib_by_label[shared]
            if lib.name not in self.compiled:
                raise DebforgeError(f"'{t.label}' needs the recipe library '{lib.name}' at run time, which is "
                                    f"planned after the library that runs the tool", *_split_loc(t.location),
                                    hint=f"list {lib.name} earlier in {self.recipe.path}")
            path = f"{BUILDDIR}/{isa.GENERIC}/lib{lib.name}.so"
            return Tool([path], [path], [])
        tool = self.ws.target(label)
        if tool is not None and tool.kind == "cc_binary":
            return self.host_tool(t, tool)
        return pytools.python_tool(self.ws, self.recipe.python_requirements, str(self.recipe.path), t, label)

    def host_tool(self, user: Target, t: Target) -> Tool:
        """A cc_binary a step runs, as a host executable ninja builds first; its closure is compiled in whole."""
        if t.label not in self.host_tools:
            _checked(t)
            if t.attrs.get("linkshared"):
                raise DebforgeError(f"tool '{t.label}' of '{user.label}' is a shared object, not a program",
                                    *_split_loc(user.location))
            _, pkg, name = split_label(t.label)
            exe = self.host_tools[t.label] = HostTool(t.label, f"{HOST_DIR}/bin/{pkg}/{name}")
            attrs = {k: v for k, v in t.attrs.items() if k in STRING_LIST_ATTRS + STRING_ATTRS}
            # a recipe library's shared object among its srcs or imported by a cc_import dep is linked: the
            # library's generic copy is built first (what the tool's closure holds of it is not compiled again)
            shared = [self.lib_by_label[lib].name for lib in map(self.recipe_library, attrs.get("srcs", [])) if lib]
            shared += [n for n in map(self.imported_library, attrs.get("deps", [])) if n and n not in shared]
            attrs["srcs"] = [src for src in attrs.get("srcs", []) if not self.recipe_library(src)]
            for name in shared:
                if name not in self.compiled:
                    raise DebforgeError(f"tool '{t.label}' of '{user.label}' links the recipe library '{name}', "
                                        f"which is planned after the library that runs the tool",
                                        *_split_loc(user.location), hint=f"list {name} earlier in {self.recipe.path}")
            view = Target(t.label, "cc_library", t.location, attrs)
            closure, exe.siblings, exe.external_libs = self.closure(
                view, static=True, linked={label: name for name in shared for label in self.compiled[name]})
            exe.siblings += [n for n in shared if n not in exe.siblings]
            seen_src: set[str] = set()
            for d in closure:
                flags = self.flags(d, closure)
                exe.generated += [g for g in self.generated(d) if g not in exe.generated]
                for src in self.sources(d):
                    c = self.compile(src, flags, d.label) if src not in seen_src else None
                    seen_src.add(src)
                    if c is not None:
                        exe.compiles.append(c)
                        exe.cxx_link |= c.lang == "c++" or "c++" in _x_lang(flags)
                # upstream's -rpath options point into bazel's output tree: the backend gives the RUNPATH
                exe.linkopts += [o for o in d.attrs.get("linkopts", []) if o not in exe.linkopts and "-rpath" not in o]
        exe = self.host_tools[t.label]
        return Tool([exe.path], [exe.path], [])

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
        n = len(self.recipe.config.copts)
        cxxopts = list(self.recipe.config.cxxopts) if lang in ("c++", "gpu") else []
        ordered = flags[:n] + cxxopts + flags[n:]
        return Compile(src, lang, self.flavor.flags(ordered) if lang == "gpu" else ordered, owner)

    def generated(self, t: Target) -> list[str]:
        """Generated files among a target's sources and headers (compiles wait for them)."""
        gen = [p for attr in ("srcs", "hdrs", "textual_hdrs") for p in self.sources(t, attr)]
        return [p for p in gen if p.startswith(GENDIR + "/")]

    def flags(self, t: Target, closure: list[Target]) -> list[str]:
        """The recipe's copts (bazel's --copt), the target's copts, then defines (own + transitive), then include
        dirs: bazel's order on the command line. $(BINDIR)/$(GENDIR) are bazel's make variables."""
        own = [f for f in t.attrs.get("copts", []) if f not in self.recipe.config.drop_copts]
        # bazel tokenizes a target's copts as a Bourne shell would (torch has "-fno-math-errno "); --copt is not
        flags = [make_variables(f) for f in self.recipe.config.copts] + \
            [w for f in own for w in shlex.split(make_variables(f))]
        defines: list[str] = list(t.attrs.get("local_defines", []))
        includes: list[str] = ["-iquote", ".", "-iquote", GENDIR]
        deps = self.deps_of(t, closure)
        for d in [t] + deps:
            defines += [x for x in d.attrs.get("defines", []) if x not in defines]
            pkg = split_label(d.label)[1]
            for inc in d.attrs.get("includes", []):
                path = os.path.normpath(os.path.join(pkg, inc))
                includes += ["-isystem", path, "-isystem", f"{GENDIR}/{path}"]
            if "strip_include_prefix" in d.attrs:
                strip = d.attrs["strip_include_prefix"]
                base = strip.lstrip("/") if strip.startswith("/") else os.path.join(pkg, strip)
                # bazel's virtual include directory holds the generated headers too
                includes += ["-I", os.path.normpath(base), "-I", os.path.normpath(f"{GENDIR}/{base}")]
            if d.attrs.get("include_prefix"):
                raise DebforgeError(f"'{d.label}' uses include_prefix, which is not supported yet",
                                    *_split_loc(d.location))
        # the recipe's include directories of the externals the target reaches (-isystem, as bazel passes an
        # external cc_library's includes), after the tree's own
        for inc in self.external_includes(t):
            if inc not in includes:
                includes += ["-isystem", inc]
        return [f for f in flags + [f"-D{x}" for x in defines] if not self.undefines(f)] + includes

    def external_includes(self, t: Target) -> list[str]:
        """The `includes` of the externals t reaches through in-tree deps, also those compiled into a library it
        links (their headers are still included), in dependency order; memoised per target."""
        memo = self.__dict__.setdefault("_ext_includes", {})
        if t.label in memo:
            return memo[t.label]
        memo[t.label] = []   # a cycle (reported elsewhere) ends here
        out: list[str] = []
        for dep in t.attrs.get("deps", []) + t.attrs.get("implementation_deps", []):
            d = self.ws.target(dep)
            for _ in range(20):   # an alias, perhaps of an external target
                if d is None or d.kind != "alias" or not isinstance(d.attrs.get("actual"), str):
                    break
                dep = d.attrs["actual"]
                d = self.ws.target(dep)
            if dep.startswith("@") or self.mapped_package(dep):
                ext = self.externals.get(self.mapped_package(dep) or split_label(dep)[0])
                found = list(ext.includes) if ext and not ext.drop else []
            else:
                found = self.external_includes(d) if d is not None else []
            out += [inc for inc in found if inc not in out]
        memo[t.label] = out
        return out

    def undefines(self, flag: str) -> bool:
        """Whether flag is -DX or -DX=... for a macro of a dropped external."""
        return flag.startswith("-D") and flag[2:].split("=", 1)[0].strip() in self.undefined

    def deps_of(self, t: Target, closure: list[Target]) -> list[Target]:
        """Transitive in-tree deps of t (within the closure), for defines and includes."""
        by_label = {c.label: c for c in closure}
        seen: list[Target] = []
        stack = [d for d in t.attrs.get("deps", []) + t.attrs.get("implementation_deps", []) if d in by_label]
        while stack:
            label = stack.pop()
            d = by_label[label]
            if d in seen:
                continue
            seen.append(d)
            stack += [x for x in d.attrs.get("deps", []) if x in by_label]
        return seen

    def library(self, pkg: BinaryPackage, spec: Library) -> SharedLibrary:
        loc = (str(self.recipe.path), spec.line)
        self.used = set()
        self.cut = []
        root, link = self.shared_root(spec, loc)
        dynamic = [self.lib_by_label[d].name for d in root.attrs.get("deps", []) if d in self.lib_by_label]
        closure, siblings, ext_libs = self.closure(
            root, linked={label: name for name in dynamic for label in self.compiled.get(name, ())})
        self.compiled[spec.name] = [t.label for t in closure]
        lib = SharedLibrary(spec, pkg, siblings=siblings, external_libs=ext_libs, linkopts=list(link.kept),
                            left_out=sorted(self.cut),
                            left_out_used=sorted({(cut, kept) for cut, kept, _ in self.cut
                                                  if cut not in self.registrations and not cut.startswith("@")}))
        if link.version_script and not spec.exports:   # the recipe's exports, where given, are the maintainer's
            lib.version_script, = self.paths(root, [absolute(link.version_script, "", split_label(root.label)[1])])
        seen_src: set[str] = set()
        for t in closure:
            flags = self.flags(t, closure)
            lib.generated += [g for g in self.generated(t) if g not in lib.generated]
            if t.label in self.provided:   # compiled into a CPU flavour library: link that one
                self.linked_from_cpu(lib, self.provided[t.label])
                continue
            for src in self.sources(t):
                if src in seen_src:
                    continue
                seen_src.add(src)
                c = self.compile(src, flags, t.label)
                if c is None:
                    continue
                lib.compiles.append(c)
                if c.lang in ("c++", "gpu") or "c++" in _x_lang(flags):
                    lib.cxx_link = True
                if c.lang == "gpu":
                    lib.external_libs += [x for x in self.flavor.runtime_libs if x not in lib.external_libs]
            lib.linkopts += [o for o in t.attrs.get("linkopts", []) if o not in lib.linkopts]
        if not lib.compiles:
            raise DebforgeError(f"target '{spec.target}' has no sources to compile", *loc)
        self.external_libs[spec.name] = lib.external_libs   # with a GPU flavour's runtime and CPU library
        made = set(lib.generated)   # steps are planned once; each library that needs one needs its tools
        lib.build_depends = sorted(self.used.union(*(s.build_depends for s in self.steps.values()
                                                      if made.intersection(s.outputs))))
        return lib

    def shared_root(self, spec: Library, loc: tuple[str, int]) -> tuple[Target, linkopts.LinkOptions]:
        """The target whose closure the library compiles, as a cc_library, and the link options of the
        shared-object rule the recipe names (none for a cc_library)."""
        root = self.ws.target(spec.target)
        if root is None:
            raise DebforgeError(f"target '{spec.target}' does not exist in the upstream tree", *loc)
        if root.kind == "filegroup":   # e.g. tf_cc_shared_object's name: a filegroup of the shared object
            rules = [r for r in map(self.ws.target, root.attrs.get("srcs", [])) if r is not None]
            if len(rules) == 1 and rules[0].kind in SHARED_OBJECT_KINDS:
                root = rules[0]
        if root.kind in self.kinds:
            return root, linkopts.LinkOptions()
        where = _split_loc(root.location)
        if root.kind not in SHARED_OBJECT_KINDS:
            raise DebforgeError(f"target '{spec.target}' is a {root.kind} ({root.location}); a library package "
                                f"needs a cc_library, a cc_binary with linkshared = 1 or a cc_shared_library", *loc)
        if root.kind == "cc_binary" and not root.attrs.get("linkshared"):
            raise DebforgeError(f"cc_binary '{root.label}' has no linkshared = 1: it links an executable, "
                                f"not a library (recipe: {loc[0]}:{loc[1]})", *where)
        attrs = {a: root.attrs.get(a, []) for a in ("srcs", "deps", "copts", "defines", "local_defines",
                                                    "includes", "linkopts", "dynamic_deps", "user_link_flags",
                                                    "additional_linker_inputs")}
        _checked(Target(root.label, root.kind, root.location, attrs))
        if root.kind == "cc_shared_library":   # bazel 6 calls its deps 'roots'
            attrs["deps"] = root.attrs.get("deps") or root.attrs.get("roots", [])
            for dep in attrs["dynamic_deps"]:
                if dep not in self.lib_by_label:
                    raise DebforgeError(f"dynamic_deps entry '{dep}' of '{root.label}' is not a library of "
                                        f"the recipe ({loc[0]}:{loc[1]}); add it as one", *where)
            attrs["deps"] = attrs["deps"] + attrs["dynamic_deps"]
        # a recipe library's shared object among the srcs (tf_cc_shared_object's framework_so, a symlink genrule
        # of its filegroup) is linked as a dynamic_deps entry is
        shared = {src: self.recipe_library(src) for src in attrs["srcs"]}
        attrs["srcs"] = [src for src in attrs["srcs"] if shared[src] is None]
        # a dep naming a file, not a rule (a linker script), is a link input, used through $(location)
        rules = [d for d in attrs["deps"] if d.startswith("@") or self.mapped_package(d) or d in self.lib_by_label
                 or self.ws.target(d) is not None] + [lib for lib in shared.values() if lib]
        link = linkopts.read(attrs["linkopts"] + attrs["user_link_flags"], root.label, where)
        library = Target(root.label, "cc_library", root.location,
                         {"srcs": attrs["srcs"], "deps": rules, "copts": attrs["copts"],
                          "defines": attrs["defines"], "local_defines": attrs["local_defines"],
                          "includes": attrs["includes"]})
        return library, link

    def imported_library(self, label: str) -> str | None:
        """The recipe library whose shared object the cc_import `label` imports (TF's
        libtensorflow_framework_import_lib), if it is one."""
        if label.startswith("@"):
            return None
        rule = self.ws.target(label)
        if rule is None or rule.kind != "cc_import" or not isinstance(rule.attrs.get("shared_library"), str):
            return None
        lib = self.recipe_library(rule.attrs["shared_library"])
        return self.lib_by_label[lib].name if lib else None

    def recipe_library(self, label: str, via: tuple[str, ...] = ()) -> str | None:
        """The recipe library (its label in lib_by_label) that a label leads to through filegroups and
        one-source genrules (symlinks), if any."""
        if label in self.lib_by_label:
            return label
        if label.startswith("@") or label in via:
            return None
        rule = self.ws.target(label) or self.maker(label)
        srcs = rule.attrs.get("srcs", []) if rule is not None and rule.kind in ("filegroup", "genrule") else []
        return self.recipe_library(srcs[0], via + (label,)) if len(srcs) == 1 else None

    def linked_from_cpu(self, lib: SharedLibrary, name: str) -> None:
        if name not in lib.external_libs:
            lib.external_libs.insert(0, name)
        self.use(f"{self.recipe.dev_package} (= {self.recipe.full_version})")


def _checked(t: Target) -> Target:
    """t, once the attributes the planner reads have their types and its include paths stay in the tree."""
    loc = _split_loc(t.location)
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
    pkg = split_label(t.label)[1]
    paths = [(f"include directory '{inc}'", posixpath.join(pkg, inc)) for inc in t.attrs.get("includes", [])]
    if "strip_include_prefix" in t.attrs:
        strip = t.attrs["strip_include_prefix"]
        paths.append((f"strip_include_prefix '{strip}'", strip[1:] or "." if strip.startswith("/")
                      else posixpath.join(pkg, strip)))
    for what, path in paths:
        if inside(path) is None:
            raise DebforgeError(f"{what} of '{t.label}' leads out of the tree", *loc)
    try:   # bazel tokenizes copts as a Bourne shell would (see flags())
        copts = [w for f in t.attrs.get("copts", []) for w in shlex.split(f)]
    except ValueError as exc:
        raise DebforgeError(f"copts of '{t.label}' cannot be split into words: {exc}", *loc) from None
    for what, options in (("copt", copts), ("link option", t.attrs.get("linkopts", []) +
                                            t.attrs.get("user_link_flags", []))):
        problem = option_problem(options)
        if problem:
            raise DebforgeError(f"{what} {problem[0]} of '{t.label}' {problem[1]}", *loc)
    return t


def _reached(via: list[str]) -> str:
    """' (reached through a -> b -> c)': how a library's closure came to a target, for errors."""
    return f" (reached through {' -> '.join(via)})" if len(via) > 1 else ""


def _x_lang(flags: list[str]) -> set[str]:
    return {flags[i + 1] for i, f in enumerate(flags[:-1]) if f == "-x"}


def _split_loc(location: str) -> tuple[str | None, int | None]:
    file, _, line = location.rpartition(":")
    return (file, int(line)) if line.isdigit() else (location, None)


def make_plan(recipe: Recipe, ws, arch: str, flavor: FlavorBuild | None = None) -> Plan:
    """The CPU flavour's plan, or with `flavor` that GPU flavour's (its packages, no ISA levels)."""
    planner = _Planner(recipe, ws, flavor)
    libs = [planner.library(pkg, spec) for pkg in planner.packages for spec in pkg.libraries]
    steps = [planner.steps[k] for k in sorted(planner.steps)]
    tools = [planner.host_tools[k] for k in sorted(planner.host_tools)]
    if flavor is None:
        return Plan(recipe, arch, levels_for(recipe, arch), libs, sorted(planner.externals_used), steps,
                    host_tools=tools)
    fl = flavor.flavor
    return Plan(recipe, arch, [], libs, sorted(planner.externals_used), steps, fl,
                fl.arch_flags(recipe.flavor(fl.name).archs), tools)


def header_files(recipe: Recipe, root: str, generated: list[str] = ()) -> list[tuple[str, str, str]]:
    """(path in tree, directory under /usr/include, build profiles) for every header of the -dev package. A
    generated file (a path under GENDIR) is matched by its package path, as bazel's bin directory overlays the tree."""
    out: list[tuple[str, str, str]] = []
    made = {os.path.relpath(g, GENDIR): g for g in generated}
    for hs in recipe.headers:
        regex = compile_pattern(hs.files)
        matched = [rel for rel in sorted(made) if regex.match(rel)]
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in ("debian", ".pc"))
            rel = os.path.relpath(dirpath, root)
            for f in sorted(filenames):
                path = f if rel == "." else f"{rel}/{f}"
                if regex.match(path):
                    matched.append(path)
        if not matched:
            raise DebforgeError(f"headers '{hs.files}' match no file in the upstream tree", str(recipe.path), hs.line)
        for path in matched:
            sub = os.path.dirname(path)
            if hs.strip:
                if not (sub + "/").startswith(hs.strip.rstrip("/") + "/"):
                    raise DebforgeError(f"header '{path}' is not under strip '{hs.strip}'", str(recipe.path), hs.line)
                sub = os.path.relpath(sub, hs.strip)
            else:
                sub = ""
            dest = os.path.normpath(os.path.join("usr/include", hs.to, sub))
            where = (str(recipe.path), hs.line)   # the pair is a line of the -dev package's .install file
            out.append((dh_path(made.get(path, path), where), dh_path(dest, where), hs.build_profiles))
    return out
