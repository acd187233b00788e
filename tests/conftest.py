import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def run_cli(*args, cwd=None, env=None):
    """Run the debforge CLI as a user would; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "debforge.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DEBFORGE_HEAVY"):
        return
    skip = pytest.mark.skip(reason="heavy: set DEBFORGE_HEAVY=1 to run")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def nsync_build(tmp_path_factory):
    """nsync built once per session by `debforge build` from Debian's orig tarball (the README's main job)."""
    out = tmp_path_factory.mktemp("nsync")
    proc = run_cli("build", ROOT / "recipes/nsync.yaml", "-o", out)
    assert proc.returncode == 0, proc.stderr[-4000:]
    changes = Path(proc.stdout.strip().splitlines()[-1])
    return {"out": out, "changes": changes, "tree": out / "nsync-1.29.2", "stderr": proc.stderr}


def extract(deb: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
