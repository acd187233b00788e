"""The recipe's consumer-tests (issue 18): a program beside the recipe becomes an autopkgtest that builds it against
the installed packages, as a user's program is built, and runs it with each installed ISA level's copies, checking
with ld.so's trace that each library comes from that level's directory before each run."""

import os
import re
import shutil
import subprocess

import pytest
from debian.deb822 import Deb822

import testbed
from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge.backends import debian
from debforge.core import isa
from debforge.core.errors import DebforgeError
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "testsuite"
LIBS = [("calc", "//:calc"), ("core", "//:core")]
# a consumer of the installed libcalc: it fails (exit 1) where the copy it loaded was built for x86-64-v3
PROGRAM = r"""
#include <stdio.h>
#include <calc_level.h>
int main(void)
{
    printf("libcalc built for level %d\n", calc_level());
    return calc_level() == BROKEN_LEVEL;
}
"""


def rendered(tmp_path, entry="{name: calc-check, source: check.c, libraries: [calc]}"):
    (tmp_path / "check.c").write_text(PROGRAM)
    path = fixture_recipe(tmp_path / "r.yaml", TREE, "calc", LIBS, f"consumer-tests:\n  - {entry}\n")
    r = load_recipe(path)
    return r, debian.render(r, {"amd64": fixture_plan(r)}, r.upstream.dir, 0)


def test_each_program_is_an_autopkgtest_with_its_source(tmp_path):
    _, files = rendered(tmp_path)
    stanzas = {s["Tests"]: s for s in Deb822.iter_paragraphs(files["tests/control"][0])}
    assert set(stanzas) == {"hwcaps", "calc-check"}
    check = stanzas["calc-check"]
    depends = set(check["Depends"].split(",\n "))
    assert check["Restrictions"] == "allow-stderr" and {"build-essential", "pkgconf"} <= depends
    assert "libcalc1-avx512 [amd64]" in check["Depends"] and "libcalc-dev" in check["Depends"]
    script, mode = files["tests/calc-check"]
    assert mode & 0o111 and files["tests/calc-check.c"] == (PROGRAM, files["tests/control"][1])
    # linked as a user links: the installed headers and -l of the libraries the entry names, nothing of the tree
    # built as a user builds it: with the flags of the -dev package's pkg-config files
    assert 'cc -O2 -o "$tmp/calc-check" "debian/tests/calc-check.c" $(pkg-config --cflags --libs calc)\n' in script
    assert 'libraries="libcalc.so.1:yes"' in script and 'levels="x86-64-v3:-AVX2 x86-64-v4:-AVX512F"' in script
    # the hwcaps test shares the level logic, and still checks every library
    assert 'libraries="libcalc.so.1:yes libcore.so.1:yes"' in files["tests/hwcaps"][0]
    assert "best_level()" in files["tests/hwcaps"][0] and "best_level()" in script


def test_without_libraries_a_program_links_every_library(tmp_path):
    r, files = rendered(tmp_path, "{name: calc-check, source: check.c}")
    assert r.consumer_tests[0].libraries == ("calc", "core")
    assert '"debian/tests/calc-check.c" $(pkg-config --cflags --libs calc core)\n' in files["tests/calc-check"][0]


def test_a_program_may_link_without_pkg_config(tmp_path):
    """pkg-config: false: built with -l<library> alone, as ffmpeg's configure links -ltensorflow."""
    r, files = rendered(tmp_path, "{name: calc-check, source: check.c, libraries: [calc, core], pkg-config: false}")
    assert not r.consumer_tests[0].pkg_config
    script = files["tests/calc-check"][0]
    assert 'cc -O2 -o "$tmp/calc-check" "debian/tests/calc-check.c" -lcalc -lcore\n' in script
    assert "$(pkg-config" not in script


