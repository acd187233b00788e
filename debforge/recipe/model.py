"""The recipe as plain data (frozen dataclasses): what the later stages read. schema.py makes it from YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import DebforgeError


@dataclass(frozen=True)
class Component:
    """A second orig tarball, <source>_<version>.orig-<name>.tar.xz, which dpkg-source unpacks at <name>/: made from
    a directory of the Debian source package's debian tarball, where Debian carries code its orig tarball lacks
    (pytorch's kineto)."""
    name: str
    path: str    # the directory in the debian tarball, e.g. debian/kineto-338140f5...
    line: int
    copyright: str   # debian/copyright's Files: <name>/* paragraph
    license: str = ""   # its DEP-5 short name; "": the recipe's


@dataclass(frozen=True)
class Upstream:
    debian: str | None = None    # Debian source package whose orig tarball is fetched
    suite: str = "trixie"
    dir: Path | None = None
    tarball: Path | None = None
    components: tuple[Component, ...] = ()


@dataclass(frozen=True)
class Library:
    name: str          # lib<name>.so
    target: str        # bazel label
    soversion: str
    version: str       # full version of the real file: lib<name>.so.<version>
    line: int
    exports: tuple[str, ...] = ()  # symbol globs it exports (C++ ones demangled, with ::); empty: all
    export_lines: tuple[int, ...] = ()   # the recipe line of each export glob, for the build-time check's errors
    version_script: str = ""   # label of upstream's ld version script (symbol map) for a cc_library target
    # recipe libraries that -l<name> links too (its -dev link is a GNU ld script): upstream's library carries their
    # part of its API, which debforge builds once, in them
    link_also: tuple[str, ...] = ()
    link_also_line: int = 0


def default_build_makes(formula: str) -> bool:
    """Whether a build with no profile active satisfies a restriction formula (Policy 7.1: some <...> group holds
    when each of its terms is a negation; "": no restriction)."""
    return not formula or any(all(t.startswith("!") for t in group.split())
                              for group in formula.strip("<>").split("> <"))


@dataclass(frozen=True)
class BinaryPackage:
    name: str          # the meta package; -generic and one package per ISA level hang off it
    libraries: tuple[Library, ...]
    variants: bool
    summary: str
    line: int
    build_profiles: str = ""   # restriction formula (<!pkg.src.x>): the packages are built only when it holds
    # debian/<name>-generic.symbols (dpkg-gensymbols format), kept beside the recipe as a maintainer keeps it in
    # debian/; None: none
    symbols: Path | None = None

    @property
    def built_by_default(self) -> bool:
        """Whether a build with no profile active makes it: what the autopkgtests may install."""
        return default_build_makes(self.build_profiles)


@dataclass(frozen=True)
class HeaderSet:
    files: str         # glob relative to the source root
    to: str            # directory under /usr/include
    strip: str         # leading directory removed before installing under `to`
    line: int
    build_profiles: str = ""   # installed only when the formula holds (the headers of a profiled package)
    exclude: tuple[str, ...] = ()   # globs of files that `files` matches and that are not installed


@dataclass(frozen=True)
class HeaderOnly:
    """dev.header-only: the -dev package's header-only targets as pkg-config modules and CMake INTERFACE targets."""
    line: int
    names: dict[str, tuple[str, int]] = field(default_factory=dict)   # label -> (its name, the entry's line)
    # a module of no target of its own (upstream CMake's absl::numeric) -> (the modules it requires, its line)
    groups: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)


