"""An external's `includes` in the recipe: Debian packages whose headers are off the default path (libmlir-19-dev
under /usr/lib/llvm-19/include) reach, as -isystem, the compiles of the targets that depend on the external,
directly or through in-tree deps, and no others; they must be absolute directories under /usr. An external's
`package` may be a list (Debian splits protobuf's headers over libprotobuf-dev and libprotoc-dev)."""

import pytest

from debforge import frontends
from debforge.errors import DebforgeError
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
