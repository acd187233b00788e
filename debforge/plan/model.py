"""The plan: what backends read. Per architecture (or GPU flavour), the shared libraries of each binary package
with their compiles and links, the generate steps and the host tools they run, the Debian -dev packages used and
the ISA levels."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import isa
from ..core.layout import HOST_DIR
from ..flavors import Flavor
from ..recipe.model import BinaryPackage, Library, Recipe
from .rules.common import Generate

THREADS = ("-pthread", "-lpthread")   # link options that ask the consumer's compiles for -pthread too


@dataclass
class Compile:
    src: str                 # path in the tree
    lang: str                # "c", "c++", "asm" or "gpu" (the flavour's compiler): decides the compiler and flags
    flags: list[str]         # the target's copts, defines and include directories, in bazel's order
    owner: str               # label of the cc_library the source belongs to
    # compiled once per ISA level; False: once at the baseline, that object linked into every level's copy
    level_sensitive: bool = True


@dataclass
class SharedLibrary:
    spec: Library
    package: BinaryPackage
    compiles: list[Compile] = field(default_factory=list)
    cxx_link: bool = False
    linkopts: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)    # other recipe libraries linked dynamically
    direct: list[str] = field(default_factory=list)      # ... those whose targets its own target depends on
    external_libs: list[str] = field(default_factory=list)
    # the targets of external repositories it uses (@com_google_absl//absl/log:check): which of a -dev package's
    # pkg-config modules it needs
    external_labels: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)   # generated files its compiles need first
    build_depends: list[str] = field(default_factory=list)   # the Debian packages its build needs
    # what bazel gives a target depending on the library's root: the `defines` of its closure and the externals
    # it reaches, and the directories of their `includes` (tree paths): what a consumer of the headers compiles with
    interface_defines: list[str] = field(default_factory=list)
    interface_includes: list[str] = field(default_factory=list)
    version_script: str | None = None    # upstream's ld version script (path), where the recipe has no exports
    # dependencies the recipe cut from the closure (leave-out, or a dropped external): (what was left out, the
    # kept target that named it, the recipe's reason)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)
    # ... those of them in the tree (leave-out) that are not alwayslink registrations, nor taken out of kept code by
    # a patch the leave-out entry names: kept code includes or calls
    # what was left out, so the library does not compile or link as planned until the recipe or upstream's tree
    # changes. A dropped external is not among them: its reason is the recipe's decision (and its `undefine`)
    left_out_used: list[tuple[str, str]] = field(default_factory=list)
    # each kept target of left_out -> the chain of targets from the library's root that reached it (the first)
    left_out_chains: dict[str, list[str]] = field(default_factory=dict)

    @property
    def soname(self) -> str:
        return f"lib{self.spec.name}.so.{self.spec.soversion}"

    @property
    def filename(self) -> str:
        return f"lib{self.spec.name}.so.{self.spec.version}"

    @property
    def variants(self) -> bool:
        return self.package.variants

    @property
    def copies(self) -> bool:
        """Whether it gets ISA-level copies: its package has variants and some of its code is level-sensitive
        (a copy of only level-neutral objects would be the generic file, byte for byte)."""
        return self.package.variants and any(c.level_sensitive for c in self.compiles)


@dataclass
class InterfaceLibrary:
    """A header-only target of the -dev package (the recipe's dev.header-only): a pkg-config module and a CMake
    INTERFACE target that compile with its defines and link what it depends on, as upstream's CMake build makes
    absl::optional."""
    label: str               # empty for a group of the recipe (dev.header-only.groups)
    name: str                # the .pc module's; the CMake target's without the recipe's prefix
    requires: list[str] = field(default_factory=list)   # the recipe libraries and interface libraries it uses
    external_labels: list[str] = field(default_factory=list)   # the targets of external repositories it uses
    defines: list[str] = field(default_factory=list)
    threads: bool = False    # its linkopts ask for -pthread
    build_profiles: str = ""   # those of its headers: its .pc is installed when they are


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
class TestProgram:
    """One of upstream's cc_test targets, built once per ISA level: its closure compiled in, except what a recipe
    library holds, which is linked from that level's copy (the shipped code is what is tested)."""
    label: str
    location: str            # its BUILD file and line
    compiles: list[Compile] = field(default_factory=list)
    cxx_link: bool = False
    linkopts: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)     # recipe libraries it links
    external_libs: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)          # its data files (tree or generated paths), as runfiles
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    timeout: int = 300                                     # seconds
    attempts: int = 1                                      # runs before a failure counts (flaky tests: 3)
    known_failures: dict[str, str] = field(default_factory=dict)   # level -> why it fails there

    @property
    def name(self) -> str:
        return test_name(self.label)


@dataclass
class TestLibrary:
    """A shared object upstream builds for its tests to load at run time (a cc_binary with linkshared among a
    test's data: TensorFlow's tf_custom_op_library test_op1.so), staged in the tests' runfiles. Built once, at the
    generic level, from its own closure; the recipe libraries it calls are not linked but resolved when it is
    loaded, from the copies the test process has loaded (the level under test, the build tree's or the installed
    ones alike)."""
    label: str
    location: str
    path: str                # where it is built: its package path under GENDIR, as a generated data file
    compiles: list[Compile] = field(default_factory=list)
    cxx_link: bool = False
    linkopts: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)     # recipe libraries whose symbols it takes from the process
    external_libs: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


def test_name(label: str) -> str:
    """A test's path under a level's test directory: its package path and name, as bazel-bin has it."""
    _, _, rest = label.partition("//")
    pkg, _, name = rest.partition(":")
    return f"{pkg}/{name}" if pkg else name


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
    tests: list[TestProgram] = field(default_factory=list)      # upstream's tests the recipe selects
    tests_left_out: list[tuple[str, str]] = field(default_factory=list)   # (test, the recipe's reason)
    test_libraries: list[TestLibrary] = field(default_factory=list)   # shared objects the tests load
    test_depends: list[str] = field(default_factory=list)   # Debian packages only the tests need (<!nocheck>)
    workspace: str = "_main"   # upstream's repository name: the runfiles directory of its tests' data
    interfaces: list[InterfaceLibrary] = field(default_factory=list)   # header-only targets (dev.header-only)
    interfaces_left_out: dict[str, str] = field(default_factory=dict)   # header-only target -> why it has none
    interfaces_used: dict[str, list[str]] = field(default_factory=dict)   # library -> the interfaces it uses

    def own_interface(self, lib: SharedLibrary) -> tuple[list[str], list[str]]:
        """(defines, include directories) of the library's interface less what the libraries and interface
        libraries it requires give (their .pc files and CMake targets carry those): what its own .pc file and
        CMake target add."""
        by_name = {i.name: i for i in self.interfaces}
        given, seen, todo = set(), set(), list(self.interfaces_used.get(lib.spec.name, []))
        while todo:
            name = todo.pop()
            if name in by_name and name not in seen:
                seen.add(name)
                given.update(by_name[name].defines)
                todo += by_name[name].requires
        siblings = [s for s in self.libraries if s.spec.name in lib.siblings]
        given.update(d for s in siblings for d in s.interface_defines)
        dirs = {d for s in siblings for d in s.interface_includes}
        return ([d for d in lib.interface_defines if d not in given],
                [d for d in lib.interface_includes if d not in dirs])


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
