"""A recipe's DEP-3 patches are applied before the scan, the way dpkg-source applies them before the build: a patch
of upstream's BUILD metadata changes the plan, and the tree dpkg-source builds from has them recorded as applied."""

import subprocess

from test_build_profiles import write_recipe

from conftest import FIXTURES, run_cli

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


def test_a_patch_added_later_unpacks_anew_and_says_the_build_goes(tmp_path):
    """The new tree is unpacked without the old build directory (its objects may come from sources the new patch
    changes): generate says so, since it means a full rebuild."""
    path = write_recipe(tmp_path)
    assert run_cli("generate", path, "-o", tmp_path / "out").returncode == 0
    tree = tmp_path / "out/twolibs-1.0"
    (tree / "obj-debforge").mkdir()
    path = recipe_with_patch(tmp_path)
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "lacks no-zlib.patch: unpacking it anew to apply the patches (its build directory goes with it" in proc.stderr
    assert not (tree / "obj-debforge").exists()
