"""Build profiles: a recipe package with `build-profiles` (a restriction formula, as in debian/control) is left out
of a build under that profile: its packages carry Build-Profiles, debian/rules asks ninja only for what the
packages dh_listpackages names need, the -dev package's files and Depends follow (dh-exec, a substvar)."""

import re
import shutil
import subprocess

import pytest

from conftest import FIXTURES, configure, extract, run_cli
from debforge.core.errors import DebforgeError
from debforge.drivers import dpkg
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "profiles"
PROFILE = "pkg.twolibs.core-only"


def write_recipe(tmp_path, formula=f"<!{PROFILE}>", tree=TREE, tail=""):
    path = tmp_path / "twolibs.yaml"
    path.write_text(f"""\
source: twolibs
version: "1.0"
upstream: {{dir: {tree}}}
homepage: https://example.org/
maintainer: Test <test@example.org>
license: Apache-2.0
copyright: 2025 Test
summary: two small libraries
description: Two small libraries, one of them optional.
frontend: bazel
architectures: [amd64]
packages:
  - name: libcore1
    libraries:
      - {{name: core, target: //:core, soversion: 1}}
  - name: libextra1
    build-profiles: "{formula}"
    libraries:
      - {{name: extra, target: //:extra, soversion: 1}}
dev:
  package: libtwolibs-dev
  headers:
    - files: core.h
    - {{files: "extra*.h", build-profiles: "{formula}"}}
externals:
  zlib: {{package: zlib1g-dev, libs: [z]}}
{tail}""")
    return path


def generated(tmp_path):
    proc = run_cli("generate", write_recipe(tmp_path), "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "out/twolibs-1.0/debian"


def test_profiled_packages_and_their_files(tmp_path):
    debian = generated(tmp_path)
    control = debian.joinpath("control").read_text()
    for pkg in ("libextra1", "libextra1-generic", "libextra1-avx2", "libextra1-avx512"):
        assert f"Package: {pkg}\nBuild-Profiles: <!{PROFILE}>\n" in control
    assert "Package: libcore1\nArchitecture" in control
    source = control.split("\n\n")[0]
    assert "dh-exec" in source and f"zlib1g-dev <!{PROFILE}>" in source   # only libextra1 needs it
    assert "Depends: libcore1 (= ${binary:Version}), ${debforge:Profiled-Depends}, ${misc:Depends}" in control
    install = debian / "libtwolibs-dev.install"
    assert install.read_text() == f"#!/usr/bin/dh-exec\ncore.h usr/include/\n" \
                                  f"<!{PROFILE}> obj-debforge/gen/extra_version.h usr/include/\n" \
                                  f"<!{PROFILE}> extra.h usr/include/\n" \
                                  "debian/debforge/pkgconfig/core.pc usr/lib/${DEB_HOST_MULTIARCH}/pkgconfig/\n" \
                                  f"<!{PROFILE}> debian/debforge/pkgconfig/extra.pc usr/lib/${{DEB_HOST_MULTIARCH}}/pkgconfig/\n" \
                                  "obj-debforge/generic/libcore.a usr/lib/${DEB_HOST_MULTIARCH}/\n" \
                                  f"<!{PROFILE}> obj-debforge/generic/libextra.a usr/lib/${{DEB_HOST_MULTIARCH}}/\n"
    assert install.stat().st_mode & 0o111
    links = debian.joinpath("libtwolibs-dev.links").read_text().splitlines()
    assert links[2] == f"<!{PROFILE}> usr/lib/${{DEB_HOST_MULTIARCH}}/libextra.so.1 " \
                       f"usr/lib/${{DEB_HOST_MULTIARCH}}/libextra.so"
    rules = debian.joinpath("rules").read_text()
    assert "NINJA_libextra1-avx2 := extra@x86-64-v3\n" in rules
    # the generated header of the profiled header set is made with the profiled package's baseline build
    assert "NINJA_libextra1-generic := extra@generic headers-libextra1-generic\n" in rules
    assert "NINJA_libtwolibs-dev" not in rules
    # the ninja targets rules names exist in the graph
    graph = debian.joinpath("debforge/build-amd64.ninja").read_text()
    assert "build headers-libextra1-generic: phony obj-debforge/gen/extra_version.h\n" in graph
    for target in ("core@generic", "extra@generic", "extra@x86-64-v3", "extra@x86-64-v4"):
        assert f"build {target}: phony " in graph


def probe(debian, expression):
    """What debian/rules' own make logic gives EXPRESSION (echoed by sh), without compiling: without a profile and
    under PROFILE (dh_listpackages names the packages)."""
    (debian / "probe.mk").write_text(f"print:\n\t@echo {expression}\n")
    out = {}
    for profiles in ("", PROFILE):
        proc = subprocess.run(["make", "-s", "-f", "debian/rules", "-f", "debian/probe.mk", "print"],
                              cwd=debian.parent, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "DEB_BUILD_PROFILES": profiles})
        assert proc.returncode == 0, proc.stderr
        out[profiles] = proc.stdout.strip()
    return out


