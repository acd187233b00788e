"""upstream.components: code Debian carries in its source package's debian/ directory (pytorch's kineto), shipped
as a second orig tarball <source>_<version>.orig-<name>.tar.xz that dpkg-source unpacks at <name>/ before the
patches. The tarballs come from debforge's download cache (seeded here: no network), checked against their recorded
sha256."""

import hashlib
import io
import shutil
import subprocess
import tarfile

import pytest
from test_build_profiles import write_recipe

from conftest import FIXTURES, run_cli, snapshot
from debforge import upstream
from debforge.core.errors import DebforgeError

TREE = FIXTURES / "profiles"
DEBIAN_DIR = "debian/vendored-1a2b"
# the recipe's patch compiles the component's source into core, and edits it: patches apply after the components
PATCH = """\
Description: core compiles the vendored code
Author: Test <test@example.org>
Forwarded: not-needed
---
--- a/BUILD.bazel
+++ b/BUILD.bazel
@@ -1,7 +1,7 @@
 # two independent libraries: a recipe can restrict one of them to a build profile
 cc_library(
     name = "core",
-    srcs = ["core.c"],
+    srcs = ["core.c", "vendored/src/v.c"],
     hdrs = ["core.h"],
 )
 
--- a/vendored/src/v.c
+++ b/vendored/src/v.c
@@ -1 +1 @@
-int vendored(void) { return 1; }
+int vendored(void) { return 2; }
"""


