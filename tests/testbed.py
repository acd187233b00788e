"""A clean Debian root to install built .debs into and run programs in, for tests and benchmarks that must not
touch the host: an mmdebstrap tarball cached under ~/.cache/debforge/rootfs/, unpacked once, each root an overlay
on it, entered with chroot in private mount and pid namespaces (so /proc there is its own). Needs root, as dpkg
inside does."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from debforge import upstream
from debforge.core.errors import DebforgeError
from debforge.drivers import sbuild

CACHE = upstream.CACHE / "rootfs"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def tarball(suite: str, arch: str, log=print) -> Path:
    """The cached root tarball of SUITE/ARCH, made on first use. buildd variant: the compiler is there for tests
    that link against the -dev package; apt-utils because autopkgtest indexes the .debs it installs with it."""
    path = CACHE / f"{suite}-{arch}.tar"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{suite}-{arch}.partial.tar")  # mmdebstrap picks the format from the name
        sbuild.mmdebstrap(suite, arch, partial, CACHE / f"{suite}-{arch}.mmdebstrap.log", include=("apt-utils",),
                          log=log)
        partial.rename(path)
    return path


def unpack(tarball: Path, dest: Path) -> Path:
    """TARBALL unpacked into DEST: a base that many Roots share."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)], check=True)
    return dest


class Root:
    """A writable root over BASE, an unpacked root left unchanged: an overlayfs whose changes go to DEST, so a
    fresh root costs no copy. run() executes a command inside it with a minimal environment. Use it as a context
    manager: on exit the overlay is unmounted and DEST removed."""

    def __init__(self, base: Path, dest: Path):
        if os.geteuid() != 0:
            raise DebforgeError("a clean root needs root (dpkg inside it sets file owners)")
        self.dest = Path(dest)
        self.path = self.dest / "root"
        for d in ("upper", "work", "root"):
            (self.dest / d).mkdir(parents=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={base},upperdir={self.dest / 'upper'},workdir={self.dest / 'work'}",
                        str(self.path)], check=True)

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run(["umount", str(self.path)], check=True)
        shutil.rmtree(self.dest)

    def copy_in(self, *files: Path, into: str = "/tmp") -> list[str]:
        """Copy host files into the root; returns their paths as seen inside."""
        for f in files:
            shutil.copy2(f, self.path / into.lstrip("/"))
        return [f"{into}/{Path(f).name}" for f in files]

    def install(self, *packages: str, debs=()) -> None:
        """PACKAGES from the archive and the host's .debs DEBS, with what they depend on (mmdebstrap leaves the
        root's apt lists empty: they are fetched first)."""
        self.run("apt-get", "update")
        self.run("apt-get", "install", "-y", "--no-install-recommends", *packages, *self.copy_in(*debs))

    def run(self, *cmd: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        environ = [f"{k}={v}" for k, v in {"PATH": PATH, "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
                                             **(env or {})}.items()]
        proc = subprocess.run(["unshare", "--mount", "--pid", "--fork", f"--mount-proc={self.path}/proc",
                               "chroot", str(self.path), "/usr/bin/env", "-i", *environ, *cmd],
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise DebforgeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n"
                                f"{proc.stdout}{proc.stderr}", str(self.path))
        return proc


def autopkgtest(debs, source: Path, suite: str, *tests: str, arch: str = "amd64") -> subprocess.CompletedProcess:
    """autopkgtest on the built DEBS with SOURCE's debian/tests (only TESTS, when named), in an unshare testbed of
    SUITE. -U: mmdebstrap leaves the root's apt lists empty, and the tests' Depends (pkgconf, the Build-Depends of
    upstream-tests) come from the archive."""
    names = [arg for name in tests for arg in ("--test-name", name)]
    return subprocess.run(["autopkgtest", "-U", "-B", *names, *map(str, debs), str(source), "--", "unshare",
                           "--release", suite, "--tarball", str(tarball(suite, arch))], capture_output=True, text=True)
