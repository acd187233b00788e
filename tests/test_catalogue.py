"""The catalogue of malformed recipes and hostile BUILD files (tests/fixtures/catalogue/): each goes through the
real CLI, which must name the exact file:line, exit 2, print no traceback and write nothing.

recipes/<case>.yaml (and the patch it names, if any) break one thing of the valid recipe.yaml and run against
tree/; trees/<case>/ are upstream trees that recipe.yaml is run against. Each case runs with --source; those that
fail after the upstream is read run on the normal path too, unpacked into -o from a `dir:` and a `tarball:`
upstream, where "nothing written" means that -o is not even created. Hostile tarballs and recipes too big for a
fixture are made by the tests at the end."""

import os
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli, snapshot

CATALOGUE = FIXTURES / "catalogue"
# case -> (location, start of the message)
CASES = {
    # YAML
    "recipes/yaml-tab": ("recipes/yaml-tab.yaml:5", "YAML syntax: found character '\\t' that cannot start any token"),
    "recipes/yaml-unclosed-flow": ("recipes/yaml-unclosed-flow.yaml:14", "YAML syntax: expected ',' or ']'"),
    "recipes/duplicate-key": ("recipes/duplicate-key.yaml:10", "duplicate key 'source'"),
    "recipes/alias-contains-itself": ("recipes/alias-contains-itself.yaml:13",
                                      "a YAML alias refers to a value that contains it"),
    "recipes/not-a-mapping": ("recipes/not-a-mapping.yaml:1", "recipe must be a mapping, not a list"),
    "recipes/empty": ("recipes/empty.yaml:1", "recipe is empty"),
    "recipes/yaml-deep-nesting": ("recipes/yaml-deep-nesting.yaml:10", "recipe nests deeper than 100 levels"),
    "recipes/yaml-huge-integer": ("recipes/yaml-huge-integer.yaml:20",
                                  "integer of 5000 digits: at most 30 are allowed"),
    "recipes/yaml-alias-bomb": ("recipes/yaml-alias-bomb.yaml:27",
                                "recipe expands to more than 100000 values (through YAML aliases)"),
    # schema: keys and types
    "recipes/unknown-key": ("recipes/unknown-key.yaml:2", "unknown key 'verison' in recipe\n  hint: did you mean "
                                                          "'version'?"),
    "recipes/unknown-nested-key": ("recipes/unknown-nested-key.yaml:16", "unknown key 'librarys' in packages entry\n"
                                                                         "  hint: did you mean 'libraries'?"),
    "recipes/missing-field": ("recipes/missing-field.yaml:1", "recipe lacks required key 'license'"),
    "recipes/version-wrong-type": ("recipes/version-wrong-type.yaml:2",
                                   "version must be a non-empty string, not a list"),
    "recipes/variants-not-bool": ("recipes/variants-not-bool.yaml:16", "variants must be true or false"),
    "recipes/packages-not-list": ("recipes/packages-not-list.yaml:14", "packages must be a list, not a mapping"),
    "recipes/closes-not-a-bug": ("recipes/closes-not-a-bug.yaml:13", "closes lists Debian bug numbers"),
    "recipes/bad-maintainer": ("recipes/bad-maintainer.yaml:6", "maintainer 'tiny@example.org' is not valid"),
    "recipes/bad-label": ("recipes/bad-label.yaml:18", "target 'tiny' is not valid: expected a bazel label"),
    "recipes/upstream-two-kinds": ("recipes/upstream-two-kinds.yaml:3", "upstream needs exactly one of"),
    "recipes/unknown-frontend": ("recipes/unknown-frontend.yaml:12", "unknown frontend 'cmake'\n  hint: available:"),
    "recipes/no-architecture": ("recipes/no-architecture.yaml:13", "architectures is empty\n  hint: name at least "
                                                                   "one, e.g. [amd64]"),
    "recipes/unknown-architecture": ("recipes/unknown-architecture.yaml:13", "unknown architecture 'amd46'"),
    "recipes/unknown-isa-level": ("recipes/unknown-isa-level.yaml:14", "unknown ISA level 'x86-64-v5'\n  hint: did "
                                                                       "you mean 'x86-64-v4'?"),
    "recipes/isa-level-on-no-architecture": ("recipes/isa-level-on-no-architecture.yaml:14",
                                             "ISA level 'x86-64-v3' exists on none of the recipe's architectures "
                                             "(arm64)\n  hint: it is a level of amd64"),
    "recipes/no-soname": ("recipes/no-soname.yaml:17", "library 'tiny' has no soversion: debforge gives every "
                                                       "library the SONAME libtiny.so.<soversion>, the name under "
                                                       "which ld.so finds its ISA-level copies"),
    "recipes/library-version-mismatch": ("recipes/library-version-mismatch.yaml:20",
                                         "library version '2.0' does not start with its soversion '1'"),
    # schema: duplicates
    "recipes/duplicate-package": ("recipes/duplicate-package.yaml:20", "package 'libtiny1' is listed twice"),
    "recipes/duplicate-library": ("recipes/duplicate-library.yaml:20", "library 'tiny' is listed twice"),
    "recipes/link-also-unknown": ("recipes/link-also-unknown.yaml:20", "link-also of library 'tiny' names 'tinyx', "
                                                                       "which is not a library of the recipe"),
    "recipes/link-also-self": ("recipes/link-also-self.yaml:20", "link-also of library 'tiny' names 'tiny', the "
                                                                 "library itself"),
    "recipes/link-also-not-linked": ("recipes/link-also-not-linked.yaml:20", "link-also of library 'tiny' names "
                                                                             "'tiny2', which it does not link"),
    "recipes/duplicate-architecture": ("recipes/duplicate-architecture.yaml:13",
                                       "architecture 'amd64' is listed twice"),
    "recipes/dev-package-clash": ("recipes/dev-package-clash.yaml:21",
                                  "dev package 'libtiny1' has the name of a library package"),
    # recipe paths and labels that leave the tree
    "recipes/label-escape": ("recipes/label-escape.yaml:18", "target '//../outside:tiny' leads out of the tree"),
    "recipes/library-name-dotdot": ("recipes/library-name-dotdot.yaml:17", "library name '..' is not valid"),
    "recipes/header-absolute": ("recipes/header-absolute.yaml:23", "headers 'files' '/usr/include/*.h' must be a "
                                                                   "relative path inside the tree"),
    "recipes/header-strip-escape": ("recipes/header-strip-escape.yaml:24", "headers 'strip' '../include' must be a "
                                                                           "relative path inside the tree"),
    "recipes/header-to-escape": ("recipes/header-to-escape.yaml:25", "headers 'to' '../../etc' must be relative to "
                                                                     "/usr/include"),
    "recipes/header-exclude-escape": ("recipes/header-exclude-escape.yaml:25", "headers 'exclude' "
                                                                           "'../tree/include/tiny.h' must be a "
                                                                           "relative path inside the tree"),
    "recipes/header-bad-glob": ("recipes/header-bad-glob.yaml:23", "glob pattern 'include/**.h': '**' must be a "
                                                                   "whole path segment"),
    # recipe against the tree
    "recipes/target-not-found": ("recipes/target-not-found.yaml:17", "target '//:nothere' does not exist"),
    "recipes/headers-match-nothing": ("recipes/headers-match-nothing.yaml:23",
                                      "headers 'include/*.hpp' match no file in the upstream tree"),
    "recipes/headers-exclude-nothing": ("recipes/headers-exclude-nothing.yaml:23",
                                        "headers exclude 'include/internal/**' leaves out none of the files "
                                        "'include/*.h' matches"),
    "recipes/patch-fails-after-dry-run": ("recipes/patch-fails-after-dry-run.patch",
                                          "patch-fails-after-dry-run.patch passed a dry run but does not apply to "
                                          "tiny 1.0:"),
    # hostile Starlark: no file system, no commands, bounded
    "trees/syntax-error": ("BUILD:3", "Parse error: unexpected symbol ','"),
    "trees/read-file": ("BUILD:1", "Variable `open` not found"),
    "trees/run-command": ("BUILD:1", "Variable `exec` not found"),
    "trees/load-missing": ("BUILD:1", "file not found: missing.bzl"),
    "trees/load-escape": ("BUILD:1", "invalid label '//../outside:defs.bzl': labels must stay inside the tree"),
    "trees/load-absolute": ("BUILD:1", "invalid label '/etc/passwd': labels must stay inside the tree"),
    "trees/load-cycle": ("b.bzl:1", "load cycle: //:a.bzl -> //:b.bzl -> //:a.bzl (called from BUILD:1)"),
    "trees/infinite-recursion": ("BUILD:2", "Starlark call stack overflow (called from BUILD:4)"),
    "trees/huge-glob": ("BUILD:1", "glob() calls of this file returned more than 100000 paths in all: stopped"),
    "trees/glob-escape": ("BUILD:3", "glob pattern '../*.c' must be relative to the package"),
    "trees/glob-absolute": ("BUILD:3", "glob pattern '/etc/*' must be relative to the package"),
    "trees/macro-error": ("defs.bzl:2", "glob pattern '../*.c' must be relative to the package (no leading /, no ..) "
                                        "(called from BUILD:3)"),
    "trees/build-symlink": ("BUILD", "'BUILD' leads out of the source tree"),
    # hostile rule attributes
    "trees/invalid-target-name": ("BUILD:1", "cc_library: invalid target name 5"),
    "trees/duplicate-target": ("BUILD:3", "target 'tiny' is declared twice in package '//' (first at BUILD:1)"),
    "trees/srcs-wrong-type": ("BUILD:1", "attribute 'srcs' of '//:tiny' must be a list of strings"),
    "trees/deps-not-a-list": ("BUILD:1", "attribute 'deps' of '//:tiny' must be a list of strings, not '//:other'"),
    "trees/source-escape": ("BUILD:1", "invalid label '../outside.c': labels must stay inside the tree"),
    "trees/source-absolute": ("BUILD:1", "invalid label '/etc/passwd': labels must stay inside the tree"),
    "trees/source-symlink": ("BUILD:1", "source 'evil.c' of '//:tiny' is a symlink that leads out of the tree"),
    "trees/include-escape": ("BUILD:1", "include directory '../../usr/include' of '//:tiny' leads out of the tree"),
    "trees/strip-prefix-escape": ("BUILD:1", "strip_include_prefix '/../etc' of '//:tiny' leads out of the tree"),
    "trees/copt-absolute-include": ("BUILD:1", "copt '-I/usr/local/include' of '//:tiny' leads out of the tree"),
    # the build graph
    "trees/dependency-cycle": ("BUILD:7", "dependency cycle: //:tiny -> //:helper -> //:util -> //:helper"),
    "trees/alias-cycle": ("BUILD:9", "alias cycle: //:first -> //:second -> //:first"),
    "trees/unknown-label": ("BUILD:1", "'//:nothere' names no target"),
    "trees/unmapped-external": ("BUILD:1", "dependency '@com_example_foo//:foo' is in external repository "
                                           "@com_example_foo, which the recipe does not map"),
    "trees/select-no-match": ("BUILD:3", "select(): no condition matches the Debian configuration (arch amd64)"),
    "trees/select-not-a-setting": ("BUILD:5", "select() condition '//:sources' is a filegroup, not a config_setting"),
    "trees/not-a-cc-library": ("recipe.yaml:18", "target '//:tiny' is a filegroup (BUILD:1); a library package "
                                                 "needs a cc_library"),
    "trees/missing-source": ("BUILD:1", "'//:tiny' lists source 'gone.c', which is not in the tree"),
}