@pytest.mark.parametrize("entry, message", [
    ("{name: hwcaps, source: check.c}", "consumer-tests name 'hwcaps' is taken"),
    ("{name: Check, source: check.c}", "consumer-tests name"),
    ("{name: c1, source: ../check.c}", "must be a relative path inside the tree"),
    ("{name: c1, source: missing.c}", "consumer-tests source missing.c is not a C or C++ file in the recipe's"),
    ("{name: c1, source: r.yaml}", "consumer-tests source r.yaml is not a C or C++ file"),
    ("{name: c1, source: check.c, libraries: [calc, tensorflow]}",
     "consumer-tests libraries entry 'tensorflow' is not a library of this recipe"),
    ("{name: c1, source: check.c, flags: [-O3]}", "flags"),
    ("{name: c1, source: check.c, pkg-config: no-thanks}", "pkg-config must be true or false"),
])
def test_bad_entries_are_errors_at_their_line(tmp_path, entry, message):
    (tmp_path / "check.c").write_text(PROGRAM)
    path = fixture_recipe(tmp_path / "r.yaml", TREE, "calc", LIBS, f"consumer-tests:\n  - {entry}\n")
    with pytest.raises(DebforgeError) as exc:
        load_recipe(path)
    assert message in str(exc.value) and exc.value.line == 22, (str(exc.value), exc.value.line)


def test_two_programs_cannot_share_a_name(tmp_path):
    (tmp_path / "check.c").write_text(PROGRAM)
    entry = "{name: c1, source: check.c}"
    path = fixture_recipe(tmp_path / "r.yaml", TREE, "calc", LIBS, f"consumer-tests:\n  - {entry}\n  - {entry}\n")
    with pytest.raises(DebforgeError) as exc:
        load_recipe(path)
    assert "consumer-tests name 'c1' is taken" in str(exc.value) and exc.value.line == 23


LEVEL_SOURCE = """int calc_level(void)
{
#if defined(__AVX512F__)
    return 4;
#elif defined(__AVX2__)
    return 3;
#else
    return 1;
#endif
}
"""


def install_fake_copies(root, tmp_path):
    """libcalc.so.1 as the packages would install it: a generic copy and one per ISA level in glibc-hwcaps/, each
    saying which level it was compiled for; its header and .so link as the -dev package has them."""
    triplet = root.run("dpkg-architecture", "-qDEB_HOST_MULTIARCH").stdout.strip()
    (tmp_path / "level.c").write_text(LEVEL_SOURCE)
    for level in (None, isa.X86_64_V3, isa.X86_64_V4):
        libdir = root.path / f"usr/lib/{triplet}" / (f"glibc-hwcaps/{level.name}" if level else "")
        libdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-Wl,-soname,libcalc.so.1", "-o", libdir / "libcalc.so.1",
                        tmp_path / "level.c", *([f"-march={level.name}"] if level else [])], check=True)
    (root.path / f"usr/lib/{triplet}/libcalc.so").symlink_to("libcalc.so.1")
    (root.path / f"usr/lib/{triplet}/pkgconfig").mkdir(exist_ok=True)
    (root.path / f"usr/lib/{triplet}/pkgconfig/calc.pc").write_text("Name: calc\nDescription: calc\nVersion: 1\n"
                                                                     "Libs: -lcalc\n")
    (root.path / "usr/include/calc_level.h").write_text("int calc_level(void);\n")
    # libcore, which the program uses nothing of, linked --as-needed as trixie's gcc links by default
    (tmp_path / "core.c").write_text("int core_unused(void) { return 0; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libcore.so.1", "-o",
                    root.path / f"usr/lib/{triplet}/libcore.so.1", tmp_path / "core.c"], check=True)
    (root.path / f"usr/lib/{triplet}/libcore.so").symlink_to("libcore.so.1")
    (root.path / f"usr/lib/{triplet}/pkgconfig/core.pc").write_text("Name: core\nDescription: core\nVersion: 1\n"
                                                                     "Libs: -Wl,--as-needed -lcore\n")
    root.run("ldconfig")
    root.install("pkgconf")


