"""What a GPU flavour module declares (one Flavor each)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from ..core.errors import DebforgeError
from ..recipe.model import Config


@dataclass(frozen=True)
class Flavor:
    name: str                     # the source package is <source>-<name>; the recipe key is flavors.<name>
    summary: str                  # for descriptions, e.g. "NVIDIA CUDA"
    toolkit: tuple[str, ...]      # Build-Depends, dropped by the build profile `profile(source)`
    config: Config                # what select() sees beyond the CPU configuration (the recipe adds to it)
    rule_kinds: tuple[str, ...]   # rule kinds that hold device code and are planned as cc_library
    source_ext: tuple[str, ...]   # sources its compiler takes (.cpp files stay with the C++ compiler)
    arch_key: str                 # recipe key of the GPU architecture list
    known_archs: tuple[str, ...]  # architecture names the recipe may list
    arch_flags: Callable[[tuple[str, ...]], list[str]]   # the recipe's architectures -> compiler flags
    flags: Callable[[list[str]], list[str]]   # a compile's gcc-style flags -> the GPU compiler's
    runtime_libs: tuple[str, ...]  # -l names a library with device code links (the kernel launch runtime)
    compile_rule: str             # ninja command: $gpu_archs, $copts, $in, $out; toolkit variables from rules
    rules_toolkit: str            # debian/rules lines (make) that find the toolkit, with or without the profile
    config_ninja: tuple[str, ...]  # `name = $(MAKEVAR)` lines rules adds to config.ninja for compile_rule

    def profile(self, source: str) -> str:
        """The build profile that builds with a toolkit found outside Debian's packages (pkg.<source>.<name>)."""
        return f"pkg.{source}-{self.name}.local-toolkit"

    def check_archs(self, archs: list[tuple[str, int]], recipe: str) -> None:
        for arch, line in archs:
            if arch not in self.known_archs:
                close = difflib.get_close_matches(arch, self.known_archs, n=1)
                raise DebforgeError(f"unknown {self.summary} GPU architecture '{arch}'", recipe, line,
                                    hint=f"did you mean '{close[0]}'?" if close else
                                    f"known: {' '.join(self.known_archs)}")
