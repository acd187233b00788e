"""Writing a rendered debian/ tree: everything into a temporary directory first, then moved into place,
so a failure leaves nothing half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ...errors import DebforgeError


def write(dest: Path, files: dict[str, tuple[str, int]], *, force: bool = False) -> None:
    dest = Path(dest)
    if dest.exists() and not force:
        raise DebforgeError(f"{dest} exists; pass --force to replace it", str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".debforge-", dir=dest.parent))
    try:
        for rel, (text, mode) in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            os.chmod(path, mode)
        if dest.exists():
            old = dest.with_name(dest.name + ".debforge-old")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)
        else:
            tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
