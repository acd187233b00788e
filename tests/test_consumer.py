"""A program built against the -dev package in a clean root (issue 19): through pkg-config and through CMake's
find_package(), with only the packages the -dev package Depends on (and the build tools) installed."""

import shutil

import pytest

import testbed
from conftest import ROOT
from debforge.drivers import dpkg
from debforge.recipe.schema import load_recipe

pytestmark = pytest.mark.slow
PROGRAM = """#include <nsync.h>
#include <stdio.h>
int main(void) {
    nsync_mu mu;
    nsync_mu_init(&mu);
    nsync_mu_lock(&mu);
    nsync_mu_unlock(&mu);
    puts("locked and unlocked");
    return 0;
}
"""
CMAKELISTS = """cmake_minimum_required(VERSION 3.13)
project(consumer C)
find_package(nsync 1.29 REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog nsync::nsync)
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = testbed.unpack(testbed.tarball("bookworm", "amd64"), tmp_path_factory.mktemp("base"))
    yield path
    shutil.rmtree(path)


def test_a_consumer_builds_through_pkg_config_and_cmake(nsync_build, base, tmp_path):
    assert load_recipe(ROOT / "recipes/nsync.yaml").cmake == "nsync"
    debs = [d for d in dpkg.debs_of(nsync_build["changes"])
            if d.name.split("_")[0] in ("libnsync1", "libnsync1-generic", "libnsync-dev")]
    assert len(debs) == 3
    with testbed.Root(base, tmp_path / "root") as root:
        (root.path / "tmp/c").mkdir()
        (root.path / "tmp/c/prog.c").write_text(PROGRAM)
        (root.path / "tmp/c/CMakeLists.txt").write_text(CMAKELISTS)
        paths = root.copy_in(*debs)
        root.run("apt-get", "update")
        root.run("apt-get", "install", "-y", "--no-install-recommends", "cmake", "pkgconf", *paths)
        out = root.run("sh", "-c", "cc -o /tmp/p /tmp/c/prog.c $(pkg-config --cflags --libs nsync) && /tmp/p")
        assert out.stdout == "locked and unlocked\n"
        out = root.run("sh", "-c", "cmake -S /tmp/c -B /tmp/b >/dev/null && cmake --build /tmp/b >/dev/null "
                                   "&& /tmp/b/prog")
        assert out.stdout == "locked and unlocked\n"
        # a version newer than the package's is refused by its ConfigVersion file
        (root.path / "tmp/c/CMakeLists.txt").write_text(CMAKELISTS.replace("nsync 1.29", "nsync 9.0"))
        failed = root.run("cmake", "-S", "/tmp/c", "-B", "/tmp/b2", check=False)
        assert failed.returncode != 0 and "1.29.2" in failed.stderr
