"""Generated files: a rule that makes files (here cmake_configure_file) becomes a build step with declared outputs
that ninja runs before the compiles needing it; build settings default to their build_setting_default unless
the recipe's config sets them; in-tree packages the recipe maps become Debian -dev packages."""

import ctypes
import fnmatch
import os
import shutil
import subprocess

import pytest

from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge.backends import ninja
from debforge.core.errors import DebforgeError
from debforge.data import SKEL
from debforge.plan import header_files
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "generated"
HEADER = "obj-debforge/gen/gen/config.h"


def recipe(tmp_path, tree=TREE, config=""):
    return load_recipe(fixture_recipe(tmp_path / "fixture.yaml", tree, "greet", [("greet", "//:greet")], f"""\
  headers:
    - files: "gen/*.h"
externals:
  //third_party/zlib: {{package: zlib1g-dev, libs: [z]}}
{config}"""))


def test_generating_rule_is_one_step_before_the_compiles(tmp_path):
    plan = fixture_plan(recipe(tmp_path))
    step, extra, word = plan.steps
    assert (step.label, step.kind, step.inputs, step.outputs) == \
        ("//:config_h", "cmake_configure_file", ["config.h.in"], [HEADER])
    # the bool_flag's build_setting_default (True) selects USE_FAST
    assert step.command[-2:] == ["HAVE_GREETING", "USE_FAST"]
    # a genrule's command with its make variables expanded, outputs under bazel's bin directory
    assert (extra.kind, extra.inputs, extra.outputs) == ("genrule", ["extra.c.in"], ["obj-debforge/gen/extra.c"])
    assert extra.command[-1].endswith("sed 's/@WORD@/extra/' extra.c.in > obj-debforge/gen/extra.c")
    assert (word.kind, word.outputs) == ("template_rule", ["obj-debforge/gen/gen/word.h"])
    [lib] = plan.libraries
    assert sorted(c.src for c in lib.compiles) == ["greet.c", "obj-debforge/gen/extra.c", "version.c"]
    # the header is named by its rule (greet) and by its file label (version): one file
    assert sorted(lib.generated) == ["obj-debforge/gen/extra.c", HEADER, "obj-debforge/gen/gen/word.h"]
    version = next(c for c in lib.compiles if c.src == "version.c")
    assert '-DVERSION_DIR="obj-debforge/gen"' in version.flags     # $(BINDIR)
    assert ["-iquote", "obj-debforge/gen"] == version.flags[-2:]
    # //third_party/zlib is not in the tree: the recipe maps the package to Debian's zlib
    assert plan.externals_used == ["zlib1g-dev"] and lib.external_libs == ["z"]
    assert header_files(plan.recipe, str(TREE), step.outputs + word.outputs) == \
        [(HEADER, "usr/include", ""), ("obj-debforge/gen/gen/word.h", "usr/include", "")]


def test_headers_exclude_leaves_out_what_it_matches(tmp_path):
    """`exclude` keeps a glob's internal headers out of the -dev package (QNNPACK's sources under ATen's tree)."""
    r = load_recipe(fixture_recipe(tmp_path / "fixture.yaml", TREE, "greet", [("greet", "//:greet")], """\
  headers:
    - {files: "gen/*.h", exclude: [gen/word.h]}
externals:
  //third_party/zlib: {package: zlib1g-dev, libs: [z]}
"""))
    plan = fixture_plan(r)
    assert r.headers[0].exclude == ("gen/word.h",)
    assert header_files(r, str(TREE), [o for s in plan.steps for o in s.outputs]) == [(HEADER, "usr/include", "")]


def test_recipe_config_overrides_the_flag_default(tmp_path):
    r = recipe(tmp_path, config='config:\n  flag-values:\n    "//:use_fast": "false"\n')
    step = fixture_plan(r).steps[0]
    assert step.command[-1] == "HAVE_GREETING"


def test_ninja_builds_generated_header_and_library_from_a_clean_tree(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    shutil.copytree(SKEL / "debforge", tree / "debian/debforge")
    r = recipe(tmp_path, tree)
    (tree / "build.ninja").write_text(ninja.render(fixture_plan(r)))
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/config.ninja").write_text(
        "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    dry = subprocess.run(["ninja", "-n", "generic"], cwd=tree, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    lines = dry.stdout.splitlines()
    for out in ("gen/config.h", "extra.c", "gen/word.h"):   # before any compile
        assert any(f"generate obj-debforge/gen/{out}" in ln for ln in lines[:3])
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tree / HEADER).read_text() == "#define HAVE_GREETING\n#define USE_FAST\n"
    # substitutions are literal strings, never patterns
    assert (tree / "obj-debforge/gen/gen/word.h").read_text() == '#define WORD "templated"\n#define QUOTE "$&\\1"\n'
    lib = ctypes.CDLL(str(tree / "obj-debforge/generic/libgreet.so.1"))
    lib.greet.restype = lib.version_dir.restype = lib.extra.restype = lib.word.restype = ctypes.c_char_p
    assert (lib.greet(), lib.version_dir(), lib.extra(), lib.word()) == \
        (b"fast", b"obj-debforge/gen", b"extra", b"templated")


