"""Shared-object rules as library roots: a cc_binary(linkshared) behind a tf_cc_shared_object-style filegroup,
and a cc_shared_library. Their deps are the closure; their version script decides the exported symbols; the
SONAME, stripping and RUNPATH they ask for are Debian's to decide; what is not supported names its BUILD line.
A multi-line genrule command (TF Lite's flatc rules) runs as one line."""

import ctypes
import shutil
import subprocess

import pytest

from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge.backends import ninja
from debforge.core.errors import DebforgeError
from debforge.data import SKEL

TREE = FIXTURES / "sharedobject"


def plan_of(tmp_path, target, tree=TREE, config=""):
    return fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "shapes", [("shapes", target)], config))

def test_cc_binary_linkshared_behind_a_filegroup(tmp_path):
    [lib] = plan_of(tmp_path, "//:shapes_so").libraries
    assert sorted(c.src for c in lib.compiles) == ["entry.c", "shapes.c"]
    assert lib.version_script == "shapes.lds"
    # -s, -rpath and -soname are left to dh_strip, Policy and the recipe's soversion. "-Wl,--no-undefined -z defs"
    # is three words, as bazel splits link options (TF writes "-z defs": one argument, ld would ignore it)
    assert lib.linkopts == ["-Wl,--no-undefined", "-z", "defs"]
    shapes = next(c for c in lib.compiles if c.src == "shapes.c")
    assert "-msse4.2" in shapes.flags


def test_multi_line_genrule_is_one_command_line(tmp_path):
    [step] = plan_of(tmp_path, "//:shapes_so").steps
    assert step.outputs == ["obj-debforge/gen/gen/scale.h"]
    assert step.command[-1] == ("mkdir -p obj-debforge/gen/gen && "
                                "echo '#define SCALE 2.0' > obj-debforge/gen/gen/scale.h; "
                                "echo '/* made in two steps */' >> obj-debforge/gen/gen/scale.h")


def test_recipe_drops_upstream_copts(tmp_path):
    [lib] = plan_of(tmp_path, "//:shapes_so", config="config:\n  drop-copts: [-msse4.2]\n").libraries
    assert all("-msse4.2" not in c.flags for c in lib.compiles)


def test_cc_shared_library_deps_and_user_link_flags(tmp_path):
    [lib] = plan_of(tmp_path, "//:shapes_csl").libraries
    assert [c.src for c in lib.compiles] == ["shapes.c"]
    assert (lib.version_script, lib.linkopts) == ("shapes.lds", [])


def test_recipe_exports_override_the_upstream_version_script(tmp_path):
    path = tmp_path / "r"
    path.mkdir()
    plan = plan_of(path, "//:shapes_so")
    assert plan.libraries[0].version_script == "shapes.lds"
    text = (path / "fixture.yaml").read_text().replace("soversion: 1}", "soversion: 1, exports: [shapes_area]}")
    (path / "fixture.yaml").write_text(text)
    [lib] = fixture_plan(path / "fixture.yaml").libraries
    assert lib.version_script is None


@pytest.mark.parametrize("target, line, words", [
    ("//:shapes_tool", 43, "no linkshared = 1"),
    ("//:libsandboxed.so", 49, "$(location"),
])
def test_unsupported_root_names_the_build_line(tmp_path, target, line, words):
    with pytest.raises(DebforgeError) as exc:
        plan_of(tmp_path, target)
    assert words in str(exc.value)
    assert exc.value.file.endswith("BUILD.bazel") and exc.value.line == line


def test_linked_library_exports_only_the_version_script_symbols(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    shutil.copytree(SKEL / "debforge", tree / "debian/debforge")
    plan = plan_of(tmp_path, "//:shapes_so", tree, config="config:\n  drop-copts: [-msse4.2]\n")
    (tree / "build.ninja").write_text(ninja.render(plan))
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/config.ninja").write_text(
        "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    so = tree / "obj-debforge/generic/libshapes.so.1.0"
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True, text=True,
                             check=True).stdout
    assert "shapes_area" in symbols and "shapes_entry" in symbols and "helper_scale" not in symbols
    dynamic = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True).stdout
    assert "[libshapes.so.1]" in dynamic and "RUNPATH" not in dynamic and "RPATH" not in dynamic
    lib = ctypes.CDLL(str(so))
    lib.shapes_entry.restype = ctypes.c_double
    lib.shapes_entry.argtypes = [ctypes.c_double]
    assert lib.shapes_entry(3.0) == 18.0   # the generated header's SCALE
    # not stripped by the link: dh_strip makes the -dbgsym package from the symbol table
    assert ".symtab" in subprocess.run(["readelf", "-S", str(so)], capture_output=True, text=True).stdout


def test_a_cc_library_takes_upstreams_symbol_map_named_in_the_recipe(tmp_path):
    """version-script: a label of the tree's ld version script, for a cc_library whose own link has none
    (issue 19); with exports as well, the recipe is ambiguous and refused at the line."""
    path = tmp_path / "r"
    path.mkdir()
    recipe = fixture_recipe(path / "fixture.yaml", TREE, "shapes", [("shapes", "//:shapes")])
    assert fixture_plan(recipe).libraries[0].version_script is None
    recipe.write_text(recipe.read_text().replace("soversion: 1}", 'soversion: 1, version-script: "//:shapes.lds"}'))
    assert fixture_plan(recipe).libraries[0].version_script == "shapes.lds"
    recipe.write_text(recipe.read_text().replace("version-script:", "exports: [shapes_area], version-script:"))
    with pytest.raises(DebforgeError, match="both exports and version-script") as exc:
        fixture_plan(recipe)
    assert exc.value.line == 15
