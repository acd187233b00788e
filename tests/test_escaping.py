"""Hostile text from recipes and upstream trees: every generated file either holds it escaped for its format or
the input is refused with file:line (backends/escape.py, the recipe schema, the planner's option policy).

The CLI cases (recipes under tests/fixtures/catalogue/recipes/escaping/, trees written here) run as the catalogue's
do: exit 2, the exact file:line, no traceback, nothing written."""

import io
import os
import shutil
import subprocess

import pytest
from debian.deb822 import Deb822
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, ROOT, run_cli, snapshot
from debforge.core import escape
from debforge.core.errors import DebforgeError

CATALOGUE = FIXTURES / "catalogue"
NINJA = shutil.which("ninja", path=str(ROOT / ".venv/bin")) or shutil.which("ninja")

RECIPES = {   # recipes/escaping/<case>.yaml -> (line, start of the message)
    "version-trailing-newline": (3, "version '1.0\\n' holds the control character '\\n'"),
    "summary-injects-pc-field": (10, "summary 'tiny\\n Libs: -L/evil -levil' holds the control character '\\n'"),
    "maintainer-injects-control": (7, "maintainer 'Tiny Maintainer <tiny@example.org>\\n Evil: yes' holds"),
    "section-shell": (6, "section 'libs $(shell touch /tmp/debforge-pwned)' is not valid"),
    "homepage-quote": (6, "homepage 'https://github.com/a/b\"$(id)' is not valid"),
    "header-to-newline": (26, "headers 'to' 'tiny\\nusr/bin' holds the control character '\\n'"),
    "tool-command-shell": (22, "tools.//:gen.command 'flatc; touch /tmp/debforge-pwned' is not valid: a program's"),
    "copt-plugin": (22, "config.copts: '-fplugin=/tmp/evil.so' makes the compiler or linker load or run a program"),
    "copt-response-file": (22, "config.cxxopts: '@/etc/passwd' makes the compiler or linker read a response file"),
    "closes-huge": (21, ""),
    "compile-memory-huge": (22, "compile-memory 'default'"),
    "description-control": (11, "description 'A tiny library\\n\\x1b[31m for tests.' holds the control character"),
    "external-key-newline": (22, "externals: 'zlib\\nEvil: 1' is not a bazel repository"),
}
TREES = {   # BUILD file of the catalogue's tree -> start of the message at BUILD:1
    "copt-newline": ('copts = ["-DX=1\\n-fplugin=/tmp/x.so"]',
                     "attribute 'copts' of '//:tiny': '-DX=1\\n-fplugin=/tmp/x.so' holds the control character"),
    "source-name-newline": ('copts = []', "attribute 'srcs' of '//:tiny': '//:src/a\\nb.c' holds the control"),
    "copt-plugin": ('copts = ["-fplugin=/tmp/x.so"]',
                    "copt '-fplugin=/tmp/x.so' of '//:tiny' makes the compiler or linker load or run a program"),
    "copt-in-words": ('copts = ["-O2 -B/tmp/evil"]',
                      "copt '-B/tmp/evil' of '//:tiny' makes the compiler or linker load or run a program"),
    "copt-unclosed-quote": ('copts = ["-DX=\\"1"]', "copts or linkopts of '//:tiny' cannot be split into words"),
    "copt-specs": ('copts = ["-specs=/tmp/evil.specs"]', "copt '-specs=/tmp/evil.specs' of '//:tiny' makes"),
    "copt-include-absolute": ('copts = ["-include", "/etc/passwd"]',
                              "copt '-include /etc/passwd' of '//:tiny' leads out of the tree"),
    "copt-isystem-absolute": ('copts = ["-isystem/usr/include"]',
                              "copt '-isystem/usr/include' of '//:tiny' leads out of the tree"),
    "copt-profile-use": ('copts = ["-fprofile-use=/tmp/p"]', "copt '-fprofile-use=/tmp/p' of '//:tiny' leads out"),
    "linkopt-plugin": ('linkopts = ["-Wl,--plugin,/tmp/x.so"]',
                       "link option '--plugin' of '//:tiny' makes the compiler or linker load or run a program"),
    "linkopt-xlinker-plugin": ('linkopts = ["-Xlinker", "-plugin=/tmp/x.so"]', "link option '-plugin=/tmp/x.so'"),
    "linkopt-response-file": ('linkopts = ["-Wl,@/etc/passwd"]', "link option '@/etc/passwd' of '//:tiny' makes "
                                                                 "the compiler or linker read a response file"),
    "linkopt-script": ('linkopts = ["-Wl,-T,/etc/ld.script"]', "link option '-T /etc/ld.script' of '//:tiny' leads"),
    # bazel splits linkopts into words as it splits copts: each word is checked, as the link gets it
    "linkopt-in-words": ('linkopts = ["-lm -fuse-ld=/tmp/evil"]',
                         "link option '-fuse-ld=/tmp/evil' of '//:tiny' makes the compiler or linker load or run"),
    "linkopt-unclosed-quote": ("linkopts = [\"-Wl,-z,'defs\"]",
                               "copts or linkopts of '//:tiny' cannot be split into words"),
}


