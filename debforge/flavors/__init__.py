"""GPU flavours: contrib source packages `<source>-cuda` / `<source>-rocm` that Build-Depend on `<source>-src` and
build the flavour's libraries from the tarball it installs (as gcc-14-cross builds from gcc-14-source).

A flavour is one module of this package holding a `Flavor`: its toolkit (Build-Depends, and the build profile that
uses a toolkit installed outside Debian's packaging instead), what select() sees, which rule kinds and sources its
compiler takes, that compiler's ninja rule, and how the recipe's GPU architecture names become its flags.
Adding a flavour is adding such a module and naming it in FLAVORS.
"""

from __future__ import annotations

from . import cuda, rocm
from .flavor import Flavor

FLAVORS: dict[str, Flavor] = {f.name: f for f in (cuda.FLAVOR, rocm.FLAVOR)}

__all__ = ["FLAVORS", "Flavor"]
