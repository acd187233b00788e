"""The -dev package as Debian's are (issue 19): it Depends on the externals' -dev packages whose headers its
installed headers include, and its .pc files require their pkg-config modules; what those packages hold is read
from their .debs (drivers/archive.py), here a .deb built with dpkg-deb."""

import subprocess
from pathlib import Path

import pytest

from conftest import fixture_plan, fixture_recipe, run_cli
from debforge.backends import debian
from debforge.core.devpackage import DevPackage
from debforge.drivers import archive
from debforge.recipe.schema import load_recipe

BUILD = """
cc_library(name = "core", srcs = ["core.cc"], hdrs = ["core.h"], deps = ["@flatbuffers//:runtime_cc", "@fast//:lib"],
           linkopts = ["-pthread"])
"""


def fake_deb(tmp: Path, name: str, files: dict[str, str]) -> Path:
    """A .deb of `name` holding `files` (path -> text), made by dpkg-deb."""
    root = tmp / f"{name}-root"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN/control").write_text(f"Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\n"
                                         f"Maintainer: T <t@example.org>\nDescription: test\n")
    deb = tmp / f"{name}_1.0-1_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The archive's cache of .debs, holding two -dev packages: flatbuffers (one module) and fast (headers under
    an include directory its .pc adds, and two modules)."""
    debs = tmp_path / "xdg" / "debforge" / "debs" / "trixie"   # the CLI's cache under XDG_CACHE_HOME=xdg
    debs.mkdir(parents=True)
    fake_deb(debs, "libflatbuffers-dev", {
        "usr/include/flatbuffers/flatbuffers.h": "",
        "usr/lib/x86_64-linux-gnu/pkgconfig/flatbuffers.pc":
            "prefix=/usr\nincludedir=${prefix}/include\nName: flatbuffers\nDescription: f\nVersion: 1\n"
            "Libs: -lflatbuffers\nCflags: -I${includedir}\n"})
    fake_deb(debs, "libfast-dev", {
        "usr/include/fast1/fast/api.h": "", "usr/include/fast1/fast/impl.h": "",
        "usr/share/pkgconfig/fast_lib.pc": "prefix=/usr\nName: fast_lib\nDescription: f\nVersion: 1\n"
                                           "Requires: fast_base, zlib\nLibs: -lfast_lib\n"
                                           "Cflags: -I${prefix}/include/fast1\n",
        "usr/share/pkgconfig/fast_base.pc": "prefix=/usr\nName: fast_base\nDescription: f\nVersion: 1\n"
                                            "Libs: -lfast_base\n"})
    fake_deb(debs, "zlib1g-dev", {"usr/include/zlib.h": ""})
    monkeypatch.setattr(archive, "CACHE", tmp_path / "xdg" / "debforge")
    return debs


def test_a_dev_package_is_read_from_its_deb(cache):
    fast = archive.dev_package("libfast-dev", "trixie")
    assert fast.roots() == ["/usr/include", "/usr/include/fast1"]
    assert fast.headers("/usr/include/fast1") == {"fast/api.h": "/usr/include/fast1/fast/api.h",
                                                  "fast/impl.h": "/usr/include/fast1/fast/impl.h"}
    # pkgconf resolves the package's own requirements; zlib is another package's (its -dev dependency brings it)
    assert fast.libs == {"fast_lib": ["fast_lib", "fast_base"], "fast_base": ["fast_base"]}
    assert (cache / "libfast-dev_1.0-1_amd64.json").is_file()   # listed once
    assert archive.dev_package("libfast-dev", "trixie") == fast


def write_tree(tmp_path, header, static=True):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "BUILD").write_text(BUILD)
    (tree / "core.cc").write_text('#include "core.h"\n')
    (tree / "core.h").write_text(header)
    return fixture_recipe(tmp_path / "r.yaml", tree, "core", [("core", "//:core")], "  static: false\n" * (not static) +
                          """\
  headers:
    - files: "*.h"
      to: core
externals:
  flatbuffers: libflatbuffers-dev
  fast: libfast-dev