def test_rules_build_only_the_listed_packages(tmp_path):
    """debian/rules asks ninja only for what the packages dh_listpackages names need."""
    targets = probe(generated(tmp_path), "$(foreach p,$(BUILT),$(NINJA_$(p)))")
    assert targets[""].split() == ["core@generic", "core@x86-64-v3", "core@x86-64-v4", "extra@generic",
                                   "headers-libextra1-generic", "extra@x86-64-v3", "extra@x86-64-v4"]
    assert targets[PROFILE].split() == ["core@generic", "core@x86-64-v3", "core@x86-64-v4"]


def test_tests_of_a_profiled_package_run_only_where_it_is_built(tmp_path):
    """A test linking libextra (profiled) is in its own group of ninja targets; debian/rules runs that group only
    where the build makes libextra1 (a c10-only PyTorch build must not build libtorch_cpu for ATen's tests), the
    autopkgtest, with every package installed, runs all."""
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    for name, lib in (("core_test", "core"), ("extra_test", "extra")):
        (tree / f"{name}.c").write_text(f'#include "{lib}.h"\nint main(void) {{ return 0; }}\n')
        with open(tree / "BUILD.bazel", "a") as f:
            f.write(f'\ncc_test(\n    name = "{name}",\n    srcs = ["{name}.c"],\n    deps = [":{lib}"],\n)\n')
    proc = run_cli("generate", write_recipe(tmp_path, tree=tree, tail='tests:\n  select: ["//:all"]\n'),
                   "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    debian = tmp_path / "out/twolibs-1.0/debian"
    graph = debian.joinpath("debforge/build-amd64.ninja").read_text()
    assert "build tests@generic: phony obj-debforge/generic/tests/build/results/core_test.result\n" in graph
    assert "build tests_libextra1@generic: phony obj-debforge/generic/tests/build/results/extra_test.result\n" in graph
    assert probe(debian, "'[$(strip $(TEST_GROUPS))]'") == {"": "[_libextra1]", PROFILE: "[]"}
    assert 'export TEST_GROUPS="_libextra1"\n' in debian.joinpath("tests/upstream-tests").read_text()
    # run-tests with the groups debian/rules passes: under the profile libextra is not even built
    configure(debian.parent, load_recipe(tmp_path / "twolibs.yaml"))
    for groups, ran in (("", ["core_test"]), ("_libextra1", ["core_test", "extra_test"])):
        proc = subprocess.run(["sh", "debian/debforge/run-tests", "build", "debian/debforge/build-amd64.ninja", "2",
                               "generic"], cwd=debian.parent, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "TEST_GROUPS": groups})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert re.findall(r"^  PASS +//:(\w+)", proc.stdout, re.M) == ran, proc.stdout
        assert (debian.parent / "obj-debforge/generic/libextra.so.1").exists() == bool(groups)


@pytest.mark.parametrize("formula", ["!pkg.x.y", "<pkg.x.y", "<Pkg.x>", "<a>,<b>", "<>"])
def test_malformed_formula_names_the_recipe_line(tmp_path, formula):
    with pytest.raises(DebforgeError) as e:
        load_recipe(write_recipe(tmp_path, formula))
    assert e.value.line == 17 and "build-profiles" in str(e.value)


