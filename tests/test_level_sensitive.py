"""The recipe's `level-sensitive` globs (issue 16): a translation unit they match is compiled once per ISA level; every
other one is level-neutral, compiled once at the baseline and linked into each level's copy, which still passes
check-variant. Without the key every translation unit is compiled per level (the generated files stay as they were)."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import FIXTURES, configure, fixture_plan, fixture_recipe, run_cli
from debforge import pipeline
from debforge.backends import ninja
from debforge.core import isa
from debforge.core.errors import DebforgeError
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "generated"
LEVELS = ("generic", "x86-64-v3", "x86-64-v4")
EXTRA = "obj-debforge/gen/extra.c"


def recipe_path(tmp_path, key="", tree=TREE):
    return fixture_recipe(tmp_path / "fixture.yaml", tree, "greet", [("greet", "//:greet")], f"""\
externals:
  //third_party/zlib: {{package: zlib1g-dev, libs: [z]}}
{key}""")


def recipe(tmp_path, key="", tree=TREE):
    return load_recipe(recipe_path(tmp_path, key, tree))


def edges(text: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """build.ninja's compile edges (source -> objects) and links (library file -> inputs)."""
    compiles, links = {}, {}
    for line in re.sub(r" \$\n +", " ", text).splitlines():   # ninja_syntax's wrapped lines joined
        if not line.startswith("build "):
            continue
        outs, _, rest = line[len("build "):].partition(": ")
        rule, *inputs = rest.split(" | ")[0].split()
        if rule in ("cc", "cxx", "as"):
            compiles.setdefault(inputs[0], []).append(outs)
        elif rule.startswith("link_") and not rule.startswith("link_exe"):
            links[outs] = inputs
    return compiles, links


def obj(level, src):
    return f"obj-debforge/{level}/obj/greet/{src}.o"


def test_neutral_unit_is_compiled_once_and_linked_into_every_level(tmp_path):
    plan = fixture_plan(recipe(tmp_path, 'level-sensitive: ["greet.c"]\n'))
    [lib] = plan.libraries
    assert {c.src: c.level_sensitive for c in lib.compiles} == {"greet.c": True, "version.c": False, EXTRA: False}
    compiles, links = edges(ninja.render(plan))
    assert compiles["greet.c"] == [obj(level, "greet.c") for level in LEVELS]
    for src in ("version.c", EXTRA):
        assert compiles[src] == [obj("generic", src)]
    assert len(links) == 3
    for level in LEVELS:
        inputs = links[f"obj-debforge/{level}/libgreet.so.1.0"]
        assert sorted(inputs) == sorted([obj(level, "greet.c"), obj("generic", "version.c"), obj("generic", EXTRA)])


def test_without_the_key_every_unit_is_compiled_per_level(tmp_path):
    plan = fixture_plan(recipe(tmp_path))
    assert all(c.level_sensitive for lib in plan.libraries for c in lib.compiles)
    compiles, _ = edges(ninja.render(plan))
    assert {src: len(objs) for src, objs in compiles.items()} == {"greet.c": 3, "version.c": 3, EXTRA: 3}


def test_list_file_beside_the_recipe_with_comments(tmp_path):
    (tmp_path / "greet.levels").write_text("# measured by debforge measure-levels\n\n"
                                           "obj-debforge/gen/*.c   # the generated source\n")
    plan = fixture_plan(recipe(tmp_path, "level-sensitive: {file: greet.levels}\n"))
    assert {c.src for lib in plan.libraries for c in lib.compiles if c.level_sensitive} == {EXTRA}
    assert plan.recipe.level_sensitive[0].line == 3


def test_summary_reports_the_share_per_library(tmp_path):
    plan = fixture_plan(recipe(tmp_path, 'level-sensitive: ["greet.c", "version.c"]\n'))
    lines = []
    pipeline._summary(plan, lines.append)
    assert "debforge:   libgreet: 2 of 3 TUs level-sensitive" in lines


def test_summary_is_unchanged_without_the_key(tmp_path):
    lines = []
    pipeline._summary(fixture_plan(recipe(tmp_path)), lines.append)
    assert not any("level-sensitive" in ln for ln in lines)


def test_glob_matching_no_compiled_source_names_its_line_and_the_fix(tmp_path):
    r = recipe(tmp_path, 'level-sensitive:\n  - greet.c\n  - "kernels/**/*.cc"\n')
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(r)
    e = exc.value
    assert (e.file, e.line) == (str(r.path), r.lines["level-sensitive"] + 2)
    assert "'kernels/**/*.cc' matches no source" in e.message
    assert f"debforge measure-levels {r.path}" in e.hint


def test_stale_list_file_line_is_named(tmp_path):
    (tmp_path / "greet.levels").write_text("greet.c\n# gone in this release:\nold_kernel.c\n")
    r = recipe(tmp_path, "level-sensitive: {file: greet.levels}\n")
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(r)
    assert (exc.value.file, exc.value.line) == (str(tmp_path / "greet.levels"), 3)


