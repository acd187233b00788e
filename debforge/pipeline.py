"""The steps every command shares: evaluate upstream metadata and plan each architecture.

The CLI prepares the tree and writes the results; this module holds what lies between, so that `scan`,
`generate`, `generate --flavor` and `build` evaluate and plan the same way. Upstream metadata is untrusted:
evaluation and planning (which evaluates packages on demand) run together in a child process under memory and
CPU-time limits (debforge/bounded.py), which sends back the graph or the plans."""

from __future__ import annotations

from pathlib import Path

from . import frontends
from .core import bounded
from .plan import FlavorBuild, make_plan, sensitivity
from .recipe import schema as recipe_schema
from .recipe.model import Recipe


def load_recipe(path) -> Recipe:
    """The recipe at path, validated, with a frontend that exists."""
    recipe = recipe_schema.load_recipe(path)
    if recipe.frontend not in frontends.available():
        raise recipe.error("frontend", f"unknown frontend '{recipe.frontend}'",
                           f"available: {', '.join(frontends.available())}")
    return recipe


def scan_graph(recipe, tree: Path, arch: str, progress, cache: bool):
    """Every package of the tree evaluated for one architecture: (the graph IR, packages taken from the scan
    cache or None when it is off)."""
    return bounded.run(_scan_graph, recipe, tree, arch, progress, cache)


def _scan_graph(recipe, tree: Path, arch: str, progress, cache: bool):
    ws = frontends.get(recipe.frontend).scan(tree, recipe, arch, progress, display_root=None, cache=cache)
    hits = len(ws.cache.hit) if getattr(ws, "cache", None) else None
    return ws.graph, hits


def plan_arches(recipe, tree: Path, log, shown: Path | None = None, contents: dict | None = None) -> dict:
    """The plan of each of the recipe's architectures (the main source package); `shown` is the tree's name in
    messages (its final place, while it is being prepared in a staging directory); `contents`: what the
    externals' Debian packages hold (drivers/archive.py)."""
    return bounded.run(_plan_arches, recipe, tree, log, shown or tree, contents)


def _plan_arches(recipe, tree: Path, log, shown: Path, contents: dict | None) -> dict:
    frontend = frontends.get(recipe.frontend)
    plans = {}
    for arch in recipe.architectures:
        log(f"debforge: reading {recipe.frontend} metadata of {shown} for {arch}")
        plans[arch] = make_plan(recipe, frontend.scan(tree, recipe, arch, everything=False), arch, contents=contents)
        _summary(plans[arch], log)
    return plans


def plan_flavor_arches(recipe, flavor, tree: Path, log, shown: Path | None = None) -> dict:
    """The plan of each architecture for a GPU flavour's source package: the CPU plan first (what the flavour
    links from <source>-src), then the flavour's under its configuration."""
    return bounded.run(_plan_flavor_arches, recipe, flavor, tree, log, shown or tree)


def _plan_flavor_arches(recipe, flavor, tree: Path, log, shown: Path) -> dict:
    spec = recipe.flavor(flavor.name)
    frontend = frontends.get(recipe.frontend)
    config = recipe.config.merged(flavor.config, spec.config)
    plans = {}
    for arch in recipe.architectures:
        log(f"debforge: reading {recipe.frontend} metadata of {shown} for {arch}, CPU and {flavor.name}")
        cpu = make_plan(recipe, frontend.scan(tree, recipe, arch, everything=False), arch)
        ws = frontend.scan(tree, recipe, arch, everything=False, config=config)
        plans[arch] = make_plan(recipe, ws, arch, FlavorBuild(flavor, cpu))
        log(f"debforge:   {len(plans[arch].libraries)} libraries, "
            f"{sum(len(lib.compiles) for lib in plans[arch].libraries)} translation units "
            f"({sum(c.lang == 'gpu' for lib in plans[arch].libraries for c in lib.compiles)} for the GPU compiler)")
    return plans