""")


def render(recipe_path, cache):
    r = load_recipe(recipe_path)
    contents = archive.externals_contents(r, log=lambda m: None)
    return debian.render(r, {"amd64": fixture_plan(r)}, r.upstream.dir, 0, contents)


def dev_depends(files):
    return next(p for p in files["control"][0].split("\n\n") if p.startswith("Package: libcore-dev")
                ).split("Depends: ")[1].splitlines()[0]


def test_headers_including_an_external_make_the_dev_package_depend_on_it(tmp_path, cache):
    recipe = write_tree(tmp_path, '#include <flatbuffers/flatbuffers.h>\n#include "fast/api.h"\n#include <vector>\n'
                                  '#include "core.h"\n')
    files = render(recipe, cache)
    assert dev_depends(files) == "libcore1 (= ${binary:Version}), libfast-dev, libflatbuffers-dev, ${misc:Depends}"
    pc = files["debforge/pkgconfig/core.pc"][0]
    assert "Requires: flatbuffers, fast_lib\n" in pc and "Requires.private" not in pc
    assert "Cflags: -pthread\n" in pc and "Libs: -lcore -pthread\n" in pc


def test_an_external_only_the_sources_use_is_a_private_requirement(tmp_path, cache):
    """A static link needs it (Requires.private), and pkg-config reads every module a .pc names, even for
    --cflags: the -dev package depends on its package too (TF Lite's eigen3 and libcpuinfo made `pkg-config
    --cflags tensorflowlite` fail where only libtensorflowlite-dev was installed)."""
    files = render(write_tree(tmp_path, "#include <stdint.h>\n"), cache)
    assert dev_depends(files) == "libcore1 (= ${binary:Version}), libfast-dev, libflatbuffers-dev, ${misc:Depends}"
    pc = files["debforge/pkgconfig/core.pc"][0]
    assert "Requires.private: flatbuffers, fast_lib\n" in pc and "\nRequires:" not in pc


def test_without_static_libraries_a_pc_file_has_no_private_requirement(tmp_path, cache):
    files = render(write_tree(tmp_path, "#include <stdint.h>\n", static=False), cache)
    assert dev_depends(files) == "libcore1 (= ${binary:Version}), ${misc:Depends}"
    assert "Requires" not in files["debforge/pkgconfig/core.pc"][0]


@pytest.mark.parametrize("label, module", [
    ("@com_google_absl//absl/log:check", "absl_check"),
    ("@com_google_absl//absl/log/internal:check_op", "absl_log_internal_check_op"),
    ("@com_google_absl//absl/strings:internal", "absl_strings_internal"),
    ("@com_google_absl//absl/strings", "absl_strings"),
])
def test_a_label_maps_to_the_module_named_as_its_target(label, module):
    absl = DevPackage("libabsl-dev", (), libs={m: [] for m in (
        "absl_check", "absl_absl_check", "absl_log_internal_check_op", "absl_strings", "absl_strings_internal",
        "absl_malloc_internal")})
    assert absl.modules_for([label]) == [module]


def test_recipe_lintian_overrides_are_written_with_their_reasons(tmp_path, cache):
    recipe = write_tree(tmp_path, "#include <stdint.h>\n")
    recipe.write_text(recipe.read_text() + """\
lintian-overrides:
  source:
    new-package-uses-date-based-version-number: upstream numbers its releases by date
  libcore1-generic:
    "hardening-no-fortify-functions *": no string functions
  libcore-dev:
    "no-code-sections [usr/lib/*/libcore.a]": data only
""")
    files = render(recipe, cache)
    assert files["source/lintian-overrides"][0] == (
        "# upstream numbers its releases by date\nnew-package-uses-date-based-version-number\n")
    assert "# no string functions\nlibcore1-generic: hardening-no-fortify-functions *\n" in \
        files["libcore1-generic.lintian-overrides"][0]
    # a file lintian points to, in brackets, as its hints give it
    assert "# data only\nlibcore-dev: no-code-sections [usr/lib/*/libcore.a]\n" in \
        files["libcore-dev.lintian-overrides"][0]


@pytest.mark.parametrize("yaml, why, line", [
    ("  libcore9:\n    some-tag: why\n", "'libcore9' is not a package of this recipe", 25),
    ("  libcore1:\n    some-tag:\n", "the reason for overriding some-tag must be a non-empty string", 26),
    ("  libcore1:\n    Bad_Tag: why\n", "lintian tag 'Bad_Tag' is not valid", 26),
])
def test_a_bad_lintian_override_names_its_line(tmp_path, yaml, why, line):
    from debforge.core.errors import DebforgeError
    recipe = write_tree(tmp_path, "")
    recipe.write_text(recipe.read_text() + "lintian-overrides:\n" + yaml)
    with pytest.raises(DebforgeError, match=why) as info:
        load_recipe(recipe)
    assert info.value.line == line


def test_a_mistyped_target_gets_a_suggestion_and_an_unused_external_a_warning(tmp_path, cache):
    from debforge.core.errors import DebforgeError
    recipe = write_tree(tmp_path, "")
    text = recipe.read_text()
    recipe.write_text(text.replace('target: "//:core"', 'target: "//:cor"'))
    with pytest.raises(DebforgeError, match="does not exist") as info:
        fixture_plan(load_recipe(recipe))
    assert info.value.hint == "did you mean '//:core'?"
    recipe.write_text(text + "  zlib: zlib1g-dev\n")
    out = run_cli("generate", str(recipe), "-o", str(tmp_path / "out"), env={"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert out.returncode == 0, out.stderr
    assert [m for m in (out.stdout + out.stderr).splitlines() if "warning" in m] == [
        f"debforge: warning: {recipe}:24: external 'zlib' is used by no library of amd64: remove it, "
        f"or check the repository name"]


def test_link_flags_come_from_the_packages_pkg_config_files_unless_the_recipe_lists_them(tmp_path, cache):
    """@fast//:lib is the module fast_lib, which requires fast_base: both are linked; flatbuffers has one module.
    An external's `libs:` overrides what its package says."""
    from debforge import frontends
    from debforge.plan import make_plan
    recipe = write_tree(tmp_path, "")
    r = load_recipe(recipe)
    contents = archive.externals_contents(r, log=lambda m: None)

    def external_libs(r):
        ws = frontends.get("bazel").scan(r.upstream.dir, r, "amd64", everything=False)
        return make_plan(r, ws, "amd64", contents=contents).libraries[0].external_libs
    assert external_libs(r) == ["flatbuffers", "fast_lib", "fast_base"]
    recipe.write_text(recipe.read_text().replace("  fast: libfast-dev\n",
                                                 "  fast: {package: libfast-dev, libs: [f]}\n"))
    assert external_libs(load_recipe(recipe)) == ["flatbuffers", "f"]


def test_a_version_constraint_goes_to_the_dependencies_and_is_checked_before_the_build(tmp_path, cache):
    from debforge.core.errors import DebforgeError
    from debforge.drivers import dpkg
    recipe = write_tree(tmp_path, "#include <flatbuffers/flatbuffers.h>\n")
    recipe.write_text(recipe.read_text().replace("  flatbuffers: libflatbuffers-dev\n",
                                                 "  flatbuffers: libflatbuffers-dev (>= 99:1.0)\n"
                                                 "  dpkg: {package: [dpkg-dev, dpkg (>= 1.0)]}\n"))
    r = load_recipe(recipe)
    assert r.externals["flatbuffers"].package == "libflatbuffers-dev"
    files = render(recipe, cache)
    assert "libflatbuffers-dev (>= 99:1.0)" in dev_depends(files)
    assert "libflatbuffers-dev (>= 99:1.0)" in files["control"][0].split("\n\n")[0]   # Build-Depends
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True,
                               text=True).stdout
    r = load_recipe(recipe)   # dpkg (>= 1.0) is met here; libflatbuffers-dev (>= 99:1.0) is not, or not installed
    with pytest.raises(DebforgeError, match=r"externals.flatbuffers needs libflatbuffers-dev \(>= 99:1.0\)") as info:
        dpkg.check_versions(r)
    assert info.value.line == 22
    text = recipe.read_text().replace("dpkg (>= 1.0)", "dpkg (>= 99:1.0)")
    recipe.write_text(text.replace(" (>= 99:1.0)\n", "\n", 1))
    with pytest.raises(DebforgeError, match=f"needs dpkg \\(>= 99:1.0\\); installed: dpkg {installed}"):
        dpkg.check_versions(load_recipe(recipe))


@pytest.mark.parametrize("value", ["libfoo-dev | libbar-dev", "libfoo-dev (>= 1) [amd64]", "libfoo-dev (>= x)"])
def test_a_bad_external_package_relation_is_refused(tmp_path, cache, value):
    from debforge.core.errors import DebforgeError
    recipe = write_tree(tmp_path, "")
    recipe.write_text(recipe.read_text().replace("  fast: libfast-dev\n", f'  fast: "{value}"\n'))
    with pytest.raises(DebforgeError, match="optionally with a version relation") as info:
        load_recipe(recipe)
    assert info.value.line == 23


def test_a_link_missing_an_externals_library_names_it_and_the_recipe_key(tmp_path, cache):
    """The undefined references of a failed link (a real one, here) are looked up in the externals' installed
    libraries: the message names the library and the recipe key that adds it."""
    recipe = write_tree(tmp_path, "")
    recipe.write_text(recipe.read_text() + "  zlib: zlib1g-dev\n")
    r = load_recipe(recipe)
    (tmp_path / "z.c").write_text("#include <zlib.h>\nint f(void) { return (int)zlibCompileFlags(); }\n")
    link = subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-z,defs", "-o", str(tmp_path / "z.so"),
                           str(tmp_path / "z.c")], capture_output=True, text=True)
    assert link.returncode != 0
    (tmp_path / "build.log").write_text(link.stderr)
    zlib = DevPackage("zlib1g-dev", ("/usr/include/zlib.h", "/usr/lib/x86_64-linux-gnu/libz.so"))
    assert archive.undefined_externals(tmp_path / "build.log", r, {"zlib1g-dev": zlib}) == [
        "1 undefined symbols (such as `zlibCompileFlags') are in /usr/lib/x86_64-linux-gnu/libz.so of zlib1g-dev: "
        f"add z to externals.zlib.libs ({recipe}:24)"]


