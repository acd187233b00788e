"""Getting upstream source: a local directory, a tarball, or a Debian source package's orig tarball fetched
through a private apt configuration (debforge never edits /etc/apt)."""

from __future__ import annotations

import glob
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from debian.deb822 import Deb822, Sources
from debian.debian_support import Version

from .core import settings, staging
from .core.errors import DebforgeError
from .core.layout import BUILDDIR, MANIFEST
from .recipe.model import Component, Recipe

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


def _update(opts: list[str], base: Path, what: str, log) -> None:
    """apt-get update of a private configuration, at most once a day."""
    stamp = base / "lists" / ".updated"
    if not stamp.exists() or time.time() - stamp.stat().st_mtime > LISTS_MAX_AGE:
        log(f"debforge: updating the {what} (private apt configuration in {base})")
        _run(["apt-get", *opts, "update"], None, f"apt-get update ({what})")
        stamp.touch()


def debian_releases(package: str, suite: str, log=print) -> dict[str, Sources]:
    """Upstream version -> the newest source package of it in the suite's signed index (its Version and
    Checksums-Sha256), oldest first."""
    opts, base = _apt(suite)
    _update(opts, base, f"package index of {suite}", log)
    out = _run(["apt-cache", *opts, "showsrc", "--only-source", package], None, f"reading {package} in {suite}")
    paras = sorted(Sources.iter_paragraphs(out, use_apt_pkg=False), key=lambda p: Version(p["Version"]))
    return {Version(p["Version"]).upstream_version: p for p in paras}


def fetch_debian_orig(package: str, suite: str, version: str, log=print) -> Path:
    """Download (once) the orig tarball of a Debian source package at an upstream version; apt checks it against
    the signed index, and so does debforge on every later use of the cached copy (the index's sha256 is recorded
    beside it)."""
    names = {f"{package}_{version}.orig{ext}" for ext in ORIG_EXT}
    return _fetch_source_tarball(package, suite, version, "orig tarball", names.__contains__, "--tar-only", log)


def fetch_debian_tarball(package: str, suite: str, version: str, log=print) -> Path:
    """The same for the debian tarball of the suite's newest revision of that upstream version (once fetched, it
    stays in use until a newer one is fetched into the cache)."""
    exts = "|".join(re.escape(e) for e in ORIG_EXT)
    name = re.compile(rf"{re.escape(package)}_{re.escape(version)}-[A-Za-z0-9.+~]+\.debian(?:{exts})")
    # apt counts a 3.0 (quilt) package's debian tarball as its diff
    return _fetch_source_tarball(package, suite, version, "debian tarball", name.fullmatch, "--diff-only", log)


def _fetch_source_tarball(package: str, suite: str, version: str, what: str, match, only: str, log) -> Path:
    dl = CACHE / "orig" / suite
    dl.mkdir(parents=True, exist_ok=True)
    # several cached revisions of a debian tarball: the newest (<package>_<version>-<revision>.debian.tar.*)
    cached = sorted((p for p in dl.iterdir() if match(p.name) and Path(f"{p}.sha256").is_file()),
                    key=lambda p: Version(p.name.split("_", 1)[1].split(".orig", 1)[0].split(".debian", 1)[0]))
    if cached:
        return _verified(cached[-1], Path(f"{cached[-1]}.sha256").read_text().strip())
    releases = debian_releases(package, suite, log)
    if version not in releases:
        raise DebforgeError(f"{suite} has no {package} version {version}; it has: "
                            f"{', '.join(releases) or 'no such source package'}",
                            hint="change the recipe's version or upstream.suite")
    para = releases[version]
    entry = next((c for c in para["Checksums-Sha256"] if match(c["name"])), None)
    if entry is None:
        raise DebforgeError(f"{package} {para['Version']} of {suite} has no {what} (a native package?)")
    cached = dl / entry["name"]
    if not cached.is_file():
        log(f"debforge: downloading the {what} of {package} {para['Version']} from {suite}")
        opts, _ = _apt(suite)
        _run(["apt-get", *opts, "source", "--download-only", only, f"{package}={para['Version']}"], dl,
             f"fetching {package}")
    _verified(cached, entry["sha256"])
    Path(f"{cached}.sha256").write_text(f"{entry['sha256']}\n")
    return cached


