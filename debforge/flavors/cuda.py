"""The CUDA flavour: nvcc compiles device code for each architecture of the recipe (cubin), plus PTX for the newest
one, which the driver JIT-compiles for GPUs newer than any listed (forward compatibility)."""

from __future__ import annotations

from ..recipe.model import Config
from .flavor import Flavor

# NVIDIA's compute capabilities; which ones a toolkit still accepts is nvcc's to say (CUDA 13.0 rejects < sm_75)
KNOWN = ("sm_50", "sm_52", "sm_53", "sm_60", "sm_61", "sm_62", "sm_70", "sm_72", "sm_75", "sm_80", "sm_86", "sm_87",
         "sm_88", "sm_89", "sm_90", "sm_90a", "sm_100", "sm_100a", "sm_101", "sm_101a", "sm_103", "sm_103a",
         "sm_110", "sm_110a", "sm_120", "sm_120a", "sm_121", "sm_121a")
NVCC_NATIVE = ("--", "-X", "-I", "-isystem", "-D", "-U", "-std=", "-O", "-g")   # the rest goes to the host compiler


def arch_flags(archs: tuple[str, ...]) -> list[str]:
    flags = [f"-gencode=arch=compute_{a[3:]},code={a}" for a in archs]
    portable = [a for a in archs if not a.endswith("a")]   # sm_90a PTX runs on sm_90 only: no forward use
    if portable:
        newest = max(portable, key=lambda a: int(a[3:]))
        flags.append(f"-gencode=arch=compute_{newest[3:]},code=compute_{newest[3:]}")
    return flags


def nvcc_flags(flags: list[str]) -> list[str]:
    """gcc-style compile flags for nvcc: include paths and defines as they are (-iquote, which nvcc lacks, as -I),
    nvcc's own options as they are, everything else for the host compiler through -Xcompiler."""
    out: list[str] = []
    it = iter(flags)
    for f in it:
        if f in ("-iquote", "-isystem", "-I", "-D", "-U"):
            out += ["-I" if f == "-iquote" else f, next(it, "")]
        elif f.startswith(NVCC_NATIVE) and not f.startswith("-Wno"):
            out.append(f)
        else:
            out.append(f"-Xcompiler={f}")
    return out


FLAVOR = Flavor(
    name="cuda",
    summary="NVIDIA CUDA",
    toolkit=("nvidia-cuda-toolkit",),
    config=Config(flag_values={"@rules_cuda//cuda:enable": "true"}),
    rule_kinds=("cuda_library",),
    source_ext=(".cu", ".cu.cc"),
    arch_key="gpu-archs",
    known_archs=KNOWN,
    arch_flags=arch_flags,
    flags=nvcc_flags,
    runtime_libs=("cudart",),
    compile_rule="$nvcc -ccbin $cxx -MD -MF $out.d $toolkit_cppflags $nvcc_hostflags $gpu_archs $copts "
                 "-Xcompiler=-fPIC -c $in -o $out",
    rules_toolkit="""\
ifneq (,$(filter @PROFILE@,$(DEB_BUILD_PROFILES)))
# NVIDIA's toolkit as NVIDIA installs it (CUDA_HOME, default /usr/local/cuda), not Debian's non-free package:
# its libraries belong to no package, so dpkg-shlibdeps cannot name them in Depends.
CUDA_HOME ?= /usr/local/cuda
TOOLKIT_CPPFLAGS := -isystem $(CUDA_HOME)/include
TOOLKIT_LDFLAGS := -L$(CUDA_HOME)/lib64
SHLIBDEPS_OPTS := -l$(CUDA_HOME)/lib64 -- --ignore-missing-info
else
CUDA_HOME ?= /usr
endif
NVCC ?= $(CUDA_HOME)/bin/nvcc
""",
    config_ninja=("nvcc = $(NVCC)", "nvcc_hostflags = $(foreach f,$(CPPFLAGS) $(CXXFLAGS),-Xcompiler=$(f))"),
)
