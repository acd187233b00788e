"""Regenerating over an existing debian/ keeps the maintainer's work: changelog history, patches, added files and
any generated file changed since (detected by debian/debforge/generated.sha256); --force overwrites the changed
ones, --diff shows what would change and writes nothing, and the same inputs give the same bytes."""

import hashlib
import shutil
import subprocess

import pytest

from conftest import FIXTURES, run_cli

CATALOGUE = FIXTURES / "catalogue"
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
MAINTAINER_ENTRY = """tiny (1.0-2) unstable; urgency=medium

  * Hand-written entry by the maintainer.

 -- Tiny Maintainer <tiny@example.org>  Wed, 15 Nov 2023 10:00:00 +0000

"""


@pytest.fixture
def work(tmp_path):
    shutil.copytree(CATALOGUE / "tree", tmp_path / "tree")
    for version in ("1.0", "1.1", "1.0~rc1"):
        text = (CATALOGUE / "recipe.yaml").read_text().replace("version: 1.0", f"version: {version}")
        (tmp_path / f"tiny-{version}.yaml").write_text(text)
    return tmp_path


def generate(work, version="1.0", *args, tree="tree"):
    return run_cli("generate", f"tiny-{version}.yaml", "--source", tree, *args, cwd=work, env=EPOCH)


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def tree_bytes(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_regenerating_unchanged_inputs_changes_nothing(work):
    ok(generate(work))
    first = tree_bytes(work / "tree/debian")
    proc = ok(generate(work))
    assert "0 files written, 0 removed" in proc.stderr
    assert tree_bytes(work / "tree/debian") == first
    shutil.copytree(CATALOGUE / "tree", work / "fresh")   # and a fresh generate gives the same bytes
    ok(generate(work, "1.0", tree="fresh"))
    assert tree_bytes(work / "fresh/debian") == first


def test_manifest_lists_every_generated_file_but_the_changelog(work):
    ok(generate(work))
    debian = work / "tree/debian"
    lines = (debian / "debforge/generated.sha256").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    on_disk = {str(p.relative_to(debian)) for p in debian.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {"changelog", "debforge/generated.sha256"}
    for rel, digest in listed.items():
        assert hashlib.sha256((debian / rel).read_bytes()).hexdigest() == digest


def maintainer_edits(debian):
    changelog = debian / "changelog"
    changelog.write_text(MAINTAINER_ENTRY + changelog.read_text())
    (debian / "patches").mkdir()
    (debian / "patches/series").write_text("fix-build.patch\n")
    (debian / "patches/fix-build.patch").write_text("--- a/src/tiny.c\n+++ b/src/tiny.c\n")
    with open(debian / "rules", "a") as fh:
        fh.write("# maintainer's rule\n")
    with open(debian / "libtiny1.lintian-overrides", "a") as fh:
        fh.write("# a maintainer's reason\nlibtiny1: some-tag\n")
    (debian / "libtiny-dev.lintian-overrides").unlink()
    (debian / "source/lintian-overrides").write_text("tiny source: another-tag\n")


def test_maintainer_edits_survive_a_new_upstream_version(work):
    ok(generate(work))
    debian = work / "tree/debian"
    maintainer_edits(debian)
    edited = tree_bytes(debian)
    proc = ok(generate(work, "1.1"))
    changelog = (debian / "changelog").read_text()
    assert changelog.startswith("tiny (1.1-1) unstable; urgency=medium\n\n  * New upstream release 1.1.\n")
    assert changelog.endswith(edited["changelog"].decode())            # the whole history, verbatim
    for rel in ("patches/series", "patches/fix-build.patch", "rules", "libtiny1.lintian-overrides",
                "source/lintian-overrides"):
        assert tree_bytes(debian)[rel] == edited[rel], rel
    assert not (debian / "libtiny-dev.lintian-overrides").exists()    # deleted by the maintainer: stays deleted
    for rel in ("rules", "libtiny1.lintian-overrides", "libtiny-dev.lintian-overrides"):
        assert f"kept debian/{rel}: " in proc.stderr
    assert "--diff" in proc.stderr and "--force" in proc.stderr        # what to do next
    assert "libtiny.so.1.1:" in (debian / "debforge/build-amd64.ninja").read_text()   # the rest follows upstream
    assert "version: 1.1" in (debian / "debforge/recipe.yaml").read_text()
    again = ok(generate(work, "1.1"))                                  # still the maintainer's next time
    assert "kept debian/rules: changed since debforge generated it" in again.stderr
    assert tree_bytes(debian)["rules"] == edited["rules"]


def test_force_overwrites_changed_files_but_keeps_history_and_additions(work):
    ok(generate(work))
    debian = work / "tree/debian"
    maintainer_edits(debian)
    edited = tree_bytes(debian)
    ok(generate(work, "1.1", "--force"))
    assert "maintainer's rule" not in (debian / "rules").read_text()
    assert (debian / "libtiny-dev.lintian-overrides").is_file()
    assert (debian / "changelog").read_text().endswith(edited["changelog"].decode())
    for rel in ("patches/series", "patches/fix-build.patch", "source/lintian-overrides"):
        assert tree_bytes(debian)[rel] == edited[rel], rel


def test_diff_shows_what_would_change_and_writes_nothing(work):
    ok(generate(work))
    debian = work / "tree/debian"
    maintainer_edits(debian)
    before = tree_bytes(work)
    proc = ok(generate(work, "1.1", "--diff"))
    assert tree_bytes(work) == before
    assert "+tiny (1.1-1) unstable; urgency=medium\n" in proc.stdout
    assert "# debian/rules: changed since debforge generated it: kept\n" in proc.stdout
    assert "-# maintainer's rule\n" in proc.stdout
    assert "--- /dev/null\n+++ b/debian/libtiny-dev.lintian-overrides\n" in proc.stdout
    assert "patches" not in proc.stdout
    assert "nothing written" in proc.stderr
    applied = subprocess.run(["patch", "-p1", "--dry-run", "-d", work / "tree"], input=proc.stdout, text=True,
                             capture_output=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr   # a real unified diff


def test_generated_files_no_longer_generated_are_removed_unless_changed(work):
    path = work / "tiny-1.0.yaml"
    path.write_text(path.read_text().replace("architectures: [amd64]", "architectures: [amd64, arm64]"))
    shutil.copytree(work / "tree", work / "edited")
    ok(generate(work))
    ok(generate(work, "1.0", tree="edited"))
    with open(work / "edited/debian/debforge/build-arm64.ninja", "a") as fh:
        fh.write("# changed\n")
    for tree in ("tree", "edited"):   # the 1.1 recipe builds for amd64 only
        proc = ok(generate(work, "1.1", tree=tree))
    assert not (work / "tree/debian/debforge/build-arm64.ninja").exists()
    assert (work / "edited/debian/debforge/build-arm64.ninja").read_text().endswith("# changed\n")
    assert "kept debian/debforge/build-arm64.ninja: changed since debforge generated it, and no longer " \
           "generated" in proc.stderr


def test_a_debian_dir_debforge_did_not_write_needs_force(work):
    debian = work / "tree/debian"
    debian.mkdir()
    (debian / "control").write_text("Source: tiny\n")
    (debian / "tiny.docs").write_text("README\n")
    before = tree_bytes(work)
    proc = generate(work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "tree/debian: error: tree/debian was not written by debforge" in proc.stderr
    assert tree_bytes(work) == before
    ok(generate(work, "1.0", "--force"))
    assert (debian / "control").read_text().startswith("Source: tiny\nSection: libs\n")
    assert (debian / "tiny.docs").read_text() == "README\n"


@pytest.mark.parametrize("line, message", [
    ("0" * 64 + "  ../../outside", "expected '<sha256>  <path inside debian/>'"),
    ("0" * 64 + "  /etc/passwd", "expected '<sha256>  <path inside debian/>'"),
    ("not a checksum  rules", "expected '<sha256>  <path inside debian/>'"),
])
def test_a_hostile_manifest_is_refused(work, line, message):
    ok(generate(work))
    manifest = work / "tree/debian/debforge/generated.sha256"
    manifest.write_text(manifest.read_text() + line + "\n")
    n = len(manifest.read_text().splitlines())
    before = tree_bytes(work)
    proc = generate(work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"tree/debian/debforge/generated.sha256:{n}: error: {message}" in proc.stderr
    assert tree_bytes(work) == before


def test_a_recipe_older_than_the_changelog_is_an_error(work):
    ok(generate(work))
    before = tree_bytes(work)
    proc = generate(work, "1.0~rc1")
    assert proc.returncode == 2
    assert "tiny-1.0~rc1.yaml:3: error: version 1.0~rc1 is older than 1.0-1, the newest entry of" in proc.stderr
    assert tree_bytes(work) == before


def test_an_unparsable_changelog_names_its_line(work):
    ok(generate(work))
    changelog = work / "tree/debian/changelog"
    changelog.write_text(changelog.read_text() + "\nthis is not a changelog line\n")
    proc = generate(work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    n = len(changelog.read_text().splitlines())
    assert f"tree/debian/changelog:{n}: error: cannot parse the changelog" in proc.stderr


def test_a_debian_symlink_is_never_written_through(work):
    (work / "elsewhere").mkdir()
    (work / "tree/debian").symlink_to(work / "elsewhere")
    for args in ((), ("--force",)):
        proc = generate(work, "1.0", *args)
        assert proc.returncode == 2 and "tree/debian: error: tree/debian is a symlink" in proc.stderr
    assert list((work / "elsewhere").iterdir()) == []


def test_force_names_each_file_it_replaces_and_keeps_the_old_one(work):
    ok(generate(work))
    debian = work / "tree/debian"
    (debian / "watch").write_text("version=4\n# the maintainer's, never generated\n")
    with open(debian / "rules", "a") as fh:
        fh.write("# maintainer's rule\n")
    path = work / "tiny-1.1.yaml"   # a GitHub homepage: debforge now generates debian/watch
    path.write_text(path.read_text().replace("https://example.org/tiny", "https://github.com/example/tiny"))
    proc = ok(generate(work, "1.1", "--force"))
    for rel in ("rules", "watch"):
        assert f"replaced debian/{rel} (--force); the old one is debian/{rel}.debforge-old" in proc.stderr
    assert proc.stderr.count("replaced debian/") == 2   # files debforge wrote and nobody changed: just updated
    assert (debian / "watch.debforge-old").read_text() == "version=4\n# the maintainer's, never generated\n"
    assert (debian / "rules.debforge-old").read_text().endswith("# maintainer's rule\n")
    assert "example/tiny" in (debian / "watch").read_text()
    assert "maintainer's rule" not in (debian / "rules").read_text()


def test_a_version_bump_into_a_new_tree_carries_the_maintainers_debian_over(work):
    def generate_o(version):
        return ok(run_cli("generate", f"tiny-{version}.yaml", "-o", "out", cwd=work, env=EPOCH))
    first = generate_o("1.0")
    assert "no earlier tiny-<version>/debian/ written by debforge in out: starting a new debian/" in first.stderr
    old = work / "out/tiny-1.0/debian"
    maintainer_edits(old)
    edited = tree_bytes(old)
    proc = generate_o("1.1")
    assert "debforge: carrying out/tiny-1.0/debian over" in proc.stderr
    new = work / "out/tiny-1.1/debian"
    changelog = (new / "changelog").read_text()
    assert changelog.startswith("tiny (1.1-1) unstable; urgency=medium\n\n  * New upstream release 1.1.\n")
    assert changelog.endswith(edited["changelog"].decode())
    for rel in ("patches/series", "patches/fix-build.patch", "rules", "libtiny1.lintian-overrides",
                "source/lintian-overrides"):
        assert tree_bytes(new)[rel] == edited[rel], rel
    assert not (new / "libtiny-dev.lintian-overrides").exists()
    assert "kept debian/rules: changed since debforge generated it" in proc.stderr
    assert tree_bytes(old) == edited   # the previous version's tree is left as it was