def _verified(path: Path, sha256: str) -> Path:
    """path, if its content has the checksum of the signed index; removed (a later run downloads it anew) if not."""
    if _sha256(path) != sha256:
        path.unlink()
        Path(f"{path}.sha256").unlink(missing_ok=True)
        raise DebforgeError(f"the sha256 of {path.name} does not match the signed index's ({sha256}): refused, and "
                            f"removed from the download cache", str(path),
                            hint="run the command again to download it anew")
    return path


def fetch_debian_binary(package: str, suite: str, dest: Path, log=print) -> Path:
    """Download a Debian binary package (.deb) of the build architecture, for comparisons with debforge's build."""
    opts, base = _apt(suite, "deb")
    _update(opts, base, f"binary package index of {suite}", log)
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
FILTER_ERRORS = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()
# What unpacking may write: TensorFlow's tree is ~30k files and ~600 MB.
MAX_BYTES_ENV, MAX_BYTES = "DEBFORGE_UNPACK_MAX_BYTES", 8 << 30
MAX_MEMBERS_ENV, MAX_MEMBERS = "DEBFORGE_UNPACK_MAX_MEMBERS", 500_000


def _escapes(m: tarfile.TarInfo, dest: Path) -> bool:
    """Whether a member is a device or would write, or link, outside dest."""
    root = os.path.realpath(dest)
    paths = [os.path.join(root, m.name)]
    if m.issym():
        paths.append(os.path.join(root, os.path.dirname(m.name), m.linkname))
    elif m.islnk():
        paths.append(os.path.join(root, m.linkname))
    return m.isdev() or any(os.path.commonpath([root, os.path.realpath(p)]) != root for p in paths)


def _index(tf: tarfile.TarFile, tarball: Path) -> list[tarfile.TarInfo]:
    """The members, read one header at a time so that a bomb is refused by its index, before anything is
    written (and before a compressed index is read to its end)."""
    max_bytes = settings.size(MAX_BYTES_ENV, MAX_BYTES)
    max_members = settings.count(MAX_MEMBERS_ENV, MAX_MEMBERS)
    total = 0
    for n, m in enumerate(tf, 1):
        total += m.size
        if n > max_members:
            raise DebforgeError(f"cannot unpack: more than {max_members} members (the limit; set {MAX_MEMBERS_ENV} "
                                f"to raise it)", str(tarball))
        if total > max_bytes:
            raise DebforgeError(f"cannot unpack: its members hold more than {max_bytes} bytes (the limit; set "
                                f"{MAX_BYTES_ENV} to raise it)", str(tarball))
    return tf.getmembers()


def unpack(tarball: Path, dest: Path, shown: Path | None = None) -> None:
    """Unpack a tarball into dest (which it creates) with its single top-level directory stripped, refusing
    members that leave dest and tarballs over the size limits. Errors name the tarball as `shown` (a staged
    tarball by its final name)."""
    shown = shown or tarball
    dest.mkdir(parents=True)
    try:
        with tarfile.open(tarball) as tf:
            members = _index(tf, shown)
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
                                        str(shown))
                tf.extract(m, dest, **DATA_FILTER)
    except FILTER_ERRORS as exc:   # the 'data' filter refused a member: a link or path out of the tree, a device
        raise DebforgeError(f"cannot unpack: {exc}", str(shown),
                            hint="the tarball holds a member that leaves its tree: debforge unpacks none") from None
    # a truncated or corrupt compressed stream raises its decompressor's error, or EOFError
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise DebforgeError(f"cannot unpack: {exc or type(exc).__name__}", str(shown),
                            hint="a truncated or corrupt tarball: download or make it again") from None


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


def component_orig(recipe: Recipe, comp: Component, dest: Path, scratch: Path, log=print) -> None:
    """dest (<source>_<version>.orig-<name>.tar.xz): comp.path of the Debian source package's debian tarball, as
    a reproducible tarball whose top directory is the component's name."""
    debian_tar = fetch_debian_tarball(recipe.upstream.debian, recipe.upstream.suite, recipe.version, log)
    unpack(debian_tar, scratch / "debian")   # its one top directory, debian/, stripped
    root = (scratch / "debian").resolve()
    src = (root / comp.path.split("/", 1)[1]).resolve()   # debian/kineto may be a link to debian/kineto-<commit>
    if not src.is_dir() or src == root or not src.is_relative_to(root):
        raise DebforgeError(f"{debian_tar.name} has no directory {comp.path}", str(recipe.path), comp.line,
                            hint=f"list its directories: tar tf {debian_tar} | grep '/$'")
    tar_directory(src, dest, comp.name, newest_mtime(src))


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