def test_missing_generator_input_names_the_build_line(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    os.remove(tree / "config.h.in")
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(recipe(tmp_path, tree))
    assert "config.h.in" in str(exc.value) and exc.value.file.endswith("BUILD.bazel") and exc.value.line == 14


def test_unmapped_in_tree_package_is_an_error(tmp_path):
    r = recipe(tmp_path)
    object.__setattr__(r, "externals", {})
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(r)
    assert "//third_party/zlib" in str(exc.value) and exc.value.line == 25
    assert "externals" in exc.value.hint


def test_two_rules_declaring_one_file_is_an_error_naming_both(tmp_path):
    """As bazel refuses it: which rule makes the file a compile names would otherwise be the first one found (the
    AOTInductor shim, once declared by pytorch's generate_aten, was still among build.bzl's gen_aten outputs)."""
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    build = (tree / "BUILD.bazel").read_text()
    line = build.count("\n") + 2
    (tree / "BUILD.bazel").write_text(build + '\ngenrule(\n    name = "extra_again",\n    outs = ["extra.c"],\n'
                                      '    cmd = "echo > $@",\n)\n')
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(recipe(tmp_path, tree))
    assert exc.value.args[0] == ("generated file '//:extra.c' of rule '//:extra_again' conflicts with the same "
                                 "file of rule '//:extra_c'")
    assert exc.value.file.endswith("BUILD.bazel") and exc.value.line == line


def test_link_also_makes_the_dev_link_an_ld_script(tmp_path):
    """link-also (the interface fixture's widget_all links widget): libwidget_all.so in the -dev package is a GNU
    ld script naming both libraries, installed instead of the symlink; the other library keeps its symlink."""
    from debforge.backends import debian
    r = load_recipe(FIXTURES / "interface/recipe.yaml")
    assert [lib.link_also for _, lib in r.libraries()] == [(), ("widget",)]
    files = debian.render(r, {"amd64": fixture_plan(r)}, r.upstream.dir, 0)
    script = files["debforge/ld-scripts/libwidget_all.ldscript"][0]
    assert script.startswith("/* GNU ld script\n")
    assert script.endswith("\nINPUT(libwidget_all.so.1 AS_NEEDED(libwidget.so.1))\n")
    assert files["libwidget-dev.links"][0] == ("usr/lib/${DEB_HOST_MULTIARCH}/libwidget.so.1 "
                                               "usr/lib/${DEB_HOST_MULTIARCH}/libwidget.so\n")
    install = files["libwidget-dev.install"][0]
    assert install.startswith("#!/usr/bin/dh-exec\n")   # it renames the script
    assert ("debian/debforge/ld-scripts/libwidget_all.ldscript => usr/lib/${DEB_HOST_MULTIARCH}/libwidget_all.so\n"
            in install)
    assert "dh-exec" in files["control"][0]
    # dpkg-source leaves files matching its default tar-ignore out of the debian tarball: a build from the .dsc
    # (sbuild, a buildd) would lack them (found when TensorFlow's sbuild lacked libtensorflow.so's script)
    ignored = subprocess.run(["perl", "-MDpkg::Source::Package", "-e",
                              "print join qq(\\n), Dpkg::Source::Package::get_default_tar_ignore_pattern()"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert "*.so" in ignored
    dropped = [path for path in files for part in path.split("/") for glob in ignored
               if "/" not in glob and fnmatch.fnmatchcase(part, glob)]
    assert dropped == []


@pytest.mark.parametrize("section, area", [("science", ""), ("contrib/science", "contrib/"), ("libs", ""),
                                           ("contrib/libs", "contrib/")])
def test_library_packages_are_in_libs_whatever_the_sources_section(tmp_path, section, area):
    """A recipe's section is its source's (TensorFlow's: science); its shared library packages go to libs, as
    Debian's do (lintian: wrong-section-according-to-package-name), -dev to libdevel, -src to devel, each in the
    source's archive area (a package without a Section field has the source's)."""
    from debian.deb822 import Deb822

    from debforge.backends import debian
    text = (FIXTURES / "interface/recipe.yaml").read_text().replace("frontend: bazel", f"section: {section}\n"
                                                                     "frontend: bazel", 1)
    shutil.copytree(FIXTURES / "interface", tmp_path / "interface")
    (tmp_path / "interface/recipe.yaml").write_text(text)
    r = load_recipe(tmp_path / "interface/recipe.yaml")
    control = list(Deb822.iter_paragraphs(debian.render(r, {"amd64": fixture_plan(r)}, r.upstream.dir, 0)
                                          ["control"][0]))
    sections = {p.get("Package", "source"): p.get("Section", section) for p in control}
    assert sections == {"source": section, "libwidget1": area + "libs", "libwidget1-generic": area + "libs",
                        "libwidget-dev": area + "libdevel", "widget-src": area + "devel"}
