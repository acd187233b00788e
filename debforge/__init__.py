"""debforge: bazel upstreams -> Debian source packages with glibc-hwcaps ISA variants."""

from pathlib import Path

__version__ = "0.1.0"

# templates/ and debian-skel/ live beside the package in the project tree (install with `pip install -e .`).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
SKEL_DIR = PROJECT_ROOT / "debian-skel"
