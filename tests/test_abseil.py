"""abseil 20240722.0 from trixie's orig tarball (issue 19): Debian's 90 libraries in one package from upstream's
bazel BUILD files. It plans (slow: the orig tarball); heavy: built in a clean trixie chroot, lintian-clean there, its
exported symbols are trixie's libabsl20240722's library by library, and a program builds against it in a clean sid
root through pkg-config and CMake (absl_strings and the header-only absl_optional)."""

import re
import shutil
import subprocess

import pytest

import testbed
from conftest import ROOT, extract, run_cli
from debforge import frontends, upstream
from debforge.drivers import archive
from debforge.plan import make_plan
from debforge.recipe.schema import load_recipe

RECIPE = ROOT / "recipes/abseil.yaml"
SENSITIVE = {"absl_crc32c": 2, "absl_crc_internal": 1, "absl_random_internal_randen_hwaes_impl": 1}
PROGRAM = """#include <iostream>
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
int main() { absl::optional<int> v = 20240722; std::cout << absl::StrCat("abseil ", *v) << std::endl; }
"""
CMAKELISTS = """cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(absl 20240722 REQUIRED)
add_executable(prog prog.cc)
target_link_libraries(prog absl::strings absl::optional)
"""


@pytest.mark.slow
def test_abseil_plans_as_debians_libraries(tmp_path):
    r = load_recipe(RECIPE)
    tree = upstream.unpacked(r, tmp_path, log=lambda m: None)
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    assert len(plan.libraries) == 90 and sum(len(lib.compiles) for lib in plan.libraries) == 155
    assert {lib.spec.name: sum(c.level_sensitive for c in lib.compiles) for lib in plan.libraries if lib.copies} \
        == SENSITIVE
    # every target compiled once: a target in two libraries would run its initialisers twice
    owners = [c.owner for lib in plan.libraries for c in lib.compiles]
    assert len(owners) == len({(c.owner, c.src) for lib in plan.libraries for c in lib.compiles})
    malloc = next(lib for lib in plan.libraries if lib.spec.name == "absl_malloc_internal")
    assert "absl_spinlock_wait" in malloc.siblings   # through base's call_once.h: linked transitively

# Debian's libabsl-dev (trixie, upstream's CMake build) against this recipe's -dev package: what differs, and why
# (docs/dev-packages.md). Upstream CMake's groupings with no bazel target, the recipe's header-only groups
GROUPS = {"debugging": ["absl_stacktrace", "absl_leak_check"], "meta": ["absl_type_traits"],
          "numeric": ["absl_int128"]}
# testonly in bazel (googletest helpers): Debian's CMake build writes their .pc files, but installs no target
TESTONLY_PC = {
    "atomic_hook_test_helper", "btree_test_common", "cord_rep_test_util", "cord_test_helpers", "cordz_test_helpers",
    "exception_safety_testing", "exception_testing", "hash_generator_testing", "hash_policy_testing", "hash_testing",
    "log_internal_test_actions", "log_internal_test_helpers", "log_internal_test_matchers",
    "per_thread_sem_test_common", "pow10_helper", "random_internal_explicit_seed_seq",
    "random_internal_mock_overload_set", "random_internal_sequence_urbg", "random_mocking_bit_gen", "scoped_mock_log",
    "spinlock_test_common", "spy_hash_state", "stack_consumption", "status_matchers", "test_allocator",
    "test_instance_tracker", "thread_pool", "time_internal_test_util", "tracked",
    *(f"unordered_{kind}_{what}_test" for kind in ("map", "set")
      for what in ("constructor", "lookup", "members", "modifiers"))}


