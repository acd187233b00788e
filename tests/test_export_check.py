"""What the -dev package is checked against and ships (issue 19): debian/debforge/check-exports runs after a
library's generic link and fails the build, at the recipe line, on an export glob that matches nothing or on exports
that leave out a symbol the installed headers declare; the static library is built from the generic objects; a
package's `symbols` file is checked against its libraries and written to debian/; and what a newcomer's recipe
(double-conversion) tripped on: a CMake package name with a dash, a summary too long for lintian."""

import shutil
import subprocess

import pytest

from conftest import FIXTURES, ROOT, fixture_recipe, ninja_generic, run_cli
from debforge.backends.debian import control
from debforge.core.errors import DebforgeError
from debforge.drivers import dpkg
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "exportcheck"   # api.h declares api::Open, api::Close and api_version; api.cc defines more


def recipe_with(tmp_path, exports: list[str], tail: str = "") -> tuple:
    """The fixture's recipe with `exports`, one glob a line; the line of each glob."""
    recipe = fixture_recipe(tmp_path / "api.yaml", TREE, "api", [("api", "//:api")],
                            "  headers:\n    - files: api/*.h\n      to: api\n" + tail)
    block = "".join(f'          - "{g}"\n' for g in exports)
    recipe.write_text(recipe.read_text().replace(
        '      - {name: api, target: "//:api", soversion: 1}\n',
        f'      - name: api\n        target: "//:api"\n        soversion: 1\n        exports:\n{block}'))
    lines = recipe.read_text().splitlines()
    return recipe, [lines.index(f'          - "{g}"') + 1 for g in exports]


def build(tmp_path, exports: list[str]) -> tuple[subprocess.CompletedProcess, list[int]]:
    """libapi@generic built by the generated ninja file."""
    recipe, lines = recipe_with(tmp_path, exports)
    return ninja_generic(recipe, tmp_path / "out", "api"), lines


def test_a_glob_that_matches_nothing_fails_at_its_line(tmp_path):
    proc, lines = build(tmp_path, ["api::*", "api_version", "apx::*"])
    assert proc.returncode != 0
    assert (f"check-exports: debian/debforge/recipe.yaml:{lines[2]}: error: exports entry 'apx::*' of library api "
            f"matches no symbol that obj-debforge/generic/libapi.so.1.0 defines") in proc.stdout
    assert proc.stdout.count("error:") == 1, proc.stdout


def test_exports_that_leave_out_a_declared_symbol_fail_naming_it(tmp_path):
    """api::Close and api_version are declared by api.h and left out. api::detail::Helper is left out too, but no
    header spells `detail`; api::HelperInComment only in a comment: neither is declared."""
    proc, lines = build(tmp_path, ["api::Open*"])
    assert proc.returncode != 0
    assert (f"check-exports: debian/debforge/recipe.yaml:{lines[0]}: error: the exports of library api leave out 2 "
            f"symbol(s) that its objects define and the -dev package's headers declare") in proc.stdout
    assert "  'api::Close(int)' (Close in api/api.h)\n  'api_version' (api_version in api/api.h)\n" in proc.stdout
    assert "Helper" not in proc.stdout.split("check-exports:", 1)[1]


