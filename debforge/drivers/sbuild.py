"""Building a generated source package the way Debian's buildds do: sbuild in an unshare chroot (no root, no
network during the build) made once by mmdebstrap, with lintian run inside the chroot (the suite's lintian)."""

from __future__ import annotations

import collections
import datetime
import email.utils
import os
import pwd
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from debian.changelog import Changelog
from debian.deb822 import Release

from ..core.errors import DebforgeError
from ..recipe.model import BinaryPackage, Recipe
from ..upstream import CACHE, debian_mirror
from . import ccache, checks, dpkg, ninjatree
from .streamed import streamed

DEFAULT_SUITE = "trixie"
CHROOTS = CACHE / "sbuild"
# A fixed build path: dpkg-buildflags maps it away, and two builds of the same .dsc see the same path.
BUILD_PATH = "/build/reproducible-path"
LINTIAN_OPTS = ("--pedantic", "--display-info", "--tag-display-limit=0")
TOOLS = (("sbuild", "sbuild"), ("mmdebstrap", "mmdebstrap"), ("newuidmap", "uidmap"), ("newgidmap", "uidmap"),
         ("unshare", "util-linux"), ("zstd", "zstd"), ("dpkg-buildpackage", "dpkg-dev"))
SUBID_COUNT = 65536  # mmdebstrap and sbuild map a whole 16-bit id space


def host_arch() -> str:
    return subprocess.run(["dpkg-architecture", "-qDEB_HOST_ARCH"], capture_output=True, text=True,
                          check=True).stdout.strip()


