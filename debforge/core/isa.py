"""The table of architectures and their ISA levels. Add an architecture or a level here, as data.

A level is built with its own -march and installed in glibc-hwcaps/<hwcaps>/, where ld.so picks the best
copy the CPU supports (glibc >= 2.33). Levels must match glibc's definitions exactly (design notes section 4):
never add extensions (VNNI, BF16) that glibc's level does not require, or ld.so would load code the CPU can't run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str       # recipe name and glibc-hwcaps subdirectory
    suffix: str     # binary package suffix, e.g. libfoo1-avx2
    cflags: str     # compiler flags that select the level
    summary: str    # for package descriptions
    hwcap_mask: str  # GLIBC_TUNABLES glibc.cpu.hwcaps value that makes this level unsupported (tests)


@dataclass(frozen=True)
class Arch:
    deb: str               # Debian architecture name (DEB_HOST_ARCH)
    bazel_cpu: str         # @platforms//cpu:<value>
    levels: tuple[Level, ...]


X86_64_V3 = Level("x86-64-v3", "avx2", "-march=x86-64-v3",
                  "x86-64-v3 (AVX2, FMA, BMI2: Haswell, Zen and later)", "-AVX2")
X86_64_V4 = Level("x86-64-v4", "avx512", "-march=x86-64-v4",
                  "x86-64-v4 (AVX-512 F/BW/CD/DQ/VL: Skylake-SP, Zen 4 and later)", "-AVX512F")

ARCHES: dict[str, Arch] = {a.deb: a for a in (
    Arch("amd64", "x86_64", (X86_64_V3, X86_64_V4)),
    Arch("arm64", "aarch64", ()),
    Arch("armhf", "armv7", ()),
    Arch("i386", "x86_32", ()),
    Arch("ppc64el", "ppc64le", ()),
    Arch("riscv64", "riscv64", ()),
    Arch("s390x", "s390x", ()),
)}

GENERIC = "generic"


def all_levels() -> dict[str, Level]:
    return {lvl.name: lvl for arch in ARCHES.values() for lvl in arch.levels}


def arches_with_level(name: str) -> list[str]:
    return sorted(a.deb for a in ARCHES.values() if any(lvl.name == name for lvl in a.levels))


@dataclass(frozen=True)
class LevelMacro:
    """A macro of a Debian -dev package's headers whose default follows the compiler's -march and which objects
    built against those headers must agree on: where a level's copy links level-neutral objects with
    level-sensitive ones (or libraries with and without copies share its types), it must be set for every level."""
    package: str    # the -dev package whose headers read it
    macro: str
    why: str        # what differs between levels when it is left to its default
    pin: str        # the definition to suggest: what upstreams set it to for every level


LEVEL_MACROS = (
    LevelMacro("libeigen3-dev", "EIGEN_MAX_ALIGN_BYTES",
               "the alignment Eigen assumes of tensors and fixed-size members is 16 bytes at the baseline, 32 "
               "with AVX and 64 with AVX-512: data one object allocates, another rejects (TensorFlow: Check "
               "failed: IsAligned()) or lays out differently", "EIGEN_MAX_ALIGN_BYTES=64"),
)
