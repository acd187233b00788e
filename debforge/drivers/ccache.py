"""A compiler cache for sbuild builds too long for one sitting (libtorch_cpu, TensorFlow: hours on 2 cores): ccache
in the build chroot, its directory bind-mounted from the host, so that the same .dsc built again after an
interruption reuses every compile the stopped build finished. The chroot tarball, the build path and the
SOURCE_DATE_EPOCH are the same from one run to the next, so the compile commands are too."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

from ..core.errors import DebforgeError

MOUNTPOINT = "/srv/debforge-ccache"
ENV = {
    "CCACHE_DIR": MOUNTPOINT,
    # the chroot's build user is one of this user's subordinate ids: what it writes must stay removable from here
    "CCACHE_UMASK": "000",
    "CCACHE_MAXSIZE": "0",            # unbounded: one heavy build fills ccache's 5 GB default several times over
    "CCACHE_COMPILERCHECK": "content",  # the compiler itself, not its mtime in a freshly unpacked chroot
}
PATH = "/usr/lib/ccache:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STATS = re.compile(r"^(direct_cache_hit|preprocessed_cache_hit|cache_miss)\t(\d+)$", re.M)


def prepare(top: Path, namespace_root: int) -> Path:
    """TOP private to this user (0700), with an ACL that lets NAMESPACE_ROOT, the host id of the chroot's root (the
    first of this user's subordinate ids), pass through it to bind-mount TOP/ccache; TOP/ccache writable by the
    chroot's build user, another of those ids (world-writable: only who passes TOP reaches it). Returns
    TOP/ccache."""
    if shutil.which("setfacl") is None:
        raise DebforgeError("setfacl is not installed (needed for --compiler-cache)",
                            hint="apt-get install acl   (tools/bootstrap installs it)")
    closed = next((p for p in top.parents if p.exists() and not p.stat().st_mode & stat.S_IXOTH), None)
    if closed is not None:   # sbuild mounts the cache as the chroot's root, which must pass through its parents
        raise DebforgeError(f"the compiler cache directory {top} is inside {closed}, which only its owner may pass "
                            "through: sbuild mounts the cache as the chroot's root, one of your subordinate ids",
                            str(top), hint="name a directory under one others may pass through (mode o+x), e.g. "
                                           "/var/tmp/debforge-ccache-$USER/SOURCE; its own mode is made 700")
    top.mkdir(parents=True, exist_ok=True, mode=0o700)
    acl = subprocess.run(["getfacl", "--omit-header", "--numeric", "--absolute-names", str(top)],
                         capture_output=True, text=True, check=True).stdout.split()
    allowed = {"user::rwx", f"user:{namespace_root}:--x", "group::---", "mask::--x", "other::---"}
    if top.stat().st_uid != os.getuid() or set(acl) - allowed:
        others = " ".join(sorted(set(acl) - allowed))
        raise DebforgeError(f"the compiler cache directory {top} is open to others ({others}): who can write to it "
                            "can change what the build compiles", str(top),
                            hint=f"chmod 700 {top} (and setfacl -b), or name a new directory")
    subprocess.run(["setfacl", "-m", f"u:{namespace_root}:x", str(top)], check=True)
    cache = top / "ccache"
    cache.mkdir(exist_ok=True)
    cache.chmod(0o777)
    return cache


def _perl(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sbuild_config(cache: Path, dest: Path) -> Path:
    """An sbuild configuration file (SBUILD_CONFIG, read after the user's own) that mounts CACHE in the chroot and
    puts ccache's compiler names first on the build's PATH."""
    env = ", ".join(f"{_perl(k)} => {_perl(v)}" for k, v in ENV.items())
    mount = f"{{ directory => {_perl(str(cache))}, mountpoint => {_perl(MOUNTPOINT)} }}"
    dest.write_text(f"$unshare_bind_mounts = [{mount}];\n"
                    f"$build_environment = {{ {env} }};\n"
                    f"$path = {_perl(PATH)};\n"
                    "1;\n")
    return dest


def sbuild_options() -> list[str]:
    """ccache installed in the chroot for this build, its counters zeroed before the build and printed after it."""
    env = " ".join(f"{k}={v}" for k, v in ENV.items())
    return ["--add-depends=ccache", f"--starting-build-commands=env {env} ccache --zero-stats",
            f"--finished-build-commands=env {env} ccache --print-stats"]


def summary(build_log: str) -> str | None:
    """How many compiles the cache gave back, from the counters the build log holds."""
    stats = {k: int(v) for k, v in STATS.findall(build_log)}
    if not stats:
        return None
    hits = stats.get("direct_cache_hit", 0) + stats.get("preprocessed_cache_hit", 0)
    return f"{hits} of {hits + stats.get('cache_miss', 0)} compiles reused from the compiler cache"
