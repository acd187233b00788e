"""debforge: bazel upstreams -> Debian source packages with glibc-hwcaps ISA variants."""

__version__ = "0.1.0"
