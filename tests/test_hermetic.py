"""Evaluation of upstream BUILD/.bzl files is bounded: time, call depth and glob results, each stopped with an
error naming the file; glob() never leaves the package or follows a symlink out of the tree."""

import os

import pytest

from conftest import FIXTURES
from debforge.backends.debian import copyright
from debforge.core.errors import DebforgeError
from debforge.frontends.bazel import evaluate, host, natives
from debforge.frontends.bazel.select import DebianConfig
from debforge.recipe.model import Config
from debforge.recipe.schema import load_recipe


def workspace(root, build, **files):
    (root / "BUILD").write_text(build)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return evaluate.Workspace(root, DebianConfig.for_arch("amd64", Config()))


def failure(ws, pkg="") -> DebforgeError:
    with pytest.raises(DebforgeError) as info:
        ws.evaluate_package(pkg)
    return info.value


SPIN = "def spin():\n    for i in range(2147483647):\n        pass\n\nspin()\n"


def test_time_bound_stops_a_runaway_file(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "FILE_SECONDS", 0.3)
    err = failure(workspace(tmp_path, SPIN))
    assert (err.file, err.line, err.message) == ("BUILD", 2, "evaluation took longer than 0.3 s: stopped")


def test_time_bound_covers_loaded_files(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "FILE_SECONDS", 0.3)
    err = failure(workspace(tmp_path, 'load("//:slow.bzl", "spin")\n', **{"slow.bzl": SPIN}))
    assert err.message == "evaluation took longer than 0.3 s: stopped"
    assert err.file in ("BUILD", "slow.bzl")


def test_each_file_gets_its_own_time(tmp_path, monkeypatch):
    """The bound is per BUILD file: a quick file evaluates even after a slow neighbour used most of its time."""
    monkeypatch.setattr(evaluate, "FILE_SECONDS", 5)
    ws = workspace(tmp_path, 'cc_library(name = "a")\n', **{"sub/BUILD": 'cc_library(name = "b")\n'})
    ws.evaluate_package("")
    ws.evaluate_package("sub")
    assert {"//:a", "//sub:b"} <= set(ws.graph.targets)


def recursion(depth):
    return f"def down(n):\n    return 0 if n == 0 else down(n - 1)\n\nx = down({depth})\n"


def test_call_depth_bound(tmp_path):
    ws = workspace(tmp_path, recursion(host.MAX_CALL_DEPTH // 2))
    ws.evaluate_package("")   # deep but legitimate recursion is fine
    err = failure(workspace(tmp_path, recursion(host.MAX_CALL_DEPTH * 2)))
    assert (err.file, err.line) == ("BUILD", 2) and "call stack overflow" in err.message


def test_glob_results_are_capped_per_file(tmp_path, monkeypatch):
    monkeypatch.setattr(natives, "MAX_RESULTS", 10)
    build = "a = glob(['*.c'])\nb = glob(['*.c'])\nc = glob(['*.c'])\n"
    err = failure(workspace(tmp_path, build, **{f"f{i}.c": "" for i in range(4)}))
    assert (err.file, err.line) == ("BUILD", 3)
    assert err.message == "glob() calls of this file returned more than 10 paths in all: stopped"


def test_glob_stays_in_the_package_and_the_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.h").write_text("")
    root = tmp_path / "tree"
    root.mkdir()
    ws = workspace(root, "files = glob(['**'])\ncc_library(name = 'all', srcs = files)\n",
                   **{"a.c": "", "inc/b.h": "", "sub/BUILD": "", "sub/c.c": ""})
    os.symlink(outside, root / "linkdir")                   # a directory symlink out of the tree
    os.symlink(outside / "secret.h", root / "secret.h")     # a file symlink out of the tree
    os.symlink("a.c", root / "alias.c")                     # a file symlink inside the tree
    ws.evaluate_package("")
    srcs = ws.graph.targets["//:all"].attrs["srcs"]
    assert srcs == ["//:BUILD", "//:a.c", "//:alias.c", "//:inc/b.h"]   # no subpackage, nothing from outside


@pytest.mark.parametrize("pattern", ["../*", "/etc/*", "a/../../*", "a//b", "x**"])
def test_glob_patterns_that_leave_the_package_are_refused(tmp_path, pattern):
    err = failure(workspace(tmp_path, f"x = 1\nfiles = glob([{pattern!r}])\n"))
    assert (err.file, err.line) == ("BUILD", 2) and err.message.startswith("glob pattern")


def test_license_text_is_only_quoted_from_inside_the_tree(tmp_path):
    recipe_path = tmp_path / "recipe.yaml"
    # MIT is not in /usr/share/common-licenses: its text is quoted from the tree's LICENSE
    recipe_path.write_text((FIXTURES / "catalogue/recipe.yaml").read_text().replace("Apache-2.0", "MIT"))
    recipe = load_recipe(recipe_path)
    (tmp_path / "secret").write_text("a file of this machine\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(tmp_path / "secret", tree / "LICENSE")
    with pytest.raises(DebforgeError) as info:
        copyright.render(recipe, tree, 0)
    assert (info.value.file, info.value.line) == (str(recipe_path), 8)
    (tree / "LICENSE").unlink()
    (tree / "LICENSE").write_text("Tiny license text\n")
    assert "Tiny license text" in copyright.render(recipe, tree, 0)