def test_a_recipe_table_names_the_module_where_the_names_differ(tmp_path, cache):
    from debforge import frontends
    from debforge.core.errors import DebforgeError
    from debforge.plan import make_plan
    recipe = write_tree(tmp_path, '#include "fast/api.h"\n')
    recipe.write_text(recipe.read_text().replace("  fast: libfast-dev\n",
                                                 '  fast: {package: libfast-dev, modules: {"//:lib": fast_base}}\n'))
    r = load_recipe(recipe)
    contents = archive.externals_contents(r, log=lambda m: None)
    plan = make_plan(r, frontends.get("bazel").scan(r.upstream.dir, r, "amd64", everything=False), "amd64",
                     contents=contents)
    assert plan.libraries[0].external_libs == ["flatbuffers", "fast_base"]
    pc = debian.render(r, {"amd64": plan}, r.upstream.dir, 0, contents)["debforge/pkgconfig/core.pc"][0]
    assert "Requires: fast_base\n" in pc and "Requires.private: flatbuffers\n" in pc
    recipe.write_text(recipe.read_text().replace('"//:lib": fast_base', '"lib": fast_base'))
    with pytest.raises(DebforgeError, match="is not a target of the repository") as info:
        load_recipe(recipe)
    assert info.value.line == 23


def test_a_header_linking_out_of_the_tree_is_not_read(tmp_path, cache):
    recipe = write_tree(tmp_path, "", static=False)   # no private requirements: Depends are the headers' only
    (tmp_path / "outside.h").write_text("#include <flatbuffers/flatbuffers.h>\n")
    (tmp_path / "tree/extra.h").symlink_to(tmp_path / "outside.h")   # matched by the headers' *.h
    assert dev_depends(render(recipe, cache)) == "libcore1 (= ${binary:Version}), ${misc:Depends}"


@pytest.mark.parametrize("yaml, line", [
    ("lintian-overrides:\n  libcore1:\n    some-tag:\n", 26),
    ("  zlib: {package: zlib1g-dev, modules: {zlib: z}}\n", 24),
    ("  zlib: 'zlib1g-dev (>= x)'\n", 24),
])
def test_new_keys_exit_2_with_file_and_line_and_write_nothing(tmp_path, yaml, line):
    recipe = write_tree(tmp_path, "")
    recipe.write_text(recipe.read_text() + yaml)
    out = run_cli("generate", str(recipe), "-o", str(tmp_path / "out"))
    assert out.returncode == 2 and out.stderr.startswith(f"{recipe}:{line}: error: "), out.stderr
    assert not (tmp_path / "out").exists()