# the cases that fail once the upstream tree is read: also run on the normal path, unpacked into -o
UNPACKED = [c for c in CASES if c.startswith("trees/")] + \
    ["recipes/target-not-found", "recipes/headers-match-nothing", "recipes/patch-fails-after-dry-run",
     "recipes/link-also-not-linked"]
# ... where a symlink out of the tree is refused by unpacking, before the BUILD files are read
REFUSED_BY_UNPACK = {"trees/build-symlink": "cannot unpack: ", "trees/source-symlink": "cannot unpack: "}
RUNS = [(case, "source") for case in CASES] + [(case, up) for case in UNPACKED for up in ("dir", "tarball")]


def _workdir(case, upstream, tmp):
    """A copy of what the case needs; returns (workdir, CLI arguments relative to it). upstream: "source" (the
    tree given with --source), "dir" or "tarball" (the recipe's upstream, unpacked into -o)."""
    work = tmp / f"{case.replace('/', '-')}-{upstream}"
    kind, name = case.split("/")
    if kind == "recipes":
        shutil.copytree(CATALOGUE / "tree", work / "tree", symlinks=True)
        (work / "recipes").mkdir()
        for path in (CATALOGUE / "recipes").glob(f"{name}.*"):
            shutil.copy(path, work / "recipes")
        recipe = work / f"{case}.yaml"
    else:
        shutil.copytree(CATALOGUE / case, work / "tree", symlinks=True)
        recipe = Path(shutil.copy(CATALOGUE / "recipe.yaml", work))
    if upstream == "source":
        return work, (recipe.relative_to(work), "--source", "tree")
    if upstream == "tarball":
        with tarfile.open(work / "tiny-1.0.tar.gz", "w:gz") as tf:
            tf.add(work / "tree", "tiny-1.0")
    rel = os.path.relpath(work / ("tree" if upstream == "dir" else "tiny-1.0.tar.gz"), recipe.parent)
    recipe.write_text(recipe.read_text().replace("  dir: tree\n", f"  {upstream}: {rel}\n"))
    return work, (recipe.relative_to(work),)


