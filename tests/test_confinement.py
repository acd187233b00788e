"""Evaluation of hostile upstream metadata stays confined and bounded (issue 14, classes 2, 4, 5): labels' repository
names follow bazel's grammar; no file outside the tree or the stand-ins is read, or quoted; values nested too deep
to cross into JSON, a glob pattern that would backtrack, memory, CPU time and a killed evaluation all give an error
naming the file (and the line where it is known), exit 2, and nothing written."""

import os
import re
import shutil
import signal
import time
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, run_cli
from debforge.core import bounded, globs, labels
from debforge.core.errors import DebforgeError
from debforge.frontends.bazel import PARALLEL_FROM, glob, scan
from debforge.frontends.bazel.files import STANDINS, read_confined
from debforge.recipe.model import Config

SECRET = "s3cret-content-outside-the-tree ,,, not starlark"
DEEP = "def deep():\n    x = []\n    for i in range(500):\n        x = [x]\n    return x\n"
GROW = "def grow():\n    x = []\n    for i in range(100000000):\n        x.append(\"abcdefgh\" + str(i))\n    return x\n"


# -- labels -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label, expected", [
    ("@rules_cc//cc:defs.bzl", "@rules_cc//cc:defs.bzl"),
    ("@com_google_absl//absl/strings", "@com_google_absl//absl/strings:strings"),
    ("@foo", "@foo//:foo"),
    ("@//a:b", "//a:b"),
    ("@@//a:b", "//a:b"),
    ("@@rules_cc+//cc:defs.bzl", "@rules_cc+//cc:defs.bzl"),
    ("@@rules_cc~0.0.9//cc:x", "@rules_cc~0.0.9//cc:x"),
    ("@a.b-c_d//:x", "@a.b-c_d//:x"),
])
def test_repository_names_of_bazel_grammar_are_accepted(label, expected):
    assert labels.absolute(label, "", "pkg") == expected


@pytest.mark.parametrize("label", [
    "@/abs/path//:f.bzl", "@../../..//:x", "@@../x", "@..//:x", "@.hidden//:x", "@-x//:x", "@a/b//:x",
    "@@@x//:y", "@a b//:x", "@rules_cc+//:x", "@a\n//:x", "@a//b//c:x", "//a:b//c",
])
def test_repository_names_outside_bazel_grammar_are_refused(label):
    with pytest.raises(ValueError, match="invalid label"):
        labels.absolute(label, "", "pkg")


def test_files_are_read_only_inside_their_base(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "outside.bzl").write_text(SECRET)
    (tmp_path / "tree/link.bzl").symlink_to(tmp_path / "outside.bzl")
    for base, rel in ((tmp_path / "tree", "link.bzl"), (tmp_path / "tree", "../outside.bzl"),
                      (STANDINS, "../evaluate.py"), (STANDINS, "rules_cc/../../evaluate.py")):
        with pytest.raises(DebforgeError, match="leads out of the") as err:
            read_confined(base, rel, rel)
        assert SECRET not in str(err.value)


# -- through the CLI ------------------------------------------------------------------------------------------
def hostile(tmp_path, build: str, files: dict | None = None, env: dict | None = None, links: dict | None = None):
    """`debforge generate -o out` of the catalogue's recipe over its tree with this BUILD file, these files and
    symlinks (paths relative to tmp_path)."""
    shutil.copytree(FIXTURES / "catalogue/tree", tmp_path / "tree")
    shutil.copy(FIXTURES / "catalogue/recipe.yaml", tmp_path)
    (tmp_path / "tree/BUILD").write_text(build)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    for name, target in (links or {}).items():
        (tmp_path / name).symlink_to(tmp_path / target)
    started = time.monotonic()
    proc = run_cli("generate", "recipe.yaml", "--source", "tree", "-o", "out", cwd=tmp_path, env=env)
    proc.seconds = time.monotonic() - started
    return proc


