"""What a program using one of the -dev package's libraries compiles with, computed once for its .pc file
(Cflags) and its CMake target (INTERFACE_COMPILE_DEFINITIONS, INTERFACE_INCLUDE_DIRECTORIES): the defines and
include directories upstream's build gives the library's users, less what the libraries it requires give, with
the include directories where the -dev package installs the headers under them, and the recipe's `includes` of
the externals whose headers the installed headers include (Open MPI's mpi.h is off the compiler's path)."""

from __future__ import annotations

from dataclasses import dataclass

from ...plan import Plan
from ...plan.headers import installed_dirs
from ...recipe.model import Recipe
from .devdeps import DevDeps


@dataclass(frozen=True)
class Consumer:
    defines: tuple[str, ...]
    includes: tuple[str, ...]   # absolute


def _external_includes(recipe: Recipe, labels: list[str], needs: DevDeps) -> list[str]:
    """The recipe's `includes` of the externals whose targets `labels` are and whose headers the -dev package's
    headers include."""
    out = []
    for ext in recipe.externals.values():
        if ext.targets_in(labels) and any(p in needs.included for p in ext.packages):
            out += ext.includes
    return out


def flags(recipe: Recipe, plan: Plan, needs: DevDeps, headers: list[tuple[str, str, str]]) -> dict[str, Consumer]:
    """Library name -> what its users compile with beyond what the libraries it requires give. `headers`: the -dev
    package's (header_files), where a library's include directories land."""
    out = {}
    for lib in plan.libraries:
        defines, dirs = plan.own_interface(lib)
        given = {d for s in plan.libraries if s.spec.name in lib.siblings
                 for d in _external_includes(recipe, s.external_labels, needs)}
        includes = [f"/{d}" for d in installed_dirs(dirs, headers)]
        includes += [d for d in _external_includes(recipe, lib.external_labels, needs) if d not in given]
        out[lib.spec.name] = Consumer(tuple(defines), tuple(dict.fromkeys(includes)))
    return out
