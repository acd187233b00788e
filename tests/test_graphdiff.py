"""The graph diff of two plans (debforge/graphdiff.py): fixture trees update/v1 and update/v2 are two releases of
one small upstream; what changed between them is listed in v2/BUILD.bazel's comment."""

import copy
import dataclasses
import json

from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge import graphdiff

TREES = FIXTURES / "update"


def write(tmp_path, release: str, libraries=("core", "extra")):
    """The recipe of the fixture at one release (v1 is 1.1, v2 is 1.2)."""
    path = fixture_recipe(tmp_path / f"fx-{release}.yaml", TREES / release, "fx", [(n, f"//:{n}") for n in libraries],
                          "externals:\n  zlib: {package: zlib1g-dev, libs: [z]}\n"
                          "  zstd: {package: libzstd-dev, libs: [zstd]}\n")
    path.write_text(path.read_text().replace('version: "1.0"', f'version: "1.{release[1:]}"'))
    return path


def plans(tmp_path):
    return {"amd64": fixture_plan(write(tmp_path, "v1"))}, {"amd64": fixture_plan(write(tmp_path, "v2"))}


def test_what_changed_between_two_releases(tmp_path):
    old, new = plans(tmp_path)
    d = graphdiff.diff(old, new, (TREES / "v1", TREES / "v2"))
    assert (d.old_version, d.new_version, d.arches) == ("1.1", "1.2", ["amd64"])
    core, extra = d.libraries["libcore"], d.libraries["libextra"]
    assert (core[graphdiff.TUS].added, core[graphdiff.TUS].removed) == (["fast.c"], ["helpers.c", "util.c"])
    assert (core[graphdiff.TARGETS].added, core[graphdiff.TARGETS].removed) == ([], ["//:helpers"])
    assert core[graphdiff.FLAGS].added == ["-DCORE_FAST (in 1 of 1 TUs)", "-DCORE_LEVEL=2 (in 1 of 1 TUs)"]
    assert core[graphdiff.FLAGS].removed == ["-DCORE_LEVEL=1 (in 1 of 1 TUs)"]
    assert core[graphdiff.SCRIPT].added == ["core.lds: global: core_answer; core_fast;"]
    assert extra[graphdiff.STEPS].added == ["genrule //:extra_config_h"] and not extra[graphdiff.STEPS].removed
    assert extra[graphdiff.EXTERNALS].added == ["-lzstd", "libzstd-dev"]
    assert extra[graphdiff.EXTERNALS].removed == ["-lz", "zlib1g-dev"]
    assert graphdiff.TUS not in extra and graphdiff.SONAME not in core   # only what changed is listed
    text = d.render()
    assert text.startswith("graph diff of fx 1.1 -> 1.2 (amd64): translation units 3, targets 1, generate steps 1, ")
    assert "libcore:\n  translation units: +1 -2\n    + fast.c\n    - helpers.c\n    - util.c\n" in text
    assert json.loads(d.to_json())["libraries"]["libextra"]["externals"]["removed"] == ["-lz", "zlib1g-dev"]


def test_no_change(tmp_path):
    old, _ = plans(tmp_path)
    d = graphdiff.diff(old, copy.deepcopy(old))
    assert d.libraries == {}
    assert d.render() == "graph diff of fx 1.1 -> 1.1 (amd64): no change in any library\n"


def test_library_added_and_soname(tmp_path):
    old = {"amd64": fixture_plan(write(tmp_path, "v1", ["core"]))}
    new = {"amd64": fixture_plan(write(tmp_path, "v2"))}
    new["amd64"].libraries[0].spec = dataclasses.replace(new["amd64"].libraries[0].spec, soversion="2")
    d = graphdiff.diff(old, new, symbols=({"libcore1": {"a@Base", "b@Base"}}, {"libcore1": {"b@Base", "c@Base"}}))
    assert d.libraries["libextra"] == {graphdiff.LIBRARY: graphdiff.Change(added=["libextra.so.1"])}
    assert d.libraries["libcore"][graphdiff.SONAME] == graphdiff.Change(["libcore.so.2"], ["libcore.so.1"])
    assert d.libraries["libcore"][graphdiff.SYMBOLS] == graphdiff.Change(["c@Base"], ["a@Base"])


def test_item_on_some_architectures_names_them(tmp_path):
    old, new = plans(tmp_path)
    old["arm64"], new["arm64"] = copy.deepcopy(old["amd64"]), copy.deepcopy(new["amd64"])
    core = next(lib for lib in new["arm64"].libraries if lib.spec.name == "core")
    core.compiles = [c for c in core.compiles if c.src != "fast.c"]
    d = graphdiff.diff(old, new)
    assert d.libraries["libcore"][graphdiff.TUS].added == ["fast.c [amd64]"]
    assert d.libraries["libcore"][graphdiff.TUS].removed == ["helpers.c", "util.c"]   # on both: no mark


def test_long_groups_are_counted_not_listed():
    d = graphdiff.GraphDiff("big", "1", "2", ["amd64"], {"libbig": {graphdiff.TUS: graphdiff.Change(
        added=[f"src/f{i:03}.cc" for i in range(500)])}})
    text = d.render()
    assert "  translation units: +500 -0\n" in text and "    + ... and 492 more\n" in text
    assert len(text.splitlines()) == 12
    assert len(d.render(shown=None).splitlines()) == 503


def test_symbols_files(tmp_path):
    (tmp_path / "libcore1.symbols").write_text(
        "libcore.so.1 libcore1 #MINVER#\n"
        "* Build-Depends-Package: libfx-dev\n"
        " core_answer@Base 1.1\n"
        " (c++)\"ns::f(int, char)@Base\" 1.1\n"
        "#include \"more.symbols\"\n")
    syms = graphdiff.symbols_files(tmp_path)
    assert syms == {"libcore1": {"core_answer@Base", '(c++)"ns::f(int, char)@Base"'}}


def test_changes_many_libraries_share_are_printed_once():
    """abseil 20240722.0 -> 20260526.0 as it printed: 80 libraries lose the same copts and move to a new SONAME;
    those lines come once, with the number of libraries, and a library is listed only for its own changes."""
    libs = {f"libabsl_{n}": {graphdiff.FLAGS: graphdiff.Change(removed=[f"-Wall (in {i} of {i} TUs)"]),
                             graphdiff.SONAME: graphdiff.Change([f"libabsl_{n}.so.20260526"],
                                                                [f"libabsl_{n}.so.20240722"])}
            for i, n in enumerate(("base", "city", "cord", "hash"), 1)}
    libs["libabsl_base"][graphdiff.TUS] = graphdiff.Change(added=["absl/base/casts.cc"])
    text = graphdiff.GraphDiff("abseil", "20240722.0", "20260526.0", ["amd64"], libs).render()
    assert text.splitlines()[1:] == [
        "shared by 3 or more of the 4 changed libraries:",
        "  copts/defines: - -Wall (4 libraries)",
        "  SONAME: .so.20240722 -> .so.20260526 (4 libraries)",
        "libabsl_base:",
        "  translation units: +1 -0",
        "    + absl/base/casts.cc",
        "3 more libraries changed only as shared above"]
    full = graphdiff.GraphDiff("abseil", "20240722.0", "20260526.0", ["amd64"], libs).render(shown=None)
    assert "libabsl_hash:\n  copts/defines: +0 -1\n    - -Wall (in 4 of 4 TUs)\n" in full   # the file: all of it
