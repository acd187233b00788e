"""The scan cache: a hit gives the graph a cold scan gives; editing what a package's evaluation read (its BUILD
file, a .bzl it loads, the BUILD file of a config_setting it select()s on, a file a glob matches) re-evaluates
exactly the packages that read it; bad entries are ignored; --no-cache and DEBFORGE_NO_SCAN_CACHE turn it off."""

from types import SimpleNamespace

import pytest

from conftest import FIXTURES, run_cli
from debforge.frontends.bazel import PARALLEL_FROM, scan
from debforge.recipe.model import Config

RECIPE = SimpleNamespace(config=Config(), repo_files={})

FILES = {
    "WORKSPACE": "",
    "BUILD": 'cc_library(name = "top", srcs = glob(["*.c"]))\n',
    "top.c": "",
    "defs.bzl": 'load("//:more.bzl", "COPTS")\n'
                'def lib(name, **kwargs):\n    native.cc_library(name = name, copts = COPTS, **kwargs)\n',
    "more.bzl": 'COPTS = ["-DMORE"]\n',
    "a/BUILD": 'load("//:defs.bzl", "lib")\nlib(name = "a", srcs = glob(["**/*.c"], exclude = ["skip/*"]))\n',
    "a/x.c": "",
    "a/skip/y.c": "",
    "a/deep/d.c": "",
    "b/BUILD": 'cc_library(name = "b", defines = select({"//cfg:fast": ["FAST"], "//conditions:default": []}))\n',
    "b2/BUILD": 'cc_library(name = "b2", defines = select({"//cfg:fast": ["F"], "//conditions:default": []}))\n',
    "cfg/BUILD": 'config_setting(name = "fast", values = {"cpu": "k8"})\n',
    "bad/BUILD": 'cc_library(name = "early")\nfail("broken on purpose")\n',
}


def write(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    write(root, FILES)
    return root


def run(tree, cache, jobs=1):
    ws = scan(tree, RECIPE, "amd64", jobs=jobs, cache=cache)
    return ws, ws.cache and {"hits": len(ws.cache.hit), "misses": len(ws.cache.missed)}


def test_a_warm_scan_gives_the_cold_graph_without_evaluating(tree, tmp_path):
    plain, _ = run(tree, False)
    cold, cold_counts = run(tree, tmp_path / "cache")
    warm, warm_counts = run(tree, tmp_path / "cache")
    assert cold_counts == {"hits": 0, "misses": 6}
    assert warm_counts == {"hits": 6, "misses": 0}
    assert plain.graph.to_json() == cold.graph.to_json() == warm.graph.to_json()
    assert warm.target("//a:a").attrs == {"srcs": ["//a:deep/d.c", "//a:x.c"], "copts": ["-DMORE"]}
    assert warm.target("//b:b").attrs["defines"] == ["FAST"]
    # the failure is cached too, and still names the file and line
    assert warm.graph.skipped == {"bad/BUILD": "bad/BUILD:2: error: fail: broken on purpose"}


@pytest.mark.parametrize("edit,anew", [
    ({"a/BUILD": FILES["a/BUILD"] + 'cc_library(name = "a2")\n'}, ["a"]),
    ({"more.bzl": 'COPTS = ["-DLESS"]\n'}, ["a"]),                  # loaded through defs.bzl
    # b2 reuses the verdict b's evaluation found
    ({"cfg/BUILD": 'config_setting(name = "fast", values = {"cpu": "arm"})\n'}, ["b", "b2", "cfg"]),
    ({"a/z.c": ""}, ["a"]),                                           # a file a glob matches
    ({"a/notes.txt": "", "a/skip/w.c": ""}, []),                    # files no glob matches
    ({"a/skip/BUILD": ""}, ["a/skip"]),                               # a new package a's glob excluded anyway
    ({"a/deep/BUILD": ""}, ["a", "a/deep"]),                          # a new package leaves a's glob
    ({"bad/BUILD": 'cc_library(name = "fixed")\n'}, ["bad"]),
])
def test_an_edit_re_evaluates_exactly_the_packages_that_read_it(tree, tmp_path, edit, anew):
    cache = tmp_path / "cache"
    run(tree, cache)
    write(tree, edit)
    ws, counts = run(tree, cache)
    assert counts["misses"] == len(anew)
    assert sorted(set(ws.all_packages()) - ws.cache.hit) == anew
    plain, _ = run(tree, False)
    assert ws.graph.to_json() == plain.graph.to_json()
    assert run(tree, cache)[1]["misses"] == 0   # what was evaluated anew is cached in turn


def test_a_corrupt_or_foreign_entry_is_ignored(tree, tmp_path):
    cache = tmp_path / "cache"
    cold, _ = run(tree, cache)
    entries = sorted(cache.glob("*.json"), key=lambda e: '"targets":[[' not in e.read_text())
    assert len(entries) == 6
    # a target of another package
    entries[0].write_text(entries[0].read_text().replace('"targets":[', '"targets":[["//elsewhere:x","k","l",{}],'))
    entries[1].write_bytes(b"\x00not json")
    entries[2].write_text('{"schema": 1, "fingerprint": "someone else", "package": "a"}')
    entries[3].write_text('{"schema": 1}')
    # records that would look outside the tree, or aren't glob calls
    entries[4].write_text(entries[4].read_text().replace('"listings":{', '"listings":{"../..":"x",'))
    entries[5].write_text(entries[5].read_text().replace('"globs":{', '"globs":{"[1, 2]":"x",'))
    ws, counts = run(tree, cache)
    assert counts == {"hits": 0, "misses": 6}
    assert ws.graph.to_json() == cold.graph.to_json()


def test_a_parallel_cold_scan_fills_the_cache_that_a_serial_warm_scan_reads(tmp_path):
    files = dict(FILES)
    for i in range(PARALLEL_FROM):
        files[f"many/p{i}/BUILD"] = ('load("//:defs.bzl", "lib")\nlib(name = "p", deps = ["//b"], defines = '
                                     'select({"//cfg:fast": ["F"], "//conditions:default": []}))\n')
    write(tmp_path / "tree", files)
    plain, _ = run(tmp_path / "tree", False)
    cold, _ = run(tmp_path / "tree", tmp_path / "cache", jobs=2)
    warm, counts = run(tmp_path / "tree", tmp_path / "cache")
    assert counts == {"hits": PARALLEL_FROM + 6, "misses": 0}
    assert plain.graph.to_json() == cold.graph.to_json() == warm.graph.to_json()


def test_no_cache_flag_and_environment(tree, tmp_path):
    recipe = FIXTURES / "gpu/recipe.yaml"
    (tree / "bad/BUILD").unlink()
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    proc = run_cli("scan", recipe, "--source", tree, "--no-cache", env=env)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "xdg").exists()
    proc = run_cli("scan", recipe, "--source", tree, env={**env, "DEBFORGE_NO_SCAN_CACHE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "xdg").exists()
    first = run_cli("scan", recipe, "--source", tree, "--json", env=env)
    assert len(list((tmp_path / "xdg/debforge/scan").glob("*.json"))) == 5
    second = run_cli("scan", recipe, "--source", tree, "--json", env=env)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout and '"//a:a"' in first.stdout
    assert "(arch amd64; 5 from the scan cache)" in run_cli("scan", recipe, "--source", tree, env=env).stdout
