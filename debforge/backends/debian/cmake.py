"""CMake package configuration of the -dev package (the recipe's dev.cmake): NAMEConfig.cmake with one imported
target NAME::<library> per recipe library (without the recipe's prefix: abseil's CMake build names absl_base
absl::base), linking the recipe libraries it links, an INTERFACE target per interface library (a header-only
target: absl::optional), and NAMEConfigVersion.cmake."""

from __future__ import annotations

from dataclasses import dataclass

from ...core import escape
from ...plan import THREADS, Plan
from ...recipe.model import Recipe
from .common import CMAKE
from .consumer import Consumer

DIR = "debforge/cmake"   # under debian/


@dataclass(frozen=True)
class Imported:
    target: str
    soname: str              # empty: an INTERFACE target
    links: tuple[str, ...]   # INTERFACE_LINK_LIBRARIES
    defines: tuple[str, ...] = ()   # INTERFACE_COMPILE_DEFINITIONS
    includes: tuple[str, ...] = ()  # INTERFACE_INCLUDE_DIRECTORIES (absolute)


def target_name(recipe: Recipe, library: str) -> str:
    return library.removeprefix(recipe.cmake_prefix) or library


def render(recipe: Recipe, plan: Plan, consumers: dict[str, Consumer]) -> dict[str, str]:
    """debian/ path -> text of the two files; none without dev.cmake. `consumers`: what each library's users
    compile with."""
    name = recipe.cmake
    if not name:
        return {}
    ours = {lib.name for _, lib in recipe.libraries()}
    ours |= {iface.name for iface in plan.interfaces}
    threads = any(o in THREADS for lib in plan.libraries for o in lib.linkopts) or any(
        iface.threads for iface in plan.interfaces)
    targets = []
    for lib in plan.libraries:
        links = [f"{name}::{target_name(recipe, s)}" for s in lib.siblings if s in ours]
        links += [f"{name}::{target_name(recipe, i)}" for i in plan.interfaces_used.get(lib.spec.name, [])]
        links += ["Threads::Threads"] * any(o in THREADS for o in lib.linkopts)
        use = consumers[lib.spec.name]
        for d in use.defines:   # written into a quoted CMake argument
            escape.cmake(d, (str(recipe.path), lib.spec.line))
        targets.append(Imported(target_name(recipe, lib.spec.name), lib.soname, tuple(links), use.defines,
                                use.includes))
    for iface in plan.interfaces:   # an external's headers are found through the -dev package's Depends
        links = [f"{name}::{target_name(recipe, r)}" for r in iface.requires if r in ours]
        targets.append(Imported(target_name(recipe, iface.name), "",
                                tuple(links + ["Threads::Threads"] * iface.threads), tuple(iface.defines)))
    config = CMAKE.get_template("cmake-config.cmake.j2").render(
        source=recipe.source, name=name, threads=threads, targets=targets,
        include_dirs=list(dict.fromkeys(["/usr/include", *(d for t in targets for d in t.includes)])),
        upper=name.upper() if name.upper() != name else "")
    version = CMAKE.get_template("cmake-version.cmake.j2").render(source=recipe.source, name=name,
                                                                  version=recipe.version)
    return {f"{DIR}/{name}Config.cmake": config, f"{DIR}/{name}ConfigVersion.cmake": version}
