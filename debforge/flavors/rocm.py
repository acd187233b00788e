"""The ROCm flavour: hipcc (clang) compiles device code for each --offload-arch of the recipe. AMD GPU code objects
are not forward compatible, so only the listed architectures run it."""

from __future__ import annotations

from ..recipe.model import Config
from .flavor import Flavor

# gfx targets of LLVM's AMDGPU backend that ROCm builds for
KNOWN = ("gfx803", "gfx900", "gfx906", "gfx908", "gfx90a", "gfx940", "gfx941", "gfx942", "gfx1010", "gfx1011",
         "gfx1012", "gfx1030", "gfx1031", "gfx1032", "gfx1100", "gfx1101", "gfx1102", "gfx1103", "gfx1150",
         "gfx1151", "gfx1200", "gfx1201")

def arch_flags(archs: tuple[str, ...]) -> list[str]:
    return [f"--offload-arch={a}" for a in archs]


FLAVOR = Flavor(
    name="rocm",
    summary="AMD ROCm",
    toolkit=("hipcc", "libamdhip64-dev"),
    config=Config(),
    rule_kinds=("cuda_library", "hip_library"),    # TF compiles its cuda_library kernels with hipcc for ROCm
    source_ext=(".hip", ".cu", ".cu.cc"),
    arch_key="offload-archs",
    known_archs=KNOWN,
    arch_flags=arch_flags,     # a named function: plans travel pickled from the evaluation child
    flags=list,                                    # hipcc is clang: gcc-style flags as they are
    runtime_libs=("amdhip64",),
    compile_rule="$hipcc -MD -MF $out.d $cppflags $cxxflags $gpu_archs $copts -fPIC -x hip -c $in -o $out",
    rules_toolkit="""\
ifneq (,$(filter @PROFILE@,$(DEB_BUILD_PROFILES)))
# ROCm as AMD installs it (ROCM_PATH, default /opt/rocm), not Debian's packages
ROCM_PATH ?= /opt/rocm
TOOLKIT_LDFLAGS := -L$(ROCM_PATH)/lib
SHLIBDEPS_OPTS := -l$(ROCM_PATH)/lib -- --ignore-missing-info
HIPCC ?= $(ROCM_PATH)/bin/hipcc
else
HIPCC ?= hipcc
endif
""",
    config_ninja=("hipcc = $(HIPCC)",),
)
