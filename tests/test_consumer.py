"""A program built against the -dev package in a clean root (issue 19): through pkg-config and through CMake's
find_package(), with only the packages the -dev package Depends on (and the build tools) installed: nsync's
library, and the header-only fixture's header-only target (tests/fixtures/headeronly: a pkg-config module and a CMake
INTERFACE target requiring the shared library and another header-only target, whose define the program needs)."""

import contextlib
import shutil

import pytest

import testbed
from conftest import ROOT, run_cli
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
HEADER_ONLY = """#include <opt/optional.h>
#include <cstdio>
int main() { std::printf("%d\\n", ho::ScaledOr(true, 7, 0)); }
"""
HEADER_ONLY_CMAKE = """cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
find_package(ho 1.0 REQUIRED)
add_executable(prog prog.cc)
target_link_libraries(prog ho::optional)
"""

WIDGET = """#include <widget/api.h>
#include <stdio.h>
int main(void) { printf("%d %d\\n", WIDGET_API, widget_version()); return 0; }
"""
WIDGET_CMAKE = """cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(Widget 1.0 REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog ${WIDGET_LIBRARIES})
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = testbed.unpack(testbed.tarball("bookworm", "amd64"), tmp_path_factory.mktemp("base"))
    yield path
    shutil.rmtree(path)


@contextlib.contextmanager
def consumer(base, dest, changes, packages, files, tools):
    """A clean root with the build's .debs of `packages` and the `tools` installed, and `files` (name -> text) in
    /tmp/c."""
    debs = [d for d in dpkg.debs_of(changes) if d.name.split("_")[0] in packages]
    assert len(debs) == len(packages)
    with testbed.Root(base, dest) as root:
        (root.path / "tmp/c").mkdir()
        for name, text in files.items():
            (root.path / "tmp/c" / name).write_text(text)
        root.install(*tools, debs=debs)
        yield root


def test_a_consumer_builds_through_pkg_config_and_cmake(nsync_build, base, tmp_path):
    assert load_recipe(ROOT / "recipes/nsync.yaml").cmake == "nsync"
    with consumer(base, tmp_path / "root", nsync_build["changes"], ("libnsync1", "libnsync1-generic", "libnsync-dev"),
                  {"prog.c": PROGRAM, "CMakeLists.txt": CMAKELISTS}, ("cmake", "pkgconf")) as root:
        out = root.run("sh", "-c", "cc -o /tmp/p /tmp/c/prog.c $(pkg-config --cflags --libs nsync) && /tmp/p")
        assert out.stdout == "locked and unlocked\n"
        out = root.run("sh", "-c", "cmake -S /tmp/c -B /tmp/b >/dev/null && cmake --build /tmp/b >/dev/null "
                                   "&& /tmp/b/prog")
        assert out.stdout == "locked and unlocked\n"
        # a version newer than the package's is refused by its ConfigVersion file
        (root.path / "tmp/c/CMakeLists.txt").write_text(CMAKELISTS.replace("nsync 1.29", "nsync 9.0"))
        failed = root.run("cmake", "-S", "/tmp/c", "-B", "/tmp/b2", check=False)
        assert failed.returncode != 0 and "1.29.2" in failed.stderr


def test_a_header_only_target_is_used_through_pkg_config_and_cmake(base, tmp_path):
    """ho::optional (//opt:optional) has no library of its own: its inline code calls libho_core and needs the
    define of ho::config (//base:config), which it reaches through another header-only target."""
    build = run_cli("build", ROOT / "tests/fixtures/headeronly/recipe.yaml", "-o", tmp_path / "out")
    assert build.returncode == 0, build.stderr[-3000:]
    with consumer(base, tmp_path / "root", tmp_path / "out/headeronly_1.0-1_amd64.changes",
                  ("libho-core1", "libho-core1-generic", "libho-dev"),
                  {"prog.cc": HEADER_ONLY, "CMakeLists.txt": HEADER_ONLY_CMAKE}, ("cmake", "pkgconf", "g++")) as root:
        # without the module's flags the header refuses to compile: the define comes only from //base:config's
        bare = root.run("g++", "-o", "/tmp/p0", "/tmp/c/prog.cc", check=False)
        assert bare.returncode != 0 and "compiled without the define of //base:config" in bare.stderr
        out = root.run("sh", "-c", "g++ -o /tmp/p /tmp/c/prog.cc $(pkg-config --cflags --libs ho_optional) && /tmp/p")
        assert out.stdout == "42\n"   # Scale(Twice(7)): 7 * 2 * HO_SCALE
        out = root.run("sh", "-c", "cmake -S /tmp/c -B /tmp/b >/dev/null && cmake --build /tmp/b >/dev/null "
                                   "&& /tmp/b/prog")
        assert out.stdout == "42\n"


def test_a_library_whose_headers_need_an_include_directory_and_a_define(base, tmp_path):
    """tests/fixtures/interface: <widget/api.h> is installed in /usr/include/widget-1 and refuses to compile
    without //api:api's define: the .pc file's Cflags and the CMake target (through WIDGET_LIBRARIES, as Torch's
    users write ${TORCH_LIBRARIES}) give both; -lwidget_all links libwidget too (link-also)."""
    build = run_cli("build", ROOT / "tests/fixtures/interface/recipe.yaml", "-o", tmp_path / "out")
    assert build.returncode == 0, build.stderr[-3000:]
    with consumer(base, tmp_path / "root", tmp_path / "out/widget_1.0-1_amd64.changes",
                  ("libwidget1", "libwidget1-generic", "libwidget-dev"),
                  {"prog.c": WIDGET, "CMakeLists.txt": WIDGET_CMAKE}, ("cmake", "pkgconf", "gcc", "libc6-dev")) as root:
        bare = root.run("sh", "-c", "cc -o /tmp/p0 /tmp/c/prog.c -lwidget", check=False)
        assert bare.returncode != 0 and "widget/api.h" in bare.stderr
        out = root.run("sh", "-c", "cc -o /tmp/p /tmp/c/prog.c $(pkg-config --cflags --libs widget) && /tmp/p")
        assert out.stdout == "2 21\n"
        # the library of no code of its own, which a link line may name as one names libtorch: it links, and
        # loading it loads libwidget
        out = root.run("sh", "-c", "cc -o /tmp/p1 /tmp/c/prog.c $(pkg-config --cflags --libs widget_all) && /tmp/p1")
        assert out.stdout == "2 21\n"
        needed = root.run("sh", "-c", "readelf -d /usr/lib/*/libwidget_all.so.1")
        assert "Shared library: [libwidget.so.1]" in needed.stdout
        # link-also: -lwidget_all alone links libwidget too (widget_version is libwidget's), through the -dev
        # package's ld script; the library itself, named without it, does not
        flags = "-I/usr/include/widget-1 -DWIDGET_API=2"
        out = root.run("sh", "-c", f"cc -o /tmp/p2 /tmp/c/prog.c {flags} -lwidget_all && /tmp/p2")
        assert out.stdout == "2 21\n"
        script = root.run("sh", "-c", "cat /usr/lib/*/libwidget_all.so").stdout
        assert script.startswith("/* GNU ld script") and "INPUT(libwidget_all.so.1 AS_NEEDED(libwidget.so.1))" in script
        bare = root.run("sh", "-c", f"cc -o /tmp/p3 /tmp/c/prog.c {flags} /usr/lib/*/libwidget_all.so.1", check=False)
        assert bare.returncode != 0 and "undefined reference to `widget_version'" in bare.stderr, bare.stderr
        out = root.run("sh", "-c", "cmake -S /tmp/c -B /tmp/b >/dev/null && cmake --build /tmp/b >/dev/null "
                                   "&& /tmp/b/prog")
        assert out.stdout == "2 21\n"