def _applied(tree: Path) -> tuple[list[str], dict[str, str]]:
    """The patches quilt's .pc/ records as applied, and the checksum debforge recorded of each it applied
    (dpkg-source ignores .pc/: a patch edited since would go unnoticed)."""
    applied_file, record = tree / ".pc/applied-patches", tree / ".pc/debforge-applied.sha256"
    applied = applied_file.read_text().split() if applied_file.is_file() else []
    recorded = dict(ln.split("  ", 1)[::-1] for ln in record.read_text().splitlines()) if record.is_file() else {}
    return applied, recorded


def pending_patches(recipe: Recipe, tree: Path) -> list[Path]:
    """The recipe's patches not yet applied to tree; an error if one changed since it was applied."""
    applied, recorded = _applied(tree)
    pending = []
    for patch in recipe.patches:
        if patch.name not in applied:
            pending.append(patch)
        elif patch.name in recorded and recorded[patch.name] != _sha256(patch):
            raise DebforgeError(f"{patch.name} changed since it was applied to {tree}", str(patch),
                                hint=f"unapply the applied version first (cd {tree} && QUILT_PATCHES=debian/patches "
                                     "quilt pop -a), or generate into a fresh output directory")
    return pending


# quilt's .pc/ state files (with what they start with) and debforge's record of each patch's checksum
QUILT_STATE = {".version": "2\n", ".quilt_patches": "debian/patches\n", ".quilt_series": "series\n",
               "applied-patches": "", "debforge-applied.sha256": ""}


def apply_patches(recipe: Recipe, tree: Path, log=print) -> None:
    """Apply the recipe's patches not yet applied, as dpkg-source --before-build does (same patch options, quilt's
    .pc/ state), so that the scan reads the tree the build compiles, and dpkg-source finds them applied.

    tree is a new unpack or a copy, which a failure discards, or an output tree whose patches a failure pops
    (Output.on_abort)."""
    pc = tree / ".pc"
    for patch in pending_patches(recipe, tree):
        applied, recorded = _applied(tree)
        log(f"debforge: applying {patch.name}")
        pc.mkdir(exist_ok=True)
        for name, text in QUILT_STATE.items():
            if not (pc / name).exists() and text:
                (pc / name).write_text(text)
        cmd = ["patch", "-t", "-F", "0", "-N", "-p1", "-u", "-V", "never", "-E", "-b", "-B", f".pc/{patch.name}/",
               "--reject-file=-", "-i", str(patch.resolve())]
        for what, args in (("does not apply", ["--dry-run"]),   # all or nothing
                           ("passed a dry run but does not apply", [])):  # e.g. two diffs of one file
            proc = subprocess.run([*cmd, *args], cwd=tree, capture_output=True, text=True)
            if proc.returncode != 0:
                raise DebforgeError(f"{patch.name} {what} to {recipe.source} {recipe.version}:\n"
                                    f"{(proc.stdout + proc.stderr).strip()[-2000:]}", str(patch),
                                    hint="refresh the patch against this upstream version")
        (pc / "applied-patches").write_text("".join(f"{n}\n" for n in [*applied, patch.name]))
        recorded[patch.name] = _sha256(patch)
        (pc / "debforge-applied.sha256").write_text("".join(f"{h}  {n}\n" for n, h in recorded.items()))


def _kept_prefix(recipe: Recipe, tree: Path) -> int:
    """How many of the tree's applied patches are the recipe's first ones, unchanged since they were applied."""
    applied, recorded = _applied(tree)
    keep = 0
    for name, patch in zip(applied, recipe.patches):
        if name != patch.name or recorded.get(name) != _sha256(patch):
            break
        keep += 1
    return keep


def _patched_files(tree: Path, names: list[str]) -> list[Path]:
    """The files (relative to tree) that the applied patches `names` changed: quilt's copies under .pc/<name>/
    (quilt and dpkg-source also leave a .timestamp there)."""
    return sorted({rel for name in names for f in (tree / ".pc" / name).rglob("*")
                   if f.is_file() and not f.is_symlink() and (rel := f.relative_to(tree / ".pc" / name)) != Path(
                       ".timestamp")})


