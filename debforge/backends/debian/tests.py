"""debian/tests/: an autopkgtest that proves, on the installed packages, that ld.so maps the best ISA-level copy of
each library the CPU supports and falls back to the next one when that level is masked with GLIBC_TUNABLES."""

from __future__ import annotations

import jinja2
from debian.deb822 import Deb822

from ...core import isa
from ...recipe.model import Recipe
from ..ninja import RECIPE
from .control import dump
from .packages import all_variants, variants

TEST = "hwcaps"


def control(recipe: Recipe) -> str:
    depends = [recipe.dev_package] + [f"{v.name} [{' '.join(v.arches)}]" for v in all_variants(recipe)]
    return dump([Deb822({"Tests": TEST, "Depends": ",\n ".join(depends + ["build-essential"])})], recipe)


def script(recipe: Recipe, env: jinja2.Environment, copied: set[str]) -> str:
    """`copied`: the libraries with ISA-level copies, whose best copy the test expects ld.so to load."""
    levels_by_arch = {arch: [lvl for lvl in isa.ARCHES[arch].levels if lvl.name in recipe.isa_levels]
                      for arch in recipe.architectures}
    return env.get_template("hwcaps-test.sh.j2").render(
        recipe_name=RECIPE,
        levels_by_arch={a: levels for a, levels in levels_by_arch.items() if levels},
        libraries=[(lib, bool(variants(recipe, pkg)) and lib.name in copied) for pkg, lib in recipe.libraries()],
    )
