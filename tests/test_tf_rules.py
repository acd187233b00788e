"""TensorFlow's own generating rules: tf_gen_options_header writes a header whose TF_OPTION_X() macros are the
values of boolean build settings (their default, or the recipe's config), found as the output it declares."""

import ctypes
import shutil
import subprocess

import pytest

from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge.backends import ninja
from debforge.core.errors import DebforgeError
from debforge.data import SKEL

TREE = FIXTURES / "tfrules"
HEADER = "obj-debforge/gen/options.h"


def plan_of(tmp_path, tree=TREE, config=""):
    return fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "registry", [("registry", "//:registry")],
                                       config))

def test_options_header_from_the_setting_default_and_the_recipe(tmp_path):
    [step] = plan_of(tmp_path).steps
    assert (step.label, step.outputs) == ("//:gen_options", [HEADER])
    assert step.command[-2:] == ["#define_option V2", "#define TF_OPTION_V2() false"]
    [step] = plan_of(tmp_path, config='config:\n  flag-values:\n    "//:enable_v2": "true"\n').steps
    assert step.command[-1] == "#define TF_OPTION_V2() true"


def test_ninja_writes_the_header_before_the_compile(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    shutil.copytree(SKEL / "debforge", tree / "debian/debforge")
    plan = plan_of(tmp_path, tree, 'config:\n  flag-values:\n    "//:enable_v2": "1"\n')
    (tree / "build.ninja").write_text(ninja.render(plan))
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/config.ninja").write_text(
        "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "#define TF_OPTION_V2() true\n" in (tree / HEADER).read_text()
    assert ctypes.CDLL(str(tree / "obj-debforge/generic/libregistry.so.1")).registry_v2() == 1


def test_a_setting_that_is_not_boolean_names_the_build_line(tmp_path):
    with pytest.raises(DebforgeError) as exc:
        plan_of(tmp_path, config='config:\n  flag-values:\n    "//:enable_v2": "maybe"\n')
    assert "'//:enable_v2' is 'maybe', not a boolean" in exc.value.message
    assert exc.value.file.endswith("BUILD.bazel") and exc.value.line == 9
