"""A recipe's DEP-3 patches are applied before the scan, the way dpkg-source applies them before the build: a patch
of upstream's BUILD metadata changes the plan, and the tree dpkg-source builds from has them recorded as applied."""

import subprocess

from test_build_profiles import write_recipe

from conftest import FIXTURES, run_cli, snapshot

PATCH = """\
Description: extra.c is built without zlib
Author: Test <test@example.org>
Forwarded: not-needed
---
--- a/BUILD.bazel
+++ b/BUILD.bazel
@@ -14,7 +14,6 @@
         "extra.h",
         ":extra_version_h",
     ],
-    deps = ["@zlib"],
 )
 
 genrule(
"""


def recipe_with_patch(tmp_path, patch=PATCH):
    path = write_recipe(tmp_path)
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches/no-zlib.patch").write_text(patch)
    path.write_text(path.read_text() + "patches: [patches/no-zlib.patch]\n")
    return path


def test_scan_sees_patched_build_file(tmp_path):
    proc = run_cli("generate", recipe_with_patch(tmp_path), "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "applying no-zlib.patch" in proc.stderr
    tree = tmp_path / "out/twolibs-1.0"
    assert '"@zlib"' not in (tree / "BUILD.bazel").read_text()
    assert "zlib1g-dev" not in (tree / "debian/control").read_text()   # the plan no longer reaches @zlib
    assert (tree / ".pc/applied-patches").read_text() == "no-zlib.patch\n"
    assert (tree / ".pc/no-zlib.patch/BUILD.bazel").read_text() == (FIXTURES / "profiles/BUILD.bazel").read_text()
    assert (tree / "debian/patches/series").read_text() == "no-zlib.patch\n"
    # regeneration applies nothing twice; dpkg-source takes the tree as orig + the series applied
    again = run_cli("generate", tmp_path / "twolibs.yaml", "-o", tmp_path / "out")
    assert again.returncode == 0 and "applying" not in again.stderr, again.stderr
    src = subprocess.run(["dpkg-source", "-b", tree.name], cwd=tree.parent, capture_output=True, text=True)
    assert src.returncode == 0, src.stderr
    assert "no-zlib.patch" in subprocess.run(["tar", "tf", next(tree.parent.glob("*.debian.tar.*"))],
                                             capture_output=True, text=True, check=True).stdout


def test_patch_that_does_not_apply(tmp_path):
    path = recipe_with_patch(tmp_path, PATCH.replace('"@zlib"', '"@zstd"'))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert f"{tmp_path}/patches/no-zlib.patch: error: no-zlib.patch does not apply" in proc.stderr
    assert "Hunk #1 FAILED at 14." in proc.stderr
    assert "hint: refresh the patch against this upstream version" in proc.stderr
    assert not (tmp_path / "out").exists()   # nothing written: not even the output directory


def test_a_patch_edited_after_it_was_applied_is_popped_and_applied_again(tmp_path):
    """The tree holds the version applied first: it is popped from quilt's copy of what it changed (the patch file
    now says something else) and the edited one applied; the build directory stays."""
    path = recipe_with_patch(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    (tree / "obj-debforge").mkdir()
    patch = tmp_path / "patches/no-zlib.patch"
    patch.write_text(BROKEN.replace('deps = [":no_such_target"],', "# built without zlib"))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert f"{tree}: popping no-zlib.patch (quilt's copies in .pc/) and applying no-zlib.patch in place" in proc.stderr
    assert "# built without zlib" in (tree / "BUILD.bazel").read_text()
    assert (tree / "obj-debforge").is_dir()
    assert (tree / ".pc/no-zlib.patch/BUILD.bazel").read_text() == (FIXTURES / "profiles/BUILD.bazel").read_text()


def test_a_patch_added_later_is_applied_in_place_and_the_build_stays(tmp_path):
    """A maintainer adds a patch to fix a failed compile of a long build: it is pushed onto the tree as quilt would,
    and the build directory (hours of objects) stays; ninja recompiles what the patch changed."""
    path = write_recipe(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/extra.o").write_text("object\n")
    path = recipe_with_patch(tmp_path)
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert f"{tree}: applying no-zlib.patch in place (the build directory stays" in proc.stderr
    assert (tree / "obj-debforge/extra.o").read_text() == "object\n"
    assert '"@zlib"' not in (tree / "BUILD.bazel").read_text()
    assert (tree / ".pc/applied-patches").read_text() == "no-zlib.patch\n"
    assert (tree / "debian/patches/series").read_text() == "no-zlib.patch\n"
    assert "zlib1g-dev" not in (tree / "debian/control").read_text()


BROKEN = PATCH.replace('-    deps = ["@zlib"],\n',
                       '-    deps = ["@zlib"],\n+    deps = [":no_such_target"],\n').replace("@@ -14,7 +14,6 @@",
                                                                                     "@@ -14,7 +14,7 @@")


def test_a_command_failing_after_the_push_pops_the_patch(tmp_path):
    """The output directory is left as it was: a later error (a target the patched BUILD file names but lacks)
    pops what this run pushed."""
    path = write_recipe(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    before = snapshot(tree)
    proc = run_cli("generate", recipe_with_patch(tmp_path, BROKEN), "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "applying no-zlib.patch in place" in proc.stderr and "unapplying no-zlib.patch" in proc.stderr
    assert snapshot(tree) == before


FIRST = """\
Description: extra's version is 8
Author: Test <test@example.org>
Forwarded: not-needed
---
--- a/BUILD.bazel
+++ b/BUILD.bazel
@@ -19,4 +19,4 @@
     name = "extra_version_h",
     outs = ["extra_version.h"],
-    cmd = "echo '#define EXTRA_VERSION 7' > $@",
+    cmd = "echo '#define EXTRA_VERSION 8' > $@",
 )
"""
NEW_FILE = """\
Description: a file of the packaging's own
Author: Test <test@example.org>
Forwarded: not-needed
---
--- /dev/null
+++ b/added.txt
@@ -0,0 +1 @@
+added
"""


def test_a_patch_inserted_before_applied_ones_pops_them_and_the_build_stays(tmp_path):
    """A fix inserted early in the series (hours of objects in obj-debforge/): the applied patches after it are
    popped from quilt's copies, a file one of them created is removed, and the series pushed again in place;
    every file they touch is newer than before, so ninja recompiles what they change."""
    path = recipe_with_patch(tmp_path)
    (tmp_path / "patches/new-file.patch").write_text(NEW_FILE)
    path.write_text(path.read_text().replace("patches: [patches/no-zlib.patch]",
                                             "patches: [patches/no-zlib.patch, patches/new-file.patch]"))
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/extra.o").write_text("object\n")
    built = (tree / "BUILD.bazel").stat().st_mtime_ns
    (tmp_path / "patches/first.patch").write_text(FIRST)
    path.write_text(path.read_text().replace("patches: [patches/no-zlib.patch, patches/new-file.patch]",
                                             "patches: [patches/first.patch, patches/no-zlib.patch]"))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert (f"{tree}: popping no-zlib.patch, new-file.patch (quilt's copies in .pc/) and applying first.patch, "
            f"no-zlib.patch in place") in proc.stderr
    assert "unapplying new-file.patch" in proc.stderr and "unpacking" not in proc.stderr
    assert not (tree / "added.txt").exists()
    assert (tree / "obj-debforge/extra.o").read_text() == "object\n"
    text = (tree / "BUILD.bazel").read_text()
    assert "EXTRA_VERSION 8" in text and '"@zlib"' not in text
    assert (tree / "BUILD.bazel").stat().st_mtime_ns > built
    assert (tree / ".pc/applied-patches").read_text() == "first.patch\nno-zlib.patch\n"
    assert (tree / "debian/patches/series").read_text() == "first.patch\nno-zlib.patch\n"


def test_a_patch_removed_from_the_series_is_popped(tmp_path):
    path = recipe_with_patch(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    path.write_text(path.read_text().replace("patches: [patches/no-zlib.patch]\n", ""))
    (tmp_path / "patches/no-zlib.patch").unlink()   # gone: it pops from quilt's copies all the same
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert f"{tree}: popping no-zlib.patch (quilt's copies in .pc/) in place" in proc.stderr
    assert (tree / "BUILD.bazel").read_text() == (FIXTURES / "profiles/BUILD.bazel").read_text()
    assert not (tree / ".pc/applied-patches").exists() and not (tree / ".pc/no-zlib.patch").exists()
    assert "zlib1g-dev" in (tree / "debian/control").read_text()


def test_a_failing_command_after_a_pop_puts_the_tree_back(tmp_path):
    """The output directory is left as it was: the patches this run pushed are popped, and the ones it popped are
    back with their files as they were."""
    path = recipe_with_patch(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    before = snapshot(tree)
    (tmp_path / "patches/first.patch").write_text(FIRST)
    (tmp_path / "patches/no-zlib.patch").write_text(BROKEN)   # names a target the BUILD file lacks
    path.write_text(path.read_text().replace("patches: [patches/no-zlib.patch]",
                                             "patches: [patches/first.patch, patches/no-zlib.patch]"))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "applying first.patch, no-zlib.patch in place" in proc.stderr
    assert snapshot(tree) == before