def run_in_root(root, files, broken_level):
    src = root.path / "tmp/src/debian/tests"
    src.mkdir(parents=True, exist_ok=True)
    for name in ("calc-check", "calc-check.c"):
        text = files[f"tests/{name}"][0]
        (src / name).write_text(text.replace("BROKEN_LEVEL", str(broken_level)))
    return root.run("sh", "-c", "cd /tmp/src && sh debian/tests/calc-check", check=False)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="a clean root needs root")
@pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="needs mmdebstrap for the root")
def test_the_program_runs_with_each_levels_copy_and_a_failing_level_fails(tmp_path):
    """In a clean bookworm root with libcalc's copies installed: the program passes with each level's copy (the one
    ld.so's trace shows), and the same program failing with the x86-64-v3 copy fails the test there only."""
    _, files = rendered(tmp_path)
    base = testbed.unpack(testbed.tarball("bookworm", "amd64"), tmp_path / "base")
    with testbed.Root(base, tmp_path / "root") as root:
        install_fake_copies(root, tmp_path)
        help_text = root.run("/lib64/ld-linux-x86-64.so.2", "--help").stdout
        best = next((lvl for lvl in (isa.X86_64_V4, isa.X86_64_V3) if f"  {lvl.name} (supported, searched)"
                     in help_text), None)
        if best is None:
            pytest.skip("this CPU supports no ISA level above the baseline")
        ok = run_in_root(root, files, broken_level=0)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        # ld.so's trace names the cache's path (/lib/<triplet>/..., merged /usr)
        assert re.search(rf"^GLIBC_TUNABLES='': libcalc.so.1: {best.name} copy \S*/glibc-hwcaps/{best.name}/"
                         rf"libcalc.so.1\nlibcalc built for level {best.name[-1]}$", ok.stdout, re.M), ok.stdout
        assert re.search(r"^GLIBC_TUNABLES='glibc.cpu.hwcaps=-AVX2': libcalc.so.1: generic copy \S*/"
                         r"x86_64-linux-gnu/libcalc.so.1\nlibcalc built for level 1$", ok.stdout, re.M), ok.stdout
        assert len(re.findall(r"^ok: GLIBC_TUNABLES='[^']*': calc-check passed$", ok.stdout, re.M)) == 3
        broken = run_in_root(root, files, broken_level=3)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        failed = re.findall(r"^FAIL: GLIBC_TUNABLES='([^']*)': calc-check exited", broken.stdout, re.M)
        assert failed == (["", "glibc.cpu.hwcaps=-AVX512F"] if best == isa.X86_64_V3 else
                          ["glibc.cpu.hwcaps=-AVX512F"]), broken.stdout
        # a library the program uses nothing of is not loaded (--as-needed): reported, and the others still checked
        _, files = rendered(tmp_path, "{name: calc-check, source: check.c, libraries: [calc, core]}")
        dropped = run_in_root(root, files, broken_level=0)
        assert dropped.returncode == 0, dropped.stdout + dropped.stderr
        assert len(re.findall(r"^GLIBC_TUNABLES='[^']*': libcore.so.1: not loaded: calc-check uses none of its "
                              r"symbols", dropped.stdout, re.M)) == 3, dropped.stdout
        assert len(re.findall(r"^GLIBC_TUNABLES='[^']*': libcalc.so.1: \S+ copy ", dropped.stdout, re.M)) == 3
        # linked with -lcalc alone, without pkg-config's flags
        _, files = rendered(tmp_path, "{name: calc-check, source: check.c, libraries: [calc], pkg-config: false}")
        plain = run_in_root(root, files, broken_level=0)
        assert plain.returncode == 0 and plain.stdout.count(": calc-check passed") == 3, plain.stdout + plain.stderr
        # but a program that loads none of the libraries it names tests nothing of the packages: it fails
        _, files = rendered(tmp_path, "{name: calc-check, source: check.c, libraries: [core]}")
        files["tests/calc-check.c"] = ("int main(void) { return 0; }\n", 0o644)
        nothing = run_in_root(root, files, broken_level=0)
        assert nothing.returncode == 1 and "FAIL: GLIBC_TUNABLES='': calc-check loads none of libcore.so.1:yes" \
            in nothing.stdout, nothing.stdout
