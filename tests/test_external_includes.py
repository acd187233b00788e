"""An external's `includes` in the recipe: Debian packages whose headers are off the default path (libmlir-19-dev
under /usr/lib/llvm-19/include) reach, as -isystem, the compiles of the targets that depend on the external,
directly or through in-tree deps, and no others; they must be absolute directories under /usr. An external's
`package` may be a list (Debian splits protobuf's headers over libprotobuf-dev and libprotoc-dev). Its `libdirs`
(libMLIR.so.19.1 is only in /usr/lib/llvm-19/lib) reach the link lines of the libraries that link its libs, as -L
and RUNPATH, and their packages override lintian's custom-library-search-path with the reason."""

import os
import subprocess

import pytest

from conftest import ROOT
from debforge import frontends
from debforge.backends import debian, ninja
from debforge.backends.debian import install
from debforge.core.errors import DebforgeError
from debforge.plan import make_plan
from debforge.recipe.schema import load_recipe

BUILD = '''
cc_library(name = "top", srcs = ["top.cc"], deps = [":mid", ":plain"])
cc_library(name = "mid", srcs = ["mid.cc"], deps = ["@llvm-project//mlir:IR", "@com_google_absl//absl/base"])
cc_library(name = "plain", srcs = ["plain.cc"])
'''


def recipe(tmp_path, llvm: str, libraries: str = '[{name: toy, target: "//:top", soversion: 1}]'):
    tree = tmp_path / "tree"
    tree.mkdir(parents=True)
    (tree / "WORKSPACE").write_text("")
    (tree / "BUILD.bazel").write_text(BUILD)
    for f in ("top.cc", "mid.cc", "plain.cc"):
        (tree / f).write_text("int x;\n")
    path = tmp_path / "fixture.yaml"   # the externals' lines: absl 18, llvm-project 19
    path.write_text(f"""\
source: toy
version: "1.0"
upstream: {{dir: {tree}}}
homepage: https://example.org/
maintainer: Test <test@example.org>
license: Apache-2.0
copyright: 2025 Test
summary: fixture
description: fixture
frontend: bazel
architectures: [amd64]
packages:
  - name: libtoy1
    libraries: {libraries}
dev:
  package: libtoy-dev
externals:
  com_google_absl: libabsl-dev
  llvm-project: {llvm}
""")
    return load_recipe(path), tree


def test_includes_reach_the_targets_that_use_the_external(tmp_path):
    r, tree = recipe(tmp_path, "{package: libmlir-19-dev, includes: [/usr/lib/llvm-19/include]}")
    [lib] = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64").libraries
    flags = {c.src: c.flags for c in lib.compiles}
    for src in ("top.cc", "mid.cc"):    # mid uses it, top through mid
        assert flags[src][-2:] == ["-isystem", "/usr/lib/llvm-19/include"]
        assert flags[src].count("/usr/lib/llvm-19/include") == 1
    assert "/usr/lib/llvm-19/include" not in flags["plain.cc"]


def test_without_includes_nothing_is_added(tmp_path):
    r, tree = recipe(tmp_path, "libmlir-19-dev")
    [lib] = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64").libraries
    assert not any(f.startswith("/usr") for c in lib.compiles for f in c.flags)


@pytest.mark.parametrize("bad", ["usr/include", "/usr/lib/../../etc", "/etc/x", "/usr/./include", "/usr"])
def test_includes_must_be_directories_under_usr(tmp_path, bad):
    with pytest.raises(DebforgeError) as exc:
        recipe(tmp_path, f"{{package: libmlir-19-dev, includes: ['{bad}']}}")
    assert "includes" in exc.value.message and exc.value.line == 19   # the external's line


def test_a_package_list_names_every_package_as_build_depends(tmp_path):
    """Debian splits protobuf's headers: libprotobuf-dev, libprotoc-dev (compiler/importer.h)."""
    r, tree = recipe(tmp_path, "{package: [libmlir-19-dev, mlir-19-tools], libs: [MLIR]}")
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    assert {"libmlir-19-dev", "mlir-19-tools", "libabsl-dev"} <= set(plan.externals_used)
    assert "MLIR" in plan.libraries[0].external_libs
    with pytest.raises(DebforgeError) as exc:
        recipe(tmp_path / "empty", "{package: []}")
    assert "at least one" in exc.value.message


