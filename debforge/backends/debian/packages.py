"""The binary packages of a recipe and what each holds: the one place that names them."""

from __future__ import annotations

from dataclasses import dataclass

from ...core import isa
from ...core.escape import Make
from ...recipe.model import BinaryPackage, Recipe


@dataclass(frozen=True)
class Variant:
    meta: BinaryPackage
    level: isa.Level
    name: str               # e.g. libnsync1-avx2
    arches: tuple[str, ...]  # the architectures that have this level


def generic_name(pkg: BinaryPackage) -> str:
    return f"{pkg.name}-generic"


def variants(recipe: Recipe, pkg: BinaryPackage) -> list[Variant]:
    if not pkg.variants:
        return []
    out = []
    for name in recipe.isa_levels:
        arches = tuple(a for a in recipe.architectures if name in {lvl.name for lvl in isa.ARCHES[a].levels})
        if arches:
            level = isa.all_levels()[name]
            out.append(Variant(pkg, level, f"{pkg.name}-{level.suffix}", arches))
    return out


def all_variants(recipe: Recipe) -> list[Variant]:
    return [v for pkg in recipe.packages for v in variants(recipe, pkg)]


def src_name(recipe: Recipe) -> str:
    return f"{recipe.source}-src"


def safe(name: str) -> str:
    """A package name usable in make variable and substvar names."""
    return name.replace("+", "-plus-").replace(".", "-")


def replaced(recipe: Recipe, flavor: str) -> dict[str, list[str]]:
    """Package of GPU flavour FLAVOR -> the CPU packages holding a library of the same name (their files collide)."""
    cpu = {lib.name: generic_name(pkg) for pkg, lib in recipe.libraries()}
    return {pkg.name: sorted({cpu[lib.name] for lib in pkg.libraries if lib.name in cpu})
            for pkg in recipe.flavor(flavor).packages}


def shlibs_alternatives(recipe: Recipe) -> dict[str, list[str]]:
    """CPU package -> itself, then the GPU flavours' packages that rebuild its libraries: what a program linked
    against either needs, as Debian's pytorch gives `libtorch2.6 | libtorch-cuda-2.6 | libtorch-rocm-2.6`."""
    out: dict[str, list[str]] = {}
    for flavor in sorted(recipe.flavors):
        for gpu_pkg, cpu_pkgs in replaced(recipe, flavor).items():
            for cpu in cpu_pkgs:
                out.setdefault(cpu, [cpu]).append(gpu_pkg)
    return out


def shlibs_dependency(alternatives: list[str]) -> Make:
    """dh_makeshlibs -V's dependency, in debian/rules (make expands the version)."""
    return Make(" | ".join(f"{p} (>= $(DEB_VERSION_UPSTREAM))" for p in alternatives))
