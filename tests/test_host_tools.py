"""Host tools: a cc_binary that a genrule runs is built by ninja for the build machine (its whole closure compiled
in, generic level, never installed) before the step, which runs it from the build directory."""

import ctypes
import shutil
import subprocess

import pytest

from conftest import FIXTURES, configure, fixture_plan, fixture_recipe
from debforge.backends import ninja
from debforge.core.errors import DebforgeError

TREE = FIXTURES / "hosttool"
EXE = "obj-debforge/host/bin/tools/gen_table"


def plan_of(tmp_path, tree=TREE):
    return fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "lookup", [("lookup", "//:lookup")]))

def test_the_tool_is_planned_as_a_host_program_the_step_runs(tmp_path):
    plan = plan_of(tmp_path)
    [tool] = plan.host_tools
    assert (tool.label, tool.path, tool.cxx_link) == ("//tools:gen_table", EXE, True)
    assert sorted(c.src for c in tool.compiles) == ["squares.cc", "tools/gen_table.cc"]
    [step] = plan.steps
    assert step.command[-1].endswith(f"{EXE} 5 > obj-debforge/gen/table.h")
    assert EXE in step.inputs
    [lib] = plan.libraries   # the tool is no part of the library
    assert sorted(c.src for c in lib.compiles) == ["lookup.cc", "squares.cc"]


def test_tools_and_generated_files_are_built_once_whatever_the_levels(tmp_path):
    """Host tools and generate steps are not per ISA level: their edges are the same with one level or two."""
    def once(levels):
        r = fixture_recipe(tmp_path / f"r{len(levels)}.yaml", TREE, "lookup", [("lookup", "//:lookup")],
                           f"isa-levels: [{', '.join(levels)}]\n")
        lines = [ln for ln in ninja.render(fixture_plan(r)).splitlines() if ln.startswith("build ")]
        return sorted(ln for ln in lines if ln.startswith(("build obj-debforge/host/", "build obj-debforge/gen/")))
    one, two = once(["x86-64-v3"]), once(["x86-64-v3", "x86-64-v4"])
    assert one == two and any(EXE in ln for ln in one) and any("gen/table.h" in ln for ln in one)
    assert not any("x86-64-v" in ln for ln in one)


def test_ninja_builds_the_tool_then_runs_it(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    plan = plan_of(tmp_path, tree)
    configure(tree, plan.recipe)
    (tree / "build.ninja").write_text(ninja.render(plan))
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tree / "obj-debforge/gen/table.h").read_text() == "static const int kTable[] = {0, 1, 4, 9, 16, };\n"
    assert ctypes.CDLL(str(tree / "obj-debforge/generic/liblookup.so.1")).lookup(3) == 9
    # a change of the tool's link command that makes the same program relinks it and no more: restat keeps the
    # step that runs it, and the library compiled from the step's output, as they are
    rendered = (tree / "build.ninja").read_text()
    assert "-fPIE -pie" in rendered   # blhc wants PIE spelt out in every program's link
    (tree / "build.ninja").write_text(rendered.replace("-fPIE -pie", "-pie -fPIE"))
    proc = subprocess.run(["ninja", "-v", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
    assert len(ran) == 1 and f"-o {EXE}.new" in ran[0], proc.stdout
    # a link that makes another program replaces it, and what depends on it runs again
    (tree / "build.ninja").write_text(rendered.replace("-fPIE -pie", "-fPIE -pie -Wl,--build-id=md5"))
    proc = subprocess.run(["ninja", "-v", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0 and "gen/table.h" in proc.stdout and "liblookup.so.1" in proc.stdout, proc.stdout


def test_a_shared_object_is_no_tool(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    build = tree / "tools/BUILD.bazel"
    build.write_text(build.read_text().replace('    srcs = ["gen_table.cc"],', '    srcs = ["gen_table.cc"],\n'
                                                                                '    linkshared = 1,'))
    with pytest.raises(DebforgeError) as exc:
        plan_of(tmp_path, tree)
    assert "tool '//tools:gen_table' of '//:table' is a shared object" in exc.value.message
    assert exc.value.file.endswith("BUILD.bazel") and exc.value.line == 9
