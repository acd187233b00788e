"""Recipe edits that keep the maintainer's layout (debforge/recipe/edit.py): only the edited value's characters
change."""

import pytest

from conftest import ROOT
from debforge.core.errors import DebforgeError
from debforge.recipe import edit

NSYNC = (ROOT / "recipes/nsync.yaml").read_text()


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(old.splitlines(), new.splitlines()) if a != b]


def test_version_keeps_every_other_byte():
    new = edit.set_value(NSYNC, ("version",), "1.30.0", "nsync.yaml")
    assert changed_lines(NSYNC, new) == [("version: 1.29.2", "version: 1.30.0")]
    assert len(new) == len(NSYNC)


@pytest.mark.parametrize("old, value, want", [
    ('version: "1.0"  # quoted\n', "1.1", 'version: "1.1"  # quoted\n'),
    ("version: '1.0'\n", "2.0", "version: '2.0'\n"),
    ("version: 1.29.2\n", "1.30", 'version: "1.30"\n'),            # plain 1.30 would read as a float
    ("version: 1.2.3\n", "20240722.0", 'version: "20240722.0"\n'),
    ("version: 1.2.3\n", "0.0~git20250905.877328f", "version: 0.0~git20250905.877328f\n"),
])
def test_quoting(old, value, want):
    assert edit.set_value(old, ("version",), value, "r.yaml") == want


def test_nested_value_added_where_missing():
    block = NSYNC.replace("  suite: trixie\n", "")
    new = edit.set_value(block, ("upstream", "suite"), "sid", "r.yaml")
    assert new == NSYNC.replace("suite: trixie", "suite: sid")     # a line after the mapping's last entry
    flow = "upstream: {debian: nsync}  # where from\nsource: nsync\n"
    assert edit.set_value(flow, ("upstream", "suite"), "sid", "r.yaml") == \
        "upstream: {debian: nsync, suite: sid}  # where from\nsource: nsync\n"


def test_drop_list_items():
    text = "a: 1\npatches:\n  - p/one.patch   # first\n  - p/two.patch\nb: 2\n"
    assert edit.drop_items(text, ("patches",), {"p/one.patch"}, "r.yaml") == "a: 1\npatches:\n  - p/two.patch\nb: 2\n"
    assert edit.drop_items(text, ("patches",), {"p/one.patch", "p/two.patch"}, "r.yaml") == "a: 1\nb: 2\n"
    flow = "patches: [p/one.patch, 'p/two.patch']  # both\n"
    assert edit.drop_items(flow, ("patches",), {"p/one.patch"}, "r.yaml") == "patches: ['p/two.patch']  # both\n"


def test_refusals():
    with pytest.raises(DebforgeError, match="'packages' is not a single value"):
        edit.set_value(NSYNC, ("packages",), "x", "nsync.yaml")
    with pytest.raises(DebforgeError, match="no mapping 'nowhere'"):
        edit.set_value(NSYNC, ("nowhere", "suite"), "sid", "nsync.yaml")
    with pytest.raises(DebforgeError, match="nsync.yaml:3: error: YAML syntax"):
        edit.set_value("a: 1\nb: [\n", ("a",), "2", "nsync.yaml")


def test_rename_key():
    text = "lintian-overrides:\n  libfx1-generic:   # the ABI\n    tag: why\n  'libfx1': {tag: why}\n"
    new = edit.rename_key(text, ("lintian-overrides", "libfx1-generic"), "libfx2-generic", "r.yaml")
    assert new == text.replace("libfx1-generic", "libfx2-generic")
    assert edit.rename_key(text, ("lintian-overrides", "libfx1"), "libfx2", "r.yaml") == \
        text.replace("'libfx1'", "'libfx2'")   # the key's quoting kept
    with pytest.raises(DebforgeError, match="no key 'lintian-overrides.libfx3' to rename"):
        edit.rename_key(text, ("lintian-overrides", "libfx3"), "libfx4", "r.yaml")
    with pytest.raises(DebforgeError, match="'lintian-overrides' has a key 'libfx1' already"):
        edit.rename_key(text, ("lintian-overrides", "libfx1-generic"), "libfx1", "r.yaml")
