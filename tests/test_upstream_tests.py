"""Upstream's tests (issue 21): the recipe's `tests` selects cc_test targets (a macro's too); each becomes a test
program per ISA level, linked against that level's copy of the recipe libraries (what a library holds is never
compiled into a test); debian/rules runs them through debian/debforge/run-tests, which prints each level's summary
and fails on an unexpected failure; bad selections are errors at their recipe line."""

import re
import shutil
import subprocess

import pytest

from conftest import FIXTURES, ROOT, configure, cpu_runs, fixture_plan, fixture_recipe, run_cli, snapshot
from debforge.backends import debian, ninja
from debforge.core.errors import DebforgeError
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "testsuite"
GTEST = "externals:\n  com_google_googletest: {package: libgtest-dev, libs: [gtest_main, gtest]}\n"
ALL = 'tests:\n  select: ["//:all"]\n'


def recipe_path(tmp_path, tests=ALL, tree=TREE):
    return fixture_recipe(tmp_path / "fixture.yaml", tree, "calc", [("calc", "//:calc")], GTEST + tests)


def plan_of(tmp_path, tests=ALL):
    return fixture_plan(recipe_path(tmp_path, tests))


def error_of(tmp_path, tests) -> DebforgeError:
    with pytest.raises(DebforgeError) as exc:
        plan_of(tmp_path, tests)
    return exc.value


def test_selected_tests_link_the_library_and_compile_only_their_own_code(tmp_path):
    plan = plan_of(tmp_path)
    tests = {t.label: t for t in plan.tests}
    assert sorted(tests) == ["//:calc_test", "//:core_test", "//:data_test"]   # gtest_test is tagged manual
    for t in tests.values():
        srcs = {c.src for c in t.compiles}
        assert t.siblings == ["calc"] and "core.c" not in srcs and "calc.c" not in srcs, (t.label, srcs)
        assert "check.c" in srcs   # the testonly helper, which the macro adds
    assert tests["//:core_test"].timeout == 60 and tests["//:data_test"].timeout == 300   # small; medium
    data = tests["//:data_test"]
    assert data.data == ["testdata/input.txt"] and data.args == ["testdata/input.txt"]
    assert data.env == {"CALC_GREETING": "hello"}
    assert plan.workspace == "calc_project" and plan.test_depends == [] and plan.externals_used == []


def test_patterns_explicit_labels_and_googletest_from_debian(tmp_path):
    plan = plan_of(tmp_path, 'tests:\n  select: ["//...", "//:gtest_test"]\n  timeout: 30\n')
    tests = {t.label: t for t in plan.tests}
    assert "//sub:sub_test" in tests and "//:gtest_test" in tests and all(t.timeout == 30 for t in tests.values())
    gtest = tests["//:gtest_test"]
    assert gtest.external_libs == ["gtest_main", "gtest"] and gtest.cxx_link
    assert plan.test_depends == ["libgtest-dev"] and plan.externals_used == []
    control = debian.control.render(plan.recipe, debian._build_depends(plan.recipe, {"amd64": plan}))
    assert "libgtest-dev <!nocheck>" in control   # a build without the tests goes without googletest


@pytest.mark.parametrize("tests, line, message", [
    ('tests:\n  select: ["//:all", "//nowhere:x_test"]\n', 21, "'//nowhere:x_test' matches no cc_test"),
    ('tests:\n  select: ["//:calc"]\n', 21, "'//:calc' is a cc_library"),
    ('tests:\n  select:\n    - //sub/...\n    - //nosuch/...\n', 23, "'//nosuch/...' matches no cc_test"),
    ('tests:\n  select: ["//:all"]\n  leave-out:\n    "//:nothing_test": too slow\n', 23,
     "tests.leave-out entry '//:nothing_test' matches no test"),
    ('tests:\n  select: ["//:all"]\n  leave-out:\n    "//:core_test": slow\n  known-failures:\n    x86-64-v3:\n'
     '      "//:core_test": FMA\n', 26, "known-failures.x86-64-v3 entry '//:core_test' matches no test"),
    ('tests:\n  select: ["//:all"]\n  flaky:\n    "//:hang_test": timed waits\n', 23,
     "tests.flaky entry '//:hang_test' matches no test"),   # manual: //:all does not select it
])
def test_a_selection_matching_nothing_is_an_error_at_its_line(tmp_path, tests, line, message):
    err = error_of(tmp_path, tests)
    assert err.line == line and message in str(err), str(err)
    assert err.file == str(tmp_path / "fixture.yaml")