def _check(proc, before, after, location, message):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{location}: error: {message}" in proc.stderr, proc.stderr
    assert after == before, "something was written"
    assert not os.path.exists("/tmp/debforge-pwned")


def test_recipe_cases_are_listed():
    assert {p.stem for p in (CATALOGUE / "recipes/escaping").glob("*.yaml")} == set(RECIPES)


@pytest.mark.parametrize("case", RECIPES)
def test_hostile_recipe(case, tmp_path):
    shutil.copytree(CATALOGUE / "tree", tmp_path / "tree")
    (tmp_path / "recipes/escaping").mkdir(parents=True)
    shutil.copy(CATALOGUE / f"recipes/escaping/{case}.yaml", tmp_path / "recipes/escaping")
    before = snapshot(tmp_path)
    proc = run_cli("generate", f"recipes/escaping/{case}.yaml", "--source", "tree", "-o", "out", cwd=tmp_path)
    line, message = RECIPES[case]
    _check(proc, before, snapshot(tmp_path), f"recipes/escaping/{case}.yaml:{line}", message)


@pytest.mark.parametrize("case", TREES)
def test_hostile_build_file(case, tmp_path):
    shutil.copytree(CATALOGUE / "tree", tmp_path / "tree")
    shutil.copy(CATALOGUE / "recipe.yaml", tmp_path)
    attr, message = TREES[case]
    (tmp_path / "tree/BUILD").write_text(f'cc_library(name = "tiny", srcs = glob(["src/*.c"]), hdrs = '
                                         f'["include/tiny.h"], includes = ["include"], {attr})\n')
    if case == "source-name-newline":
        (tmp_path / "tree/src/a\nb.c").write_text("int b;\n")
    before = snapshot(tmp_path)
    proc = run_cli("generate", "recipe.yaml", "--source", "tree", "-o", "out", cwd=tmp_path)
    _check(proc, before, snapshot(tmp_path), "BUILD:1", message)


def test_legitimate_options_pass():
    from debforge.core.confine import option_problem
    for options in (["-O2", "-DX=1", "-std=c++17", "-Iinclude", "-iquote", ".", "-include", "config.h", "-pthread",
                     "-Wl,-Bsymbolic", "-Wl,-z,defs", "-Wl,--version-script,x.lds", "-lm", "-isystem", "$(BINDIR)"],
                    ["-fvisibility=hidden", "-Wl,--no-as-needed", "-ldl", "-Xlinker", "--export-dynamic"]):
        assert option_problem(options) is None
    assert option_problem(["-isystem", "/usr/include/eigen3"], system=True) is None
    assert option_problem(["-isystem", "/usr/../etc"], system=True) is not None


def test_escape_functions():
    assert escape.make("a$(shell id)") == "a$$(shell id)"
    assert escape.make(escape.Make("$(DEB_VERSION)")) == "$(DEB_VERSION)"
    assert escape.ninja_path("a b:$c") == "a$ b$:$$c"
    assert escape.pkgconfig("${prefix}") == "$${prefix}"
    assert escape.deb822_text("a\nb\n\n.\n ") == "a\n b\n .\n .\n ."
    assert escape.shell("a b") == "'a b'"
    assert escape.cmake("absl::base") == "absl::base"
    for refused in (lambda: escape.cmake('a"b'), lambda: escape.cmake("${x}"), lambda: escape.cmake("a;b"),
                    lambda: escape.cmake("a\\b"), lambda: escape.cmake("a\nb")):
        with pytest.raises(DebforgeError):
            refused()
    for refused in (lambda: escape.make("a\nb"), lambda: escape.ninja("a\nb"), lambda: escape.pkgconfig("a\nLibs: x"),
                    lambda: escape.dh_path("a b"), lambda: escape.shell_word("$(id)"),
                    lambda: escape.deb822("Maintainer", "a\nEvil: 1"), lambda: escape.deb822("X", "a\n \nPackage: b")):
        with pytest.raises(DebforgeError):
            refused()


# ---------------------------------------------------------------------------------------------------------------
# Property: free text in the recipe either round-trips through every generated file or is refused

