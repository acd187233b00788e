"""Temporary directories beside what they will replace (the same file system: moving into place is a rename),
named after their process so that a later run removes those a killed run left behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = ".debforge-"


def mkdtemp(parent: Path) -> Path:
    """A new directory .debforge-<pid>-XXXX in parent, once those of processes no longer running are removed."""
    for old in parent.glob(f"{PREFIX}*-*"):
        pid = old.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and old.is_dir() and not old.is_symlink() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's
        pass
    return True

