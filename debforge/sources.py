"""Getting upstream source: a local directory, a tarball, or a Debian source package's orig tarball fetched
through a private apt configuration (debforge never edits /etc/apt)."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from debian.deb822 import Deb822

from .errors import DebforgeError
from .recipe.schema import Recipe

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "debforge"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
LISTS_MAX_AGE = 24 * 3600
ORIG_EXT = (".tar.xz", ".tar.gz", ".tar.bz2")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (or $DEBFORGE_MIRROR)."""
    if os.environ.get("DEBFORGE_MIRROR"):
        return os.environ["DEBFORGE_MIRROR"]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path, encoding="utf-8") as fh:
            for para in Deb822.iter_paragraphs(fh):
                if "debian-archive-keyring" in para.get("Signed-By", "") or \
                        any(s in para.get("Suites", "").split() for s in ("bookworm", "trixie", "sid", "stable")):
                    for uri in para.get("URIs", "").split():
                        if uri.rstrip("/").endswith("/debian"):
                            return uri
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] in ("deb", "deb-src") and words[1].rstrip("/").endswith("/debian"):
                return words[1]
    raise DebforgeError("found no Debian mirror in /etc/apt to fetch source packages from",
                        hint="set DEBFORGE_MIRROR to a Debian archive URL")


def _apt(suite: str, kind: str = "deb-src") -> tuple[list[str], Path]:
    base = CACHE / "apt" / (suite if kind == "deb-src" else f"{suite}-{kind}")
    (base / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (base / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = base / "sources.list"
    sources.write_text(f"{kind} [signed-by={KEYRING}] {debian_mirror()} {suite} main contrib non-free\n")
    opts = [f"-oDir::Etc::SourceList={sources}", "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={base / 'lists'}", f"-oDir::Cache={base / 'cache'}",
            "-oAPT::Sandbox::User=root", "-qq"]
    return opts, base


def _run(cmd: list[str], cwd: Path | None, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DebforgeError(f"{what} failed ({' '.join(cmd[:2])} exit {proc.returncode}):\n"
                            f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc.stdout


def fetch_debian_orig(package: str, suite: str, version: str, log=print) -> Path:
    """Download (once) the orig tarball of a Debian source package; apt checks it against the signed index."""
    opts, base = _apt(suite)
    dl = CACHE / "orig" / suite
    dl.mkdir(parents=True, exist_ok=True)
    for ext in ORIG_EXT:
        cached = dl / f"{package}_{version}.orig{ext}"
        if cached.is_file():
            return cached
    stamp = base / "lists" / ".updated"
    if not stamp.exists() or time.time() - stamp.stat().st_mtime > LISTS_MAX_AGE:
        log(f"debforge: updating the package index of {suite} (private apt configuration in {base})")
        _run(["apt-get", *opts, "update"], None, f"apt-get update for {suite}")
        stamp.touch()
    log(f"debforge: downloading the orig tarball of {package} from {suite}")
    _run(["apt-get", *opts, "source", "--download-only", "--tar-only", package], dl, f"fetching {package}")
    for ext in ORIG_EXT:
        cached = dl / f"{package}_{version}.orig{ext}"
        if cached.is_file():
            return cached
    found = sorted(p.name for p in dl.glob(f"{package}_*.orig.tar.*"))
    raise DebforgeError(f"{suite} has no orig tarball of {package} version {version} (found: "
                        f"{', '.join(found) or 'none'})", hint="change the recipe's version or upstream.suite")


def fetch_debian_binary(package: str, suite: str, dest: Path, log=print) -> Path:
    """Download a Debian binary package (.deb) of the build architecture, for comparisons with debforge's build."""
    opts, base = _apt(suite, "deb")
    stamp = base / "lists" / ".updated"
    if not stamp.exists() or time.time() - stamp.stat().st_mtime > LISTS_MAX_AGE:
        log(f"debforge: updating the binary package index of {suite} (private apt configuration in {base})")
        _run(["apt-get", *opts, "update"], None, f"apt-get update for {suite}")
        stamp.touch()
    dest.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", *opts, "download", package], dest, f"downloading {package}")
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        raise DebforgeError(f"apt-get download {package} gave no .deb in {dest}")
    return debs[-1]


def orig_tarball(recipe: Recipe, log=print) -> Path | None:
    """The upstream tarball named by the recipe, fetching it if it is a Debian source package."""
    up = recipe.upstream
    if up.debian:
        return fetch_debian_orig(up.debian, up.suite, recipe.version, log)
    if up.tarball:
        if not up.tarball.is_file():
            raise recipe.error("upstream", f"upstream tarball {up.tarball} does not exist")
        return up.tarball
    if not up.dir.is_dir():
        raise recipe.error("upstream", f"upstream directory {up.dir} does not exist")
    return None


# Debian 12's python3.11 (3.11.2) predates tarfile's extraction filters: there the 'data' filter's refusals are
# made by _escapes() instead.
DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _escapes(m: tarfile.TarInfo, dest: Path) -> bool:
    """Whether a member is a device or would write, or link, outside dest."""
    root = os.path.realpath(dest)
    paths = [os.path.join(root, m.name)]
    if m.issym():
        paths.append(os.path.join(root, os.path.dirname(m.name), m.linkname))
    elif m.islnk():
        paths.append(os.path.join(root, m.linkname))
    return m.isdev() or any(os.path.commonpath([root, os.path.realpath(p)]) != root for p in paths)


def unpack(tarball: Path, dest: Path) -> None:
    """Unpack a tarball with its single top-level directory stripped, refusing members that leave dest."""
    dest.mkdir(parents=True)
    try:
        with tarfile.open(tarball) as tf:
            members = tf.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members if m.name not in (".", "./")}
            strip = len(tops) == 1 and any("/" in m.name for m in members)
            for m in members:
                if strip:
                    parts = m.name.split("/", 1)
                    if len(parts) == 1:
                        continue
                    m.name = parts[1]
                if not m.name:
                    continue
                if not DATA_FILTER and _escapes(m, dest):
                    raise DebforgeError(f"cannot unpack: member {m.name!r} is a device or leaves the tree",
                                        str(tarball))
                tf.extract(m, dest, **DATA_FILTER)
    except (tarfile.TarError, OSError) as exc:
        raise DebforgeError(f"cannot unpack: {exc}", str(tarball)) from None


def tar_directory(src: Path, out: Path, top: str, mtime: int) -> None:
    """A reproducible orig tarball from a directory."""
    with tarfile.open(out, "w:xz") as tf:
        def norm(ti: tarfile.TarInfo):
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = min(ti.mtime, mtime)
            return ti
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if rel.parts[0] in ("debian", ".git", ".pc"):
                continue
            tf.add(path, arcname=f"{top}/{rel}", recursive=False, filter=norm)


def flavor_orig(out: Path, top: str, recipe: Recipe, summary: str, mtime: int) -> None:
    """The orig tarball of a GPU flavour's source package: no upstream code (that comes from <source>-src), a
    README that says so."""
    readme = (f"{top}: the {summary} flavour of {recipe.source} {recipe.version}.\n\n"
              f"This source package holds no copy of {recipe.source}: it Build-Depends on {recipe.source}-src (= "
              f"{recipe.full_version})\nand builds from /usr/src/{recipe.source}/{recipe.source}-{recipe.version}.tar.xz "
              f"(see debian/rules).\n")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "README.debforge").write_text(readme)
        os.utime(Path(tmp) / "README.debforge", (mtime, mtime))
        tar_directory(Path(tmp), out, top, mtime)


def newest_mtime(root: Path) -> int:
    newest = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("debian", ".pc", ".git")]
        for f in filenames:
            try:
                newest = max(newest, int(os.lstat(os.path.join(dirpath, f)).st_mtime))
            except OSError:
                pass
    return newest


def apply_patches(recipe: Recipe, tree: Path, log=print) -> None:
    """Apply the recipe's patches not yet applied, as dpkg-source --before-build does (same patch options, quilt's
    .pc/ state), so that the scan reads the tree the build compiles, and dpkg-source finds them applied."""
    pc = tree / ".pc"
    applied_file = pc / "applied-patches"
    applied = applied_file.read_text().split() if applied_file.is_file() else []
    # what debforge applied, by checksum (dpkg-source ignores .pc/): a patch edited since would go unnoticed
    record = pc / "debforge-applied.sha256"
    recorded = dict(ln.split("  ", 1)[::-1] for ln in record.read_text().splitlines()) if record.is_file() else {}
    for patch in recipe.patches:
        sha = hashlib.sha256(patch.read_bytes()).hexdigest()
        if patch.name in applied:
            if recorded.get(patch.name, sha) != sha:
                raise DebforgeError(f"{patch.name} changed since it was applied to {tree}", str(patch),
                                    hint=f"unapply the applied version first (cd {tree} && QUILT_PATCHES=debian/patches "
                                         "quilt pop -a), or generate into a fresh output directory")
            continue
        log(f"debforge: applying {patch.name}")
        cmd = ["patch", "-t", "-F", "0", "-N", "-p1", "-u", "-V", "never", "-E", "-b", "-B", f".pc/{patch.name}/",
               "--reject-file=-", "-i", str(patch.resolve())]
        dry = subprocess.run([*cmd, "--dry-run"], cwd=tree, capture_output=True, text=True)   # all or nothing
        if dry.returncode != 0:
            raise DebforgeError(f"{patch.name} does not apply to {tree}:\n{dry.stdout.strip()[-2000:]}", str(patch),
                                hint="refresh the patch against this upstream version")
        pc.mkdir(exist_ok=True)
        for name, text in ((".version", "2\n"), (".quilt_patches", "debian/patches\n"), (".quilt_series", "series\n")):
            if not (pc / name).exists():
                (pc / name).write_text(text)
        subprocess.run(cmd, cwd=tree, capture_output=True, check=True)
        applied.append(patch.name)
        applied_file.write_text("".join(f"{n}\n" for n in applied))
        recorded[patch.name] = sha
        record.write_text("".join(f"{h}  {n}\n" for n, h in recorded.items()))


def prepare(recipe: Recipe, outdir: Path, log=print) -> tuple[Path, Path]:
    """Lay out <outdir>/<source>_<version>.orig.tar.* and the unpacked <outdir>/<source>-<version>/.

    Returns (source tree, orig tarball). An existing unpacked tree is reused (regeneration keeps it).
    """
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DebforgeError(f"cannot create the output directory: {exc.strerror}", str(outdir),
                            hint="choose another directory with -o") from None
    tree = outdir / f"{recipe.source}-{recipe.version}"
    tarball = orig_tarball(recipe, log)
    if tarball is not None:
        ext = next((e for e in ORIG_EXT if tarball.name.endswith(e)), None)
        if ext is None:
            raise recipe.error("upstream", f"{tarball.name}: orig tarballs must be .tar.xz, .tar.gz or .tar.bz2")
        orig = outdir / f"{recipe.source}_{recipe.version}.orig{ext}"
        if not orig.exists():
            shutil.copyfile(tarball, orig)
        if not tree.exists():
            unpack(orig, tree)
        apply_patches(recipe, tree, log)
        return tree, orig
    orig = outdir / f"{recipe.source}_{recipe.version}.orig.tar.xz"
    if not orig.exists():
        tar_directory(recipe.upstream.dir, orig, tree.name, newest_mtime(recipe.upstream.dir))
    if not tree.exists():
        unpack(orig, tree)
    apply_patches(recipe, tree, log)
    return tree, orig