def pop_patches(tree: Path, names: list[str], log=print) -> None:
    """Pop the applied patches `names` (the last ones of .pc/applied-patches), last first, as quilt pop does: each
    file is put back from the copy .pc/<name>/ holds of it (an empty copy: the patch created the file). The patch
    files are not read: an edited or removed patch pops as it was applied."""
    pc = tree / ".pc"
    for name in reversed(names):
        applied, recorded = _applied(tree)
        if not applied or applied[-1] != name:
            continue
        log(f"debforge: unapplying {name}")
        for rel in _patched_files(tree, [name]):
            copy, target = pc / name / rel, tree / rel
            target.unlink(missing_ok=True)
            if copy.stat().st_size:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(copy, target)
        shutil.rmtree(pc / name)
        recorded.pop(name, None)
        (pc / "applied-patches").write_text("".join(f"{n}\n" for n in applied[:-1]))
        (pc / "debforge-applied.sha256").write_text("".join(f"{h}  {n}\n" for n, h in recorded.items()))
    if not _applied(tree)[0]:   # none left: quilt's state as it was before the first push
        for name in QUILT_STATE:
            (pc / name).unlink(missing_ok=True)


def _snapshot_patched(tree: Path, names: list[str], keep: Path):
    """Copies (with their mtimes) of .pc/ and of the files the applied patches `names` changed, into keep; the
    function that puts them back."""
    files = _patched_files(tree, names)
    shutil.copytree(tree / ".pc", keep / ".pc", symlinks=True)
    for rel in files:
        if (tree / rel).is_file():
            (keep / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tree / rel, keep / "files" / rel)

    def restore() -> None:
        for rel in files:
            (tree / rel).unlink(missing_ok=True)
            if (keep / "files" / rel).is_file():
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(keep / "files" / rel, tree / rel)
        shutil.rmtree(tree / ".pc")
        shutil.copytree(keep / ".pc", tree / ".pc", symlinks=True)
    return restore


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


STAMP = ".pc/debforge-orig.sha256"   # in the tree: dpkg-source ignores .pc/


@dataclass
class Prepared:
    """An upstream tree ready to scan: where to read it, where its debian/ goes, and where the user finds it once
    the output is committed."""
    tree: Path
    debian: Path
    final: Path


class Output:
    """The output directory (-o), changed only by commit(): origs and trees are prepared in a staging directory
    inside it (the same file system: commit is a few renames), so a failing or killed command leaves it as it
    was, and a half-written orig or tree never has its final name. Use it as a context manager."""

    def __init__(self, path: Path):
        self.path = path
        self._staging: Path | None = None
        self._created: Path | None = None   # the outermost directory of path that this run created
        self._moves: list[tuple[Path, Path]] = []
        self._scratch: list[Path] = []
        self._undo: list = []   # what restores the output directory if the command ends before commit()
        self._removals: list[Path] = []

    def stage(self, final: Path) -> Path:
        """Where to make what commit() moves to final (a new name in the output directory)."""
        if self._staging is None:
            missing = [d for d in (self.path, *self.path.parents) if not d.exists()]
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                self._staging = staging.mkdtemp(self.path)
            except OSError as exc:
                raise DebforgeError(f"cannot write in the output directory: {exc.strerror}", str(self.path),
                                    hint="choose another directory with -o") from None
            self._created = missing[-1] if missing else None
        staged = self._staging / final.name
        self._moves.append((staged, final))
        return staged

    def scratch(self, near: Path) -> Path:
        """A temporary directory beside near (or in $TMPDIR if near is read-only), removed when the command ends."""
        try:
            path = staging.mkdtemp(near)
        except OSError:
            path = Path(tempfile.mkdtemp(prefix=staging.PREFIX))
        self._scratch.append(path)
        return path

    def remove(self, path: Path) -> None:
        """Remove a file of the output directory on commit()."""
        self._removals.append(path)

    def on_abort(self, undo) -> None:
        """undo() runs if the command ends before commit(): for what is changed in place in the output directory."""
        self._undo.append(undo)

    def commit(self) -> None:
        """Move what was staged into place; what it replaces is removed."""
        self._undo.clear()
        for staged, final in self._moves:
            if final.is_dir() and not final.is_symlink():   # a directory cannot be renamed over
                final.rename(self._staging / f"replaced-{final.name}")
            os.replace(staged, final)
        self._moves.clear()
        for path in self._removals:
            path.unlink(missing_ok=True)
        self._removals.clear()
        self._created = None

    def __enter__(self) -> "Output":
        return self

    def __exit__(self, *exc) -> None:
        for undo in reversed(self._undo):
            undo()
        for path in self._scratch:
            shutil.rmtree(path, ignore_errors=True)
        if self._staging:
            shutil.rmtree(self._staging, ignore_errors=True)
        if self._created:   # nothing was committed into a directory this run created
            for d in (self.path, *self.path.parents):
                try:
                    d.rmdir()
                except OSError:
                    break
                if d == self._created:
                    break