def test_unknown_profile_is_refused_before_any_work(tmp_path):
    proc = run_cli("build", write_recipe(tmp_path), "-o", tmp_path / "out", "--profiles", "pkg.twolibs.typo")
    assert proc.returncode == 2
    assert "pkg.twolibs.typo" in proc.stderr and PROFILE in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_build_under_the_profile(tmp_path):
    proc = run_cli("build", write_recipe(tmp_path), "-o", tmp_path / "out", "--profiles", PROFILE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    debs = {p.name.split("_")[0]: p for p in (tmp_path / "out").glob("*.deb") if "-dbgsym" not in p.name}
    assert set(debs) == {"libcore1", "libcore1-generic", "libcore1-avx2", "libcore1-avx512", "libtwolibs-dev",
                         "twolibs-src"}
    dev = extract(debs["libtwolibs-dev"], tmp_path / "dev")
    assert (dev / "usr/include/core.h").is_file() and not list(dev.glob("usr/include/extra*.h"))
    assert not list(dev.glob("usr/lib/*/libextra.so")) and not list(dev.glob("usr/lib/*/pkgconfig/extra.pc"))
    [pc_dir] = dev.glob("usr/lib/*/pkgconfig")
    libs = subprocess.run(["pkg-config", "--libs", "core"], capture_output=True, text=True,
                          env={"PKG_CONFIG_PATH": str(pc_dir), "PATH": "/usr/bin:/bin"})
    assert (libs.returncode, libs.stdout.strip()) == (0, "-lcore")
    depends = subprocess.run(["dpkg-deb", "-f", debs["libtwolibs-dev"], "Depends"], capture_output=True,
                             text=True).stdout.strip()
    assert depends == "libcore1 (= 1.0-1)"
    assert "debforge: lintian: 0 errors, 0 warnings" in proc.stderr


def test_pkg_config_files(tmp_path):
    """One .pc per library, valid for pkg-config, naming no path (one text for every architecture). libextra's
    sources use zlib, its headers do not: zlib1g-dev's module is a private requirement (a static link's)."""
    debian = generated(tmp_path)
    pc = debian / "debforge/pkgconfig/extra.pc"
    assert pc.read_text() == ("# Generated by debforge from the twolibs recipe.\nName: extra\n"
                              "Description: two small libraries\nVersion: 1.0\nRequires.private: zlib\n"
                              "Libs: -lextra\n")
    check = subprocess.run(["pkg-config", "--validate", str(pc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # pkg-config needs zlib.pc wherever extra.pc is installed: the -dev package depends on zlib1g-dev with libextra1
    assert "'-Vdebforge:Profiled-Depends=$(foreach p,$(filter libextra1,$(BUILT)),$(p) (= $${binary:Version}), " \
           "zlib1g-dev,)'" in (debian / "rules").read_text()


def test_unmet_build_depends_are_those_of_the_profile(tmp_path):
    """A Build-Depends restricted to builds without the profile is not needed under it (a c10-only build of PyTorch
    needs none of libtorch_cpu's); the others still are."""
    (tmp_path / "debian").mkdir()
    (tmp_path / "debian/control").write_text(
        f"Source: twolibs\nBuild-Depends: debforge-absent-full-dev <!{PROFILE}>, debforge-absent-test-dev <!nocheck>"
        f"\n\nPackage: libtwolibs\nArchitecture: any\nDescription: x\n y\n")
    assert "debforge-absent-full-dev" in dpkg.missing_build_depends(tmp_path)
    under = dpkg.missing_build_depends(tmp_path, [PROFILE])
    assert "debforge-absent-full-dev" not in under and "debforge-absent-test-dev" in under
    assert dpkg.missing_build_depends(tmp_path, [PROFILE, "nocheck"]) == ""


@pytest.mark.parametrize("formula, installed", [(f"<!{PROFILE}>", True), ("<pkg.twolibs.extra>", False),
                                                ("<pkg.twolibs.extra> <!nocheck>", True)])
def test_autopkgtests_install_what_a_default_build_makes(tmp_path, formula, installed):
    """The autopkgtests test the packages of a build with no profile: a package only a profile makes
    (<pkg.twolibs.extra>) is neither in their Depends nor checked by the hwcaps test."""
    proc = run_cli("generate", write_recipe(tmp_path, formula), "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    debian = tmp_path / "out/twolibs-1.0/debian"
    control = debian.joinpath("tests/control").read_text()
    assert "libcore1-avx2 [amd64]" in control
    assert ("libextra1-avx2 [amd64]" in control) == installed
    assert ("libextra.so.1" in debian.joinpath("tests/hwcaps").read_text()) == installed
    # nor are its headers and pkg-config module checked by c-headers-link
    headers_link = debian.joinpath("tests/c-headers-link").read_text()
    assert ('modules="core extra"' in headers_link) == installed and 'modules="core' in headers_link
    assert ("/usr/include/extra.h" in headers_link) == installed and "/usr/include/core.h\n" in headers_link
