"""A link that fails for want of an external's library names the external and the recipe key that fixes it, not
only ld's message (issue 18, bad input): debian/debforge/explain-link runs after each library's link."""

import subprocess

import pytest

from conftest import FIXTURES, ROOT, fixture_plan, fixture_recipe, ninja_generic
from debforge.backends import ninja

TREE = FIXTURES / "generated"   # greet.c calls zlibVersion(); //third_party/zlib is the recipe's to map


def build(tmp_path, zlib: str) -> tuple[subprocess.CompletedProcess, int]:
    """libgreet@generic built by the generated ninja file with `zlib` as the external's mapping; the mapping's
    line in the recipe."""
    recipe = fixture_recipe(tmp_path / "greet.yaml", TREE, "greet", [("greet", "//:greet")],
                            f"externals:\n  //third_party/zlib: {zlib}\n")
    line = recipe.read_text().splitlines().index(f"  //third_party/zlib: {zlib}") + 1
    return ninja_generic(recipe, tmp_path / "out", "greet"), line


@pytest.fixture(scope="module", autouse=True)
def needs_zlib():
    if subprocess.run(["dpkg-query", "-W", "zlib1g-dev"], capture_output=True).returncode != 0:
        pytest.skip("zlib1g-dev is not installed")


def test_an_external_without_its_library_is_named_with_the_key_that_adds_it(tmp_path):
    """The -l flags come from the package's pkg-config files; a recipe whose `modules` names a module the package
    lacks links no library of it."""
    proc, line = build(tmp_path, '{package: zlib1g-dev, modules: {"//third_party/zlib": minizip}}')
    assert proc.returncode != 0
    assert "undefined reference to `zlibVersion'" in proc.stdout   # ld's own message stays
    assert ("explain-link: error: obj-debforge/generic/libgreet.so.1.0: 1 undefined symbol(s) are defined by "
            "/usr/lib/x86_64-linux-gnu/libz.so (external '//third_party/zlib', zlib1g-dev), e.g. 'zlibVersion'"
            ) in proc.stdout
    assert (f"explain-link: debian/debforge/recipe.yaml:{line}: externals: //third_party/zlib links no -lz: add 'z' "
            f"to its libs") in proc.stdout


def test_a_library_name_ld_cannot_find_names_its_external(tmp_path):
    proc, line = build(tmp_path, "{package: zlib1g-dev, libs: [zz]}")
    assert proc.returncode != 0
    assert "cannot find -lzz" in proc.stdout
    assert (f"explain-link: error: debian/debforge/recipe.yaml:{line}: externals: //third_party/zlib names 'zz' "
            f"under libs, and ld finds no libzz.so (zlib1g-dev)") in proc.stdout


def test_a_good_link_says_nothing_more(tmp_path):
    proc, _ = build(tmp_path, "{package: zlib1g-dev, libs: [z]}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "explain-link" not in proc.stdout.replace("sh debian/debforge/explain-link", "")
    assert not list((tmp_path / "out/greet-1.0/obj-debforge/generic").glob("*.ld"))


def test_a_level_copy_missing_what_a_once_compiled_tu_defines_only_at_that_level_is_told_so(tmp_path):
    """A selective ISA-level copy links the baseline object of each level-neutral TU: a function that TU defines
    only under the level's macros is undefined there (TF Lite's SSSE3 4-bit kernels), which the generic copy's
    link never shows."""
    script = ROOT / "debforge/data/skel/debforge/explain-link"
    log = tmp_path / "ld.log"
    for out, told in (("obj-debforge/x86-64-v3/libk.so.1", True), ("obj-debforge/generic/libk.so.1", False)):
        log.write_text("k.cc:(.text+0x7613): undefined reference to `k::SsePrepack(int)'\n")
        proc = subprocess.run(["sh", script, "1", log, out], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 1 and "undefined reference to `k::SsePrepack(int)'" in proc.stderr
        assert ("is an ISA-level copy" in proc.stderr and "debforge measure-levels" in proc.stderr) == told
        assert not log.exists()


def test_a_recipe_edit_elsewhere_leaves_the_link_commands_as_they_were(tmp_path):
    """The externals' recipe lines are looked up by explain-link when a link fails, not written into the link
    commands: a comment added to the recipe would otherwise move them, and ninja would link every library (and
    each test) again, which for TensorFlow's 600 MB framework costs minutes."""
    texts = []
    for head in ("", "# a maintainer's comment\n# and another\n"):
        recipe = fixture_recipe(tmp_path / f"greet{len(texts)}.yaml", TREE, "greet", [("greet", "//:greet")],
                                "externals:\n  //third_party/zlib: {package: zlib1g-dev, libs: [z]}\n")
        recipe.write_text(head + recipe.read_text())
        texts.append(ninja.render(fixture_plan(recipe)))
    assert "zlib1g-dev" in texts[0] and texts[0] == texts[1]
