"""Generated outputs are pinned: the same recipe and upstream give byte-identical debian/ trees and ninja files.
A change that alters them on purpose updates the digests here, and says so in its commit."""

import hashlib
import os

import pytest

from conftest import ROOT, run_cli

NSYNC_DEBIAN = "395b3743a3d5acfac44a2138246e53dcecad1060b13b538c38af32ca5ccf2a48"


def tree_digest(root) -> str:
    """SHA-256 over every file under root: its path, mode and content, in path order."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(f"{os.path.relpath(path, root)}\0{os.stat(path).st_mode & 0o777:o}\0".encode())
            with open(path, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


@pytest.mark.slow
def test_nsync_debian_tree_is_pinned(tmp_path):
    proc = run_cli("generate", ROOT / "recipes/nsync.yaml", "-o", tmp_path,
                   env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(tmp_path / "nsync-1.29.2/debian") == NSYNC_DEBIAN