def error(proc) -> str:
    """The one error line of a run that must fail as an input error."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ": error: " in ln]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("repo", ["{outside}", "../../../../../../..{outside}", "@../../../../../../..{outside}",
                                  "rules_cc/../../../../../../../..{outside}"])
def test_a_load_label_cannot_name_a_file_outside(tmp_path, repo):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "f.bzl").write_text(SECRET)
    label = f"@{repo.format(outside=outside)}//:f.bzl"
    proc = hostile(tmp_path, f'load("{label}", "x")\n')
    line = error(proc)
    assert line.startswith(f"BUILD:1: error: invalid label '{label}': '") and "is not a repository name" in line
    assert SECRET not in proc.stderr + proc.stdout
    assert not (tmp_path / "tree/debian").exists()


def test_a_load_through_a_stand_in_path_cannot_climb_out(tmp_path):
    proc = hostile(tmp_path, 'load("@rules_cc//cc/../../../..:evaluate.py", "x")\n')
    assert error(proc) == ("BUILD:1: error: invalid label '@rules_cc//cc/../../../..:evaluate.py': labels must stay "
                           "inside the tree")


def test_a_symlinked_bzl_leading_out_is_not_read(tmp_path):
    proc = hostile(tmp_path, 'load("//:defs.bzl", "x")\n', {"outside.bzl": SECRET},
                   links={"tree/defs.bzl": "outside.bzl"})
    assert error(proc) == "BUILD:1: error: 'defs.bzl' leads out of the source tree"
    assert SECRET not in proc.stderr


# -- nesting --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use", ['cc_library(name = "tiny", srcs = deep())', "x = json.encode(deep())",
                                 'cc_library(name = "tiny", tags = {"k": struct(v = deep())})'])
def test_values_nested_too_deep_give_an_error_not_a_crash(tmp_path, use):
    """(json.encode overflowed the native stack: SIGSEGV, exit 139, nothing printed)"""
    proc = hostile(tmp_path, DEEP + use + "\n")
    assert error(proc) == "BUILD:6: error: fail: value nested deeper than 64 levels"


# -- glob() ---------------------------------------------------------------------------------------------------------
def _naive(pattern: str) -> re.Pattern:
    """The translation glob.py used to make: right, but exponential in the number of stars."""
    parts = []
    for seg in pattern.split("/"):
        if seg == "**":
            parts.append("(?:[^/]+/)*")
        else:
            parts.append("".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in seg) + "/")
    return re.compile("".join(parts)[:-1] + "$" if not pattern.endswith("**") else "".join(parts) + "[^/]+$")


PATTERN = st.lists(st.sampled_from(["*", "**", "a*", "*b", "a*b*a", "?", "a?", "*a*a*b", "ab", ".c", "*.c"]),
                   min_size=1, max_size=4).map("/".join)
PATH = st.lists(st.text("ab.c", min_size=1, max_size=6), min_size=1, max_size=5).map("/".join)


@settings(max_examples=2000, deadline=None)
@given(PATTERN, st.lists(PATH, max_size=8))
def test_glob_patterns_match_as_the_naive_translation(pattern, paths):
    fast, naive = globs.compile_pattern(pattern), _naive(pattern)
    assert [bool(fast.match(p)) for p in paths] == [bool(naive.match(p)) for p in paths]


def test_a_pathological_glob_pattern_finishes_at_once(tmp_path):
    stars = "*a" * 12 + "*b"
    build = f'cc_library(name = "tiny", srcs = glob(["{stars}", "src/*.c"]), hdrs = ["include/tiny.h"])\n'
    proc = hostile(tmp_path, build, {"tree/" + "a" * 250: "", "tree/" + "a" * 200 + "b": ""})
    assert proc.returncode == 0 and proc.seconds < 20, proc.stderr   # (it backtracked for hours)
    ws = scan(tmp_path / "tree", SimpleNamespace(config=Config(), repo_files={}), "amd64", everything=False)
    assert ws.target("//:tiny").attrs["srcs"] == ["//:" + "a" * 200 + "b", "//:src/tiny.c"]
    assert globs.compile_pattern(stars).match("a" * 250) is None
    assert globs.compile_pattern(stars).match("a" * 200 + "b")
    assert globs.compile_pattern("**/a/**/a/**/a/**/a/**/b").match("a/" * 2000 + "a") is None


def test_a_long_glob_walk_stops_at_the_deadline(tmp_path):
    for i in range(5000):
        (tmp_path / f"f{i}.c").write_text("")
    assert len(glob.Lister(str(tmp_path)).glob("", ["*.c"], [])) == 5000
    with pytest.raises(ValueError, match="ran out of time"):
        glob.Lister(str(tmp_path), lambda: True).glob("", ["*.c"], [])


# -- memory, CPU time, signals -------------------------------------------------------------------------------------
def test_memory_over_the_limit_names_the_line(tmp_path):
    proc = hostile(tmp_path, GROW + "y = grow()\n", env={"DEBFORGE_EVAL_MEMORY": "300M"})
    # the loop's line or the append's: where Starlark's periodic check next runs
    assert re.fullmatch(r"BUILD:[34]: error: evaluation ran out of memory \(limit 300 MiB\): stopped", error(proc))
    assert not (tmp_path / "out").exists() and not (tmp_path / "tree/debian").exists()


def test_one_allocation_over_the_limit_names_the_file(tmp_path):
    proc = hostile(tmp_path, 'load("//:big.bzl", "x")\n', {"tree/big.bzl": 'x = "a" * 2000000000\n'},
                   env={"DEBFORGE_EVAL_MEMORY": "300M"})
    assert error(proc) == "big.bzl: error: evaluation ran out of memory (limit 300 MiB): stopped"
    assert "stack backtrace" not in proc.stderr


def test_cpu_time_over_the_limit_names_the_line(tmp_path):
    spin = "def spin():\n    x = 0\n    for i in range(1000000000):\n        x += i\n    return x\ny = spin()\n"
    proc = hostile(tmp_path, spin, env={"DEBFORGE_EVAL_CPU": "2"})
    assert error(proc) == "BUILD:3: error: evaluation ran out of CPU time (limit 2 s): stopped"


def test_a_bad_limit_is_an_error(tmp_path):
    proc = hostile(tmp_path, "", env={"DEBFORGE_EVAL_MEMORY": "lots"})
    assert proc.returncode == 2 and proc.stderr == "error: DEBFORGE_EVAL_MEMORY='lots' is not a size (e.g. 4G, 512M)\n"


def _die(sig):
    with bounded.evaluating("pkg/BUILD"), bounded.evaluating("pkg/defs.bzl"):
        os.kill(os.getpid(), sig)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV, signal.SIGTERM])
def test_a_child_killed_by_a_signal_names_the_file(sig):
    with pytest.raises(DebforgeError) as err:
        bounded.run(_die, sig)
    assert str(err.value) == f"pkg/defs.bzl: error: evaluation stopped (signal {sig.name}) with no result"


def _spin():
    with bounded.evaluating("BUILD"):
        while True:   # outside Starlark: only the process's CPU limit stops it
            pass


def test_a_child_spinning_outside_starlark_is_stopped_by_the_cpu_limit(monkeypatch):
    monkeypatch.setenv("DEBFORGE_EVAL_CPU", "1")
    with pytest.raises(DebforgeError) as err:
        bounded.run(_spin)
    assert str(err.value) == "BUILD: error: evaluation ran out of CPU time (limit 1 s): stopped"


def _fail(exc):
    raise exc


def test_the_child_sends_back_its_result_or_its_error():
    assert bounded.run(lambda a, b: {"sum": a + b}, 1, 2) == {"sum": 3}
    with pytest.raises(DebforgeError) as err:
        bounded.run(_fail, DebforgeError("broken", "x/BUILD", 7, hint="fix it"))
    assert (err.value.file, err.value.line, err.value.hint) == ("x/BUILD", 7, "fix it")
    with pytest.raises(KeyError):   # a bug stays a bug
        bounded.run(_fail, KeyError("k"))


def _parallel_scan(root):
    return scan(root, SimpleNamespace(config=Config(), repo_files={}), "amd64", jobs=2, cache=False).graph


def test_a_scan_worker_killed_by_a_limit_is_an_error_not_a_hang(tmp_path, monkeypatch):
    for i in range(PARALLEL_FROM + 6):
        (tmp_path / f"p{i}").mkdir()
        (tmp_path / f"p{i}/BUILD").write_text(f'cc_library(name = "p{i}")\n')
    assert len(bounded.run(_parallel_scan, tmp_path).packages) == PARALLEL_FROM + 6   # the workers in the child
    (tmp_path / "p3/BUILD").write_text('x = "a" * 2000000000\n')
    monkeypatch.setenv("DEBFORGE_EVAL_MEMORY", "300M")
    with pytest.raises(DebforgeError, match="a scan worker process died evaluating this file or another one"):
        bounded.run(_parallel_scan, tmp_path)