def test_includes_reach_through_a_library_linked(tmp_path):
    """//:mid is compiled into libmid, which libtoy links: top.cc still includes mid's headers, and MLIR's."""
    r, tree = recipe(tmp_path, "{package: libmlir-19-dev, includes: [/usr/lib/llvm-19/include]}",
                     '[{name: mid, target: "//:mid", soversion: 1}, {name: toy, target: "//:top", soversion: 1}]')
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    libs = {lib.spec.name: lib for lib in plan.libraries}
    assert libs["toy"].siblings == ["mid"] and [c.src for c in libs["toy"].compiles] == ["plain.cc", "top.cc"]
    flags = {c.src: c.flags for c in libs["toy"].compiles}
    assert flags["top.cc"][-2:] == ["-isystem", "/usr/lib/llvm-19/include"]
    assert "/usr/lib/llvm-19/include" not in flags["plain.cc"]


def test_libdirs_reach_the_link_as_search_path_and_runpath(tmp_path):
    r, tree = recipe(tmp_path, "{package: libmlir-19-dev, libs: [MLIR], libdirs: [/usr/lib/llvm-19/lib]}",
                     '[{name: mid, target: "//:mid", soversion: 1}, {name: plain, target: "//:plain", soversion: 1}]')
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    text = ninja.render(plan)
    links = {line.split(":")[0]: " ".join(line.split()) for line in text.split("\nbuild ")
             if ": link_" in line.split("\n")[0]}
    for level in ("generic", "x86-64-v3", "x86-64-v4"):
        assert "-L/usr/lib/llvm-19/lib -Wl,-rpath,/usr/lib/llvm-19/lib -lMLIR" in \
            links[f"obj-debforge/{level}/libmid.so.1.0"]
        assert "llvm-19" not in links[f"obj-debforge/{level}/libplain.so.1.0"]    # it links no MLIR
    overrides = install.render(r, [], {"libtoy1": r.libdirs(plan.libraries[0].external_libs)}, {"toy"}, [], {"toy"})
    assert "libtoy1-generic: custom-library-search-path *" in overrides["libtoy1-generic.lintian-overrides"]
    assert "/usr/lib/llvm-19/lib" in overrides["libtoy1-avx2.lintian-overrides"]
    assert "custom-library-search-path" not in install.render(r, [], {}, {"toy"}, [], {"toy"})["libtoy1-generic.lintian-overrides"]
    # dpkg-shlibdeps resolves libMLIR's NEEDED libLLVM.so.19.1 through the RUNPATH too: rules write shlibs.local first
    rules = debian.render(r, {"amd64": plan}, tree, 1700000000)["rules"][0]
    assert "override_dh_shlibdeps:\n\tsh debian/debforge/runpath-shlibs debian/shlibs.local /usr/lib/llvm-19/lib\n" \
        "\tdh_shlibdeps\n" in rules
    assert "rm -rf $(B) debian/shlibs.local\n" in rules


