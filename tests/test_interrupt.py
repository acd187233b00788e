"""A debforge killed with SIGKILL at any point (unpacking, writing the orig, writing debian/) leaves nothing that a
later run reuses: the next run gives the same output directory as an uninterrupted one, with no temporary
directories left."""

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from conftest import FIXTURES

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
FILES = 3000   # enough that unpacking and writing the orig take a while


@pytest.fixture(params=["dir", "tarball"])
def work(request, tmp_path):
    """recipe.yaml over the catalogue's tree plus FILES files, as a dir: or a tarball: upstream."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "catalogue/tree", tree)
    (tree / "data").mkdir()
    for i in range(FILES):
        (tree / f"data/{i}").write_bytes(bytes(8192))
    upstream = "dir: tree"
    if request.param == "tarball":
        with tarfile.open(tmp_path / "tiny-1.0.tar.gz", "w:gz") as tf:
            tf.add(tree, "tiny-1.0")
        upstream = "tarball: tiny-1.0.tar.gz"
    text = (FIXTURES / "catalogue/recipe.yaml").read_text().replace("dir: tree", upstream)
    (tmp_path / "recipe.yaml").write_text(text)
    return tmp_path


def start(work, out="out"):
    return subprocess.Popen([sys.executable, "-m", "debforge.cli", "generate", "recipe.yaml", "-o", out], cwd=work,
                            env={**os.environ, **EPOCH},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc):
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    return err


def kill_when(proc, pattern, root, timeout=60):
    """SIGKILL proc as soon as a path matching pattern exists under root; whether it was still running."""
    deadline = time.monotonic() + timeout
    while not any(root.glob(pattern)):
        assert proc.poll() is None and time.monotonic() < deadline, "the point to kill at never came"
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def contents(root):
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else path.is_dir()
    return out


@pytest.fixture
def reference(work):
    finish(start(work, "ref"))
    return contents(work / "ref")


def test_killed_while_unpacking(work, reference):
    assert kill_when(start(work), ".debforge-*/tiny-1.0/data/1*", work / "out")
    assert not (work / "out/tiny-1.0").exists()   # only the staging directory has the half tree
    finish(start(work))
    assert contents(work / "out") == reference


def test_killed_while_writing_the_orig(work, reference):
    if (work / "tiny-1.0.tar.gz").exists():
        pytest.skip("a tarball upstream is copied, not written")
    assert kill_when(start(work), ".debforge-*/tiny_1.0.orig.tar.xz", work / "out")
    assert not (work / "out/tiny_1.0.orig.tar.xz").exists()
    finish(start(work))
    assert contents(work / "out") == reference
    with tarfile.open(work / "out/tiny_1.0.orig.tar.xz") as tf:
        assert len([m for m in tf if m.isfile()]) == FILES + 3


def test_killed_at_any_point(work, reference):
    """Kills at growing delays across a whole run and the regenerations after it: the final tree and orig are
    there complete or not at all, and the run that completes gives the reference."""
    started = time.monotonic()
    finish(start(work, "timed"))
    whole = time.monotonic() - started
    for step in range(12):
        proc = start(work)
        time.sleep(whole * step / 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        out = contents(work / "out") if (work / "out").exists() else {}
        for final in ("tiny-1.0", "tiny_1.0.orig.tar.xz", "tiny_1.0.orig.tar.gz"):
            def part(files):
                return {k: v for k, v in files.items() if k == final or k.startswith(final + "/")}
            assert part(out) in ({}, part(reference)), final
    finish(start(work))
    assert contents(work / "out") == reference   # no staging directory left either


def test_a_killed_build_stops_the_tool_it_runs(tmp_path):
    """`kill` (SIGTERM) of `debforge build` stops dpkg-buildpackage with it, as Ctrl-C does: a build of hours must not
    run on without the command that started it. A fake dpkg-buildpackage first on PATH records its pid and waits."""
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "catalogue", work)
    bindir, pidfile = tmp_path / "bin", tmp_path / "tool.pid"
    bindir.mkdir()
    (bindir / "dpkg-buildpackage").write_text(f"#!/bin/sh\necho $$ > {pidfile}.new\nmv {pidfile}.new {pidfile}\n"
                                              "echo 'dpkg-buildpackage: building'\nexec sleep 300\n")
    (bindir / "dpkg-buildpackage").chmod(0o755)
    proc = subprocess.Popen([sys.executable, "-m", "debforge.cli", "build", "recipe.yaml", "-o", "out"], cwd=work,
                            env={**os.environ, **EPOCH, "PATH": f"{bindir}:{os.environ['PATH']}"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not pidfile.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.05)
    tool = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "debforge: interrupted" in err, err
    with pytest.raises(ProcessLookupError):   # stopped and reaped: no zombie either
        os.kill(tool, 0)
