"""Which translation units are compiled once per ISA level (the recipe's `level-sensitive` globs); every other
one is level-neutral: compiled once at the baseline and linked into each level's copy. Without the key every
translation unit is level-sensitive."""

from __future__ import annotations

from ..core.errors import DebforgeError
from ..core.globs import compile_pattern, union
from ..recipe.model import Recipe
from .model import SharedLibrary

MEASURE = "debforge measure-levels"   # the command that writes the list from what each level changes


def sensitive(recipe: Recipe, src: str) -> bool:
    if recipe.level_sensitive is None:
        return True
    regex = union(tuple(g.pattern for g in recipe.level_sensitive))
    return bool(regex and regex.match(src))


def check(recipe: Recipe, libraries: list[SharedLibrary]) -> None:
    """Every glob must match a translation unit some library compiles: one that matches none is stale (for another
    upstream version) or misspelt, and would silently leave the code it meant compiled once."""
    if recipe.level_sensitive is None:
        return
    srcs = {c.src for lib in libraries for c in lib.compiles}
    for g in recipe.level_sensitive:
        regex = compile_pattern(g.pattern)
        if not any(regex.match(s) for s in srcs):
            raise DebforgeError(f"level-sensitive glob '{g.pattern}' matches no source any library compiles",
                                g.file, g.line, f"regenerate the list for this upstream version with "
                                f"`{MEASURE} {recipe.path}`, or remove the line")
    # a library with no level-sensitive code gets no copies (each would be the generic file, byte for byte); a
    # package with variants needs one library that does
    for pkg in {lib.package.name: lib.package for lib in libraries if lib.variants}.values():
        if not any(lib.copies for lib in libraries if lib.package.name == pkg.name):
            raise DebforgeError(f"no library of {pkg.name} has a level-sensitive translation unit: its ISA-level "
                                f"packages would hold copies of the generic files, byte for byte", str(recipe.path),
                                pkg.line, f"set variants: false on package {pkg.name}, or list its level-sensitive "
                                f"sources (`{MEASURE} {recipe.path}`)")