def _run(run, tmp):
    work, args = _workdir(*run, tmp)
    before = snapshot(work)
    proc = run_cli("generate", *args, "-o", "out", cwd=work, env={"SOURCE_DATE_EPOCH": "1700000000"})
    return proc, before, snapshot(work)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """All runs at once, a few CLI processes at a time."""
    tmp = tmp_path_factory.mktemp("catalogue")
    with ThreadPoolExecutor(8) as pool:
        return dict(zip(RUNS, pool.map(lambda run: _run(run, tmp), RUNS)))


def test_catalogue_lists_every_fixture():
    found = {f"recipes/{p.stem}" for p in (CATALOGUE / "recipes").glob("*.yaml")}
    found |= {f"trees/{p.name}" for p in (CATALOGUE / "trees").iterdir()}
    assert found == set(CASES)
    assert len(CASES) >= 30


def test_base_recipe_and_tree_are_valid(tmp_path):
    """The cases fail for what they break: the recipe and tree they start from generate cleanly."""
    shutil.copytree(CATALOGUE / "tree", tmp_path / "tree")
    shutil.copy(CATALOGUE / "recipe.yaml", tmp_path)
    proc = run_cli("generate", "recipe.yaml", "--source", "tree", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tree/debian/debforge/build-amd64.ninja").is_file()


@pytest.mark.parametrize("case, upstream", RUNS, ids=[f"{case}-{up}" for case, up in RUNS])
def test_case(case, upstream, results):
    proc, before, after = results[case, upstream]
    location, message = CASES[case]
    if upstream != "source" and case in REFUSED_BY_UNPACK:
        location = "tiny-1.0.tar.gz" if upstream == "tarball" else "out/tiny_1.0.orig.tar.xz"
        message = REFUSED_BY_UNPACK[case]
    assert_refused(proc, location, message)
    assert after == before, "something was written"


def assert_refused(proc, location, message):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    error = proc.stderr[proc.stderr.index(": error: ") - len(location):]
    assert error.startswith(f"{location}: error: {message}"), proc.stderr
    assert proc.stderr.count(": error: ") == 1


def _tarball_recipe(work, members, name="tiny-1.0.tar.gz"):
    """recipe.yaml over a tarball of the base tree plus `members` (path -> bytes)."""
    shutil.copytree(CATALOGUE / "tree", work / "tree")
    for path, data in members.items():
        (work / "tree" / path).parent.mkdir(parents=True, exist_ok=True)
        (work / "tree" / path).write_bytes(data)
    with tarfile.open(work / name, "w:gz") as tf:
        tf.add(work / "tree", "tiny-1.0")
    shutil.rmtree(work / "tree")
    text = (CATALOGUE / "recipe.yaml").read_text().replace("  dir: tree\n", f"  tarball: {name}\n")
    (work / "recipe.yaml").write_text(text)


@pytest.mark.parametrize("members, env, message", [
    ({"data/zeros": bytes(2 << 20)}, {"DEBFORGE_UNPACK_MAX_BYTES": str(1 << 20)},
     "cannot unpack: its members hold more than 1048576 bytes (the limit; set DEBFORGE_UNPACK_MAX_BYTES to raise "
     "it)"),
    ({f"data/{i}": b"" for i in range(50)}, {"DEBFORGE_UNPACK_MAX_MEMBERS": "20"},
     "cannot unpack: more than 20 members (the limit; set DEBFORGE_UNPACK_MAX_MEMBERS to raise it)"),
], ids=["bytes", "members"])
def test_a_tarball_bomb_is_refused_and_the_fixed_tarball_is_used(tmp_path, members, env, message):
    _tarball_recipe(tmp_path, members)
    before = snapshot(tmp_path)
    proc = run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path, env=env)
    assert_refused(proc, "tiny-1.0.tar.gz", message)
    assert snapshot(tmp_path) == before
    _tarball_recipe(tmp_path, {"data/fixed": b"fixed\n"})   # fixed at the same version: nothing stale is reused
    proc = run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out/tiny-1.0/data").is_dir() and os.listdir(tmp_path / "out/tiny-1.0/data") == ["fixed"]
    assert (tmp_path / "out/tiny_1.0.orig.tar.gz").read_bytes() == (tmp_path / "tiny-1.0.tar.gz").read_bytes()