def subid_range(path: str, user: str, uid: int) -> tuple[int, int] | None:
    """The first subordinate id range of USER (by name or number) in /etc/subuid or /etc/subgid."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (user, str(uid)) and parts[1].isdigit() and parts[2].isdigit():
            return int(parts[1]), int(parts[2])
    return None


def preflight() -> None:
    """Everything unshare mode needs, checked before any work, each failure saying exactly what is missing."""
    for tool, package in TOOLS:
        if shutil.which(tool) is None:
            raise DebforgeError(f"{tool} is not installed (needed for --sbuild)",
                                hint=f"apt-get install {package}   (tools/bootstrap installs all of them)")
    uid = os.getuid()
    user = pwd.getpwuid(uid).pw_name
    for path in ("/etc/subuid", "/etc/subgid"):
        found = subid_range(path, user, uid)
        if found is None or found[1] < SUBID_COUNT:
            have = "has no range" if found is None else f"has only {found[1]} ids"
            raise DebforgeError(f"{path} {have} for user {user}; sbuild's unshare mode maps the chroot's users "
                                f"into a range of {SUBID_COUNT} subordinate ids", path,
                                hint=f"echo {user}:100000:{SUBID_COUNT} >> {path}   (as root; tools/bootstrap "
                                     f"does this)")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True, text=True)
    if proc.returncode != 0:
        knobs = []
        for knob in ("user/max_user_namespaces", "kernel/unprivileged_userns_clone",
                     "kernel/apparmor_restrict_unprivileged_userns"):
            try:
                knobs.append(f"{knob.replace('/', '.')} = {Path('/proc/sys', knob).read_text().strip()}")
            except OSError:
                pass
        raise DebforgeError(f"this system cannot create user namespaces, which sbuild's unshare mode needs "
                            f"(unshare --user: {proc.stderr.strip() or f'exit {proc.returncode}'}; "
                            f"{', '.join(knobs) or 'no user namespace sysctls found'})",
                            hint="enable them (sysctl user.max_user_namespaces=10000, "
                                 "kernel.unprivileged_userns_clone=1); the kernel also refuses them to chrooted "
                                 "processes (EPERM): run in a container that allows them instead")


def _reason(log: str, limit: int = 8, shown: bool = False) -> str:
    """What a failed mmdebstrap or sbuild run says went wrong: the build's last lines if it got that far, else the
    lines before the first error; then the E: lines, without their wrappers' own 'it failed' (`shown`: the run's
    E: lines were printed as they came, and are not repeated)."""
    lines = log.splitlines()
    errors = [ln for ln in lines if ln.startswith("E: ") and "failed to run" not in ln]
    end = next((i for i, ln in enumerate(lines) if ln.startswith("Build finished at ")), None)
    if end is not None:  # the build ran: its last lines
        start = max(0, end - limit)
    else:  # the paragraph before the first error
        end = lines.index(errors[0]) if errors else 0
        start = max([0, end - limit] + [i + 1 for i in range(end) if not lines[i].strip()])
    tail = [ln for ln in lines[start:end] if ln.strip() and not ln.startswith(("-----", "I: ", "+", "|"))]
    return "\n".join(tail + errors[:limit] * (not shown)) or "\n".join(lines[-limit:])


def chroot(suite: str, arch: str, refresh: bool = False, log=print) -> Path:
    """The cached buildd chroot tarball of SUITE/ARCH, made by mmdebstrap from this machine's Debian mirror on first
    use (or when REFRESH). A buildd chroot holds only Essential and build-essential, so a build in it proves
    Build-Depends complete."""
    CHROOTS.mkdir(parents=True, exist_ok=True)
    path = CHROOTS / f"{suite}-{arch}.tar.zst"
    if path.is_file() and not refresh:
        age = (time.time() - path.stat().st_mtime) / 86400
        log(f"debforge: using the {suite} chroot {path} ({age:.0f} days old; --refresh-chroot renews it)")
        return path
    partial = path.with_name(f"{suite}-{arch}.{os.getpid()}.tar.zst")  # mmdebstrap picks the format by name
    mmdebstrap(suite, arch, partial, CHROOTS / f"{suite}-{arch}.mmdebstrap.log", log=log)
    partial.rename(path)
    return path


def mmdebstrap(suite: str, arch: str, dest: Path, build_log: Path, include: tuple[str, ...] = (), log=print,
               mode: str = "unshare") -> None:
    """A --variant=buildd root of SUITE/ARCH (plus INCLUDE) from this machine's Debian mirror, into DEST (a tarball
    whose name gives the format, or a directory); mmdebstrap's output goes to BUILD_LOG. MODE "root" makes a
    directory root to chroot into as root (tools/chroot-build)."""
    if shutil.which("mmdebstrap") is None:
        raise DebforgeError("mmdebstrap is not installed", hint="apt-get install mmdebstrap")
    mirror = debian_mirror()
    size = f"{len(include)} packages beyond build-essential" if include else "about a minute"
    log(f"debforge: creating the {suite} {arch} root with mmdebstrap from {mirror} (once, {size}; log: {build_log})")
    aptopts = []
    expired = _expired(mirror, suite)
    if expired:   # a snapshot mirror: its Release stays signed but outlives Valid-Until; apt refuses it by default
        log(f"debforge: warning: {mirror}'s {suite} Release expired on {expired} (a snapshot mirror?): the root's "
            "apt accepts it (Acquire::Check-Valid-Until false)")
        aptopts = ['--aptopt=Acquire::Check-Valid-Until "false"']
    with open(build_log, "w") as fh:
        proc = subprocess.run(["mmdebstrap", "--variant=buildd", f"--mode={mode}", f"--architectures={arch}",
                               *(f"--include={p}" for p in include), *aptopts, suite, str(dest), mirror],
                              stdout=fh, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        dest.unlink(missing_ok=True)
        raise DebforgeError(f"mmdebstrap could not make a {suite} root (exit {proc.returncode}):\n"
                            f"{_reason(build_log.read_text())}", str(build_log),
                            hint=f"is '{suite}' a suite of {mirror}? (e.g. trixie, sid, bookworm)")


def _expired(mirror: str, suite: str) -> str | None:
    """Valid-Until of the mirror's SUITE Release when it lies in the past, else None (also when unreadable:
    mmdebstrap then reports what is wrong)."""
    try:
        with urllib.request.urlopen(f"{mirror.rstrip('/')}/dists/{suite}/Release", timeout=60) as resp:
            until = Release(resp.read()).get("Valid-Until")
    except OSError:
        return None
    if until and email.utils.parsedate_to_datetime(until) < datetime.datetime.now(datetime.timezone.utc):
        return until
    return None


def source_package(tree: Path, log=print) -> Path:
    """debian/rules clean, then dpkg-source -b (through dpkg-buildpackage -S); returns the .dsc beside the tree."""
    ch = Changelog((tree / "debian/changelog").read_text(), max_blocks=1)
    dsc = tree.parent / f"{ch.package}_{ch.version.full_version.split(':')[-1]}.dsc"
    log(f"debforge: building the source package {dsc.name}")
    proc = subprocess.run(["dpkg-buildpackage", "-S", "-us", "-uc", "-d"], cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0 or not dsc.is_file():
        raise DebforgeError(f"dpkg-buildpackage -S failed (exit {proc.returncode}):\n"
                            f"{(proc.stderr or proc.stdout).strip()[-2000:]}", str(tree / "debian"))
    return dsc


@dataclass
class Result:
    changes: Path
    log: Path
    lintian: list[str] | None  # lintian's output lines as the build log holds them; None when it did not run


def lintian_output(build_log: str) -> list[str] | None:
    """Lintian's lines from an sbuild log: between 'Running lintian...' and sbuild's verdict on the run."""
    lines = build_log.splitlines()
    try:
        start = lines.index("Running lintian...") + 1
    except ValueError:
        return None
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(("I: Lintian run", "E: Lintian run"))),
               len(lines))
    return [ln for ln in lines[start:end] if ln.strip()]


def build(dsc: Path, dist: str, tarball: Path, outdir: Path, run_lintian: bool = True, log=print,
          profiles: list[str] = (), compiler_cache: Path | None = None) -> Result:
    """sbuild DSC in the chroot TARBALL; binaries, .changes and the build log go to OUTDIR. DIST is the changelog's
    distribution, for the .changes (the chroot's suite is a separate choice). With COMPILER_CACHE (a directory),
    compiles go through ccache kept there (drivers/ccache.py)."""
    dsc, outdir = dsc.resolve(), outdir.resolve()  # sbuild runs du on the results from another directory
    outdir.mkdir(parents=True, exist_ok=True)
    name, version = dsc.stem.split("_", 1)
    arch = host_arch()
    build_log = outdir / f"{name}_{version}_{arch}.build"
    changes = outdir / f"{name}_{version}_{arch}.changes"
    cmd = ["sbuild", "--verbose", "--chroot-mode=unshare", f"--chroot={tarball}", f"--dist={dist}", "--arch-all",
           f"--build-dir={outdir}", f"--build-path={BUILD_PATH}", f"--jobs={dpkg.jobs(str(os.cpu_count() or 1))}",
           "--no-run-piuparts", "--no-run-autopkgtest", *[f"--profiles={','.join(profiles)}"] * bool(profiles)]
    cmd += ["--run-lintian", *(f"--lintian-opt={o}" for o in LINTIAN_OPTS)] if run_lintian else ["--no-run-lintian"]
    env = dict(os.environ)
    if compiler_cache:
        cmd += ccache.sbuild_options()
        uid = os.getuid()
        namespace_root = subid_range("/etc/subuid", pwd.getpwuid(uid).pw_name, uid)[0]   # preflight checked it
        cache = ccache.prepare(compiler_cache, namespace_root)
        env["SBUILD_CONFIG"] = str(ccache.sbuild_config(cache, outdir / f"{name}_{version}.sbuildrc"))
        log(f"debforge: compiles go through ccache in {compiler_cache}: a build run again after an interruption "
            "reuses those the last run finished")
    for stale in (build_log, changes):  # of an earlier build: never mistake them for this one's
        stale.unlink(missing_ok=True)
    log(f"debforge: sbuild {dsc.name} in {tarball.name} (log: {build_log})")
    started = time.monotonic()
    prev, recent, shown = "", collections.deque(maxlen=8), started
    with streamed([*cmd, str(dsc)], env=env) as proc:
        for line in proc.stdout:
            recent.append(line.rstrip())
            if prev.startswith("+---") and line.startswith("| "):  # a stage's banner
                log(f"  sbuild: {line.strip().strip('|').strip()}  ({time.monotonic() - started:.0f} s)")
            elif line.startswith("E: "):
                log("  " + line.rstrip())
            elif (edge := ninjatree.EDGE.match(line)) and (time.monotonic() - shown >= 60 or edge[1] == edge[2]):
                shown = time.monotonic()   # a build of hours says where it is, once a minute
                log(f"  ninja: {edge[1]}/{edge[2]} edges  ({shown - started:.0f} s)")
            prev = line
    rc = proc.returncode
    # an sbuild that stops before it opens its log (bad options) says why only on its output
    text = build_log.read_text(errors="replace") if build_log.exists() else "\n".join(recent)
    if compiler_cache:
        reused = ccache.summary(text)
        log(f"debforge: {reused}" if reused and any(cache.iterdir()) else
            f"debforge: warning: the compiler cache {compiler_cache} was not used (see the build log)")
    if rc != 0 or not changes.is_file():
        stage = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Fail-Stage:")), None)
        raise DebforgeError(f"sbuild failed (exit {rc}{', stage ' + stage if stage else ''}); the source package "
                            f"{dsc} is intact:\n{_reason(text, shown=True)}",
                            str(build_log if build_log.exists() else outdir))
    return Result(changes, build_log, lintian_output(text) if run_lintian else None)



def build_and_check(tree: Path, recipe: Recipe, libraries: dict[str, BinaryPackage], suite: str, refresh: bool,
                    run_lintian: bool, reproducible: bool, log=print, profiles: list[str] = (),
                    compiler_cache: Path | None = None) -> int:
    """`debforge build --sbuild`: source package, chroot, sbuild, then the checks. Returns 0 when lintian (no error
    or warning), blhc and, if asked, a second build (identical .debs) all pass, else 1; a build that cannot run or
    fails raises DebforgeError. The symbols files of `libraries` (package name -> the recipe's package) are recorded
    from the first build's .debs, as after dpkg-buildpackage. COMPILER_CACHE serves the first build only: the
    second compiles everything again, or it would not test that compiles are reproducible."""
    dsc = source_package(tree, log)
    tarball = chroot(suite, host_arch(), refresh, log)
    dist = recipe.distribution
    first = build(dsc, dist, tarball, tree.parent, run_lintian, log, profiles, compiler_cache)
    for deb in dpkg.debs_of(first.changes):
        log(f"  built {deb.name}")
    for note in dpkg.record_symbols(first.changes, recipe, libraries):
        log(f"debforge: {note}")
    failed = []
    if run_lintian:
        if first.lintian is None:
            raise DebforgeError("sbuild did not run lintian; see the build log", str(first.log))
        errors, warnings = dpkg.lintian_counts(first.lintian)
        log("\n".join(first.lintian))
        log(f"debforge: lintian ({suite}'s, in the chroot): {errors} errors, {warnings} warnings")
        failed += ["lintian"] if errors or warnings else []
    stripped = checks.stripped_flags(recipe)
    if stripped:
        log(f"debforge: blhc: not counting {' '.join(stripped)} missing: the recipe's buildflags strip "
            f"{'them' if len(stripped) > 1 else 'it'} ({recipe.path})")
    findings = checks.blhc(first.log, stripped)
    log(f"debforge: blhc: {findings}" if findings else f"debforge: blhc: clean ({first.log.name})")
    failed += ["blhc"] if findings else []
    if reproducible:
        log("debforge: building a second time from the same .dsc (same SOURCE_DATE_EPOCH, from the changelog)")
        second = build(dsc, dist, tarball, tree.parent / "rebuild", False, log, profiles)
        differ = checks.compare(first.changes, second.changes, log)
        n = len(checks.deb_checksums(first.changes))
        log(f"debforge: reproducible: {n - len(differ)} of {n} .debs have identical SHA-256 in both builds")
        failed += ["reproducibility"] if differ else []
    print(first.changes)
    if failed:
        log(f"debforge: failed: {', '.join(failed)}")
    return 1 if failed else 0
