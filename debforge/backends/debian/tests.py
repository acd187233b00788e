"""debian/tests/: an autopkgtest that proves, on the installed packages, that ld.so maps the best ISA-level copy of
each library the CPU supports and falls back to the next one when that level is masked with GLIBC_TUNABLES; where
the recipe selects upstream's tests, one that builds them from this source against the installed packages and runs
them at each ISA level (no -tests binary package: see docs/upstream-tests.md); and one per program of the recipe's
consumer-tests, built as a user's program against the installed packages and run with each level's copies; and one
that links every function the -dev package's C headers declare."""

from __future__ import annotations

import os

import jinja2
from debian.deb822 import Deb822

from ...core import isa
from ...core.errors import DebforgeError
from ...core.globs import compile_pattern
from ...core.layout import GENDIR, HEADERS_TEST, HWCAPS_TEST, UPSTREAM_TEST
from ...plan import Plan, pools
from ...recipe.model import Recipe, default_build_makes
from ..ninja import HOST_LIBS, INSTALLED_LIBDIR, RECIPE, host_libraries, test_groups
from .control import dump
from .packages import all_variants, variants


def control(recipe: Recipe, upstream_tests: bool, headers_test: bool) -> str:
    # not a package only a build profile makes (libtensorflow-cc2): a default build does not have it to install
    depends = [recipe.dev_package] + [f"{v.name} [{' '.join(v.arches)}]" for v in all_variants(recipe)
                                      if v.meta.built_by_default]
    out = [Deb822({"Tests": HWCAPS_TEST, "Depends": ",\n ".join(depends + ["build-essential"])})]
    if upstream_tests:   # built in the source tree (obj-debforge/) with the Build-Depends: googletest, ninja
        out.append(Deb822({"Tests": UPSTREAM_TEST, "Depends": ",\n ".join(depends + ["@builddeps@"]),
                           "Restrictions": "allow-stderr, rw-build-tree, skippable"}))
    if headers_test:
        out.append(Deb822({"Tests": HEADERS_TEST, "Depends": ",\n ".join(depends + ["build-essential", "pkgconf"]),
                           "Restrictions": "skippable"}))
    for t in recipe.consumer_tests:   # a compiler's warnings go to stderr
        out.append(Deb822({"Tests": t.name, "Depends": ",\n ".join(depends + ["build-essential", "pkgconf"]),
                           "Restrictions": "allow-stderr"}))
    return dump(out, recipe)


def script(recipe: Recipe, env: jinja2.Environment, copied: set[str]) -> str:
    """`copied`: the libraries with ISA-level copies, whose best copy the test expects ld.so to load."""
    return env.get_template("hwcaps-test.sh.j2").render(**_levels(recipe, copied, None))


def consumer_files(recipe: Recipe, env: jinja2.Environment, copied: set[str]) -> dict[str, tuple[str, bool]]:
    """debian/tests/<name> (a script) and its program's source, for each of the recipe's consumer-tests."""
    out = {}
    for t in recipe.consumer_tests:
        source = t.name + t.source.suffix
        out[t.name] = (env.get_template("consumer-test.sh.j2").render(
            name=t.name, source=source, compiler="cc" if t.source.suffix == ".c" else "c++", pkg_config=t.pkg_config,
            **_levels(recipe, copied, t.libraries)), True)
        out[source] = (t.source.read_text(), False)
    return out


def _levels(recipe: Recipe, copied: set[str], linked: tuple[str, ...] | None) -> dict:
    """hwcaps-levels.sh.j2's context: each architecture's levels, the libraries (those `linked`, or all) and
    whether the test expects the best level's copy of each."""
    levels_by_arch = {arch: [lvl for lvl in isa.ARCHES[arch].levels if lvl.name in recipe.isa_levels]
                      for arch in recipe.architectures}
    return dict(recipe_name=RECIPE, levels_by_arch={a: levels for a, levels in levels_by_arch.items() if levels},
                libraries=[(lib, bool(variants(recipe, pkg)) and lib.name in copied)
                           for pkg, lib in recipe.libraries()
                           if pkg.built_by_default and (linked is None or lib.name in linked)])


def upstream_script(recipe: Recipe, plans: dict[str, Plan], env: jinja2.Environment) -> str:
    return env.get_template("upstream-tests.sh.j2").render(
        recipe_name=RECIPE,
        levels_by_arch={arch: [isa.GENERIC, *(lvl.name for lvl in plan.levels)] for arch, plan in plans.items()
                        if plan.tests},
        pools=pools.script_args(recipe.config.compile_memory),
        host_libraries=any(host_libraries(plan) for plan in plans.values() if plan.tests),
        host_libs=HOST_LIBS, installed_libdir=INSTALLED_LIBDIR,
        test_groups=sorted({g for plan in plans.values() for g in test_groups(plan)}),
    )


def headers_script(recipe: Recipe, env: jinja2.Environment, headers: list[tuple[str, str, str]],
                   modules: list[tuple[str, str]]) -> str | None:
    """HEADERS_TEST's script: `headers` as header_files gives them, `modules` the -dev package's pkg-config modules
    with their build profiles; None where a default build installs no header or no library."""
    installed = {src: f"/{dest}/{os.path.basename(src)}" for src, dest, profiles in headers
                 if default_build_makes(profiles)}
    unlinked = set()
    for glob, _, line in recipe.unlinked_headers:   # tree paths; a generated header by its package path
        regex = compile_pattern(glob)
        matched = {src for src in installed if regex.match(src.removeprefix(GENDIR + "/"))}
        if not matched:
            raise DebforgeError(f"dev.unlinked-headers '{glob}' matches no header a default build installs",
                                str(recipe.path), line)
        unlinked |= matched
    modules = [name for name, profiles in modules if default_build_makes(profiles)]
    if not installed or not any(pkg.built_by_default for pkg in recipe.packages):
        return None
    return env.get_template("headers-link-test.sh.j2").render(
        recipe_name=RECIPE, dev_package=recipe.dev_package, modules=modules,
        headers=sorted({h for src, h in installed.items() if src not in unlinked}),
        unlinked=sorted({installed[src] for src in unlinked}))
