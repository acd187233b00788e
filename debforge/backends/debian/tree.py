"""Writing a rendered debian/ tree over what is there: into a temporary copy first, then moved into place, so a
failure leaves nothing half-written.

debian/debforge/generated.sha256 records what debforge wrote. A generated file whose checksum still matches is
updated; one the maintainer changed or deleted is kept unless --force. Files debforge never generated (patches,
extra lintian overrides, ...) are always kept, and the changelog is history that the backend merges: it is always
written and never in the manifest. A maintainer's file that --force overwrites is kept beside it as
<file>.debforge-old."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ...core import staging
from ...core.confine import inside
from ...core.errors import DebforgeError
from ...core.layout import MANIFEST

HISTORY = frozenset({"changelog"})
_LINE = re.compile(r"^([0-9a-f]{64})  (.+)$")


@dataclass
class Update:
    """What writing `files` over `dest` does."""
    dest: Path
    files: dict[str, tuple[str, int]]               # everything rendered, the manifest included
    write: list[str] = field(default_factory=list)   # new or updated files
    remove: list[str] = field(default_factory=list)  # generated before, not any more, untouched since
    kept: dict[str, str] = field(default_factory=dict)   # file -> why the maintainer's copy stays
    replaced: list[str] = field(default_factory=list)    # the maintainer's files --force overwrites


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _state(path: Path) -> str | None:
    """The checksum of a regular file; "other" for a symlink, directory, ...; None when nothing is there."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return "other"
    return _sha(path.read_bytes()) if path.exists() else None


def manifest(files: dict[str, tuple[str, int]]) -> str:
    return "".join(f"{_sha(text.encode())}  {rel}\n" for rel, (text, _) in sorted(files.items())
                   if rel not in HISTORY and rel != MANIFEST)


def read_manifest(dest: Path) -> dict[str, str] | None:
    """The checksums debforge recorded last time, or None when it did not write this debian/."""
    path = dest / MANIFEST
    if not path.is_file():
        return None
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        m = _LINE.match(line)
        if not m or inside(m.group(2)) != m.group(2):
            raise DebforgeError("expected '<sha256>  <path inside debian/>'", str(path), n,
                                hint="pass --force to rewrite the manifest (files it no longer lists are kept)")
        out[m.group(2)] = m.group(1)
    return out


def plan(dest: Path, files: dict[str, tuple[str, int]], *, force: bool = False) -> Update:
    """Compare the rendered files with dest/ and the manifest of what was generated there before."""
    dest = Path(dest)
    if dest.is_symlink():   # e.g. from an upstream tarball: it could lead anywhere
        raise DebforgeError(f"{dest} is a symlink; debforge does not write through it", str(dest),
                            hint="replace it with a directory")
    files = {**files, MANIFEST: (manifest(files), 0o644)}
    try:
        old = read_manifest(dest)
    except DebforgeError:
        if not force:
            raise
        old = None
    if old is None:
        if dest.exists() and not force:
            raise DebforgeError(f"{dest} was not written by debforge (it has no {MANIFEST})", str(dest),
                                hint="move it away, or pass --force to overwrite the files debforge generates "
                                     "there (other files and the changelog history are kept)")
        old = {}
    update = Update(dest, files)
    for rel, (text, mode) in files.items():
        path = dest / rel
        state, new = _state(path), _sha(text.encode())
        if state == new and path.stat().st_mode & 0o777 == mode:
            continue
        as_generated = old.get(rel) == state if state is not None else rel not in old   # untouched, or new
        if rel in HISTORY or rel == MANIFEST or state == new or as_generated:
            update.write.append(rel)
        elif force:
            update.write.append(rel)
            if state is not None:
                update.replaced.append(rel)
        else:
            update.kept[rel] = f"{'deleted' if state is None else 'changed'} since debforge generated it"
    for rel in sorted(set(old) - set(files)):
        state = _state(dest / rel)
        if state == old[rel]:
            update.remove.append(rel)
        elif state is not None:
            update.kept[rel] = "changed since debforge generated it, and no longer generated"
    return update


def diff(update: Update) -> str:
    """A unified diff of what applying the update would change (kept files: theirs -> what debforge generates)."""
    out: list[str] = []
    for rel in sorted({*update.write, *update.remove, *update.kept} - {MANIFEST}):
        path = update.dest / rel
        state = _state(path)
        if state == "other":
            out.append(f"# debian/{rel}: not a regular file\n")
            continue
        old = path.read_text(encoding="utf-8", errors="replace") if state else ""
        new, mode = update.files.get(rel, ("", None))
        if rel in update.kept:
            out.append(f"# debian/{rel}: {update.kept[rel]}: kept\n")
        elif state and old == new:
            out.append(f"# debian/{rel}: mode {path.stat().st_mode & 0o777:o} -> {mode:o}\n")
        out += difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                    f"a/debian/{rel}" if state else "/dev/null",
                                    f"b/debian/{rel}" if rel in update.files else "/dev/null")
    return "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in out)


def apply(update: Update) -> None:
    try:
        _apply(update)
    except OSError as exc:   # a read-only tree, a full disk: nothing was moved into place
        raise DebforgeError(f"cannot write {exc.filename or 'debian/'}: {exc.strerror}", str(update.dest)) from None


def _apply(update: Update) -> None:
    dest = update.dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging.mkdtemp(dest.parent)
    try:
        new = tmp / "debian"
        if dest.exists():   # hard links: cheap for a big debian/ after a build; files are unlinked before writing
            shutil.copytree(dest, new, symlinks=True, copy_function=_link)
        for rel in update.remove:
            (new / rel).unlink()
        for rel in update.write:
            text, mode = update.files[rel]
            path = new / rel
            for parent in reversed(Path(rel).parents[:-1]):
                if (new / parent).is_symlink():   # never write through a link out of debian/
                    raise DebforgeError(f"debian/{parent} is a symlink; debforge does not write through it",
                                        str(dest / parent))
            if rel in update.replaced:
                old = path.with_name(f"{path.name}.debforge-old")
                _remove(old)
                path.rename(old)
            _remove(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            os.chmod(path, mode)
        if dest.exists():
            dest.rename(tmp / "old")
        new.rename(dest)
    finally:
        shutil.rmtree(tmp)


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
