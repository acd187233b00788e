"""GPU flavours: the contrib source package <source>-<flavor> generated from the recipe's flavors section, its
control and rules, the planner's split between CPU-flavour code and flavour code, bad input through the real CLI,
and (slow) a real -cuda build with dpkg-buildpackage from the -src package, checked with cuobjdump."""

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from debian.deb822 import Deb822

from conftest import FIXTURES, ROOT, have, run_cli
from debforge import frontends
from debforge.flavors import FLAVORS
from debforge.flavors.cuda import arch_flags, nvcc_flags
from debforge.plan import FlavorBuild, make_plan
from debforge.recipe.schema import load_recipe

GPU = FIXTURES / "gpu"
RECIPE = GPU / "recipe.yaml"


def generate(tmp_path, flavor, recipe=RECIPE):
    proc = run_cli("generate", "--flavor", flavor, recipe, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


ALTERNATIVES = "libgpuscale1-generic (>= 1.0) | libgpuscale1-cuda (>= 1.0) | libgpuscale1-rocm (>= 1.0)"


def paragraphs(tree):
    return list(Deb822.iter_paragraphs((tree / "debian/control").read_text()))


def test_flavour_plan_compiles_device_code_with_the_flavour_and_host_code_with_gcc():
    r = load_recipe(RECIPE)
    fl = FLAVORS["cuda"]
    bazel = frontends.get("bazel")
    cpu = make_plan(r, bazel.scan(GPU, r, "amd64", everything=False), "amd64")
    ws = bazel.scan(GPU, r, "amd64", everything=False, config=r.config.merged(fl.config, r.flavor("cuda").config))
    plan = make_plan(r, ws, "amd64", FlavorBuild(fl, cpu))
    (lib,) = plan.libraries
    langs = {c.src: c.lang for c in lib.compiles}
    assert langs == {"kernels.cu": "gpu", "gpu_scale.cc": "c++", "scale.cc": "c++"}
    assert {c.src for c in cpu.libraries[0].compiles} == {"gpu_scale.cc", "scale.cc"}   # select(): no kernels
    assert "-DWITH_GPU=1" in next(c for c in lib.compiles if c.src == "gpu_scale.cc").flags
    assert "cudart" in lib.external_libs and plan.levels == []


def test_cuda_architecture_flags_have_ptx_for_the_newest_only():
    assert arch_flags(("sm_75", "sm_90", "sm_90a")) == [
        "-gencode=arch=compute_75,code=sm_75", "-gencode=arch=compute_90,code=sm_90",
        "-gencode=arch=compute_90a,code=sm_90a", "-gencode=arch=compute_90,code=compute_90"]
    assert nvcc_flags(["-iquote", ".", "-isystem", "gen", "-DX=1", "-fvisibility=hidden", "--expt-relaxed-constexpr",
                       "-std=c++17"]) == ["-I", ".", "-isystem", "gen", "-DX=1", "-Xcompiler=-fvisibility=hidden",
                                          "--expt-relaxed-constexpr", "-std=c++17"]


@pytest.mark.parametrize("flavor,toolkit", [("cuda", ["nvidia-cuda-toolkit"]), ("rocm", ["hipcc", "libamdhip64-dev"])])
def test_generated_control(tmp_path, flavor, toolkit):
    tree = generate(tmp_path, flavor)
    assert tree.name == f"gpufixture-{flavor}-1.0"
    src, pkg = paragraphs(tree)
    assert src["Source"] == f"gpufixture-{flavor}" and src["Section"] == "contrib/libs"
    deps = [d.strip() for d in src["Build-Depends"].split(",")]
    assert "gpufixture-src (= 1.0-1)" in deps
    assert [d for d in deps if d.split()[0] in toolkit] == \
        [f"{t} <!pkg.gpufixture-{flavor}.local-toolkit>" for t in toolkit]
    assert pkg["Package"] == f"libgpuscale1-{flavor}"
    assert pkg["Built-Using"] == "gpufixture (= 1.0-1)"
    # the flavour's libgpuscale.so.1 collides with the CPU package's
    assert (pkg["Provides"], pkg["Conflicts"], pkg["Replaces"]) == \
        ("libgpuscale1-generic (= ${binary:Version})", "libgpuscale1-generic", "libgpuscale1-generic")
    # its shlibs name the CPU package first, then every flavour's (as Debian's pytorch-cuda does)
    shlibs = subprocess.run(["make", "-n", "-f", "debian/rules", "override_dh_makeshlibs"], cwd=tree,
                            capture_output=True, text=True)
    assert shlibs.returncode == 0, shlibs.stderr
    assert f"dh_makeshlibs -plibgpuscale1-{flavor} -V'{ALTERNATIVES}'" in shlibs.stdout
    # no upstream code in the flavour's own tarball
    orig = tmp_path / f"gpufixture-{flavor}_1.0.orig.tar.xz"
    names = subprocess.run(["tar", "tf", orig], capture_output=True, text=True, check=True).stdout.split()
    assert names == [f"gpufixture-{flavor}-1.0/README.debforge"]


def test_generated_rules_and_ninja(tmp_path):
    tree = generate(tmp_path, "cuda")
    rules = (tree / "debian/rules").read_text()
    assert "SRC_DIR ?= /usr/src/gpufixture" in rules
    assert "sh debian/debforge/unpack-source $(SRC_DIR) gpufixture 1.0 $(U)" in rules
    assert "ifneq (,$(filter pkg.gpufixture-cuda.local-toolkit,$(DEB_BUILD_PROFILES)))" in rules
    dry = subprocess.run(["make", "-n", "-f", "debian/rules", "override_dh_auto_configure"], cwd=tree,
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "'nvcc = /usr/bin/nvcc'" in dry.stdout   # Debian's toolkit without the profile
    ninja = (tree / "debian/debforge/build-amd64.ninja").read_text()
    assert "build obj-debforge/generic/obj/gpuscale/kernels.cu.o: gpu kernels.cu" in ninja
    assert "code=sm_90 -gencode=arch=compute_90,code=compute_90" in ninja.replace("$\n    ", "")


def test_rocm_source_package_is_lintian_clean(tmp_path):
    if not have("lintian"):
        pytest.skip("lintian is not installed")
    tree = generate(tmp_path, "rocm")
    subprocess.run(["dpkg-source", "-b", tree.name], cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["lintian", "--pedantic", str(tmp_path / "gpufixture-rocm_1.0-1.dsc")],
                         capture_output=True, text=True).stdout
    assert not [ln for ln in out.splitlines() if ln.startswith(("E:", "W:"))], out
    assert "--offload-arch=gfx90a --offload-arch=gfx1100" in \
        (tree / "debian/debforge/build-amd64.ninja").read_text()


def _bad(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.read_text().replace("upstream: {dir: .}", f"upstream: {{dir: {GPU}}}").replace(*text))
    return path


def test_unconfigured_flavour_names_the_recipe_line(tmp_path):
    recipe = _bad(tmp_path, ("  rocm:\n", "  rocm-unused:\n"))
    proc = run_cli("generate", "--flavor", "rocm", ROOT / "recipes/nsync.yaml", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert "recipes/nsync.yaml:1: error: the recipe configures no 'rocm' flavour (configured: none)" in proc.stderr
    proc = run_cli("check", recipe)
    assert proc.returncode == 2 and "unknown flavour 'rocm-unused'" in proc.stderr
    assert f"{recipe}:{RECIPE.read_text().splitlines().index('  rocm:') + 1}:" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flavor,bad,expect", [
    ("cuda", "sm_91", "unknown NVIDIA CUDA GPU architecture 'sm_91'"),
    ("rocm", "gfx1101x", "unknown AMD ROCm GPU architecture 'gfx1101x'")])
def test_unknown_gpu_architecture_names_the_recipe_line(tmp_path, flavor, bad, expect):
    good = "sm_90" if flavor == "cuda" else "gfx1100"
    recipe = _bad(tmp_path, (f"{good}]", f"{good},\n      {bad}]"))
    proc = run_cli("generate", "--flavor", flavor, recipe, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    line = next(i for i, ln in enumerate(recipe.read_text().splitlines(), 1) if bad in ln)
    assert f"{recipe}:{line}: error: {expect}" in proc.stderr
    assert not (tmp_path / "out").exists()


def _cuobjdump() -> str | None:
    """cuobjdump from PATH or from PyPI's nvidia-cuda-cuobjdump (the CUDA 13.0 install here lacks it)."""
    found = shutil.which("cuobjdump") or sorted(glob.glob(
        str(ROOT / ".venv/lib/python3*/site-packages/nvidia/cu*/bin/cuobjdump")))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.mark.slow
@pytest.mark.slow
def test_cpu_package_shlibs_name_the_flavours(tmp_path):
    """The CPU package's shlibs let a program linked against its library run with a flavour's copy instead."""
    proc = run_cli("build", RECIPE, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shlibs = subprocess.run(["dpkg-deb", "-I", tmp_path / "libgpuscale1-generic_1.0-1_amd64.deb", "shlibs"],
                            capture_output=True, text=True, check=True).stdout
    assert shlibs == f"libgpuscale 1 {ALTERNATIVES}\n"


def test_cuda_flavour_builds_from_the_src_package(tmp_path):
    """The CPU package (with gpufixture-src), then gpufixture-cuda with dpkg-buildpackage and the local-toolkit
    profile (NVIDIA's toolkit in /usr/local/cuda), from the tarball the -src .deb holds."""
    cuobjdump = _cuobjdump()
    if not os.path.exists("/usr/local/cuda/bin/nvcc") or not cuobjdump:
        pytest.skip("needs NVIDIA's toolkit in /usr/local/cuda and cuobjdump (PyPI nvidia-cuda-cuobjdump in .venv)")
    proc = run_cli("build", RECIPE, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    src = tmp_path / "src-deb"
    subprocess.run(["dpkg-deb", "-x", tmp_path / "gpufixture-src_1.0-1_all.deb", src], check=True)
    tree = generate(tmp_path, "cuda")
    # -d: the -src package is not installed on the test machine; SRC_DIR points at the files its .deb holds
    build = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-d", "-Ppkg.gpufixture-cuda.local-toolkit"],
                           cwd=tree, capture_output=True, text=True,
                           env={**os.environ, "SRC_DIR": str(src / "usr/src/gpufixture")})
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-2000:]
    deb = tmp_path / "libgpuscale1-cuda_1.0-1_amd64.deb"
    fields = subprocess.run(["dpkg-deb", "-f", deb, "Built-Using", "Section"], capture_output=True, text=True,
                            check=True).stdout
    assert "Built-Using: gpufixture (= 1.0-1)" in fields and "Section: contrib/libs" in fields
    assert subprocess.run(["dpkg-deb", "-I", deb, "shlibs"], capture_output=True, text=True,
                          check=True).stdout == f"libgpuscale 1 {ALTERNATIVES}\n"
    subprocess.run(["dpkg-deb", "-x", deb, tmp_path / "x"], check=True)
    lib = tmp_path / "x/usr/lib/x86_64-linux-gnu/libgpuscale.so.1.0"
    listing = subprocess.run([cuobjdump, "--list-elf", "--list-ptx", lib], capture_output=True, text=True,
                             check=True).stdout
    assert [ln.rsplit(".", 2)[-2] for ln in listing.splitlines() if ln.startswith("ELF")] == \
        ["sm_75", "sm_80", "sm_90"]
    assert [ln.rsplit(".", 2)[-2] for ln in listing.splitlines() if ln.startswith("PTX")] == ["sm_90"]
    lint = subprocess.run(["lintian", "--pedantic", tmp_path / "gpufixture-cuda_1.0-1_amd64.changes"],
                          capture_output=True, text=True).stdout
    assert not [ln for ln in lint.splitlines() if ln.startswith(("E:", "W:"))], lint
