"""MLIR's gentbl_cc_library: one step running the recipe's Debian mlir-tblgen-N once per output, with tblgen.bzl's
include paths (tree, bin directory, td_library includes, libmlir-N-dev's .td files); as a dependency it is a
cc_library of its generated headers, which the compiles wait for."""

import shutil

import pytest

from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge.core.errors import DebforgeError
from debforge.plan.rules import tblgen

TREE = FIXTURES / "tblgen"
GEN = "obj-debforge/gen"
TOOLS = 'tools:\n  "@llvm-project//mlir:mlir-tblgen": {command: mlir-tblgen-19, package: mlir-19-tools}\n'


def plan_of(tmp_path, tree=TREE, tools=TOOLS):
    return fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "toy", [("toy", "//:ops")], tools))


def test_one_step_per_rule_and_its_outputs_are_the_library_headers(tmp_path):
    plan = plan_of(tmp_path)
    [step] = plan.steps
    assert (step.label, step.kind) == ("//:ops_inc_gen", tblgen.KIND)
    assert step.outputs == [f"{GEN}/ops.h.inc", f"{GEN}/ops.cc.inc"]
    assert step.inputs == ["ops.td", "include/base.td"]
    flags = f"-I . -I {GEN} -I include -I {GEN}/include -I /usr/lib/llvm-19/include"
    assert step.command == ["sh", "-c", f"mlir-tblgen-19 -gen-op-decls ops.td {flags} -o {GEN}/ops.h.inc && "
                                        f"mlir-tblgen-19 -gen-op-defs -dialect toy ops.td {flags} -o {GEN}/ops.cc.inc"]
    assert plan.externals_used == ["libmlir-19-dev", "mlir-19-tools"]
    [lib] = plan.libraries
    assert [c.src for c in lib.compiles] == ["ops.cc"]     # nothing of the generated library is compiled
    assert sorted(lib.generated) == sorted(step.outputs)


def test_tool_must_be_debian_mlir_tblgen(tmp_path):
    with pytest.raises(DebforgeError) as exc:
        plan_of(tmp_path, tools='tools:\n  "@llvm-project//mlir:mlir-tblgen": {command: tblgen, package: llvm}\n')
    assert "must be Debian's mlir-tblgen-N" in exc.value.message
    assert exc.value.file.endswith("BUILD.bazel") and exc.value.line == 14
    with pytest.raises(DebforgeError) as exc:
        plan_of(tmp_path, tools="")
    assert "tool '@llvm-project//mlir:mlir-tblgen' of '//:ops_inc_gen'" in exc.value.message


def test_strip_include_prefix_reaches_the_generated_headers(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    build = tree / "BUILD.bazel"
    build.write_text(build.read_text().replace('    td_file = "ops.td",\n', '    td_file = "ops.td",\n'
                                                                              '    strip_include_prefix = "gen",\n'))
    [lib] = plan_of(tmp_path, tree).libraries
    flags = lib.compiles[0].flags
    assert flags[flags.index("-I"):][:4] == ["-I", "gen", "-I", f"{GEN}/gen"]


def test_the_td_file_directory_is_an_include(tmp_path):
    """A .td in a subdirectory includes a sibling by bare name (TF's dtensor_ops.td: include "dtensor_dialect.td"):
    its directory, in the tree and the bin directory, follows the root's, as tblgen.bzl's _prefix_roots has it."""
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    (tree / "ir").mkdir()
    (tree / "ops.td").rename(tree / "ir/ops.td")
    build = tree / "BUILD.bazel"
    build.write_text(build.read_text().replace('"ops.td"', '"ir/ops.td"'))
    [step] = plan_of(tmp_path, tree).steps
    assert step.inputs == ["ir/ops.td", "include/base.td"]
    flags = f"-I . -I {GEN} -I ir -I {GEN}/ir -I include -I {GEN}/include -I /usr/lib/llvm-19/include"
    assert f"mlir-tblgen-19 -gen-op-decls ir/ops.td {flags} -o {GEN}/ops.h.inc" in step.command[2]
