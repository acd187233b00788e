"""plan -> debian/: control, rules, changelog, copyright, install files, the ninja graphs and the recipe."""

from __future__ import annotations

import re
from pathlib import Path

from ...core import escape, isa
from ...core.devpackage import DevPackage
from ...core.layout import GENDIR, HEADERS_TEST, HWCAPS_TEST, UPSTREAM_TEST
from ...plan import Plan, header_files, pools
from ...recipe.model import Recipe
from .. import ninja
from . import changelog, cmake, consumer, control, copyright, devdeps, install, ldscript, pkgconfig, tests
from .common import EXECUTABLE, REGULAR, RULES, SCRIPTS, skeleton
from .packages import all_variants, generic_name, safe, shlibs_alternatives, shlibs_dependency


def _header_groups(recipe: Recipe, headers: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Generated headers of the -dev package as ninja phony groups: those of a header set restricted like a
    recipe package are built with that package's -generic build (the profile that drops one drops both)."""
    owner = {pkg.build_profiles: generic_name(pkg) for pkg in reversed(recipe.packages) if pkg.build_profiles}
    groups: dict[str, list[str]] = {}
    for src, _, profiles in headers:
        if src.startswith(GENDIR + "/"):
            groups.setdefault(f"headers-{owner.get(profiles, recipe.dev_package)}", []).append(src)
    return groups


def _ninja_targets(recipe: Recipe, groups: dict[str, list[str]], copied: set[str]) -> dict[str, list[str]]:
    """What ninja builds for each arch-dependent binary package that installs files (`copied`: the libraries
    with ISA-level copies)."""
    out = {generic_name(pkg): [ninja.library_target(lib.name, isa.GENERIC) for lib in pkg.libraries]
           for pkg in recipe.packages}
    for v in all_variants(recipe):
        out[v.name] = [ninja.library_target(lib.name, v.level.name) for lib in v.meta.libraries if lib.name in copied]
    for pkg in [*out, recipe.dev_package]:   # the -dev package's .so links point into the packages above
        if f"headers-{pkg}" in groups:
            out.setdefault(pkg, []).append(f"headers-{pkg}")
    return out


def _build_depends(recipe: Recipe, plans: dict[str, Plan]) -> list[str]:
    """Every package the plans use; one that only build-profiled recipe packages need carries their restriction,
    so a build under the profile does not need it."""
    needed_by: dict[str, set[str]] = {}   # -> restriction formulas of the packages needing it ("": always built)
    for lib in (lib for p in plans.values() for lib in p.libraries):
        for dep in lib.build_depends:
            needed_by.setdefault(dep, set()).add(lib.package.build_profiles)
    out = []
    for dep in sorted({d for p in plans.values() for d in p.externals_used}):
        formulas = needed_by.get(dep, {""})
        dep = recipe.versioned(dep)
        out.append(f"{dep} {next(iter(formulas))}" if len(formulas) == 1 and "" not in formulas else dep)
    # what only upstream's tests need (googletest): a build without them (the nocheck profile) goes without it
    used = {d for p in plans.values() for d in p.externals_used}
    return out + [f"{dep} <!nocheck>" for dep in sorted({d for p in plans.values() for d in p.test_depends} - used)]


def _abi_files(recipe: Recipe, headers: list[str]) -> dict[str, tuple[str, int]]:
    """What decides and checks the libraries' ABI: the version script of a library's exports and what
    check-exports reads (the installed `headers` among it), and the maintainer's symbols files."""
    files = {}
    for _, lib in recipe.libraries():
        if lib.exports:
            files[ninja.version_script_path(lib.name).removeprefix("debian/")] = (ninja.version_script(lib.exports),
                                                                                 REGULAR)
            files[ninja.exports_spec_path(lib.name).removeprefix("debian/")] = (ninja.exports_spec(lib, headers),
                                                                               REGULAR)
    for pkg in recipe.packages:   # kept beside the recipe, as a maintainer keeps it in debian/
        if pkg.symbols:
            files[f"{generic_name(pkg)}.symbols"] = (pkg.symbols.read_text(), REGULAR)
    return files


def render(recipe: Recipe, plans: dict[str, Plan], root: Path, timestamp: int,
           contents: dict[str, DevPackage] | None = None) -> dict[str, tuple[str, int]]:
    """All files of debian/, as relative path -> (text, mode). `contents`: what the externals' Debian packages
    hold (drivers/archive.py), for the -dev package's Depends and .pc files; a package not in it is not known."""
    files = skeleton()
    generated = sorted({o for p in plans.values() for step in p.steps for o in step.outputs})
    headers = header_files(recipe, str(root), generated)
    needs = devdeps.compute(recipe, headers, root, contents or {})
    # a profiled package's private requirements come with it (rules' Profiled-Depends); the others always
    private = pkgconfig.private_packages(recipe, next(iter(plans.values())), needs, contents or {})
    profiled = {p.name: private.get(p.name, []) for p in control.profiled(recipe)}
    always = {name for pkg, names in private.items() if pkg not in profiled for name in names}
    dev_depends = [recipe.versioned(p) for p in sorted({*needs.packages, *always})]
    files["control"] = (control.render(recipe, _build_depends(recipe, plans), dev_depends), REGULAR)
    groups = _header_groups(recipe, headers)
    files["changelog"] = (changelog.render(recipe, timestamp, root / "debian" / "changelog"), REGULAR)
    files["copyright"] = (copyright.render(recipe, root, timestamp), REGULAR)
    variants = all_variants(recipe)
    recommends: dict[str, dict[str, list[str]]] = {}
    for v in variants:
        for arch in v.arches:
            recommends.setdefault(safe(v.meta.name), {}).setdefault(arch, []).append(v.name)
    copied = {lib.spec.name for plan in plans.values() for lib in plan.libraries if lib.copies}
    runpaths = {lib.package.name: dirs for plan in plans.values() for lib in plan.libraries
                if (dirs := recipe.libdirs(lib.external_libs))}
    files["rules"] = (RULES.get_template("rules.j2").render(
        recipe_name=ninja.RECIPE,
        ninja_targets=_ninja_targets(recipe, groups, copied),
        profiled={p: [recipe.versioned(d) for d in deps if d not in always] for p, deps in profiled.items()},
        variant_packages=[v.name for v in variants],
        variant_suffixes=sorted({v.level.suffix for v in variants}),
        recommends={meta: {arch: escape.Make(", ".join(f"{p} (= $(DEB_VERSION))" for p in pkgs))
                           for arch, pkgs in by_arch.items()} for meta, by_arch in recommends.items()},
        pools=pools.script_args(recipe.config.compile_memory),
        shlibs={pkg: shlibs_dependency(alts) for pkg, alts in shlibs_alternatives(recipe).items()},
        test_levels={arch: [isa.GENERIC, *(lvl.name for lvl in plan.levels)] for arch, plan in plans.items()
                     if plan.tests},
        test_groups={g: pkgs for plan in plans.values() for g, pkgs in ninja.test_groups(plan).items()},
        runpath_dirs=sorted({d for dirs in runpaths.values() for d in dirs}),
        buildflags=recipe.buildflags,
        aggregates=sorted({f"-Xlib{lib.spec.name}.so" for plan in plans.values() for lib in plan.libraries
                           if not lib.compiles}),
    ), EXECUTABLE)
    github = re.match(r"https?://github\.com/([^/]+/[^/#?]+)", recipe.homepage)
    if github:
        files["watch"] = (SCRIPTS.get_template("watch.j2").render(source=recipe.source,
                                                                github=github.group(1).removesuffix(".git")),
                          REGULAR)
    interfaces = [(iface.name, iface.build_profiles) for iface in next(iter(plans.values())).interfaces]
    archived = {lib.spec.name for plan in plans.values() for lib in plan.libraries if lib.compiles}
    for name, text in install.render(recipe, headers, runpaths, copied, interfaces, archived).items():
        files[name] = (text, EXECUTABLE if text.startswith("#!") else REGULAR)   # dh-exec filters it
    installed = [src for src, _, _ in headers]
    for arch, plan in plans.items():
        files[f"debforge/build-{arch}.ninja"] = (ninja.render(plan, groups, installed), REGULAR)
    files[ninja.RECIPE.removeprefix("debian/")] = (recipe.path.read_text(), REGULAR)
    plan = next(iter(plans.values()))
    consumers = consumer.flags(recipe, plan, needs, headers)
    for name, text in [*pkgconfig.render(recipe, plan, needs, contents or {}, consumers).items(),
                       *cmake.render(recipe, plan, consumers).items(), *ldscript.render(recipe).items()]:
        files[name] = (text, REGULAR)
    if recipe.patches:   # format 3.0 (quilt): dpkg-source applies them before the build
        files["patches/series"] = ("".join(f"{p.name}\n" for p in recipe.patches), REGULAR)
        for p in recipe.patches:
            files[f"patches/{p.name}"] = (p.read_text(), REGULAR)
    files.update(_abi_files(recipe, installed))
    with_tests = any(p.tests for p in plans.values())
    modules = [(lib.name, pkg.build_profiles) for pkg, lib in recipe.libraries()] + \
        [(iface.name, iface.build_profiles) for iface in next(iter(plans.values())).interfaces]
    headers_test = tests.headers_script(recipe, SCRIPTS, headers, modules)
    files["tests/control"] = (tests.control(recipe, with_tests, headers_test is not None), REGULAR)
    files[f"tests/{HWCAPS_TEST}"] = (tests.script(recipe, SCRIPTS, copied), EXECUTABLE)
    if headers_test:
        files[f"tests/{HEADERS_TEST}"] = (headers_test, EXECUTABLE)
    if with_tests:
        files[f"tests/{UPSTREAM_TEST}"] = (tests.upstream_script(recipe, plans, SCRIPTS), EXECUTABLE)
    for name, (text, runs) in tests.consumer_files(recipe, SCRIPTS, copied).items():
        files[f"tests/{name}"] = (text, EXECUTABLE if runs else REGULAR)
    return dict(sorted(files.items()))
