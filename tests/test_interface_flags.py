"""What a library's users compile with (tests/fixtures/interface): the `defines` of its closure and the include
directories of their `includes`, which bazel passes to every target depending on it, land in the -dev package's
.pc file and CMake target, each include directory where the -dev package installs its headers; the clean-root
consumer test (tests/test_consumer.py) builds a program with them."""

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, fixture_plan, run_cli
from debforge.plan.headers import installed_dirs

FIXTURE = ROOT / "tests/fixtures/interface"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("interface")
    proc = run_cli("generate", FIXTURE / "recipe.yaml", "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out / "widget-1.0/debian"


def test_the_plan_gives_the_library_what_bazel_gives_its_users():
    lib, shim = fixture_plan(FIXTURE / "recipe.yaml").libraries
    assert lib.interface_defines == ["WIDGET_API=2"]
    assert lib.interface_includes == ["api/include"]
    # a library of no code of its own links the other (CMake's libtorch): what its users compile with is that one's
    assert (shim.compiles, shim.siblings, shim.interface_includes) == ([], ["widget"], [])


def test_a_library_of_no_code_links_the_others_it_stands_for(generated):
    ninja = (generated / "debforge/build-amd64.ninja").read_text()
    assert ("  libs = -Lobj-debforge/generic -Wl,--push-state,--no-as-needed -lwidget -Wl,--pop-state\n"
            in ninja.split("build obj-debforge/generic/libwidget_all.so.1.0: link_c", 1)[1])
    assert "libwidget_all.a" not in ninja + (generated / "libwidget-dev.install").read_text()   # nothing to archive
    assert "Requires: widget\n" in (generated / "debforge/pkgconfig/widget_all.pc").read_text()


def test_the_pc_file_carries_the_installed_include_directory_and_the_define(generated):
    pc = (generated / "debforge/pkgconfig/widget.pc").read_text()
    assert "\nCflags: -I/usr/include/widget-1 -DWIDGET_API=2\n" in pc


def test_cmake_reads_them_from_the_imported_target_and_the_variables(generated, tmp_path):
    prefix = tmp_path / "prefix/lib/cmake/Widget"
    prefix.parent.mkdir(parents=True)
    subprocess.run(["cp", "-r", generated / "debforge/cmake", prefix], check=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "c/CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(c C)\nfind_package(Widget 1.0 REQUIRED)\n"
        "get_target_property(d Widget::widget INTERFACE_COMPILE_DEFINITIONS)\n"
        "get_target_property(i Widget::widget INTERFACE_INCLUDE_DIRECTORIES)\n"
        "message(STATUS \"defines=${d} includes=${i} libraries=${WIDGET_LIBRARIES} dirs=${Widget_INCLUDE_DIRS}\")\n")
    proc = subprocess.run(["cmake", "-S", tmp_path / "c", "-B", tmp_path / "b",
                           f"-DCMAKE_PREFIX_PATH={tmp_path}/prefix"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ("defines=WIDGET_API=2 includes=/usr/include/widget-1 libraries=Widget::widget;Widget::widget_all "
            "dirs=/usr/include;/usr/include/widget-1") in proc.stdout


@pytest.mark.parametrize("headers, want", [
    # each header under the directory agrees: named
    ([("t/inc/w/a.h", "usr/include/w-1/w", ""), ("t/inc/w/sub/b.h", "usr/include/w-1/w/sub", "")], ["usr/include/w-1"]),
    # generated headers count by their tree path
    ([("obj-debforge/gen/t/inc/w/g.h", "usr/include/w-1/w", "")], ["usr/include/w-1"]),
    # installed in the default search path: nothing to add
    ([("t/inc/w/a.h", "usr/include/w", "")], []),
    # laid out otherwise (flattened), or nowhere: no directory names them
    ([("t/inc/w/sub/b.h", "usr/include/w", "")], []),
    ([("t/other/a.h", "usr/include/w", "")], []),
    # two places: none
    ([("t/inc/a.h", "usr/include/x", ""), ("t/inc/b.h", "usr/include/y", "")], []),
])
def test_an_include_directory_maps_where_its_installed_headers_agree(headers, want):
    assert installed_dirs(["t/inc"], headers) == want


def test_a_define_a_cmake_argument_cannot_hold_is_refused_at_the_library(tmp_path):
    tree = tmp_path / "tree"
    subprocess.run(["cp", "-r", FIXTURE, tree], check=True)
    build = tree / "api/BUILD.bazel"
    build.write_text(build.read_text().replace('"WIDGET_API=2"', '"WIDGET_API=2", "NAME=\\"w\\""'))
    proc = run_cli("generate", tree / "recipe.yaml", "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    line = (tree / "recipe.yaml").read_text().splitlines().index(
        '      - {name: widget, target: "//lib:widget", soversion: 1}') + 1   # the library whose define it is
    assert f"{tree / 'recipe.yaml'}:{line}: error: " in proc.stderr and "CMake" in proc.stderr
    assert not Path(tmp_path / "out/widget-1.0").exists()


def test_consumer_flags_add_an_included_externals_directory_once_and_leave_out_what_a_sibling_gives():
    """An external whose headers the installed headers include, off the compiler's path (Open MPI's mpi.h under
    /usr/lib/x86_64-linux-gnu/openmpi/include, which libtorch-dev's c10d headers include): its recipe `includes`
    go to the users of the library reaching it, not again to a library linking that one; an external the installed
    headers do not include adds nothing."""
    import dataclasses

    from debforge.backends.debian import consumer
    from debforge.backends.debian.devdeps import DevDeps
    from debforge.plan import header_files
    from debforge.recipe.model import External

    plan = fixture_plan(FIXTURE / "recipe.yaml")
    mpi_inc = "/usr/lib/x86_64-linux-gnu/openmpi/include"
    recipe = dataclasses.replace(plan.recipe, externals={
        "mpi": External("mpi", "libopenmpi-dev", ("mpi",), 1, includes=(mpi_inc,))})
    plan.recipe = recipe
    lib, shim = plan.libraries
    lib.external_labels = ["@mpi//:mpi"]
    headers = header_files(recipe, str(FIXTURE))
    included = consumer.flags(recipe, plan, DevDeps({"libopenmpi-dev": [("widget-1/widget/w.h", "mpi.h")]}), headers)
    assert included["widget"] == consumer.Consumer(("WIDGET_API=2",), ("/usr/include/widget-1", mpi_inc))
    assert included["widget_all"] == consumer.Consumer((), ())   # -lwidget_all's users get them from widget
    assert consumer.flags(recipe, plan, DevDeps(), headers)["widget"].includes == ("/usr/include/widget-1",)