@pytest.mark.parametrize("tests, line, message", [
    ('tests:\n  select: []\n', 21, "tests.select is empty"),
    ('tests:\n  select: ["//../x:t"]\n', 21, "not an in-tree test label"),
    ('tests:\n  select: ["//:all"]\n  known-failures:\n    x86-64-v9:\n      "//:core_test": x\n', 23,
     "'x86-64-v9' is not a level this recipe builds"),
    ('tests:\n  select: ["//:all"]\n  leave-out:\n    "//:core_test": ""\n', 23, "must be a non-empty string"),
    ('tests:\n  select: ["//:all"]\n  timeout: 0\n', 22, "tests.timeout must be a number of seconds"),
    ('tests:\n  selct: ["//:all"]\n', 21, "did you mean 'select'"),
])
def test_bad_tests_keys_exit_2_at_their_line_and_write_nothing(tmp_path, tests, line, message):
    path = recipe_path(tmp_path, tests)
    with pytest.raises(DebforgeError) as exc:
        load_recipe(path)
    assert exc.value.line == line and message in str(exc.value), str(exc.value)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli("generate", path, "-o", out)
    assert proc.returncode == 2 and f"fixture.yaml:{line}: error:" in proc.stderr
    assert snapshot(out) == {}


def test_rules_run_the_tests_at_each_level_unless_nocheck(tmp_path):
    plan = plan_of(tmp_path, 'tests:\n  select: ["//:all"]\n  leave-out:\n    "//:data_test": needs a file\n')
    files = debian.render(plan.recipe, {"amd64": plan}, TREE, 1700000000)
    rules = files["rules"][0]
    assert "TEST_LEVELS_amd64 := generic x86-64-v3 x86-64-v4" in rules
    assert re.search(r"override_dh_auto_test-arch:\nifeq \(,\$\(filter nocheck,\$\(DEB_BUILD_OPTIONS\)\)\)", rules)
    assert "sh debian/debforge/run-tests build" in rules
    assert "Tests: upstream-tests" in files["tests/control"][0]
    assert "run-tests installed" in files["tests/upstream-tests"][0]
    text = ninja.render(plan)
    # each level's program links that level's copy; the left-out test gets a SKIP result with the reason
    assert re.search(r"build obj-debforge/x86-64-v3/tests/build/bin/calc_test: link_test_c .*\| "
                     r"obj-debforge/x86-64-v3/libcalc\.so", re.sub(r" \$\n +", " ", text))
    assert "build obj-debforge/x86-64-v4/tests/build/results/data_test.result: skip_test" in text
    assert "tests/installed/bin/calc_test" in text


def test_without_tests_rules_keep_an_empty_test_target(tmp_path):
    plan = fixture_plan(fixture_recipe(tmp_path / "r.yaml", TREE, "calc", [("calc", "//:calc")]))
    files = debian.render(plan.recipe, {"amd64": plan}, TREE, 1700000000)
    assert "override_dh_auto_test:\n" in files["rules"][0] and "tests/upstream-tests" not in files
    assert "run_test" not in ninja.render(plan)


def _run_tests(tree, plan, *levels):
    configure(tree, plan.recipe)
    (tree / "debian/debforge").mkdir(parents=True, exist_ok=True)
    (tree / "debian/debforge/build-amd64.ninja").write_text(ninja.render(plan))
    subprocess.run(["ninja", "-f", "debian/debforge/build-amd64.ninja", *levels], cwd=tree, check=True,
                   capture_output=True)
    return subprocess.run(["sh", "debian/debforge/run-tests", "build", "debian/debforge/build-amd64.ninja", "2",
                           *levels], cwd=tree, capture_output=True, text=True)


def _summary(out: str, level: str) -> list[str]:
    block = out.split(f"debforge tests: {level} (build):")[1].split("debforge tests:")[0]
    return [ln.split()[0] + " " + ln.split()[1] for ln in block.splitlines()[1:] if ln.startswith("  ") and
            not ln.startswith("  library")]