@dataclass(frozen=True)
class External:
    repo: str          # bazel repository name, without @
    package: str       # Debian -dev package (Build-Depends); empty when dropped
    libs: tuple[str, ...]  # -l names to link
    line: int
    drop: str = ""     # why the build goes without it: dependencies on it vanish from every closure
    undefine: tuple[str, ...] = ()   # upstream macros that switch the dropped feature on, removed from compiles
    includes: tuple[str, ...] = ()   # system directories of its headers off the default path (-isystem)
    # macros its users compile with, as its Debian package's CMake target or .pc sets them (libonnx-dev: ONNX_ML=1),
    # where upstream's BUILD file for it defined them (bazel passes a cc_library's defines to its dependents)
    defines: tuple[str, ...] = ()
    extra_packages: tuple[str, ...] = ()   # where Debian splits its headers over more -dev packages
    # directories of its shared libraries off ld.so's path (libmlir-19-dev: libMLIR.so.19.1 is only in
    # /usr/lib/llvm-19/lib): linked with -L and found at run time through RUNPATH
    libdirs: tuple[str, ...] = ()
    versions: tuple[tuple[str, str, str], ...] = ()   # (package, relation, version): libabsl-dev (>= 20240116)
    # target of the repository (//pkg:name) -> its pkg-config module, where the names differ
    modules: dict[str, str] = field(default_factory=dict)

    @property
    def packages(self) -> tuple[str, ...]:
        return (self.package, *self.extra_packages) if self.package else ()

    def targets_in(self, labels: list[str]) -> list[str]:
        """Those of `labels` that are its targets: of its repository (@repo//...), or of the in-tree package it
        maps (//third_party/cpuinfo and below)."""
        if self.repo.startswith("//"):
            return [lb for lb in labels if lb.startswith((f"{self.repo}:", f"{self.repo}/"))]
        return [lb for lb in labels if lb.startswith((f"@{self.repo}//", f"@{self.repo}:")) or lb == f"@{self.repo}"]

    def module_of(self, label: str) -> str | None:
        """The pkg-config module the recipe names for a target of the repository (@repo//pkg:name), if any."""
        return self.modules.get("//" + label.partition("//")[2] if label.startswith("@") else label)


@dataclass(frozen=True)
class KnownCut:
    """A dependency of upstream's graph that a --define value or a patch removes: named where a closure that still
    has it reaches a repository the recipe does not map, or code the recipe leaves out."""
    user: str         # the target whose dependency it is
    dep: str          # the target it depends on
    define: tuple[str, str] | None   # (name, value): under this --define upstream's select() drops the dependency
    patch: Path | None               # ... or this DEP-3 patch (beside the recipe) takes it out

    def describe(self) -> str:
        how = (f"define-values {self.define[0]}: \"{self.define[1]}\"" if self.define else
               f"the patch {self.patch.name}")
        return f"{how} cuts {self.user} -> {self.dep}"


@dataclass(frozen=True)
class LeaveOut:
    """In-tree targets the recipe's libraries are built without (what needs a repository Debian lacks): every
    dependency on a matching target is cut from the closures, and the plan names what each library lost."""
    pattern: str       # //pkg:name, or //pkg/... for the package and those below it
    reason: str        # the feature this removes, and why
    line: int
    patch: Path | None = None   # one of the recipe's patches, which takes kept code's uses of it out

    def matches(self, label: str) -> bool:
        if self.pattern.endswith("/..."):
            pkg = self.pattern[2:-len("/...")]
            return label.startswith(f"//{pkg}:") or label.startswith(f"//{pkg}/") or not pkg
        return label == self.pattern


@dataclass(frozen=True)
class LevelGlob:
    """A source glob of the recipe's `level-sensitive` list: the translation units it matches are compiled once per
    ISA level; every other one once, at the baseline, and linked into each level's copy."""
    pattern: str       # bazel glob from the tree root
    file: str          # where it is written (the recipe, or the list file beside it), for errors
    line: int


@dataclass(frozen=True)
class TestEntry:
    """A test label (or label pattern) the recipe names, with its reason where one is needed."""
    pattern: str       # //pkg:name, //pkg:all (the package's tests) or //pkg/... (those below it too)
    reason: str        # why it is left out, or why it fails at its level ("" for a selection)
    line: int
    file: str

    def matches(self, label: str) -> bool:
        pkg, _, name = self.pattern[2:].partition(":")
        if self.pattern.endswith("/...") or self.pattern == "//...":
            top = self.pattern[2:-len("...")].rstrip("/")
            return not top or label.startswith(f"//{top}:") or label.startswith(f"//{top}/")
        return label == self.pattern or name == "all" and label.startswith(f"//{pkg}:")