def test_a_tarball_changed_at_the_same_version_is_unpacked_anew(tmp_path):
    _tarball_recipe(tmp_path, {"data/old": b"old\n"})
    assert run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path).returncode == 0
    changelog = tmp_path / "out/tiny-1.0/debian/changelog"
    changelog.write_text(changelog.read_text() + "\n")   # the maintainer's debian/ comes along
    _tarball_recipe(tmp_path, {"data/new": b"new\n"})
    proc = run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "out/tiny_1.0.orig.tar.gz is not a copy of tiny-1.0.tar.gz: replacing it" in proc.stderr
    assert "out/tiny-1.0 is not a complete unpack of tiny_1.0.orig.tar.gz" in proc.stderr
    assert os.listdir(tmp_path / "out/tiny-1.0/data") == ["new"]
    assert changelog.read_text().endswith("\n\n")
    assert sorted(os.listdir(tmp_path / "out")) == ["tiny-1.0", "tiny_1.0.orig.tar.gz"]   # no staging left


def test_a_truncated_orig_is_an_error(tmp_path):
    _tarball_recipe(tmp_path, {"data/random": os.urandom(200_000)})
    tarball = tmp_path / "tiny-1.0.tar.gz"
    tarball.write_bytes(tarball.read_bytes()[:100_000])
    before = snapshot(tmp_path)
    proc = run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path)
    assert_refused(proc, "tiny-1.0.tar.gz", "cannot unpack: ")
    assert "hint: a truncated or corrupt tarball" in proc.stderr
    assert snapshot(tmp_path) == before