def add_file(tf: tarfile.TarFile, name: str, data: bytes = b"", mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 1700000000
    tf.addfile(info, io.BytesIO(data))


def seed_cache(tmp_path, members=None) -> dict:
    """The orig and debian tarballs of twolibs 1.0-1 in a download cache, as fetch_debian_orig leaves them."""
    cache = tmp_path / "xdg/debforge/orig/trixie"
    cache.mkdir(parents=True)
    with tarfile.open(cache / "twolibs_1.0.orig.tar.xz", "w:xz") as tf:
        for f in sorted(TREE.iterdir()):
            add_file(tf, f"twolibs-1.0/{f.name}", f.read_bytes())
    with tarfile.open(cache / "twolibs_1.0-1.debian.tar.xz", "w:xz") as tf:
        for name, data in (members or {f"{DEBIAN_DIR}/src/v.c": b"int vendored(void) { return 1; }\n",
                                       f"{DEBIAN_DIR}/LICENSE": b"The vendored license.\n",
                                       "debian/rules": b"#!/usr/bin/make -f\n"}).items():
            add_file(tf, name, data)
    for tarball in cache.glob("*.tar.xz"):
        (cache / f"{tarball.name}.sha256").write_text(hashlib.sha256(tarball.read_bytes()).hexdigest() + "\n")
    return {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "DEBFORGE_MIRROR": "http://127.0.0.1:9/debian"}


COMPONENTS = f"{{vendored: {{from: {DEBIAN_DIR}, copyright: 2024 Vendor}}}}"


def recipe(tmp_path, components=COMPONENTS, patch=True):
    path = write_recipe(tmp_path)
    text = path.read_text().replace(f"upstream: {{dir: {TREE}}}",
                                    f"upstream: {{debian: twolibs, suite: trixie, components: {components}}}")
    if patch:
        (tmp_path / "vendored.patch").write_text(PATCH)
        text += "patches: [vendored.patch]\n"
    path.write_text(text)
    return path


def test_a_component_is_a_second_orig_that_dpkg_source_unpacks_before_the_patches(tmp_path):
    env = seed_cache(tmp_path)
    out = tmp_path / "out"
    proc = run_cli("generate", recipe(tmp_path), "-o", out, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"making twolibs_1.0.orig-vendored.tar.xz from {DEBIAN_DIR}" in proc.stderr
    tree = out / "twolibs-1.0"
    assert (tree / "vendored/src/v.c").read_text() == "int vendored(void) { return 2; }\n"   # patched
    assert (tree / "vendored/LICENSE").is_file() and not (tree / "vendored/rules").exists()
    assert "vendored/src/v.c" in (tree / "debian/debforge/build-amd64.ninja").read_text()   # the scan saw it
    # debian/copyright: its own Files paragraph, under the recipe's license
    assert "Files: vendored/*\nCopyright: 2024 Vendor\nLicense: Apache-2.0\n" in (tree / "debian/copyright").read_text()
    with tarfile.open(out / "twolibs_1.0.orig-vendored.tar.xz") as tf:
        assert sorted(tf.getnames()) == ["vendored/LICENSE", "vendored/src", "vendored/src/v.c"]
    # regenerating makes the same tarball, keeps it and the tree
    before = snapshot(out)
    again = run_cli("generate", tmp_path / "twolibs.yaml", "-o", out, env=env)
    assert again.returncode == 0 and "making" not in again.stderr and "unpacking" not in again.stderr, again.stderr
    assert snapshot(out) == before
    # dpkg-source ships both origs and unpacks the component where the scan read it, patched
    build = subprocess.run(["dpkg-source", "-b", tree.name], cwd=out, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    dsc = (out / "twolibs_1.0-1.dsc").read_text()
    assert "twolibs_1.0.orig-vendored.tar.xz" in dsc and "twolibs_1.0.orig.tar.xz" in dsc
    x = subprocess.run(["dpkg-source", "-x", "twolibs_1.0-1.dsc", "x"], cwd=out, capture_output=True, text=True)
    assert x.returncode == 0, x.stderr
    assert snapshot(out / "x/vendored") == snapshot(tree / "vendored")


def test_a_component_the_recipe_drops_goes_and_the_tree_is_unpacked_anew(tmp_path):
    env = seed_cache(tmp_path)
    out = tmp_path / "out"
    assert run_cli("generate", recipe(tmp_path), "-o", out, env=env).returncode == 0
    path = recipe(tmp_path, patch=False)
    path.write_text(path.read_text().replace(f", components: {COMPONENTS}", ""))
    proc = run_cli("generate", path, "-o", out, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "removing twolibs_1.0.orig-vendored.tar.xz: the recipe names no such component" in proc.stderr
    assert not (out / "twolibs_1.0.orig-vendored.tar.xz").exists() and not (out / "twolibs-1.0/vendored").exists()


def test_a_component_under_another_license_quotes_its_license_file(tmp_path):
    env = seed_cache(tmp_path)
    out = tmp_path / "out"
    path = recipe(tmp_path, f"{{vendored: {{from: {DEBIAN_DIR}, copyright: 2024 Vendor, license: MIT}}}}")
    proc = run_cli("generate", path, "-o", out, env=env)
    assert proc.returncode == 0, proc.stderr
    text = (out / "twolibs-1.0/debian/copyright").read_text()
    assert "Files: vendored/*\nCopyright: 2024 Vendor\nLicense: MIT\n" in text
    assert "\nLicense: MIT\n The vendored license.\n" in text and "\nLicense: Apache-2.0\n On Debian systems" in text
    # a license with no text to quote: an error at the component's line
    shutil.rmtree(tmp_path / "xdg")
    env = seed_cache(tmp_path, {f"{DEBIAN_DIR}/src/v.c": b"int vendored(void) { return 1; }\n"})
    proc = run_cli("generate", path, "-o", tmp_path / "out2", env=env)
    assert proc.returncode == 2 and "twolibs.yaml:3: error: license 'MIT' is not in /usr/share/common-licenses and " \
        "vendored/ has no LICENSE" in proc.stderr, proc.stderr


@pytest.mark.parametrize("components, line, message", [
    ("{vendored: {from: debian/missing, copyright: x}}", 3, "twolibs_1.0-1.debian.tar.xz has no directory debian/m"),
    ("{vendored: {from: debian/rules, copyright: x}}", 3, "has no directory debian/rules"),   # a file
    ("{core.h: {from: debian/x, copyright: x}}", 3, "component name 'core.h' is not valid"),
    ("{vendored: {from: src/x, copyright: x}}", 3, "must be a directory under debian/"),
    ("{vendored: {from: debian/../../etc, copyright: x}}", 3, "must be a relative path inside the tree"),
    ("{vendored: {from: debian/x}}", 3, "upstream.components.vendored lacks required key 'copyright'"),
    ("{vendored: {from: debian/x, copyright: x, license: Nonsense-1}}", 3, "license 'Nonsense-1' is neither"),
    ("{vendored: {from: debian/x, copyrite: x}}", 3, "unknown key 'copyrite'"),
    ("[debian/x]", 3, "upstream.components must be a non-empty mapping"),
])
def test_bad_components_are_errors_at_their_line_and_write_nothing(tmp_path, components, line, message):
    env = seed_cache(tmp_path)
    path = recipe(tmp_path, components, patch=False)
    before = snapshot(tmp_path)
    proc = run_cli("generate", path, "-o", tmp_path / "out", env=env)
    assert proc.returncode == 2 and f"twolibs.yaml:{line}: error:" in proc.stderr and message in proc.stderr, \
        proc.stderr
    assert snapshot(tmp_path) == before


def test_a_component_named_as_a_directory_of_the_orig_is_refused(tmp_path):
    """dpkg-source would replace the orig's directory by the component's: refused, naming the component's line."""
    env = seed_cache(tmp_path, {"debian/sub/x.h": b"", "debian/rules": b""})
    cache = tmp_path / "xdg/debforge/orig/trixie"
    with tarfile.open(cache / "twolibs_1.0.orig.tar.xz", "w:xz") as tf:
        for f in sorted(TREE.iterdir()):
            add_file(tf, f"twolibs-1.0/{f.name}", f.read_bytes())
        add_file(tf, "twolibs-1.0/clash/keep.h")
    (cache / "twolibs_1.0.orig.tar.xz.sha256").write_text(
        hashlib.sha256((cache / "twolibs_1.0.orig.tar.xz").read_bytes()).hexdigest() + "\n")
    proc = run_cli("generate", recipe(tmp_path, "{clash: {from: debian/sub, copyright: x}}", patch=False), "-o",
                   tmp_path / "out", env=env)
    assert proc.returncode == 2 and "twolibs.yaml:3: error: twolibs_1.0.orig.tar.xz already has clash/" in \
        proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_components_need_a_debian_source_package(tmp_path):
    path = write_recipe(tmp_path)
    path.write_text(path.read_text().replace(f"upstream: {{dir: {TREE}}}",
                                             f"upstream: {{dir: {TREE}, components: {{v: {{from: debian/v}}}}}}"))
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "twolibs.yaml:3: error: 'components' only applies to upstream.debian" in \
        proc.stderr, proc.stderr


def test_the_newest_cached_revision_of_the_debian_tarball_is_used(tmp_path, monkeypatch):
    """Revisions sort as Debian versions (-10 after -9), and a cached copy that no longer has its recorded sha256
    is refused and removed (the next run downloads it anew)."""
    monkeypatch.setattr(upstream, "CACHE", tmp_path)
    monkeypatch.setattr(upstream, "debian_releases", lambda *a: pytest.fail("the index was read"))
    cache = tmp_path / "orig/trixie"
    cache.mkdir(parents=True)
    for rev in ("9", "10", "2"):
        path = cache / f"pkg_1.0-{rev}.debian.tar.xz"
        path.write_bytes(rev.encode())
        (cache / f"{path.name}.sha256").write_text(hashlib.sha256(rev.encode()).hexdigest() + "\n")
    (cache / "pkg_1.0.orig.tar.xz").write_bytes(b"orig")   # not a debian tarball
    assert upstream.fetch_debian_tarball("pkg", "trixie", "1.0").name == "pkg_1.0-10.debian.tar.xz"
    (cache / "pkg_1.0-10.debian.tar.xz").write_bytes(b"changed")
    with pytest.raises(DebforgeError, match="does not match the signed index"):
        upstream.fetch_debian_tarball("pkg", "trixie", "1.0")
    assert upstream.fetch_debian_tarball("pkg", "trixie", "1.0").name == "pkg_1.0-9.debian.tar.xz"