def test_list_measured_for_another_version_warns_with_the_fix(tmp_path):
    """measure-levels' header names the upstream version it measured: a list kept from an older release warns at
    the file's first line; the current version's list does not."""
    levels = tmp_path / "greet.levels"
    levels.write_text("# Level-sensitive translation units of greet 0.9 (recipe fixture.yaml), ...\ngreet.c\n")
    lines = []
    pipeline._summary(fixture_plan(recipe(tmp_path, "level-sensitive: {file: greet.levels}\n")), lines.append)
    warning = f"{levels}:1: warning: the level-sensitive list was measured on greet 0.9; the recipe builds 1.0."
    assert any(ln.startswith(warning) and "debforge measure-levels" in ln for ln in lines), lines
    levels.write_text("# Level-sensitive translation units of greet 1.0 (recipe fixture.yaml), ...\ngreet.c\n")
    lines.clear()
    pipeline._summary(fixture_plan(recipe(tmp_path, "level-sensitive: {file: greet.levels}\n")), lines.append)
    assert not any("warning" in ln for ln in lines), lines


def test_library_without_a_sensitive_unit_must_drop_its_variants(tmp_path):
    """Its copies would be one file three times (one build-id: the -dbgsym packages conflict)."""
    r = recipe(tmp_path, "level-sensitive: []\n")
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(r)
    assert exc.value.line == r.packages[0].line and "variants: false on package libgreet1" in exc.value.hint


def test_cli_exits_2_with_file_and_line(tmp_path):
    path = recipe_path(tmp_path, 'level-sensitive: ["nothing/*.c"]\n')
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert f"{path}:" in proc.stderr and "measure-levels" in proc.stderr


@pytest.mark.parametrize("key, message", [
    ('level-sensitive: ["a/**b.c"]\n', "'**' must be a whole path segment"),
    ('level-sensitive: ["../x.c"]\n', "must be a relative path inside the tree"),
    ('level-sensitive: ["/abs/x.c"]\n', "must be a relative path inside the tree"),
    ("level-sensitive: {file: ../outside.levels}\n", "must be a relative path inside the tree"),
    ("level-sensitive: {file: missing.levels}\n", "is not a file in the recipe's directory"),
    ("level-sensitive: {file: link.levels}\n", "is not a file in the recipe's directory"),
    ("level-sensitive: {fil: x}\n", "unknown key 'fil'"),
    ("level-sensitive: greet.c\n", "must be a list of source globs or {file: PATH}"),
])
def test_bad_input_names_the_recipe_line(tmp_path, key, message):
    (tmp_path / "outside.levels").write_text("greet.c\n")
    (tmp_path / "r").mkdir()
    os.symlink("/etc/hostname", tmp_path / "r/link.levels")
    path = fixture_recipe(tmp_path / "r/fixture.yaml", TREE, "greet", [("greet", "//:greet")], key)
    with pytest.raises(DebforgeError) as exc:
        load_recipe(path)
    assert message in exc.value.message
    assert (exc.value.file, exc.value.line) == (str(path), len(path.read_text().splitlines()))


def test_bad_glob_in_list_file_names_its_line(tmp_path):
    (tmp_path / "greet.levels").write_text("greet.c\n\nsrc/**x/*.c\n")
    with pytest.raises(DebforgeError) as exc:
        recipe(tmp_path, "level-sensitive: {file: greet.levels}\n")
    assert (exc.value.file, exc.value.line) == (str(tmp_path / "greet.levels"), 3)


@pytest.mark.skipif(not shutil.which("gcc") or os.uname().machine != "x86_64", reason="needs gcc for x86-64")
def test_every_level_links_and_passes_check_variant(tmp_path):
    """ninja builds the three copies from one baseline object of each neutral unit; check-variant (an edge of
    each variant copy) passes: same SONAME, the generic copy's symbols, no ISA-needed note."""
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    r = recipe(tmp_path, 'level-sensitive: ["greet.c"]\n', tree)
    (tree / "build.ninja").write_text(ninja.render(fixture_plan(r)))
    configure(tree, r)
    proc = subprocess.run(["ninja", "-v", *LEVELS], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" -c version.c ") == 1 and proc.stdout.count(" -c greet.c ") == 3
    assert proc.stdout.count("check-variant: obj-debforge/x86-64-v") == 2
    for level in LEVELS[1:]:
        assert (tree / f"obj-debforge/{level}/checks/libgreet.so.1.0.ok").exists()


