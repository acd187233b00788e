"""The recipe's `buildflags`: dpkg-buildflags' maintainer settings (DEB_<FLAG>_MAINT_<OP>) exported by the generated
debian/rules, so that every compile the ninja file runs gets them through config.ninja, as debian/rules' own
override would; bad entries refused at their line."""

import re
import subprocess

import pytest

from conftest import fixture_recipe, run_cli

LINE_TABLES = "buildflags:\n  CFLAGS: {strip: [-g], append: [-g1]}\n  CXXFLAGS: {strip: [-g], append: [-g1]}\n"


def generated(tmp_path, tail):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "WORKSPACE").write_text("")
    (tree / "BUILD.bazel").write_text('cc_library(name = "k", srcs = ["k.cc"], visibility = ["//visibility:public"])\n')
    (tree / "k.cc").write_text("int k(int x) { return x + 1; }\n")
    recipe = fixture_recipe(tmp_path / "k.yaml", tree, "kern", [("k", "//:k")], "isa-levels: []\n" + tail)
    proc = run_cli("generate", recipe, "-o", tmp_path / "out")
    return proc, tmp_path / "out/kern-1.0"


def test_the_rules_export_them_and_the_build_compiles_with_them(tmp_path):
    proc, tree = generated(tmp_path, LINE_TABLES)
    assert proc.returncode == 0, proc.stderr
    rules = (tree / "debian/rules").read_text()
    assert "export DEB_CXXFLAGS_MAINT_STRIP = -g\nexport DEB_CXXFLAGS_MAINT_APPEND = -g1\n" in rules
    # before buildflags.mk, which reads them
    assert rules.index("DEB_CFLAGS_MAINT_STRIP") < rules.index("include /usr/share/dpkg/buildflags.mk")
    conf = subprocess.run(["make", "-f", "debian/rules", "override_dh_auto_configure"], cwd=tree,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert conf.returncode == 0, conf.stderr
    flags = dict(re.findall(r"^(\w+) = (.*)$", (tree / "obj-debforge/config.ninja").read_text(), re.M))
    for key in ("cflags", "cxxflags"):
        words = flags[key].split()
        assert "-g" not in words and words[-1] == "-g1" and "-O2" in words, flags[key]
    compile_line = subprocess.run(["ninja", "-f", "debian/debforge/build-amd64.ninja", "-t", "commands", "generic"],
                                  cwd=tree, capture_output=True, text=True, check=True).stdout
    assert re.search(r"g\+\+ .* -O2 .*-g1 .* -c k\.cc", compile_line) and " -g " not in compile_line


def test_without_them_the_rules_are_as_before(tmp_path):
    proc, tree = generated(tmp_path, "")
    assert proc.returncode == 0, proc.stderr
    assert "_MAINT_" not in (tree / "debian/rules").read_text().replace("DEB_BUILD_MAINT_OPTIONS", "")


@pytest.mark.parametrize("tail, line, message", [
    ("buildflags:\n  RUSTFLAGS: {append: [-g1]}\n", 20, "'RUSTFLAGS' is not a flag debian/rules hands"),
    ("buildflags:\n  CFLAGS: {set: [-g1]}\n", 20, "set"),
    ("buildflags:\n  CFLAGS: {append: ['-g1 $(shell id)']}\n", 20, "is not valid"),
    ("buildflags:\n  CFLAGS: {append: ['-O2 -g1']}\n", 20, "is not valid"),
    ("buildflags:\n  CFLAGS: {append: [-fplugin=/tmp/x.so]}\n", 20, "load or run a program"),
    ("buildflags:\n  CXXFLAGS: {append: [-I/etc]}\n", 20, "/etc"),
    ("buildflags: [-g1]\n", 19, "buildflags must be a mapping"),
])
def test_bad_entries_are_refused_at_their_line(tmp_path, tail, line, message):
    proc, tree = generated(tmp_path, tail)
    assert proc.returncode == 2, proc.stderr
    assert re.search(rf"k\.yaml:{line}: error: .*{re.escape(message)}", proc.stderr), proc.stderr
    assert not tree.exists()
