"""Running Debian's tools on a generated source package: dpkg-buildpackage and lintian."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from debian.deb822 import Deb822

from ..core.errors import DebforgeError
from ..recipe.model import BinaryPackage, Recipe
from .streamed import streamed

# the lines of dpkg-buildpackage's output shown as it runs (and any naming an error): its steps and the build's checks
SHOWN = ("dpkg-", " dh_", "[", "check-variant", "check-identities", "debforge tests")


def jobs(default: str = "auto") -> str:
    """The build's parallel jobs: DEB_BUILD_OPTIONS' parallel=N where the user set it (dpkg-buildpackage's -j and
    sbuild's --jobs would override it), else `default`."""
    m = re.search(r"(?:^|[\s,])parallel=(\d+)(?:$|[\s,])", os.environ.get("DEB_BUILD_OPTIONS", ""))
    return m.group(1) if m else default


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        raise DebforgeError(f"{tool} is not installed", hint=f"apt-get install {package}")


def missing_build_depends(tree: Path, profiles: list[str] = ()) -> str:
    """dpkg-checkbuilddeps' list of unmet build dependencies under the build PROFILES ('' when all are met)."""
    proc = subprocess.run(["dpkg-checkbuilddeps", *[f"-P{','.join(profiles)}"] * bool(profiles)], cwd=tree,
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return ""
    return proc.stderr.split("Unmet build dependencies:", 1)[-1].strip()


def check_versions(recipe: Recipe) -> None:
    """The versions the recipe's externals require, against those installed here: before anything is built, an
    error naming the installed and the required version (not a missing header deep in a compile)."""
    for ext in recipe.externals.values():
        for name, op, version in ext.versions:
            proc = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", name],
                                  capture_output=True, text=True)
            status, _, installed = proc.stdout.partition(" ")
            if proc.returncode != 0 or not status.startswith("ii"):
                raise DebforgeError(f"externals.{ext.repo} needs {name} ({op} {version}), which is not installed",
                                    str(recipe.path), ext.line, hint=f"apt-get install '{name} ({op} {version})'")
            if subprocess.run(["dpkg", "--compare-versions", installed.strip(), op, version]).returncode != 0:
                raise DebforgeError(f"externals.{ext.repo} needs {name} ({op} {version}); installed: {name} "
                                    f"{installed.strip()}", str(recipe.path), ext.line,
                                    hint="install a newer version, or build with --sbuild in the suite that has it")


def dpkg_buildpackage(tree: Path, log=print, profiles: list[str] = ()) -> Path:
    """Build source and binary packages (under build PROFILES); returns the .changes file. The log goes to
    <tree>/../<name>.build."""
    _need("dpkg-buildpackage", "dpkg-dev")
    missing = missing_build_depends(tree, profiles)
    if missing:
        raise DebforgeError(f"unmet build dependencies: {missing}", str(tree / "debian/control"),
                            hint=f"apt-get build-dep {'-P ' + ','.join(profiles) + ' ' if profiles else ''}{tree}  "
                                 f"(or build in a clean chroot with --sbuild)")
    changelog = (tree / "debian/changelog").read_text().splitlines()[0]
    source, version = changelog.split()[0], changelog.split()[1].strip("()")
    arch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_ARCH"], capture_output=True, text=True).stdout.strip()
    build_log = tree.parent / f"{source}_{version}_{arch}.build"
    log(f"debforge: dpkg-buildpackage in {tree} (log: {build_log})")
    with open(build_log, "w") as fh, streamed(["dpkg-buildpackage", "-us", "-uc", f"-j{jobs()}",
                                               *[f"--build-profiles={','.join(profiles)}"] * bool(profiles)],
                                              cwd=tree) as proc:
        for line in proc.stdout:
            fh.write(line)
            if line.startswith(SHOWN) or "error" in line.lower():
                log("  " + line.rstrip()[:200])
    rc = proc.returncode
    if rc != 0:
        raise DebforgeError(f"dpkg-buildpackage failed with exit code {rc}; see the build log", str(build_log))
    changes = tree.parent / f"{source}_{version.split(':')[-1]}_{arch}.changes"
    if not changes.is_file():
        raise DebforgeError("dpkg-buildpackage left no .changes file", str(build_log))
    return changes


def debs_of(changes: Path) -> list[Path]:
    with open(changes) as fh:
        files = Deb822(fh)["Files"].split("\n")
    return [changes.parent / ln.split()[-1] for ln in files if ln.strip().endswith(".deb")]


def lintian(changes: Path) -> tuple[int, int, str]:
    """Run lintian on a .changes; returns (errors, warnings, output)."""
    _need("lintian", "lintian")
    proc = subprocess.run(["lintian", "--pedantic", "--display-info", "--tag-display-limit", "0", str(changes)],
                          capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    return *lintian_counts(out.splitlines()), out


def lintian_counts(lines: list[str]) -> tuple[int, int]:
    """(errors, warnings) among lintian's output lines."""
    return sum(ln.startswith("E: ") for ln in lines), sum(ln.startswith("W: ") for ln in lines)


def record_symbols(changes: Path, recipe: Recipe, packages: dict[str, BinaryPackage]) -> list[str]:
    """After a build: the symbols file of each package holding libraries (`packages`: its name -> the recipe's
    package) as dpkg-gensymbols records it from the package's .deb among those of `changes` (the recipe's file, where
    it names one, as the basis; the upstream version as a new symbol's minimum), written beside the .changes as
    <name>.symbols: what the recipe's `symbols` keeps. The .debs are what dpkg-buildpackage and sbuild both leave.
    A package exporting weak C++ symbols gets none: which template instantiations and inline functions a compiler
    emits changes with its version (abseil's differ between gcc 12 and 14), so their list would break the build for
    no ABI change. Returns a note per file that is new or differs from the recipe's."""
    changes = changes.resolve()   # dpkg-gensymbols runs elsewhere: `-o build` gives a relative path
    triplet = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                             text=True).stdout.strip()
    debs = {deb.name.split("_")[0]: deb for deb in debs_of(changes)}
    notes = []
    for name, pkg in packages.items():
        if name not in debs:   # not built: a build profile
            continue
        with tempfile.TemporaryDirectory(prefix="debforge-symbols-") as tmp:
            staged = Path(tmp, "root")
            subprocess.run(["dpkg-deb", "-x", str(debs[name]), str(staged)], check=True)
            libs = [staged / "usr/lib" / triplet / f"lib{lib.name}.so.{lib.version}" for lib in pkg.libraries]
            if not all(f.is_file() for f in libs) or any(_weak_cxx(f) for f in libs):
                continue
            note = _gensymbols(name, pkg, recipe, staged, libs, changes.parent / f"{name}.symbols")
        notes += [note] if note else []
    return notes


def _gensymbols(name: str, pkg: BinaryPackage, recipe: Recipe, staged: Path, libs: list[Path], dest: Path) -> str:
    """dpkg-gensymbols' file of the package unpacked in `staged`, written to `dest`; a note when it is new or
    differs from the recipe's."""
    proc = subprocess.run(["dpkg-gensymbols", f"-p{name}", f"-P{staged}", f"-v{recipe.version}", f"-O{dest}",
                           *[f"-e{f}" for f in libs], *([f"-I{pkg.symbols.resolve()}"] if pkg.symbols else [])],
                          cwd=staged.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DebforgeError(f"dpkg-gensymbols failed for {name}: {proc.stderr.strip()[-500:]}", str(dest.parent))
    text = dest.read_text()
    if not pkg.symbols:   # as Debian's: which -dev package a symbol's minimum version is for
        text = re.sub(r"^(\S.* #MINVER#)$", rf"\1\n* Build-Depends-Package: {recipe.dev_package}", text, flags=re.M)
        dest.write_text(text)
        return (f"{name}: its symbols, recorded in {dest}: keep them with the package's 'symbols' key "
                f"(a file beside the recipe; see docs/dev-packages.md)")
    if text != pkg.symbols.read_text():
        return f"{name}: its symbols differ from {pkg.symbols}: this build's are in {dest}"
    return ""


def dynamic_symbols(library: Path) -> dict[str, str]:
    """The symbols a shared library exports -> nm's type letter (W, V: weak): names without the version nm appends
    (name@@VERS_1.0), and without the version nodes themselves (absolute symbols)."""
    out = subprocess.run(["nm", "-D", "--defined-only", "--format=posix", str(library)], capture_output=True,
                         text=True, check=True).stdout
    rows = [ln.split() for ln in out.splitlines() if len(ln.split()) > 1]
    return {r[0].split("@")[0]: r[1] for r in rows if r[1] != "A"}


def _weak_cxx(library: Path) -> bool:
    """Whether a library exports weak C++ definitions (template instantiations, inline functions)."""
    return any(name.startswith("_Z") and kind in "WV" for name, kind in dynamic_symbols(library).items())
