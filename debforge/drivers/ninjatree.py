"""A generated tree's ninja file, read and run from outside dpkg-buildpackage: its object files, the command line
ninja runs for one of them, the generate steps they wait for, and debian/rules' own configure step (the toolchain
and dpkg-buildflags in obj-debforge/config.ninja). Shared by `debforge measure-levels` and bench/sample_compile.py."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from ..core.layout import BUILDDIR
from .streamed import streamed

EDGE = re.compile(r"\[(\d+)/(\d+)\] ")   # ninja's status line as an edge ends


def ninja_file(arch: str) -> str:
    return f"debian/debforge/build-{arch}.ninja"


def configure(tree: Path, jobs: int, wrap: list[str] | None = None) -> None:
    """Run debian/rules' override_dh_auto_configure: config.ninja with $(CC), $(CXX) and dpkg-buildflags, and the
    pools' depths for `jobs`."""
    subprocess.run([*(wrap or []), "make", "-C", str(tree), "-f", "debian/rules", "override_dh_auto_configure"],
                   check=True, capture_output=True, env={**os.environ, "DEB_BUILD_OPTIONS": f"parallel={jobs}"})


def targets(tree: Path, ninja_file: str, wrap: list[str] | None = None) -> list[str]:
    """Every target of the ninja file."""
    out = subprocess.run([*(wrap or []), "ninja", "-C", str(tree), "-f", ninja_file, "-t", "targets", "all"],
                         capture_output=True, text=True, check=True).stdout
    return [line.split(":")[0] for line in out.splitlines()]


def objects(tree: Path, ninja_file: str, level: str, lib: str | None, wrap: list[str] | None = None) -> list[str]:
    """The object files of `level` (of library `lib` if given) in the ninja file, in path order."""
    prefix = f"{BUILDDIR}/{level}/obj/{lib + '/' if lib else ''}"
    return sorted(t for t in targets(tree, ninja_file, wrap) if t.startswith(prefix) and t.endswith(".o"))


def object_of(level: str, lib: str, src: str) -> str:
    """The object file of a source at a level: obj-debforge/LEVEL/obj/LIB/SRC.o (backends/ninja.py's layout)."""
    return f"{BUILDDIR}/{level}/obj/{lib}/{src}.o"


def source(obj: str, level: str) -> str:
    """The source path of an object file: obj-debforge/LEVEL/obj/LIB/SRC.o -> SRC."""
    return obj.removeprefix(f"{BUILDDIR}/{level}/obj/").split("/", 1)[1].removesuffix(".o")


def order_only(tree: Path, ninja_file: str, wrap: list[str], objs: list[str]) -> list[str]:
    """The order-only inputs (generated files, phonies) of the objects, from ninja -t query."""
    out = subprocess.run([*wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-t", "query", *objs],
                         capture_output=True, text=True, check=True).stdout
    deps = {line.strip().removeprefix("|| ") for line in out.splitlines() if line.startswith("    || ")}
    return sorted(deps)


def command(tree: Path, ninja_file: str, target: str, wrap: list[str] | None = None) -> str:
    """The command line ninja runs to make target (the last of `ninja -t commands -s`)."""
    return subprocess.run([*(wrap or []), "ninja", "-C", str(tree), "-f", ninja_file, "-t", "commands", "-s",
                           target], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]


def ninja(tree: Path, ninja_file: str, wrap: list[str], jobs: int, targets: list[str],
          on_edge=None) -> tuple[int, str, float]:
    """Run ninja on targets, keeping going past failures: (exit status, its output, wall seconds). ON_EDGE(done,
    total), if given, is called as each edge ends (ninja's [done/total] lines), for a long build's progress."""
    started = time.monotonic()
    with streamed(["nice", "-n", "10", *wrap, "ninja", "-C", str(tree), "-f", ninja_file, "-k", "0", f"-j{jobs}",
                   *targets]) as proc:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if on_edge and (m := EDGE.match(line)):
                on_edge(int(m[1]), int(m[2]))
    return proc.returncode, "".join(lines), time.monotonic() - started