@dataclass(frozen=True)
class Tests:
    """Upstream's tests the build runs at every ISA level (the recipe's `tests`)."""
    select: tuple[TestEntry, ...]                       # label patterns of the cc_test targets to run
    leave_out: tuple[TestEntry, ...] = ()               # selected tests not run, each with its reason
    known_failures: dict[str, tuple[TestEntry, ...]] = field(default_factory=dict)   # level -> failing tests
    timeout: int | None = None                          # seconds per test, instead of bazel's per size
    # the recipe libraries tests link (None: every one); what only the others hold is compiled into the test
    libraries: tuple[str, ...] | None = None
    flaky: tuple[TestEntry, ...] = ()                   # tests run again when they fail, as bazel's flaky = True

    def known_failure(self, level: str, label: str) -> str:
        """The reason `label` is known to fail at `level`; "" if it is not."""
        return next((e.reason for e in self.known_failures.get(level, ()) if e.matches(label)), "")

    def flaky_reason(self, label: str) -> str:
        """Why the recipe runs `label` again when it fails; "" if it does not."""
        return next((e.reason for e in self.flaky if e.matches(label)), "")


@dataclass(frozen=True)
class ConsumerTest:
    """A program beside the recipe that an autopkgtest builds against the installed -dev package, as a user's
    program is built, and runs with each installed ISA level's copies (the recipe's `consumer-tests`)."""
    name: str                       # its debian/tests name
    source: Path                    # a C or C++ file beside the recipe
    libraries: tuple[str, ...]      # the recipe libraries it links
    line: int
    pkg_config: bool = True         # built with pkg-config's flags; False: with -l<library> alone


@dataclass(frozen=True)
class RepoFile:
    """A file of an external repository that upstream's WORKSPACE would create from the tree: a copy of
    `path`, or (with substitutions) a template rendered like bazel's repository_ctx.template."""
    path: str
    substitutions: dict
    line: int


@dataclass(frozen=True)
class Config:
    """Overrides of the Debian configuration that select() is resolved against, and bazel's --copt/--cxxopt
    (what upstream's .bazelrc passes to every compile)."""
    flag_values: dict = field(default_factory=dict)
    define_values: dict = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    copts: tuple[str, ...] = ()
    cxxopts: tuple[str, ...] = ()
    drop_copts: tuple[str, ...] = ()   # upstream copts left out (e.g. ISA flags above the Debian baseline)
    compile_memory: dict = field(default_factory=dict)   # source glob (or "default") -> peak compiler RSS, MiB

    def merged(self, *over: "Config") -> "Config":
        """This configuration with others laid over it: their values win, their options come after."""
        out = self
        for o in over:
            out = Config({**out.flag_values, **o.flag_values}, {**out.define_values, **o.define_values},
                         tuple(dict.fromkeys(out.constraints + o.constraints)), out.copts + o.copts,
                         out.cxxopts + o.cxxopts, tuple(dict.fromkeys(out.drop_copts + o.drop_copts)),
                         {**out.compile_memory, **o.compile_memory})
        return out


@dataclass(frozen=True)
class FlavorSpec:
    """A GPU flavour the recipe configures (flavors.<name>): built by the source package <source>-<name>."""
    name: str                            # a module of debforge/flavors/
    archs: tuple[str, ...]               # GPU architectures (the flavour's arch key)
    config: Config                       # laid over the recipe's config (after the flavour's own defaults)
    packages: tuple[BinaryPackage, ...]  # its library packages (no ISA variants)
    externals: dict                      # bazel repository -> External, besides the recipe's
    patches: tuple[Path, ...]            # DEP-3 patches applied to the -src tree before the build
    line: int


@dataclass(frozen=True)
class Tool:
    """A program that upstream's build makes or downloads (e.g. @flatbuffers//:flatc), taken from Debian."""
    command: str       # on PATH in the build
    package: str       # Build-Depends
    line: int


