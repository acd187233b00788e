"""What a closure still reaches of what Debian lacks, and what would cut it: the chain of targets from a library's
root to each kept target that lost a dependency (leave-out), and the recipe's known-cuts (a --define value or a
DEP-3 patch that removes a dependency of upstream's graph), named by the unmapped-repository error and by the
plan's warning where the chain passes through one."""

import pytest

from conftest import FIXTURES, fixture_plan, fixture_recipe, run_cli
from debforge.core.errors import DebforgeError
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "cuts"
KNOWN_CUTS = """\
known-cuts:
  "//:api -> //:jit": {define: with_jit=false}
  "//:plugins -> //:pjrt": {patch: no-pjrt.patch}
"""


def recipe(tmp_path, tail=KNOWN_CUTS):
    (tmp_path / "no-pjrt.patch").write_text("Description: plugins without PJRT\n---\n")
    return fixture_recipe(tmp_path / "capi.yaml", TREE, "capi", [("capi", "//:api")], tail)


def unmapped_error(path) -> DebforgeError:
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(path)
    return exc.value


def test_the_unmapped_repository_error_names_the_define_that_cuts_the_chain(tmp_path):
    err = unmapped_error(recipe(tmp_path, KNOWN_CUTS + "config:\n  define-values: {with_jit: \"true\"}\n"))
    assert "@stablehlo" in err.message and "reached through //:api -> //:jit" in err.message
    assert err.file.endswith("BUILD.bazel")
    assert err.hint.startswith('define-values with_jit: "false" cuts //:api -> //:jit (known-cuts of ')
    assert "under externals: stablehlo" in err.hint   # mapping the repository stays the other way


def test_the_unmapped_repository_error_names_the_patch_that_cuts_the_chain(tmp_path):
    err = unmapped_error(recipe(tmp_path))   # with_jit unset: the select() takes the default, //:jit is not reached
    assert "@tf_runtime" in err.message and "reached through //:api -> //:runtime -> //:plugins -> //:pjrt" in \
        err.message
    assert err.hint.startswith("the patch no-pjrt.patch cuts //:plugins -> //:pjrt (known-cuts of ")


def test_a_known_cut_the_recipe_applies_already_is_not_offered(tmp_path):
    # the recipe has the patch, yet the dependency is there: the patch does not cut it, so the hint does not say so
    err = unmapped_error(recipe(tmp_path, KNOWN_CUTS + "patches: [no-pjrt.patch]\n"))
    assert "@tf_runtime" in err.message and "known-cuts" not in err.hint
    assert err.hint.startswith("add to ") and "under externals: tf_runtime" in err.hint
    # without known-cuts the error is as it was
    assert "known-cuts" not in unmapped_error(recipe(tmp_path, "")).hint


def test_the_plan_keeps_the_chain_to_each_kept_target_that_lost_a_dependency(tmp_path):
    path = recipe(tmp_path, KNOWN_CUTS + "leave-out:\n  //:pjrt: \"tf_runtime: PJRT's client\"\n")
    [lib] = fixture_plan(path).libraries
    assert lib.left_out == [("//:pjrt", "//:plugins", "tf_runtime: PJRT's client")]
    assert lib.left_out_used == [("//:pjrt", "//:plugins")]   # plugins.cc calls pjrt_client()
    assert lib.left_out_chains == {"//:plugins": ["//:api", "//:runtime"]}
    assert sorted(c.src for c in lib.compiles) == ["api.cc", "plugins.cc", "runtime.cc"]
    # generate prints the chain, and the known cut on it
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "1 kept targets include or call what was left out" in out
    assert "debforge:     //:api -> //:runtime -> //:plugins\n" in out
    assert "debforge:     //:pjrt (from //:plugins): tf_runtime: PJRT's client\n" in out
    assert "debforge:       lost //:pjrt\n" in out
    assert "known cut: the patch no-pjrt.patch cuts //:plugins -> //:pjrt\n" in out


NO_PJRT_CALL = """\
Description: plugins without PJRT
---
--- a/plugins.cc
+++ b/plugins.cc
@@ -1 +1 @@
-int pjrt_client(); int load_plugins() { return pjrt_client(); }
+int load_plugins() { return 0; }
"""


def test_a_leave_out_whose_uses_a_patch_takes_out_is_no_warning(tmp_path):
    path = recipe(tmp_path, "patches: [no-pjrt.patch]\nleave-out:\n  //:pjrt:\n"
                            "    reason: \"tf_runtime: PJRT's client\"\n    patch: no-pjrt.patch\n")
    (tmp_path / "no-pjrt.patch").write_text(NO_PJRT_CALL)
    [lib] = fixture_plan(path).libraries
    assert lib.left_out == [("//:pjrt", "//:plugins", "tf_runtime: PJRT's client")]
    assert lib.left_out_used == []
    proc = run_cli("generate", path, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "//:pjrt (from //:plugins): tf_runtime: PJRT's client (the patch no-pjrt.patch takes its uses out)" in out
    assert "include or call what was left out" not in out


def test_a_leave_out_patch_must_be_one_of_the_recipes_patches(tmp_path):
    path = recipe(tmp_path, "leave-out:\n  //:pjrt:\n    reason: PJRT\n    patch: no-pjrt.patch\n")
    with pytest.raises(DebforgeError) as exc:
        load_recipe(path)
    assert "no-pjrt.patch is not one of the recipe's patches" in exc.value.message
    assert exc.value.line == len(path.read_text().splitlines())
    assert "patches:" in exc.value.hint


@pytest.mark.parametrize("entry,error", [
    ('"//:api": {define: with_jit=false}', "is not a dependency such as"),
    ('"//:api -> //:jit": {define: with_jit}', "is not NAME=VALUE"),
    ('"//:api -> //:jit": {define: with_jit=false, patch: no-pjrt.patch}', "needs exactly one of"),
    ('"//:api -> //:jit": {}', "needs exactly one of"),
    ('"//:api -> //:jit": {patch: missing.patch}', "does not exist"),
    ('"//:api -> //:jit": {patch: ../no-pjrt.patch}', "must be a relative path inside the tree"),
    ('"//:api -> //../x:jit": {define: with_jit=false}', "is not a dependency such as"),
    ('"//:api -> //:jit": {undefine: with_jit}', "unknown key 'undefine'"),
])
def test_a_bad_known_cut_is_an_error_at_its_line(tmp_path, entry, error):
    path = recipe(tmp_path, f"known-cuts:\n  {entry}\n")
    with pytest.raises(DebforgeError) as exc:
        load_recipe(path)
    assert error in exc.value.message and exc.value.file == str(path)
    assert exc.value.line == len(path.read_text().splitlines())   # the entry's own line, the recipe's last