@pytest.mark.slow
def test_abseil_modules_and_cmake_targets_as_debians(tmp_path):
    """Every pkg-config module and CMake target of Debian's libabsl-dev that this recipe's -dev package lacks, or
    has beside it, is one the docs explain: the 90 libraries and Debian's 100 INTERFACE targets are common."""
    r = load_recipe(RECIPE)
    tree = upstream.unpacked(r, tmp_path, log=lambda m: None)
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    libraries = {lib.spec.name.removeprefix("absl_") for lib in plan.libraries}
    interfaces = {i.name.removeprefix("absl_") for i in plan.interfaces}
    dev = archive.dev_package("libabsl-dev", "trixie", log=lambda m: None)
    pcs = {f.rsplit("/", 1)[1].removeprefix("absl_").removesuffix(".pc") for f in dev.files
           if "/pkgconfig/" in f and f.endswith(".pc")}
    [deb] = sorted((archive.CACHE / "debs/trixie").glob("libabsl-dev_*.deb"))[-1:]
    [targets] = extract(deb, tmp_path / "deb").glob("usr/lib/*/cmake/absl/abslTargets.cmake")
    cmake = dict(re.findall(r"add_library\(absl::(\w+) (SHARED|INTERFACE) IMPORTED\)", targets.read_text()))
    assert {t for t, kind in cmake.items() if kind == "SHARED"} == libraries
    debian = {t for t, kind in cmake.items() if kind == "INTERFACE"}
    assert debian <= interfaces
    # its headers are absl::base's in CMake; CMake's target is TESTONLY, bazel's is not
    assert interfaces - debian == {"cycleclock_internal", "random_internal_mock_validators"}
    assert pcs - libraries - interfaces == TESTONLY_PC
    assert (libraries | interfaces) - pcs == {"cycleclock_internal"}
    assert {"optional", "any", "config", "span", "flat_hash_map"} <= interfaces
    assert {i.name.removeprefix("absl_"): i.requires for i in plan.interfaces if not i.label} == GROUPS


def dynamic_symbols(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    return {ln.split()[-1] for ln in out.splitlines()}


@pytest.mark.heavy
def test_abseil_sbuild_lintian_symbols_and_a_consumer(tmp_path):
    proc = run_cli("build", RECIPE, "-o", tmp_path / "out", "--sbuild", "trixie", "--no-check-reproducible")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "debforge: lintian (trixie's, in the chroot): 0 errors, 0 warnings" in proc.stderr
    debs = {p.name.split("_")[0]: p for p in (tmp_path / "out").glob("*.deb") if "-dbgsym_" not in p.name}
    ours = extract(debs["libabsl20240722-generic"], tmp_path / "ours")
    theirs = extract(upstream.fetch_debian_binary("libabsl20240722", "trixie", tmp_path / "deb"), tmp_path / "theirs")
    libs = sorted(theirs.glob("usr/lib/*/libabsl_*.so.20240722"))
    assert len(libs) == 90
    for lib in libs:   # identical dynamic symbol sets, library by library
        [mine] = ours.glob(f"usr/lib/*/{lib.name}")
        assert dynamic_symbols(mine) == dynamic_symbols(lib), lib.name
    base = testbed.unpack(testbed.tarball("sid", "amd64"), tmp_path / "base")
    with testbed.Root(base, tmp_path / "root") as root:
        (root.path / "tmp/c").mkdir()
        (root.path / "tmp/c/prog.cc").write_text(PROGRAM)
        (root.path / "tmp/c/CMakeLists.txt").write_text(CMAKELISTS)
        root.install("cmake", "pkgconf", "g++",
                     debs=[debs[p] for p in ("libabsl20240722", "libabsl20240722-generic", "libabsl-dev")])
        out = root.run("sh", "-c", "g++ -o /tmp/p /tmp/c/prog.cc "
                                   "$(pkg-config --cflags --libs absl_strings absl_optional) && /tmp/p")
        assert out.stdout == "abseil 20240722\n"
        out = root.run("sh", "-c", "cmake -S /tmp/c -B /tmp/b >/dev/null && cmake --build /tmp/b >/dev/null "
                                   "&& /tmp/b/prog")
        assert out.stdout == "abseil 20240722\n"
    shutil.rmtree(base)
