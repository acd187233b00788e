"""debian/tests/: an autopkgtest that proves, on the installed packages, that ld.so maps the best ISA-level copy of
each library the CPU supports and falls back to the next one when that level is masked with GLIBC_TUNABLES; and,
where the recipe selects upstream's tests, one that builds them from this source against the installed packages
and runs them at each ISA level (no -tests binary package: see docs/upstream-tests.md)."""

from __future__ import annotations

import jinja2
from debian.deb822 import Deb822

from ...core import isa
from ...plan import Plan, pools
from ...recipe.model import Recipe
from ..ninja import HOST_LIBS, INSTALLED_LIBDIR, RECIPE, host_libraries
from .control import dump
from .packages import all_variants, variants

TEST = "hwcaps"
UPSTREAM = "upstream-tests"


def control(recipe: Recipe, upstream_tests: bool) -> str:
    depends = [recipe.dev_package] + [f"{v.name} [{' '.join(v.arches)}]" for v in all_variants(recipe)]
    out = [Deb822({"Tests": TEST, "Depends": ",\n ".join(depends + ["build-essential"])})]
    if upstream_tests:   # built in the source tree (obj-debforge/) with the Build-Depends: googletest, ninja
        out.append(Deb822({"Tests": UPSTREAM, "Depends": ",\n ".join(depends + ["@builddeps@"]),
                           "Restrictions": "allow-stderr, rw-build-tree, skippable"}))
    return dump(out, recipe)


def script(recipe: Recipe, env: jinja2.Environment, copied: set[str]) -> str:
    """`copied`: the libraries with ISA-level copies, whose best copy the test expects ld.so to load."""
    levels_by_arch = {arch: [lvl for lvl in isa.ARCHES[arch].levels if lvl.name in recipe.isa_levels]
                      for arch in recipe.architectures}
    return env.get_template("hwcaps-test.sh.j2").render(
        recipe_name=RECIPE,
        levels_by_arch={a: levels for a, levels in levels_by_arch.items() if levels},
        libraries=[(lib, bool(variants(recipe, pkg)) and lib.name in copied) for pkg, lib in recipe.libraries()],
    )


def upstream_script(recipe: Recipe, plans: dict[str, Plan], env: jinja2.Environment) -> str:
    return env.get_template("upstream-tests.sh.j2").render(
        recipe_name=RECIPE,
        levels_by_arch={arch: [isa.GENERIC, *(lvl.name for lvl in plan.levels)] for arch, plan in plans.items()
                        if plan.tests},
        pools=pools.script_args(recipe.config.compile_memory),
        host_libraries=any(host_libraries(plan) for plan in plans.values() if plan.tests),
        host_libs=HOST_LIBS, installed_libdir=INSTALLED_LIBDIR,
    )
