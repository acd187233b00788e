"""Memory-aware ninja pools for compiles: the recipe's config.compile-memory estimates each source's peak
compiler RSS; sources of one estimate form a class, each class a ninja pool. The depths depend on the builder
(its available memory and parallel level), so build.ninja only names the pools: debian/rules declares them at
configure time in obj-debforge/pools.ninja, computed by debian/debforge/pools (see there for the guarantee)."""

from __future__ import annotations

from ..core.globs import compile_pattern
from ..core.layout import BUILDDIR

POOLS_FILE = f"{BUILDDIR}/pools.ninja"
SCRIPT = "debian/debforge/pools"
DEFAULT_MIB = 1024   # a source no glob of the recipe matches, where the recipe gives no "default"


def pool_name(mib: int) -> str:
    return f"compile_{mib // 1024}g" if mib % 1024 == 0 else f"compile_{mib}m"


def estimate(memory: dict[str, int], src: str) -> int:
    """The peak RSS (MiB) of compiling `src`: the largest estimate of the globs it matches, else the default."""
    matched = [mib for pattern, mib in memory.items() if pattern != "default" and compile_pattern(pattern).match(src)]
    return max(matched, default=memory.get("default", DEFAULT_MIB))


def pool_of(memory: dict[str, int], src: str) -> str | None:
    """The pool of a compile, None where the recipe gives no estimates (no pools at all)."""
    return pool_name(estimate(memory, src)) if memory else None


def script_args(memory: dict[str, int]) -> list[str]:
    """NAME=MIB of every class, heaviest first: the arguments debian/rules gives debian/debforge/pools."""
    if not memory:
        return []
    sizes = sorted({*memory.values(), memory.get("default", DEFAULT_MIB)}, reverse=True)
    return [f"{pool_name(mib)}={mib}" for mib in sizes]