@pytest.mark.skipif(shutil.which("ninja") is None or shutil.which("gcc") is None, reason="needs ninja and gcc")
def test_run_tests_passes_records_known_failures_and_fails_on_a_broken_level(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    why = "CALC_BREAK_V3 breaks the v3 copy of calc_core_add"
    known = f'  known-failures:\n    x86-64-v3:\n      "//:core_test": "{why}"\n      "//:data_test": "{why}"\n'
    tests = f'tests:\n  select: ["//:all"]\n  leave-out:\n    "//:calc_test": "left out here"\n{known}'
    broken = fixture_recipe(tmp_path / "r.yaml", tree, "calc", [("calc", "//:calc")],
                            GTEST + "config:\n  copts: [-DCALC_BREAK_V3]\n" + tests)
    proc = _run_tests(tree, fixture_plan(broken), "generic", "x86-64-v3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _summary(proc.stdout, "generic") == ["SKIP //:calc_test", "PASS //:core_test", "PASS //:data_test"]
    assert _summary(proc.stdout, "x86-64-v3") == ["SKIP //:calc_test", "XFAIL //:core_test", "XFAIL //:data_test"]
    assert f"library libcalc.so.1 from {tree}/obj-debforge/x86-64-v3/libcalc.so.1" in proc.stdout
    assert "FAIL: calc_core_add(2, 3) = 6, want 5" in proc.stdout   # the known failure's output is shown
    # data_test read its runfile through $(location) and wrote into TEST_TMPDIR
    assert (tree / "obj-debforge/generic/tests/build/results/data_test.tmp/out.txt").read_text() == "14\n"

    # the same broken copy, not recorded as known: the v3 run fails the build, generic still passes
    unknown = fixture_recipe(tmp_path / "r2.yaml", tree, "calc", [("calc", "//:calc")],
                             GTEST + "config:\n  copts: [-DCALC_BREAK_V3]\n" + ALL)
    proc = _run_tests(tree, fixture_plan(unknown), "generic", "x86-64-v3")
    assert proc.returncode == 1
    assert "debforge tests: generic (build): 3 passed, 0 failed" in proc.stdout
    assert "debforge tests: x86-64-v3 (build): 0 passed, 3 failed" in proc.stdout
    assert _summary(proc.stdout, "x86-64-v3") == ["FAIL //:calc_test", "FAIL //:core_test", "FAIL //:data_test"]



@pytest.mark.skipif(shutil.which("ninja") is None or shutil.which("gcc") is None, reason="needs ninja and gcc")
def test_a_hanging_test_is_named_and_a_wrong_copy_is_caught(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    plan = fixture_plan(recipe_path(tmp_path, 'tests:\n  select: ["//:hang_test", "//:core_test"]\n  timeout: 2\n',
                                    tree))
    proc = _run_tests(tree, plan, "generic", "x86-64-v3")
    assert proc.returncode == 1
    assert "debforge tests: x86-64-v3 (build): 1 passed, 1 failed" in proc.stdout
    assert re.search(r"^  TIMEOUT +//:hang_test \([0-9.]+ s\): no result within 2 s$", proc.stdout, re.M)
    # without the level's copy, ld.so takes the generic one from the library path: a test of the wrong code
    (tree / "obj-debforge/x86-64-v3/libcalc.so.1").unlink()
    result = tree / "obj-debforge/x86-64-v3/tests/build/results/core_test.result"
    subprocess.run(["sh", "debian/debforge/run-test", result.relative_to(tree), "x86-64-v3", "build", "60", "1",
                    "obj-debforge/tests/runfiles/core_test.runfiles/calc_project", "", "libcalc.so.1", "", "--",
                    "obj-debforge/x86-64-v3/tests/build/bin/core_test"], cwd=tree, check=True)
    status = result.read_text().splitlines()[0]
    assert status.startswith("WRONG-COPY") and "obj-debforge/generic/libcalc.so.1" in status, status
    # no copy at all is wrong too; a recipe library the program does not need (a test of header-only code,
    # linked --as-needed: PyTorch's c10 bit_cast_test) is no copy to check
    (tree / "obj-debforge/generic/libcalc.so.1").unlink()
    for libs, expect in (("libcalc.so.1", "WRONG-COPY"), ("libnotneeded.so.1", "FAIL")):
        subprocess.run(["sh", "debian/debforge/run-test", result.relative_to(tree), "x86-64-v3", "build", "60", "1",
                        "obj-debforge/tests/runfiles/core_test.runfiles/calc_project", "", libs, "", "--",
                        "obj-debforge/x86-64-v3/tests/build/bin/core_test"], cwd=tree, check=True)
        lines = result.read_text().splitlines()
        assert lines[0].startswith(expect), lines
    assert lines[1] == "copy libnotneeded.so.1 not-needed"


@pytest.mark.skipif(shutil.which("ninja") is None or shutil.which("gcc") is None, reason="needs ninja and gcc")
def test_a_flaky_test_runs_again_and_one_failing_every_attempt_still_fails(tmp_path):
    """bazel's flaky = True, or the recipe's tests.flaky: up to 3 runs; a pass at a later one is FLAKY (counted as
    passed, the failed attempt's output shown and kept); failing all 3 is a FAIL; other tests run once."""
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    plan = fixture_plan(recipe_path(tmp_path, 'tests:\n  select: ["//:flaky_test", "//:unmarked_flaky_test", '
                                    '"//:core_test"]\n  flaky:\n    "//:unmarked_flaky_test": "timed waits"\n', tree))
    assert {t.label: t.attempts for t in plan.tests} == {"//:core_test": 1, "//:flaky_test": 3,
                                                         "//:unmarked_flaky_test": 3}
    proc = _run_tests(tree, plan, "generic")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "debforge tests: generic (build): 3 passed, 0 failed" in proc.stdout
    assert _summary(proc.stdout, "generic") == ["PASS //:core_test", "FLAKY //:flaky_test",
                                                "FLAKY //:unmarked_flaky_test"]
    assert re.search(r"^  FLAKY +//:flaky_test \([0-9.]+ s\): passed at attempt 2 of 3", proc.stdout, re.M)
    assert "output of flaky_test.attempt1.log (a failed attempt" in proc.stdout
    assert "    woken too late 26 times" in proc.stdout
    results = tree / "obj-debforge/generic/tests/build/results"
    assert (results / "flaky_test.attempt1.log").is_file() and not (results / "flaky_test.attempt2.log").exists()

    def run_test(attempts: str) -> str:
        subprocess.run(["sh", "debian/debforge/run-test", results.relative_to(tree) / "flaky_test.result", "generic",
                        "build", "60", attempts, "obj-debforge/tests/runfiles/flaky_test.runfiles/calc_project", "",
                        "", "", "--", "FLAKY_ALWAYS=1", "obj-debforge/generic/tests/build/bin/flaky_test"],
                       cwd=tree, check=True)
        return (results / "flaky_test.result").read_text().splitlines()[0]
    status = run_test("3")
    assert status.startswith("FAIL ") and status.endswith("exit status 1 (attempt 3 of 3)"), status
    assert sorted(p.name for p in results.glob("flaky_test.attempt*.log")) == ["flaky_test.attempt1.log",
                                                                                 "flaky_test.attempt2.log"]
    status = run_test("1")   # not flaky: one run, no attempts named, the earlier attempts' logs gone
    assert status.startswith("FAIL ") and status.endswith("exit status 1"), status
    assert not list(results.glob("flaky_test.attempt*.log"))


@pytest.mark.skipif(shutil.which("ninja") is None or shutil.which("gcc") is None, reason="needs ninja and gcc")
def test_a_test_that_does_not_build_is_named_in_the_summary(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    (tree / "core_test.c").write_text("this is not C\n")
    plan = fixture_plan(recipe_path(tmp_path, 'tests:\n  select: ["//:core_test", "//:calc_test"]\n', tree))
    proc = _run_tests(tree, plan, "generic", "x86-64-v3")
    assert proc.returncode == 1
    for level in ("generic", "x86-64-v3"):
        assert f"debforge tests: {level} (build): 1 passed, 1 failed" in proc.stdout, proc.stdout
        assert _summary(proc.stdout, level) == ["PASS //:calc_test", "UNBUILT //:core_test"]
    assert "its program did not build" in proc.stdout


NSYNC = ROOT / "recipes/nsync.yaml"
LEVELS = ("generic", "x86-64-v3", "x86-64-v4")
NSYNC_TESTS = 26   # 13 cc_test in C, 13 in C++11


def _level_lines(log: str) -> dict[str, str]:
    return dict(re.findall(r"^debforge tests: (\S+) \(build\): (.*)$", log, re.M))


@pytest.mark.slow
def test_nsync_build_runs_upstream_tests_at_three_levels(nsync_build):
    """The README's build (recipes/nsync.yaml selects //:all) ran every test at every level in dh_auto_test,
    each level against its own copies."""
    log = next(nsync_build["out"].glob("*.build")).read_text()
    lines = _level_lines(log)
    ran = [level for level in LEVELS if cpu_runs(level)]
    assert set(lines) == set(ran), log[-3000:]   # a level this CPU does not run is skipped, and says so
    for level in set(LEVELS) - set(ran):
        assert f"debforge tests: {level}: SKIPPED: this CPU does not support {level}" in log
    for level in ran:
        assert lines[level].startswith(f"{NSYNC_TESTS} passed, 0 failed, 0 known failures, 0 skipped"), lines
        for so in ("libnsync.so.1", "libnsync_cpp.so.1"):
            assert f"library {so} from {nsync_build['tree']}/obj-debforge/{level}/{so}" in log
        assert re.search(r"^  PASS +//:cv_mu_timeout_stress_cpp_test \(", log.split(f"tests: {level} (build)")[1],
                         re.M)


@pytest.mark.slow
def test_nsync_nocheck_builds_without_tests(tmp_path):
    proc = run_cli("build", NSYNC, "-o", tmp_path, env={"DEB_BUILD_OPTIONS": "nocheck"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = next(tmp_path.glob("*.build")).read_text()
    assert "-o obj-debforge/x86-64-v4/libnsync.so.1.29.2" in log   # the libraries were built, at every level
    # dh skips override_dh_auto_test under nocheck (the target guards it too): no test is compiled or run
    assert "debforge tests:" not in log and "/tests/" not in log


@pytest.mark.slow
def test_nsync_broken_v3_copy_fails_the_build_at_that_level_only(tmp_path):
    """A test-only DEP-3 patch breaks nsync_counter_value in the x86-64-v3 copy alone: upstream's counter tests
    fail there, pass at the generic and x86-64-v4 levels (where the CPU runs it), and the build fails."""
    if not cpu_runs("x86-64-v3"):
        pytest.skip("this CPU does not run x86-64-v3 copies")
    shutil.copy(FIXTURES / "nsync-broken-v3/break-counter-v3.patch", tmp_path)
    shutil.copy(NSYNC.parent / "nsync.symbols", tmp_path)   # the recipe's symbols file, beside it
    text = NSYNC.read_text().replace('select: ["//:all"]', 'select: ["//:counter_test", "//:counter_cpp_test"]')
    text = re.sub(r"^  flaky:.*\n(?:    .*\n)*", "", text, flags=re.M)   # they name tests not run here
    recipe = tmp_path / "nsync.yaml"
    recipe.write_text(text + "patches: [break-counter-v3.patch]\n")
    proc = run_cli("build", recipe, "-o", tmp_path / "out")
    assert proc.returncode != 0 and "dpkg-buildpackage failed" in proc.stderr, proc.stderr[-3000:]
    log = next((tmp_path / "out").glob("*.build")).read_text()
    lines = _level_lines(log)
    assert lines["generic"].startswith("2 passed, 0 failed"), lines
    if cpu_runs("x86-64-v4"):
        assert lines["x86-64-v4"].startswith("2 passed, 0 failed"), lines
    assert lines["x86-64-v3"].startswith("0 passed, 2 failed"), lines
    assert "counter_test.c" in log.split("debforge tests: x86-64-v3: output of")[1]   # the failing assertion


# TensorFlow's test shapes (tests/fixtures/tftests/defs.bzl): tf_cuda_cc_test's test_suite of <name>_cpu and
# <name>_gpu, tf_cc_test's framework shared object among srcs and data, tf_custom_op_library's shared object that a
# test loads from its runfiles
TF_TREE = FIXTURES / "tftests"


def tf_shapes_plan(tmp_path, select, tree=TF_TREE):
    return fixture_plan(fixture_recipe(tmp_path / "tf.yaml", tree, "capi", [("fw", "//:libfw.so.1"),
                                                                             ("capi", "//:libcapi.so.1")],
                                       f"tests:\n  select: {select}\n"))


@pytest.mark.parametrize("select", ['["//:capi_test", "//:fw_test"]', '["//:all"]', '["//:all_tests"]'])
def test_suites_expand_to_their_cpu_tests_which_link_the_libraries_they_name(tmp_path, select):
    plan = tf_shapes_plan(tmp_path, select)
    tests = {t.label: t for t in plan.tests}
    assert sorted(tests) == ["//:capi_test_cpu", "//:fw_test"]   # capi_test_gpu needs a GPU
    capi, fw = tests["//:capi_test_cpu"], tests["//:fw_test"]
    # the C API from libcapi (never a static copy), the framework named among srcs from libfw; only the test's
    # own source compiled in; the framework's shared object is linked, not staged as data
    assert capi.siblings == ["capi", "fw"] and [c.src for c in capi.compiles] == ["capi_test.c"]
    assert fw.siblings == ["fw"] and [c.src for c in fw.compiles] == ["fw_test.c"] and fw.data == []
    # the library's generated header, which the tests include: their compiles wait for it (in the autopkgtest's
    # fresh tree, the library installed, nothing else makes it first)
    assert fw.generated == capi.generated == []
    text = re.sub(r" \$\n +", " ", ninja.render(plan))
    waits = dict(re.findall(r"^build (\S+/tests/obj/\S+\.o): \S+ \S+ \|\| (\S+)$", text, re.M))
    # each test's object at three levels, and the shared object a test loads (it includes the framework's headers)
    assert set(waits.values()) == {"generated-fw"} and len(waits) == 7
    assert re.search(r"^build generated-fw: phony obj-debforge/gen/fw_version.h$", text, re.M)
    # the shared object the test loads is built for the tests (its own source only) and staged in its runfiles
    [lib] = plan.test_libraries
    assert lib.label == "//:test_op.so" and capi.data == [lib.path] == ["obj-debforge/gen/test_op.so"]
    assert [c.src for c in lib.compiles] == ["test_op.c"] and lib.siblings == ["fw"]


def test_a_test_is_compiled_at_each_level_only_where_the_library_it_tests_has_copies(tmp_path):
    """libcalc without variants over libcore with them (libtorch_cpu over libc10): calc_test tests libcalc, whose one
    copy gains nothing from a test compiled three times; it is compiled once and each level's program, linked over
    that level's libcore, runs it. core_test tests libcore and is compiled at each level."""
    recipe = fixture_recipe(tmp_path / "fixture.yaml", TREE, "calc", [("calc", "//:calc"), ("core", "//:core")],
                            GTEST + 'tests:\n  select: ["//:calc_test", "//:core_test"]\n')
    recipe.write_text(recipe.read_text().replace("  - name: libcalc1\n", "  - name: libcalc1\n    variants: false\n"))
    plan = fixture_plan(recipe)
    tests = {t.label: t for t in plan.tests}
    assert tests["//:calc_test"].siblings == ["calc", "core"] and tests["//:core_test"].siblings == ["core"]
    assert {c.src: c.level_sensitive for c in tests["//:calc_test"].compiles} == {"calc_test.c": False,
                                                                                  "check.c": False}
    assert all(c.level_sensitive for c in tests["//:core_test"].compiles)
    text = re.sub(r" \$\n +", " ", ninja.render(plan))
    objects = set(re.findall(r"^build (obj-debforge/\S+/tests/obj/\S+\.o):", text, re.M))
    assert {o for o in objects if "calc_test.c" in o} == {"obj-debforge/generic/tests/obj/calc_test/calc_test.c.o"}
    assert {o.split("/")[1] for o in objects if "core_test.c" in o} == {"generic", "x86-64-v3", "x86-64-v4"}
    # the v3 program: the generic objects, linked over v3's libcore and the one libcalc
    link = re.search(r"^build obj-debforge/x86-64-v3/tests/build/bin/calc_test: link_test_c (.*)$", text, re.M)[1]
    assert "obj-debforge/generic/tests/obj/calc_test/calc_test.c.o" in link
    assert "obj-debforge/generic/libcalc.so" in link and "obj-debforge/x86-64-v3/libcore.so" in link


def test_a_test_links_what_its_libraries_link(tmp_path):
    """A plain cc_test on the C API alone (as ATen's tests depend on //:torch only) links libfw too, which libcapi
    links: ld links no executable against a shared object that only another one NEEDs, and the test's inline code
    of the C API's headers may call the framework (ATen's call c10)."""
    tree = tmp_path / "tree"
    shutil.copytree(TF_TREE, tree)
    with open(tree / "BUILD.bazel", "a") as f:
        f.write('\ncc_test(\n    name = "capi_only_test",\n    srcs = ["capi_test.c"],\n    deps = [":capi_lib"],\n)\n')
    [test] = tf_shapes_plan(tmp_path, '["//:capi_only_test"]', tree).tests
    assert test.siblings == ["capi", "fw"] and [c.src for c in test.compiles] == ["capi_test.c"]


def test_naming_a_gpu_test_selects_it_and_a_suite_of_other_rules_is_an_error(tmp_path):
    assert [t.label for t in tf_shapes_plan(tmp_path, '["//:capi_test_gpu"]').tests] == ["//:capi_test_gpu"]
    tree = tmp_path / "tree"
    shutil.copytree(TF_TREE, tree)
    with open(tree / "BUILD.bazel", "a") as f:
        f.write('\ntest_suite(\n    name = "odd_suite",\n    tests = [":fw_core"],\n)\n')
    with pytest.raises(DebforgeError) as exc:
        tf_shapes_plan(tmp_path, '["//:odd_suite"]', tree)
    assert "test_suite '//:odd_suite' (tests.select entry '//:odd_suite') lists '//:fw_core', which is not a " \
           "cc_test" in str(exc.value) and exc.value.file.endswith("BUILD.bazel")


@pytest.mark.skipif(shutil.which("ninja") is None or shutil.which("gcc") is None, reason="needs ninja and gcc")
def test_a_test_loads_its_shared_object_from_the_runfiles_at_each_level(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TF_TREE, tree)
    plan = tf_shapes_plan(tmp_path, '["//:all"]', tree)
    proc = _run_tests(tree, plan, "generic", "x86-64-v3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for level in ("generic", "x86-64-v3"):
        assert _summary(proc.stdout, level) == ["PASS //:capi_test_cpu", "PASS //:fw_test"], proc.stdout
    assert f"library libcapi.so.1 from {tree}/obj-debforge/x86-64-v3/libcapi.so.1" in proc.stdout
    staged = tree / "obj-debforge/tests/runfiles/capi_test_cpu.runfiles/org_fixture/test_op.so"
    assert staged.is_symlink() and staged.resolve() == tree / "obj-debforge/gen/test_op.so"


def test_a_test_never_links_two_libraries_holding_the_same_code(tmp_path):
    """libcapicc holds the C API again (as libtensorflow_cc holds libtensorflow's kernels): a test reaching code of
    both would load two copies of it; tests.libraries names what tests link, and the rest is compiled in."""
    libs = [("fw", "//:libfw.so.1"), ("capicc", "//:libcapicc.so.1"), ("capi", "//:libcapi.so.1")]
    select = 'tests:\n  select: ["//:extra_test"]\n'
    with pytest.raises(DebforgeError) as exc:
        fixture_plan(fixture_recipe(tmp_path / "r.yaml", TF_TREE, "capi", libs, select))
    assert "'//:extra_test' would link libcapi and libcapicc, which both hold '//:capi_lib'" in str(exc.value)
    assert exc.value.file.endswith("BUILD.bazel") and "tests.libraries" in exc.value.hint
    plan = fixture_plan(fixture_recipe(tmp_path / "r.yaml", TF_TREE, "capi", libs,
                                       select + "  libraries: [fw, capi]\n"))
    [test] = plan.tests
    assert test.siblings == ["capi", "fw"] and sorted(c.src for c in test.compiles) == ["extra.c", "extra_test.c"]
    bad = fixture_recipe(tmp_path / "r.yaml", TF_TREE, "capi", libs, select + "  libraries: [fw, tensorflow]\n")
    with pytest.raises(DebforgeError) as exc:
        load_recipe(bad)
    assert exc.value.line == 26 and "tests.libraries entry 'tensorflow' is not a library of this recipe" in \
        str(exc.value)