def test_a_huge_recipe_is_refused_before_parsing(tmp_path):
    (tmp_path / "recipe.yaml").write_text("source: " + "a" * (60 << 20) + "\n")
    proc = run_cli("check", "recipe.yaml", cwd=tmp_path)
    assert_refused(proc, "recipe.yaml", "recipe is larger than 1048576 bytes")


def test_a_patch_symlinked_out_of_the_recipes_directory_is_not_read(tmp_path):
    shutil.copy(CATALOGUE / "recipe.yaml", tmp_path)
    (tmp_path / "evil.patch").symlink_to("/etc/passwd")
    with open(tmp_path / "recipe.yaml", "a") as fh:
        fh.write("patches: [evil.patch]\n")
    before = snapshot(tmp_path)
    proc = run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path)
    assert_refused(proc, f"recipe.yaml:{len((tmp_path / 'recipe.yaml').read_text().splitlines())}",
                   "patch evil.patch leads out of the recipe's directory")
    assert snapshot(tmp_path) == before


def test_a_crash_is_a_bug_report_with_exit_3(tmp_path):
    shutil.copy(CATALOGUE / "recipe.yaml", tmp_path)
    crash = "import sys, debforge.cli as c; c.cmd_check = lambda args: 1 / 0; sys.exit(c.main(sys.argv[1:]))"
    for debug in ((), ("--debug",)):
        proc = subprocess.run([sys.executable, "-c", crash, *debug, "check", "recipe.yaml"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert proc.returncode == 3
        assert "recipe.yaml: internal error in `debforge check`: ZeroDivisionError: division by zero\n  this is a " \
               "bug in debforge" in proc.stderr
        assert ("Traceback" in proc.stderr) == bool(debug)


def test_planning_runs_no_upstream_code(tmp_path):
    """A generate_aten rule names an upstream generator whose outputs only a run would tell: planning does not run
    it (it would run whatever the tarball holds), it asks for the recipe's recorded list."""
    shutil.copy(CATALOGUE / "recipe.yaml", tmp_path)
    tree = tmp_path / "tree"
    shutil.copytree(CATALOGUE / "tree", tree)
    marker = tmp_path / "ran"
    (tree / "gen.py").write_text(f"open({str(marker)!r}, 'w').write('upstream code ran')\n")
    (tree / "aten.bzl").write_text('generate_aten = rule(implementation = lambda ctx: None, attrs = {})\n')
    (tree / "BUILD").write_text(
        'load("//:aten.bzl", "generate_aten")\n'
        'py_binary(name = "gen", srcs = ["gen.py"], main = "gen.py")\n'
        'generate_aten(name = "aten", srcs = [], outs = ["tiny_gen.c"], generator = ":gen")\n'
        'cc_library(name = "tiny", srcs = ["src/tiny.c", ":aten"], hdrs = ["include/tiny.h"], includes = ["include"])\n')
    before = snapshot(tmp_path)
    proc = run_cli("generate", "recipe.yaml", "-o", "out", cwd=tmp_path)
    assert_refused(proc, "BUILD:3", "generate_aten '//:aten': which files torchgen writes is recipe data")
    assert not marker.exists() and snapshot(tmp_path) == before