def test_runpath_shlibs_names_the_package_of_the_file_a_symlink_points_to(tmp_path):
    """/usr/lib/llvm-19/lib/libLLVM.so.19.1 is llvm-19-dev's symlink to libllvm19's file: dpkg-shlibdeps, finding it
    through the RUNPATH, has no dependency information for it. shlibs.local gets libllvm19's shlibs line; a library
    that is a file, or a symlink within one package, gets none. (dpkg-query answers as dpkg would here.)"""
    private, system = tmp_path / "llvm/lib", tmp_path / "multiarch"
    private.mkdir(parents=True)
    system.mkdir()
    for name in ("libLLVM.so.19.1", "libsame.so.1"):
        (system / name).write_text("")
        (private / name).symlink_to(system / name)
    (private / "libMLIR.so.19.1").write_text("")
    owners = {private / "libLLVM.so.19.1": "llvm-19-dev", system / "libLLVM.so.19.1": "libllvm19:amd64",
              private / "libsame.so.1": "libsame1:amd64", system / "libsame.so.1": "libsame1:amd64",
              private / "libMLIR.so.19.1": "libmlir-19"}
    shlibs = tmp_path / "libllvm19.shlibs"
    shlibs.write_text("libLLVM-19 1 libllvm19 (>= 1:19.1.0)\nlibLLVM 19.1 libllvm19 (>= 1:19.1.0)\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "dpkg-query"
    stub.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = -S ]; then\n" +
        "".join(f"  [ \"$2\" = {p} ] && echo '{o}: {p}' && exit 0\n" for p, o in owners.items()) +
        "  exit 1\nfi\n"
        f"[ \"$1 $2 $3\" = '--control-path libllvm19:amd64 shlibs' ] && echo {shlibs} && exit 0\nexit 1\n")
    stub.chmod(0o755)
    out = tmp_path / "shlibs.local"
    proc = subprocess.run(["sh", ROOT / "debforge/data/skel/debforge/runpath-shlibs", out, private],
                          capture_output=True, text=True, env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "libLLVM 19.1 libllvm19 (>= 1:19.1.0)\n"
    assert f"{private}/libLLVM.so.19.1 (llvm-19-dev) points to {system}/libLLVM.so.19.1 (libllvm19:amd64)" \
        in proc.stdout


@pytest.mark.parametrize("bad, message", [("{package: libmlir-19-dev, libs: [MLIR], libdirs: [lib]}", "libdirs"),
                                          ("{package: libmlir-19-dev, libdirs: [/usr/lib/llvm-19/lib]}",
                                           "without libs")])
def test_libdirs_are_directories_under_usr_with_libs(tmp_path, bad, message):
    with pytest.raises(DebforgeError) as exc:
        recipe(tmp_path, bad)
    assert message in exc.value.message and exc.value.line == 19


def test_a_library_linked_brings_its_external_libs(tmp_path):
    """libtoy links libmid, which links MLIR: libtoy links MLIR too (as bazel links every transitive dep; TF's op
    generators call protobuf's inline code through the framework's headers); libplain, which it links too, does not."""
    r, tree = recipe(tmp_path, "{package: libmlir-19-dev, libs: [MLIR]}",
                     '[{name: mid, target: "//:mid", soversion: 1}, {name: toy, target: "//:top", soversion: 1}, '
                     '{name: plain, target: "//:plain", soversion: 1}]')
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    libs = {lib.spec.name: lib for lib in plan.libraries}
    assert libs["toy"].siblings == ["mid", "plain"] and libs["toy"].external_libs == ["MLIR"]
    assert libs["mid"].external_libs == ["MLIR"] and libs["plain"].external_libs == []


def test_defines_reach_the_targets_that_use_the_external_after_their_own(tmp_path):
    """libonnx-dev's CMake target defines ONNX_ML=1 (its headers choose onnx-ml.pb.h by it): the external's
    `defines` reach the compiles that reach it, as bazel passes a cc_library's defines to its dependents."""
    r, tree = recipe(tmp_path, "{package: libmlir-19-dev, defines: [MLIR_ML=1, MLIR_ON]}")
    [lib] = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64").libraries
    flags = {c.src: c.flags for c in lib.compiles}
    for src in ("top.cc", "mid.cc"):
        assert [f for f in flags[src] if f.startswith("-D")][-2:] == ["-DMLIR_ML=1", "-DMLIR_ON"]
    assert not any(f.startswith("-DMLIR") for f in flags["plain.cc"])


@pytest.mark.parametrize("bad", ["1X", "X Y", "X=$(rm -rf /)", "X=a b", "-DX"])
def test_defines_must_be_macro_definitions(tmp_path, bad):
    with pytest.raises(DebforgeError) as exc:
        recipe(tmp_path, f"{{package: libmlir-19-dev, defines: ['{bad}']}}")
    assert "defines" in exc.value.message and exc.value.line == 19
