"""The planner: recipe + build graph -> what to compile and link for each library, per architecture.

Static closure like bazel's cc_shared_library: a library's own sources plus those of the in-tree cc_library targets
it depends on are compiled into it; a dependency that is another library of the recipe is linked dynamically;
a dependency on an external repository becomes a Debian -dev package (Build-Depends) and its -l flags.

A GPU flavour plans its own packages under its configuration; what the CPU flavour's libraries already hold is not
compiled again but linked from them (installed by the main source package's -dev package, at the exact version).

The parts, one job each: scope (the recipe's packages and externals, lookups on the scan), closure (dependency
resolution, leave-out and externals), flags (how each source is compiled), steps (generate steps: the rule kinds'
Context) with hosttools (the cc_binary tools they run), libraries (the shared objects), tests (upstream's tests
the recipe selects, linked against the libraries).
"""

from __future__ import annotations

from ..core import isa
from ..core.devpackage import DevPackage
from ..graph import ScanView
from ..recipe.model import Recipe
from .closure import Dependencies
from .flags import CompileFlags
from .headers import header_files
from .interfaces import Interfaces
from .libraries import Libraries, check_link_also, link_transitively
from .model import FlavorBuild, Plan
from .scope import Scope
from .sensitivity import check as check_level_sensitive
from .sensitivity import check_level_macros
from .steps import Steps
from .tests import TestPrograms


def levels_for(recipe: Recipe, arch: str) -> list[isa.Level]:
    return [lvl for lvl in isa.ARCHES[arch].levels if lvl.name in recipe.isa_levels]


def make_plan(recipe: Recipe, ws: ScanView, arch: str, flavor: FlavorBuild | None = None,
              contents: dict[str, DevPackage] | None = None) -> Plan:
    """The CPU flavour's plan, or with `flavor` that GPU flavour's (its packages, no ISA levels). `contents`: what
    the externals' Debian packages hold, whose pkg-config files give the -l of an external without `libs`."""
    scope = Scope(recipe, ws, flavor, contents)
    deps = Dependencies(scope)
    flags = CompileFlags(scope)
    steps = Steps(scope, deps, flags)
    libraries = Libraries(scope, deps, flags, steps)
    libraries.check_targets(scope.packages)
    libs = [libraries.library(pkg, spec) for pkg in scope.packages for spec in pkg.libraries]
    link_transitively(libs)
    check_link_also(str(recipe.path), libs)
    generate = [steps.steps[k] for k in sorted(steps.steps)]
    tools = [steps.host_tools.tools[k] for k in sorted(steps.host_tools.tools)]
    if flavor is None:
        levels = levels_for(recipe, arch)
        if levels:   # where there are copies to build (an x86-only source matches nothing on arm64)
            check_level_sensitive(recipe, libs)
            check_level_macros(recipe, libs)
        externals = sorted(deps.externals_used)
        tests, left_out, test_depends, test_libraries = TestPrograms(scope, deps, flags, steps, libs).plan()
        generate = [steps.steps[k] for k in sorted(steps.steps)]   # with those of the tests' data
        tools = [steps.host_tools.tools[k] for k in sorted(steps.host_tools.tools)]
        plan = Plan(recipe, arch, levels, libs, externals, generate, host_tools=tools, tests=tests,
                    tests_left_out=left_out, test_depends=test_depends, test_libraries=test_libraries,
                    workspace=ws.workspace_name or "_main")
        if recipe.header_only:
            headers = header_files(recipe, str(ws.root), sorted({o for step in generate for o in step.outputs}))
            plan.interfaces, plan.interfaces_left_out, plan.interfaces_used = Interfaces(scope, deps.compiled).plan(
                {src: profiles for src, _, profiles in headers})
        return plan
    fl = flavor.flavor
    return Plan(recipe, arch, [], libs, sorted(deps.externals_used), generate, fl,
                fl.arch_flags(recipe.flavor(fl.name).archs), tools)
