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


def test_a_patch_edited_after_it_was_applied(tmp_path):
    """The tree holds the version applied first: regenerating with an edited patch says so instead of scanning a
    tree that is not what the build will compile."""
    path = recipe_with_patch(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    patch = tmp_path / "patches/no-zlib.patch"
    patch.write_text(patch.read_text().replace("without zlib", "without zlib, at last"))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert f"{patch}: error: no-zlib.patch changed since it was applied to {tmp_path}/out/twolibs-1.0" in proc.stderr
    assert "QUILT_PATCHES=debian/patches quilt pop -a" in proc.stderr


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


def test_a_patch_inserted_before_applied_ones_unpacks_anew(tmp_path):
    path = recipe_with_patch(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    (tmp_path / "out/twolibs-1.0/obj-debforge").mkdir()
    (tmp_path / "patches/first.patch").write_text(PATCH.replace("without zlib", "first").replace(
        "-    deps = [\"@zlib\"],\n", " \n").replace("@@ -14,7 +14,6 @@", "@@ -14,6 +14,6 @@")
        .replace('         ":extra_version_h",\n     ],\n',
                 '-        ":extra_version_h",\n+        ":extra_version_h",  # first\n     ],\n'))
    path.write_text(path.read_text().replace("patches: [patches/no-zlib.patch]",
                                             "patches: [patches/first.patch, patches/no-zlib.patch]"))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert "its applied patches are not the first of the recipe's series: unpacking it anew" in proc.stderr
    assert "(its build directory goes with it" in proc.stderr