def test_a_library_without_a_sensitive_unit_gets_no_copies_beside_one_that_has(tmp_path):
    """abseil: one package of 90 libraries, four level-sensitive units in three of them. Only those three are
    built per level and installed in the level packages; the others are the generic files alone."""
    from debforge.backends import debian
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "BUILD").write_text('cc_library(name = "hot", srcs = ["hot.c"])\n'
                                'cc_library(name = "cold", srcs = ["cold.c"], deps = [":hot"])\n')
    (tree / "hot.c").write_text("int hot(int a) { return a * 2; }\n")
    (tree / "cold.c").write_text("int hot(int); int cold(int a) { return hot(a) + 1; }\n")
    path = fixture_recipe(tmp_path / "r.yaml", tree, "two", [("hot", "//:hot")], 'level-sensitive: ["hot.c"]\n')
    path.write_text(path.read_text().replace(
        '      - {name: hot, target: "//:hot", soversion: 1}\n',
        '      - {name: hot, target: "//:hot", soversion: 1}\n      - {name: cold, target: "//:cold", soversion: 1}\n'))
    plan = fixture_plan(path)
    assert {lib.spec.name: lib.copies for lib in plan.libraries} == {"hot": True, "cold": False}
    _, links = edges(ninja.render(plan))
    assert sorted(links) == ["obj-debforge/generic/libcold.so.1.0", "obj-debforge/generic/libhot.so.1.0",
                             "obj-debforge/x86-64-v3/libhot.so.1.0", "obj-debforge/x86-64-v4/libhot.so.1.0"]
    files = debian.render(plan.recipe, {"amd64": plan}, tree, 0)
    assert files["libhot1-avx2.install"][0] == \
        "obj-debforge/x86-64-v3/libhot.so.1* usr/lib/${DEB_HOST_MULTIARCH}/glibc-hwcaps/x86-64-v3/\n"
    assert "cold@x86-64-v3" not in files["rules"][0] and "hot@x86-64-v3" in files["rules"][0]
    assert 'libraries="libhot.so.1:yes libcold.so.1:no"' in files["tests/hwcaps"][0]


@pytest.fixture
def zlib_level_macro(monkeypatch):
    """The fixture's external (zlib1g-dev) given a macro of the kind isa.LEVEL_MACROS lists (Eigen's alignment)."""
    macro = isa.LevelMacro("zlib1g-dev", "Z_ALIGN", "z_stream's alignment", "Z_ALIGN=64")
    monkeypatch.setattr(isa, "LEVEL_MACROS", (macro,))


def test_macro_that_follows_march_must_be_set_where_levels_meet(tmp_path, zlib_level_macro):
    """Each level's copy of libgreet links the generic version.c with greet.c built at its level: objects that
    share the external's types must agree on what -march would change (TensorFlow's v3 kernels aborted on the
    16-byte-aligned tensors the generic C API code accepted, as Eigen's EIGEN_MAX_ALIGN_BYTES followed -march)."""
    r = recipe(tmp_path, 'level-sensitive: ["greet.c"]\n')
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(r)
    e = exc.value
    assert (e.file, e.line) == (str(r.path), r.externals["//third_party/zlib"].line)
    assert "Z_ALIGN is left to each object's -march" in e.message and "copy of libgreet" in e.message
    assert "defines: [Z_ALIGN=64]" in e.hint


@pytest.mark.parametrize("key", [
    "",   # every unit compiled per level: each copy is built at one level
    'level-sensitive: ["greet.c"]\nconfig: {copts: [-DZ_ALIGN=16]}\n',
    'level-sensitive: ["greet.c"]\nconfig: {cxxopts: [-DZ_ALIGN]}\n',
])
def test_macro_that_follows_march_is_fine_unmixed_or_set(tmp_path, zlib_level_macro, key):
    assert fixture_plan(recipe(tmp_path, key)).libraries


def test_macro_set_by_the_externals_defines(tmp_path, zlib_level_macro):
    path = recipe_path(tmp_path, 'level-sensitive: ["greet.c"]\n')
    path.write_text(path.read_text().replace("libs: [z]}", "libs: [z], defines: [Z_ALIGN=64]}"))
    [lib] = fixture_plan(path).libraries
    assert all("-DZ_ALIGN=64" in c.flags for c in lib.compiles if c.src == "greet.c")


def test_macro_that_follows_march_must_be_set_across_libraries_with_and_without_copies(tmp_path, zlib_level_macro):
    """liba is copied per level, libb (variants: false) only generic: one process loads both."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "WORKSPACE").write_text("")
    (tree / "BUILD.bazel").write_text("".join(f'cc_library(name = "{n}", srcs = ["{n}.c"], '
                                              f'deps = ["//third_party/zlib"])\n' for n in "ab"))
    for n in "ab":
        (tree / f"{n}.c").write_text(f"int {n};\n")
    path = fixture_recipe(tmp_path / "two.yaml", tree, "two", [("a", "//:a"), ("b", "//:b")],
                          "externals:\n  //third_party/zlib: {package: zlib1g-dev, libs: [z]}\n")
    path.write_text(path.read_text().replace("  - name: libb1\n", "  - name: libb1\n    variants: false\n"))
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(path)
    assert "libb has no ISA-level copies, and other libraries using it do" in exc.value.message