FREE_TEXT = st.text(st.sampled_from("ab .:#$()'\"\\`;\n\t\r\x00\x1b\x85\u2028-<>@,"), min_size=1, max_size=30)
FIELDS = ("summary", "description", "copyright", "maintainer-name", "homepage-path", "version-suffix", "section")


@pytest.fixture(scope="module")
def plan_and_tree(tmp_path_factory):
    from debforge import frontends
    from debforge.plan import make_plan
    from debforge.recipe.schema import load_recipe
    tmp = tmp_path_factory.mktemp("escaping")
    shutil.copytree(CATALOGUE / "tree", tmp / "tree")
    shutil.copy(CATALOGUE / "recipe.yaml", tmp)
    r = load_recipe(tmp / "recipe.yaml")
    return make_plan(r, frontends.get("bazel").scan(tmp / "tree", r, "amd64", everything=False), "amd64"), tmp


def _yaml(value: str) -> str:
    import json
    return json.dumps(value)   # a YAML double-quoted scalar: every character as written


def _recipe_text(field: str, value: str) -> str:
    text = (CATALOGUE / "recipe.yaml").read_text()
    lines = {"summary": ("summary: tiny test library", f"summary: {_yaml(value)}"),
             "description": ("description: |\n  A tiny library for tests.", f"description: {_yaml(value)}"),
             "copyright": ("copyright: 2024 Tiny Authors", f"copyright: {_yaml(value)}"),
             "maintainer-name": ("maintainer: Tiny Maintainer <tiny@example.org>",
                                 f"maintainer: {_yaml(value + ' <tiny@example.org>')}"),
             "homepage-path": ("homepage: https://example.org/tiny", f"homepage: {_yaml('https://github.com/' + value)}"),
             "version-suffix": ("version: 1.0", f"version: {_yaml('1.0' + value)}"),
             "section": ("frontend: bazel", f"section: {_yaml(value)}\nfrontend: bazel")}
    old, new = lines[field]
    return text.replace(old, new, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=FREE_TEXT)
def test_free_text_round_trips_or_is_refused(plan_and_tree, field, value):
    import dataclasses

    from debforge.backends import debian, ninja
    from debforge.recipe.schema import load_recipe
    plan, tmp = plan_and_tree
    path = tmp / "hostile.yaml"
    path.write_text(_recipe_text(field, value))
    try:
        r = load_recipe(path)
        files = debian.render(r, {"amd64": dataclasses.replace(plan, recipe=r)}, tmp / "tree", 1700000000)
    except DebforgeError as exc:
        assert exc.file == str(path) and exc.line, exc   # refused, with the line
        return
    for name in ("control", "tests/control"):
        paragraphs = list(Deb822.iter_paragraphs(io.StringIO(files[name][0])))
        assert len(paragraphs) == files[name][0].count("\n\n") + 1, name   # no paragraph break injected
    control = list(Deb822.iter_paragraphs(io.StringIO(files["control"][0])))
    assert set(control[0]) == {"Source", "Section", "Priority", "Maintainer", "Build-Depends", "Build-Depends-Indep",
                               "Standards-Version", "Homepage", "Rules-Requires-Root"}
    # the same values (deb822 drops the whitespace around a value)
    assert control[0]["Maintainer"] == r.maintainer.strip() and control[0]["Section"] == r.section
    assert control[1]["Description"].split("\n")[0] == f"{r.summary} (metapackage)".strip()
    for p in control[1:]:
        assert "Package" in p and not set(p) - {"Package", "Architecture", "Multi-Arch", "Depends", "Recommends",
                                                 "Description", "Section"}
    from debian.copyright import Copyright
    assert next(Copyright(files["copyright"][0]).all_files_paragraphs()).copyright.split("\n")[0] == \
        r.copyright.split("\n")[0].strip()
    pc = files["debforge/pkgconfig/tiny.pc"][0].splitlines()
    assert [ln.split(":")[0] for ln in pc[1:]] == ["Name", "Description", "Version", "Libs"]
    # make parses debian/rules and runs nothing of the recipe's; ninja reads build.ninja
    rules = tmp / "rules.mk"
    rules.write_text(files["rules"][0].replace("include /usr/share/dpkg/", "-include /usr/share/dpkg/")
                     .replace("$(shell dh_listpackages -a)", ""))
    subprocess.run(["make", "-n", "-f", str(rules), "override_dh_auto_clean"], cwd=tmp, capture_output=True,
                   check=True)
    assert not os.path.exists("/tmp/debforge-pwned")
    if NINJA:
        (tmp / "build.ninja").write_text(ninja.render(dataclasses.replace(plan, recipe=r))
                                         .replace(f"include {ninja.CONFIG}\n", ""))
        subprocess.run([NINJA, "-f", "build.ninja", "-t", "targets"], cwd=tmp, capture_output=True, check=True)
