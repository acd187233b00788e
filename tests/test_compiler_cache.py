"""`debforge build --sbuild --compiler-cache DIR` (drivers/ccache.py): the cache directory is private to its user
yet reachable by the chroot's root, refused when others could write to it, and the sbuild configuration that mounts
it quotes what it holds. The builds through it are tests/test_sbuild.py's."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import run_cli
from debforge.core.errors import DebforgeError
from debforge.drivers import ccache

ROOT_ID = 100000   # the chroot's root: the first subordinate id


@pytest.fixture
def passable():
    """A directory others may pass through, as sbuild's mount needs (pytest's own temporary directories are 700)."""
    path = Path(tempfile.mkdtemp(prefix="debforge-test-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def acl(path):
    return subprocess.run(["getfacl", "--omit-header", "--numeric", "-p", str(path)], capture_output=True,
                          text=True, check=True).stdout.split()


def test_a_new_cache_is_private_but_the_chroots_root_may_pass(passable):
    tmp_path = passable
    cache = ccache.prepare(tmp_path / "top", ROOT_ID)
    assert cache == tmp_path / "top/ccache" and (cache.stat().st_mode & 0o777) == 0o777
    assert set(acl(tmp_path / "top")) == {"user::rwx", f"user:{ROOT_ID}:--x", "group::---", "mask::--x",
                                          "other::---"}
    assert ccache.prepare(tmp_path / "top", ROOT_ID) == cache   # again: the same, accepted


@pytest.mark.parametrize("opening", [["chmod", "755"], ["chmod", "701"], ["setfacl", "-m", "u:4242:rwx"],
                                     ["setfacl", "-m", "g:4242:x"]])
def test_a_cache_others_can_reach_is_refused(passable, opening):
    top = passable / "top"
    top.mkdir(mode=0o700)
    subprocess.run([*opening, str(top)], check=True)
    with pytest.raises(DebforgeError, match="open to others") as exc:
        ccache.prepare(top, ROOT_ID)
    assert exc.value.file == str(top) and not (top / "ccache").exists()


def test_a_cache_under_a_directory_only_its_owner_passes_is_refused(tmp_path):
    os.chmod(tmp_path, 0o700)
    with pytest.raises(DebforgeError, match="only its owner may pass through") as exc:
        ccache.prepare(tmp_path / "top", ROOT_ID)
    assert "/var/tmp" in exc.value.hint and not (tmp_path / "top").exists()


def test_the_sbuild_configuration_quotes_the_path(tmp_path):
    cache = tmp_path / "it's \\ here"
    conf = ccache.sbuild_config(cache, tmp_path / "sbuildrc").read_text()
    assert "directory => 'REPLACE'".replace("REPLACE", str(cache).replace("\\", "\\\\").replace("'", "\\'")) in conf
    perl = subprocess.run(["perl", "-e", f"our ($unshare_bind_mounts, $build_environment, $path); "
                           f"do '{tmp_path}/sbuildrc' or die $@; print $unshare_bind_mounts->[0]{{directory}}, "
                           "'|', $build_environment->{CCACHE_DIR}, '|', $path"], capture_output=True, text=True)
    assert perl.stdout == f"{cache}|{ccache.MOUNTPOINT}|{ccache.PATH}", perl.stderr
    assert ccache.PATH.startswith("/usr/lib/ccache:")


def test_the_summary_reads_ccaches_counters():
    log = "ccache --print-stats\ncache_miss\t3\ndirect_cache_hit\t40\ndirect_cache_miss\t3\npreprocessed_cache_hit\t2\n"
    assert ccache.summary(log) == "42 of 45 compiles reused from the compiler cache"
    assert ccache.summary("no counters here") is None


def test_compiler_cache_needs_sbuild(tmp_path):
    proc = run_cli("build", "recipes/nsync.yaml", "--compiler-cache", tmp_path / "c")
    assert proc.returncode == 2 and "--compiler-cache need --sbuild" in proc.stderr
    assert not (tmp_path / "c").exists()