@dataclass(frozen=True)
class Recipe:
    path: Path
    source: str
    version: str
    debian_revision: str
    upstream: Upstream
    maintainer: str
    section: str
    homepage: str
    license: str
    copyright: str
    summary: str
    description: str
    frontend: str
    architectures: tuple[str, ...]
    isa_levels: tuple[str, ...]
    packages: tuple[BinaryPackage, ...]
    dev_package: str
    headers: tuple[HeaderSet, ...]
    externals: dict[str, External]
    config: Config
    repo_files: dict[str, RepoFile]   # "@repo//pkg:file" -> where its text comes from in the tree
    distribution: str
    closes: tuple[int, ...]     # bugs the first changelog entry closes (an ITP)
    lines: dict[str, int]   # top-level key -> line, for errors raised by later stages
    flavors: dict[str, FlavorSpec] = field(default_factory=dict)   # GPU flavours, by name
    tools: dict[str, Tool] = field(default_factory=dict)   # label of a tool genrules run -> Debian's command
    python_requirements: dict[str, str] = field(default_factory=dict)   # rules_python requirement -> Debian package
    patches: tuple[Path, ...] = ()   # DEP-3 patches of the upstream tree, applied by dpkg-source (debian/patches)
    leave_out: tuple[LeaveOut, ...] = ()   # in-tree targets cut from every closure, each with its reason
    known_cuts: tuple[KnownCut, ...] = ()   # dependencies a define or a patch would remove, for errors
    # rule label -> the files it writes (relative to its output directory), where only running upstream's tool
    # would tell (torchgen): recorded by tools/rule-outputs, since planning runs no upstream code
    rule_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the translation units compiled once per ISA level (the others once, at the baseline); None: every one
    level_sensitive: tuple[LevelGlob, ...] | None = None
    # (list file, line, upstream version) when the list says which version measure-levels measured
    level_sensitive_for: tuple[str, int, str] | None = None
    # dpkg-buildflags' maintainer settings, (FLAG, STRIP/APPEND/PREPEND, options): DEB_<FLAG>_MAINT_<OP> in rules
    buildflags: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    tests: Tests | None = None   # upstream's tests run at build time and as an autopkgtest
    consumer_tests: tuple[ConsumerTest, ...] = ()   # the recipe's own programs, run as autopkgtests
    # binary package (or "source") -> (lintian tag with its context, the reason): debian/<pkg>.lintian-overrides
    lintian_overrides: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    cmake: str = ""   # find_package() name of the -dev package's CMake configuration; empty: none
    cmake_prefix: str = ""   # left out of a library's name in its target's: absl_base is absl::base
    static: bool = True   # the -dev package ships lib<name>.a of each library (Policy 8.3: usually provided)
    header_only: HeaderOnly | None = None   # dev.header-only; None: the header-only targets get no module
    # dev.unlinked-headers, (glob, reason, line): installed headers whose functions no library of the recipe defines
    # (bindings built elsewhere, a bundled library left out), which the c-headers-link autopkgtest does not check
    unlinked_headers: tuple[tuple[str, str, int], ...] = ()

    @property
    def full_version(self) -> str:
        return f"{self.version}-{self.debian_revision}"

    def error(self, key: str, message: str, hint: str | None = None) -> DebforgeError:
        return DebforgeError(message, str(self.path), self.lines.get(key), hint)

    def libraries(self) -> list[tuple[BinaryPackage, Library]]:
        return [(p, lib) for p in self.packages for lib in p.libraries]

    def libdirs(self, external_libs: list[str]) -> list[str]:
        """The externals' library directories off ld.so's path that linking `external_libs` needs."""
        return list(dict.fromkeys(d for e in self.externals.values() if set(e.libs) & set(external_libs)
                                  for d in e.libdirs))

    def versioned(self, package: str) -> str:
        """A package as a dependency, with the version the externals require of it: libabsl-dev (>= 20240116)."""
        for ext in self.externals.values():
            for name, op, version in ext.versions:
                if name == package:
                    return f"{package} ({op} {version})"
        return package

    def build_profiles(self) -> list[str]:
        """The restriction formulas of packages and header sets."""
        return [x.build_profiles for x in (*self.packages, *self.headers) if x.build_profiles]

    def leave_out_entry(self, label: str) -> LeaveOut | None:
        """The first leave-out entry that matches `label`, if any."""
        return next((e for e in self.leave_out if e.matches(label)), None)

    def cuts_on(self, chain: list[str]) -> list[str]:
        """What would cut a dependency of `chain` (a closure's targets, each depending on the next), as known cuts
        this recipe does not apply yet (its define value or patch is not in the recipe)."""
        edges = set(zip(chain, chain[1:]))
        return [cut.describe() for cut in self.known_cuts if (cut.user, cut.dep) in edges and (
            self.config.define_values.get(cut.define[0]) != cut.define[1] if cut.define else
            cut.patch not in self.patches)]

    def flavor(self, name: str) -> FlavorSpec:
        if name not in self.flavors:
            configured = ", ".join(sorted(self.flavors)) or "none"
            raise DebforgeError(f"the recipe configures no '{name}' flavour (configured: {configured})",
                                str(self.path), self.lines.get("flavors", 1),
                                hint=f"add flavors: {{{name}: ...}} to the recipe (see docs/recipe-topics.md, GPU flavours)")
        return self.flavors[name]


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers
