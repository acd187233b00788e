"""Running Debian's tools on a generated source package: dpkg-buildpackage and lintian."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from debian.deb822 import Deb822

from ..core.errors import DebforgeError
from ..recipe.model import Recipe


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
    with open(build_log, "w") as fh:
        proc = subprocess.Popen(["dpkg-buildpackage", "-us", "-uc", "-jauto",
                                 *[f"--build-profiles={','.join(profiles)}"] * bool(profiles)], cwd=tree, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            fh.write(line)
            if line.startswith(("dpkg-", " dh_", "[", "check-variant", "debforge tests")) or "error" in line.lower():
                log("  " + line.rstrip()[:200])
        rc = proc.wait()
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