def test_exports_that_keep_the_api_pass_and_the_static_library_is_built(tmp_path):
    proc, _ = build(tmp_path, ["api::Open*", "api::Close*", "api_version"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "check-exports: obj-debforge/generic/libapi.so.1.0: each of 3 export globs matches" in proc.stdout
    generic = tmp_path / "out/api-1.0/obj-debforge/generic"
    members = subprocess.run(["ar", "t", generic / "libapi.a"], capture_output=True, text=True, check=True).stdout
    assert members.split() == ["api.cc.o"]
    nm = subprocess.run(["nm", "-C", "--defined-only", generic / "libapi.a"], capture_output=True, text=True).stdout
    assert "api::detail::Helper(int)" in nm   # the archive is the objects, whatever the shared library exports


@pytest.mark.parametrize("static, installed", [("", True), ("  static: false\n", False)])
def test_the_dev_package_installs_the_static_library_unless_the_recipe_says_not(tmp_path, static, installed):
    recipe, _ = recipe_with(tmp_path, ["api::*"], static)
    gen = run_cli("generate", recipe, "-o", tmp_path / "out")
    assert gen.returncode == 0, gen.stderr
    install = (tmp_path / "out/api-1.0/debian/libapi-dev.install").read_text()
    assert ("obj-debforge/generic/libapi.a usr/lib/${DEB_HOST_MULTIARCH}/\n" in install) is installed
    ninja = (tmp_path / "out/api-1.0/debian/debforge/build-amd64.ninja").read_text()
    assert ("build obj-debforge/generic/libapi.a: static" in ninja) is installed


SYMBOLS = "libapi.so.1 libapi1-generic #MINVER#\n* Build-Depends-Package: libapi-dev\n api_version@Base 1.0\n"


def test_a_symbols_file_goes_to_the_generic_package(tmp_path):
    (tmp_path / "api.symbols").write_text(SYMBOLS)
    recipe, _ = recipe_with(tmp_path, ["api::*"])
    recipe.write_text(recipe.read_text().replace("  - name: libapi1\n", "  - name: libapi1\n    symbols: api.symbols\n"))
    gen = run_cli("generate", recipe, "-o", tmp_path / "out")
    assert gen.returncode == 0, gen.stderr
    assert (tmp_path / "out/api-1.0/debian/libapi1-generic.symbols").read_text() == SYMBOLS


@pytest.mark.parametrize("text, line, why", [
    (SYMBOLS.replace("libapi1-generic", "libapi1"), 1, "is not the entry of a library of libapi1"),
    (SYMBOLS + "libother.so.2 libapi1-generic #MINVER#\n", 4, "with a SONAME of libapi.so.1"),
    ("# no entry\n", None, "has no entry for libapi.so.1"),
])
def test_a_symbols_file_that_does_not_fit_the_package_is_refused(tmp_path, text, line, why):
    (tmp_path / "api.symbols").write_text(text)
    recipe, _ = recipe_with(tmp_path, ["api::*"])
    recipe.write_text(recipe.read_text().replace("  - name: libapi1\n", "  - name: libapi1\n    symbols: api.symbols\n"))
    key = recipe.read_text().splitlines().index("    symbols: api.symbols") + 1
    with pytest.raises(DebforgeError, match=why) as info:
        load_recipe(recipe)
    assert (info.value.file, info.value.line) == ((str(tmp_path / "api.symbols"), line) if line else
                                                  (str(recipe), key))


def test_a_symbols_file_of_a_gpu_flavour_package_is_refused_at_its_line(tmp_path):
    """A flavour's package replaces the CPU package's SONAMEs: its consumers' dependencies come from the CPU
    package's symbols file, so the key there is an error that says where the file belongs."""
    shutil.copytree(ROOT / "tests/fixtures/gpu", tmp_path / "gpu")
    recipe = tmp_path / "gpu/recipe.yaml"
    recipe.write_text(recipe.read_text().replace("      - name: libgpuscale1-cuda\n",
                                                 "      - name: libgpuscale1-cuda\n        symbols: cuda.symbols\n"))
    (tmp_path / "gpu/cuda.symbols").write_text("libgpuscale.so.1 libgpuscale1-cuda #MINVER#\n")
    line = recipe.read_text().splitlines().index("        symbols: cuda.symbols") + 1
    proc = run_cli("check", recipe)
    assert proc.returncode == 2
    assert (f"recipe.yaml:{line}: error: a cuda flavour package takes no symbols file: libgpuscale1-cuda's "
            f"libraries have the SONAMEs and ABI of the CPU package they replace") in proc.stderr
    assert "with a line '| libgpuscale1-cuda #MINVER#' after each SONAME line" in proc.stderr


def test_link_also_of_a_gpu_flavour_library_is_refused_at_its_line(tmp_path):
    """What -l<name> links is the CPU package's -dev link: a flavour library's link-also would be ignored."""
    shutil.copytree(ROOT / "tests/fixtures/gpu", tmp_path / "gpu")
    recipe = tmp_path / "gpu/recipe.yaml"
    entry = "          - {name: gpuscale, target: //:gpu_scale, soversion: 1}\n"
    text = recipe.read_text()
    assert entry in text
    recipe.write_text(text.replace(entry, "          - {name: gpuscale, target: //:gpu_scale, soversion: 1,\n"
                                          "             link-also: [scale]}\n", 1))
    line = recipe.read_text().splitlines().index("             link-also: [scale]}") + 1
    proc = run_cli("check", recipe)
    assert proc.returncode == 2
    assert f"recipe.yaml:{line}: error: a cuda flavour library takes no link-also" in proc.stderr, proc.stderr


def test_a_cmake_package_name_may_hold_a_dash(tmp_path):
    """double-conversion's CMake package is double-conversion (find_package(double-conversion)), as Debian's."""
    recipe, _ = recipe_with(tmp_path, ["api::*"], "  cmake: api-x\n")
    gen = run_cli("generate", recipe, "-o", tmp_path / "out")
    assert gen.returncode == 0, gen.stderr
    config = (tmp_path / "out/api-1.0/debian/debforge/cmake/api-xConfig.cmake").read_text()
    assert "add_library(api-x::api SHARED IMPORTED)" in config
    recipe.write_text(recipe.read_text().replace("cmake: api-x", "cmake: -x"))
    with pytest.raises(DebforgeError, match="a letter, then letters, digits, _ and -"):
        load_recipe(recipe)


def test_a_summary_too_long_for_lintian_is_refused_at_its_line(tmp_path):
    """A newcomer's first build (double-conversion) warned synopsis-too-long: debforge appends ' (development
    files)' and the like to the summary. Now generate says so first, with the length that fits every package."""
    recipe, _ = recipe_with(tmp_path, ["api::*"])
    summary = "routines to convert IEEE floating point numbers to and from strings"
    recipe.write_text(recipe.read_text().replace("summary: fixture", f"summary: {summary}"))
    line = recipe.read_text().splitlines().index(f"summary: {summary}") + 1
    gen = run_cli("generate", recipe, "-o", tmp_path / "out")
    assert gen.returncode == 2
    assert (f"api.yaml:{line}: error: the summary makes libapi-dev's synopsis '{summary} (development files)' "
            f"87 characters long: lintian warns above 80 (synopsis-too-long)") in gen.stderr
    assert "keep it within 60 characters: debforge appends ' (development files)'" in gen.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("exports, recorded", [(["api::Open*", "api::Close*", "api_version"], True),
                                               (["api::*", "api_version"], False)])
def test_debforge_build_records_symbols_unless_weak_cxx_ones_are_exported(tmp_path, exports, recorded):
    """What `debforge build` does after dpkg-buildpackage or sbuild, on the library in the -generic package's .deb
    that the .changes lists: dpkg-gensymbols' file for the package, with Debian's Build-Depends-Package field; none
    where `api::*` exports the weak instantiation Parse<int>, whose presence depends on the compiler."""
    recipe, _ = recipe_with(tmp_path, exports)
    assert ninja_generic(recipe, tmp_path / "out", "api").returncode == 0
    tree = tmp_path / "out/api-1.0"
    triplet = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True, text=True).stdout
    staged = tmp_path / "deb/usr/lib" / triplet.strip()
    staged.mkdir(parents=True)
    shutil.copy(tree / "obj-debforge/generic/libapi.so.1.0", staged)
    (tmp_path / "deb/DEBIAN").mkdir()
    (tmp_path / "deb/DEBIAN/control").write_text("Package: libapi1-generic\nVersion: 1.0-1\nArchitecture: amd64\n"
                                                 "Maintainer: T <t@example.org>\nDescription: test\n")
    builds = tmp_path / "builds"
    builds.mkdir()
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tmp_path / "deb",
                    builds / "libapi1-generic_1.0-1_amd64.deb"], check=True, capture_output=True)
    changes = builds / "api_1.0-1_amd64.changes"
    changes.write_text("Source: api\nFiles:\n 0 0 libs optional libapi1-generic_1.0-1_amd64.deb\n")
    r = load_recipe(recipe)
    notes = dpkg.record_symbols(changes, r, {"libapi1-generic": r.packages[0]})
    path = builds / "libapi1-generic.symbols"
    assert path.exists() is recorded
    if recorded:
        assert notes == [f"libapi1-generic: its symbols, recorded in {path}: keep them with the package's 'symbols' "
                         f"key (a file beside the recipe; see docs/dev-packages.md)"]
        assert path.read_text() == ("libapi.so.1 libapi1-generic #MINVER#\n* Build-Depends-Package: libapi-dev\n"
                                    " _ZN3api4OpenEi@Base 1.0\n _ZN3api5CloseEi@Base 1.0\n api_version@Base 1.0\n")
        # kept beside the recipe, the next build finds nothing new
        (tmp_path / "api.symbols").write_text(path.read_text())
        recipe.write_text(recipe.read_text().replace("  - name: libapi1\n",
                                                     "  - name: libapi1\n    symbols: api.symbols\n"))
        r = load_recipe(recipe)
        assert dpkg.record_symbols(changes, r, {"libapi1-generic": r.packages[0]}) == []
        # a symbol gone from the library: the build's file differs, and says so
        (tmp_path / "api.symbols").write_text(path.read_text() + " api_gone@Base 1.0\n")
        assert dpkg.record_symbols(changes, r, {"libapi1-generic": r.packages[0]}) == [
            f"libapi1-generic: its symbols differ from {tmp_path / 'api.symbols'}: this build's are in {path}"]
    else:
        assert notes == []


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "recipes").glob("*.yaml")))
def test_every_recipe_loads_with_synopses_lintian_takes(recipe):
    """The project's recipes: their symbols files fit their packages, their summaries their synopses (the
    TensorFlow recipe's was 4 characters too long for its -dev package)."""
    control.render(load_recipe(ROOT / "recipes" / recipe), [])