def prepare(recipe: Recipe, out: Output, source: Path | None = None, log=print) -> Prepared:
    """The upstream tree with the recipe's patches applied: --source's (patched on a copy: the user's tree is
    never changed) or <out>/<source>-<version>/ unpacked from <out>/<source>_<version>.orig.tar.*.

    A tree in out is reused if its completion stamp names the orig's checksum: the applied patches after the first
    that is no longer the recipe's (another name, or edited since) are popped from quilt's copies and the recipe's
    pushed, in place (all put back if the command fails), so that its build directory stays. Otherwise a new one is
    unpacked, which carries over the debian/ of the tree it replaces, or of the newest earlier version in out."""
    if source is not None:
        if not source.is_dir():
            raise DebforgeError(f"--source {source} is not a directory")
        if not pending_patches(recipe, source):
            return Prepared(source, source / "debian", source)
        copy = out.scratch(source.parent) / source.name
        shutil.copytree(source, copy, symlinks=True)   # not hard links: GNU patch can write into a file's inode
        apply_patches(recipe, copy, log)
        return Prepared(copy, source / "debian", source)
    tree = out.path / f"{recipe.source}-{recipe.version}"
    tarball = orig_tarball(recipe, log)
    ext = ".tar.xz" if tarball is None else next((e for e in ORIG_EXT if tarball.name.endswith(e)), None)
    if ext is None:
        raise recipe.error("upstream", f"{tarball.name}: orig tarballs must be .tar.xz, .tar.gz or .tar.bz2")
    orig = out.path / f"{recipe.source}_{recipe.version}.orig{ext}"
    if tarball is not None:
        sha = _sha256(tarball)
        if not orig.is_file() or _sha256(orig) != sha:
            if orig.exists():
                log(f"debforge: {orig} is not a copy of {tarball}: replacing it")
            shutil.copyfile(tarball, out.stage(orig))
    else:
        tarball = orig
        if not orig.is_file():
            tarball = out.stage(orig)
            tar_directory(recipe.upstream.dir, tarball, tree.name, newest_mtime(recipe.upstream.dir))
        sha = _sha256(tarball)
    components = _component_origs(recipe, out, log)
    stamp = f"{sha}  {orig.name}\n" + "".join(f"{csha}  {path.name}\n" for _, path, csha in components)
    if (tree / STAMP).is_file() and (tree / STAMP).read_text() == stamp:
        keep = _kept_prefix(recipe, tree)
        applied = _applied(tree)[0]
        if keep == len(applied) == len(recipe.patches):
            return Prepared(tree, tree / "debian", tree)
        if all((tree / ".pc" / name).is_dir() for name in applied[keep:]):
            # a changed series: the patches after the unchanged prefix popped from quilt's .pc/ copies and the
            # recipe's pushed, in place, so that the build directory stays: every file they touch gets a new
            # mtime and ninja rebuilds what it feeds; a failing command puts the tree back as it was
            popped, pushed = applied[keep:], [p.name for p in recipe.patches[keep:]]
            steps = ([f"popping {', '.join(popped)} (quilt's copies in .pc/)"] if popped else []) + \
                ([f"applying {', '.join(pushed)}"] if pushed else [])
            log(f"debforge: {tree}: {' and '.join(steps)} in place (the build directory stays: the next build "
                f"recompiles what they change)")
            undo = _snapshot_patched(tree, popped, out.scratch(tree.parent))
            out.on_abort(lambda: (pop_patches(tree, _applied(tree)[0][keep:], log), undo()))
            pop_patches(tree, popped, log)
            apply_patches(recipe, tree, log)
            return Prepared(tree, tree / "debian", tree)
        built = " (its build directory goes with it: the next build compiles everything again)" \
            if (tree / BUILDDIR).exists() else ""
        log(f"debforge: {tree} has applied patches without quilt's copies of the files they changed (.pc/): "
            f"unpacking it anew to apply the recipe's{built}")
    elif tree.exists():
        log(f"debforge: {tree} is not a complete unpack of {orig.name} (it has no completion stamp for it): "
            f"unpacking it anew")
    new = out.stage(tree)
    unpack(tarball, new, orig if recipe.upstream.dir else tarball)
    for comp, path, _ in components:   # as dpkg-source -x unpacks them, before the patches
        if os.path.lexists(new / comp.name):
            raise DebforgeError(f"{orig.name} already has {comp.name}/, which dpkg-source would replace by the "
                                f"component's", str(recipe.path), comp.line, hint="give the component another name")
        unpack(path, new / comp.name, out.path / path.name)
    pc = new / ".pc"   # quilt's state is debforge's: an upstream's could claim patches applied
    if pc.is_symlink() or pc.is_file():
        pc.unlink()
    elif pc.exists():
        shutil.rmtree(pc)
    pc.mkdir()
    (new / STAMP).write_text(stamp)
    old = tree if tree.exists() else _previous_tree(recipe, out.path)
    if old is not None and (old / "debian").is_dir():   # the maintainer's changelog history, patches and edits
        log(f"debforge: carrying {old / 'debian'} over")
        shutil.copytree(old / "debian", new / "debian", symlinks=True)
    elif old is None:
        log(f"debforge: no earlier {recipe.source}-<version>/debian/ written by debforge in {out.path}: "
            f"starting a new debian/")
    apply_patches(recipe, new, log)
    return Prepared(new, new / "debian", tree)


