"""PyTorch 2.6 from its own Starlark metadata (issue 7), on the orig tarball of Debian's pytorch (trixie)."""

import shutil
import subprocess

import pytest

from conftest import ROOT, extract, run_cli
from debforge import SKEL_DIR, frontends, sources
from debforge.backends import ninja
from debforge.plan import make_plan
from debforge.recipe.schema import load_recipe

RECIPE = ROOT / "recipes/pytorch.yaml"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("pytorch")
    tree, _ = sources.prepare(load_recipe(RECIPE), out, log=lambda m: None)
    return tree


@pytest.mark.slow
def test_every_package_evaluates(tree):
    r = load_recipe(RECIPE)
    g = frontends.get("bazel").scan(tree, r, "amd64").graph
    assert g.skipped == {}
    assert len(g.packages) == 18 and len(g.targets) == 318
    kinds = g.kinds()
    assert kinds["cc_library"] == 42 and kinds["cmake_configure_file"] == 3 and kinds["generate_aten"] == 1


@pytest.mark.slow
def test_c10_plan(tree):
    r = load_recipe(RECIPE)
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    [c10] = plan.libraries
    srcs = [c.src for c in c10.compiles]
    assert len(srcs) == len(set(srcs)) == 88
    assert all(s.startswith("c10/") and s.endswith(".cpp") for s in srcs)
    assert not any(s.startswith(("c10/cuda/", "c10/test/", "c10/benchmark/")) for s in srcs)
    # the recipe turns c10's gflags/glog bool_flags (default true) off, as Debian's build does
    [step] = plan.steps
    assert step.label == "//c10/macros:cmake_macros_h"
    assert step.outputs == ["obj-debforge/gen/c10/macros/cmake_macros.h"]
    assert step.command[4:] == ["C10_BUILD_SHARED_LIBS", "C10_USE_MSVC_STATIC_RUNTIME"]
    assert plan.externals_used == ["libcpuinfo-dev", "libfmt-dev"]
    assert c10.external_libs == ["fmt", "cpuinfo"] and c10.generated == step.outputs
    # ninja finds every input: tree files, the generated header, the debian/debforge scripts
    (tree / "debian").mkdir(exist_ok=True)
    shutil.copytree(SKEL_DIR / "debforge", tree / "debian/debforge", dirs_exist_ok=True)
    (tree / "obj-debforge").mkdir(exist_ok=True)
    (tree / "obj-debforge/config.ninja").write_text("cc = gcc\ncxx = g++\n")
    (tree / "build.ninja").write_text(ninja.render(plan, RECIPE.name))
    dry = subprocess.run(["ninja", "-n", "generic", "x86-64-v3", "x86-64-v4"], cwd=tree, capture_output=True,
                         text=True)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    assert "generate obj-debforge/gen/c10/macros/cmake_macros.h" in dry.stdout.splitlines()[0]
    assert dry.stdout.count("\n") == 1 + 3 * (88 + 3) + 2   # header; per level objects, link, 2 symlinks; checks


@pytest.mark.heavy
def test_c10_debs_build_lintian_clean(tmp_path):
    """The c10 part of the recipe through dpkg-buildpackage: 3 x 88 TUs (about 11 minutes at parallel=2 on 2 cores)."""
    proc = run_cli("build", RECIPE, "-o", tmp_path, env={"DEB_BUILD_OPTIONS": "parallel=2"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    debs = {p.name.split("_")[0]: p for p in tmp_path.glob("*.deb") if "-dbgsym_" not in p.name}
    assert set(debs) == {"libc10", "libc10-generic", "libc10-avx2", "libc10-avx512", "libtorch-dev", "pytorch-src"}
    triplet = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                             text=True).stdout.strip()
    for pkg, sub in (("libc10-generic", ""), ("libc10-avx2", "glibc-hwcaps/x86-64-v3/"),
                     ("libc10-avx512", "glibc-hwcaps/x86-64-v4/")):
        root = extract(debs[pkg], tmp_path / pkg)
        assert (root / f"usr/lib/{triplet}/{sub}libc10.so.2.6.0").is_file()
    dev = extract(debs["libtorch-dev"], tmp_path / "dev")
    macros = (dev / "usr/include/c10/macros/cmake_macros.h").read_text()
    assert "#define C10_BUILD_SHARED_LIBS" in macros and "/* #undef C10_USE_GLOG */" in macros
    assert (dev / "usr/include/c10/core/impl/alloc_cpu.h").is_file()
    assert "debforge: lintian: 0 errors, 0 warnings" in proc.stderr