def _summary(plan, log) -> None:
    n = sum(len(lib.compiles) for lib in plan.libraries)
    log(f"debforge:   {len(plan.libraries)} libraries, {n} translation units, "
        f"levels: generic {' '.join(lvl.name for lvl in plan.levels)}")
    if plan.recipe.level_sensitive is not None and plan.levels:
        stale = plan.recipe.level_sensitive_for
        if stale and stale[2] != plan.recipe.version:
            log(f"{stale[0]}:{stale[1]}: warning: the level-sensitive list was measured on {plan.recipe.source} "
                f"{stale[2]}; the recipe builds {plan.recipe.version}. Code that became vector-hot would be "
                f"compiled once: regenerate it with `{sensitivity.MEASURE} {plan.recipe.path}`")
        for lib in plan.libraries:
            if lib.copies:
                log(f"debforge:   lib{lib.spec.name}: {sum(c.level_sensitive for c in lib.compiles)} of "
                    f"{len(lib.compiles)} TUs level-sensitive")
        plain = [lib for lib in plan.libraries if lib.variants and not lib.copies]
        if plain:
            log(f"debforge:   {len(plain)} libraries have no level-sensitive TU: no ISA-level copies of them")
    unused = [key for key, ext in plan.recipe.externals.items()
              if ext.package and not set(ext.packages) & {*plan.externals_used, *plan.test_depends}]
    for key in unused:   # stale (upstream stopped using it) or misspelt: either way the recipe says more than it does
        log(f"debforge: warning: {plan.recipe.path}:{plan.recipe.externals[key].line}: external '{key}' is used by "
            f"no library of {plan.arch}: remove it, or check the repository name")
    if plan.tests or plan.tests_left_out:
        log(f"debforge:   upstream tests: {len(plan.tests)} to run at each level, {len(plan.tests_left_out)} left "
            f"out by the recipe" + (f"; only the tests need {', '.join(plan.test_depends)}" if plan.test_depends
                                     else ""))
    for lib in plan.libraries:   # what the recipe's leave-out and dropped externals took away
        if lib.left_out:
            _cuts(plan.recipe, lib, log)
    if plan.recipe.header_only:   # what gets no module, and why (testonly helpers only counted: they are many)
        testonly = sum(why == "is testonly" for why in plan.interfaces_left_out.values())
        log(f"debforge:   {len(plan.interfaces)} header-only modules; {testonly} testonly targets have none")
        for label, why in plan.interfaces_left_out.items():
            if why != "is testonly":
                log(f"debforge:     no module for {label}: it {why}")


def _cuts(recipe, lib, log) -> None:
    """What the recipe's leave-out and dropped externals took away from `lib`, one line per target or repository
    cut (TF's libtensorflow_cc: 31 of them, from 67 dependencies), and the chain of targets from the library's
    root to each kept target that still includes or calls what was cut."""
    log(f"debforge:   lib{lib.spec.name}: {len(lib.left_out)} dependencies cut by the recipe "
        f"({len({x for x, _, _ in lib.left_out})} targets or repositories left out, "
        f"{len({k for _, k, _ in lib.left_out})} kept targets lost one):")
    losers: dict[tuple[str, str], list[str]] = {}
    for cut, kept, why in lib.left_out:
        losers.setdefault((cut, why), []).append(kept)
    for (cut, why), kept in losers.items():
        entry = recipe.leave_out_entry(cut)
        named = kept[0] if len(kept) == 1 else f"{kept[0]} and {len(kept) - 1} more"
        log(f"debforge:     {cut} (from {named}): {why}"
            + (f" (the patch {entry.patch.name} takes its uses out)" if entry and entry.patch else ""))
    if lib.left_out_used:
        users = sorted({k for _, k in lib.left_out_used})
        log(f"debforge:   warning: lib{lib.spec.name}: {len(lib.left_out_used)} of these cut no "
            f"alwayslink registration: {len(users)} kept targets include or call what was left out, so "
            f"lib{lib.spec.name} does not compile or link as planned; the chains of targets that reach them, "
            f"and what each lost (its reason above):")
        for kept in users:
            chain = lib.left_out_chains.get(kept, []) + [kept]
            lost = sorted(cut for cut, k in lib.left_out_used if k == kept)
            log(f"debforge:     {' -> '.join(chain)}")
            log(f"debforge:       lost {', '.join(lost)}")
            for cut in dict.fromkeys(h for one in lost for h in recipe.cuts_on(chain + [one])):
                log(f"debforge:       known cut: {cut}")