def _component_origs(recipe: Recipe, out: Output, log) -> list[tuple[Component, Path, str]]:
    """Each component's orig tarball (where it is, staged or in place; its sha256), made anew each time and kept
    when unchanged; orig-* tarballs of this version that the recipe no longer names are removed on commit (dpkg-source
    -b would ship every one it finds)."""
    made = []
    for comp in recipe.upstream.components:
        final = out.path / f"{recipe.source}_{recipe.version}.orig-{comp.name}.tar.xz"
        scratch = out.scratch(out.path)
        component_orig(recipe, comp, scratch / final.name, scratch, log)
        sha = _sha256(scratch / final.name)
        if final.is_file() and _sha256(final) == sha:
            made.append((comp, final, sha))
            continue
        log(f"debforge: {'replacing' if final.exists() else 'making'} {final.name} from {comp.path} of "
            f"{recipe.upstream.debian}'s debian tarball")
        staged = out.stage(final)
        shutil.move(scratch / final.name, staged)
        made.append((comp, staged, sha))
    named = {path.name for _, path, _ in made}
    for stale in sorted(out.path.glob(f"{recipe.source}_{recipe.version}.orig-*.tar.*")):
        if stale.name not in named:
            log(f"debforge: removing {stale.name}: the recipe names no such component")
            out.remove(stale)
    return made


def unpacked(recipe: Recipe, outdir: Path, log=print) -> Path:
    """The recipe's upstream tree prepared and committed in outdir, for tools and tests that read the tree."""
    with Output(outdir) as out:
        up = prepare(recipe, out, None, log)
        out.commit()
    return up.final


def _previous_tree(recipe: Recipe, outdir: Path) -> Path | None:
    found = []
    for path in outdir.glob(f"{recipe.source}-*"):
        try:
            version = Version(path.name[len(recipe.source) + 1:])
            head = (path / "debian/changelog").read_text(errors="replace").split(" ", 1)[0]
        except (ValueError, OSError):
            continue
        if head == recipe.source and (path / "debian" / MANIFEST).is_file() and version < Version(recipe.version):
            found.append((version, path))
    return max(found)[1] if found else None


def prepare_flavor(out: Output, name: str, recipe: Recipe, summary: str, mtime: int) -> Prepared:
    """<out>/<name>-<version>/ and its orig tarball for a GPU flavour's source package, made when missing."""
    tree, orig = out.path / f"{name}-{recipe.version}", out.path / f"{name}_{recipe.version}.orig.tar.xz"
    if tree.exists():
        return Prepared(tree, tree / "debian", tree)
    made = orig if orig.exists() else out.stage(orig)
    if made != orig:
        flavor_orig(made, tree.name, recipe, summary, mtime)
    new = out.stage(tree)
    unpack(made, new, orig)
    return Prepared(new, new / "debian", tree)
