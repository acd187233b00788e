"""Which translation units are compiled once per ISA level (the recipe's `level-sensitive` globs); every other
one is level-neutral: compiled once at the baseline and linked into each level's copy. Without the key every
translation unit is level-sensitive."""

from __future__ import annotations

from ..core import isa
from ..core.errors import DebforgeError
from ..core.globs import compile_pattern, union
from ..recipe.model import Recipe
from .flags import defined_macro
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


def check_level_macros(recipe: Recipe, libraries: list[SharedLibrary]) -> None:
    """A macro whose default follows -march (isa.LEVEL_MACROS) must be set for every level wherever objects built
    at different levels meet: a level's copy of a library that also links level-neutral objects, or libraries
    with and without copies that both use the external."""
    options = recipe.config.copts + recipe.config.cxxopts
    for lm in isa.LEVEL_MACROS:
        for ext in recipe.externals.values():
            if lm.package not in ext.packages or _pinned(lm.macro, ext.defines, options):
                continue
            users = [lib for lib in libraries if ext.targets_in(lib.external_labels)]
            mixed = next((lib for lib in users if lib.copies and not all(c.level_sensitive for c in lib.compiles)),
                         None)
            apart = [lib for lib in users if not lib.copies] if any(lib.copies for lib in users) else []
            if not mixed and not apart:
                continue
            where = (f"each ISA-level copy of lib{mixed.spec.name} links level-neutral objects with level-sensitive "
                     f"ones" if mixed else f"lib{apart[0].spec.name} has no ISA-level copies, and other libraries "
                     f"using it do")
            raise DebforgeError(f"externals.{ext.repo} ({lm.package}): {lm.macro} is left to each object's -march, "
                                f"and {where}: {lm.why}", str(recipe.path), ext.line,
                                f"set it for every level, as upstream's own build usually does: externals."
                                f"{ext.repo}: {{package: {ext.package}, defines: [{lm.pin}]}}")


def _pinned(macro: str, defines: tuple[str, ...], options: tuple[str, ...]) -> bool:
    return any(d.partition("=")[0] == macro for d in defines) or \
        any(defined_macro(o) == macro for o in options)
