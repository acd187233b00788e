"""PyTorch's ATen rules (issue 18). The per-capability kernel copies: PyTorch's aten.bzl copies each CPU kernel source once per CPU
capability and compiles each copy with that capability's flags. Which capabilities, and with which flags, is
upstream's metadata, which a recipe's DEP-3 patch changes (recipes/pytorch.yaml adds CMake's AVX512): the fixture has
aten.bzl's shape, and its patch adds an AVX512 capability the same way."""

import ctypes
import subprocess

from conftest import FIXTURES, configure, fixture_recipe, run_cli
from debforge import frontends
from debforge.measure import disassemble
from debforge.plan import make_plan
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "atenkernels"
KERNEL = "obj-debforge/gen/native/cpu/DotKernel.cpp"
AVX512_FLAGS = ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma"]
PATCH = """\
Description: ATen's AVX512 kernel copies, with CMake's flags
Author: Test <test@example.org>
Forwarded: not-needed
---
--- a/aten.bzl
+++ b/aten.bzl
@@ -1,8 +1,9 @@
 # The shape of PyTorch's aten.bzl: each CPU kernel source copied once per CPU capability by a genrule, and each
 # capability's copies compiled by their own cc_library with that capability's flags.
-CPU_CAPABILITY_NAMES = ["DEFAULT", "AVX2"]
+CPU_CAPABILITY_NAMES = ["DEFAULT", "AVX512", "AVX2"]
 CAPABILITY_COMPILER_FLAGS = {
     "AVX2": ["-mavx2", "-mfma", "-mf16c"],
+    "AVX512": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma"],
     "DEFAULT": [],
 }
 
--- a/BUILD.bazel
+++ b/BUILD.bazel
@@ -2,6 +2,7 @@
 
 ATEN_COPTS = [
     "-DHAVE_AVX2_CPU_DEFINITION",
+    "-DHAVE_AVX512_CPU_DEFINITION",
 ]
 
 intern_build_aten_ops(copts = ATEN_COPTS)
"""


def generated(tmp_path, patched: bool):
    """The tree `debforge generate` prepares (the recipe's patches applied) and its amd64 plan."""
    recipe = fixture_recipe(tmp_path / "aten.yaml", TREE, "atenkernels", [("aten", "//:aten")],
                            "patches: [patches/avx512.patch]\n" if patched else "")
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches/avx512.patch").write_text(PATCH)
    proc = run_cli("generate", recipe, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    tree, r = tmp_path / "out/atenkernels-1.0", load_recipe(recipe)
    return tree, r, make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")


def copies(plan) -> dict[str, list[str]]:
    [lib] = plan.libraries
    return {c.src.removeprefix(f"{KERNEL}.").removesuffix(".cpp"): c.flags for c in lib.compiles
            if c.src.startswith(KERNEL)}


def test_upstream_metadata_gives_two_capabilities(tmp_path):
    _, _, plan = generated(tmp_path, patched=False)
    assert set(copies(plan)) == {"DEFAULT", "AVX2"}


def test_patch_adds_avx512_copies_with_their_flags(tmp_path):
    _, _, plan = generated(tmp_path, patched=True)
    kernels = copies(plan)
    assert set(kernels) == {"DEFAULT", "AVX512", "AVX2"}
    flags = kernels["AVX512"]
    at = flags.index("-DCPU_CAPABILITY=AVX512")
    assert flags[at:at + 2 + len(AVX512_FLAGS)] == ["-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512",
                                                     *AVX512_FLAGS]
    assert not {f for f in kernels["DEFAULT"] + kernels["AVX2"] if f.startswith("-mavx512")}
    # the dispatcher sees the AVX512 slot as every kernel copy does
    [lib] = plan.libraries
    assert all("-DHAVE_AVX512_CPU_DEFINITION" in c.flags for c in lib.compiles)


def test_avx512_copy_holds_avx512_code_at_every_level_and_dispatches(tmp_path):
    """Built by the generated ninja file: the AVX512 copy has 512-bit code in the generic library too (its flags
    come after the level's -march, which does not take them away), the DEFAULT copy has no wide vectors, and the
    generic library runs the AVX512 kernel on a CPU that has it."""
    tree, r, _ = generated(tmp_path, patched=True)
    configure(tree, r)
    proc = subprocess.run(["ninja", "-f", "debian/debforge/build-amd64.ninja", "aten@generic", "aten@x86-64-v3"],
                          cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    for level in ("generic", "x86-64-v3"):
        obj = tree / f"obj-debforge/{level}/obj/aten/{KERNEL}.AVX512.cpp.o"
        assert disassemble(obj).zmm > 0, level
    default = disassemble(tree / f"obj-debforge/generic/obj/aten/{KERNEL}.DEFAULT.cpp.o")
    assert default.ymm == default.zmm == 0
    avx2 = disassemble(tree / f"obj-debforge/generic/obj/aten/{KERNEL}.AVX2.cpp.o")
    assert avx2.ymm > 0 and avx2.zmm == 0
    [so] = (tree / "obj-debforge/generic").glob("**/libaten.so.1")
    lib = ctypes.CDLL(str(so))
    lib.aten_dot.restype, lib.aten_capability.restype = ctypes.c_float, ctypes.c_char_p
    a, b = (ctypes.c_float * 37)(*range(37)), (ctypes.c_float * 37)(*[2.0] * 37)
    assert lib.aten_dot(a, b, 37) == 2 * sum(range(37))
    flags = set(open("/proc/cpuinfo").read().split())
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        assert lib.aten_capability() == b"AVX512"


GEN_TREE = FIXTURES / "torchgen"
GEN = "obj-debforge/gen"
INSTALL = f"{GEN}/aten/src/ATen"
ALL = "aten/src/ATen/gen.c\naten/src/ATen/ops/one.h\ntorch/csrc/inductor/aoti_torch/generated/c_shim_cpu.c\n"


def torchgen_tree(tmp_path, recorded: str):
    """The torchgen fixture generated with `recorded` as the recipe's rule-outputs list of //:generated."""
    (tmp_path / "generated.outputs").write_text(recorded)
    recipe = fixture_recipe(tmp_path / "tg.yaml", GEN_TREE, "torchgen", [("tiny", "//:tiny")],
                            'rule-outputs: {"//:generated": generated.outputs}\n')
    return recipe, run_cli("generate", recipe, "-o", tmp_path / "out")


def test_a_declared_output_missing_from_the_recorded_list_is_refused(tmp_path):
    _, proc = torchgen_tree(tmp_path, "aten/src/ATen/ops/one.h\n")
    assert proc.returncode == 2
    assert ("BUILD.bazel:9: error: generate_aten '//:generated' declares 2 file(s) that torchgen does "
            f"not write (by the recipe's rule-outputs): {INSTALL}/gen.c, "
            f"{GEN}/torch/csrc/inductor/aoti_torch/generated/c_shim_cpu.c") in proc.stderr


def test_the_build_checks_what_torchgen_writes_against_the_declared_list(tmp_path):
    """The generate step runs the generator into a scratch directory: what it wrote lands in the generated-files
    directory when it is the declared list (ATen's files and the AOTInductor shim, which torchgen would otherwise
    write into the source tree); a declared file it did not write and a file it wrote undeclared each fail the
    step, named with the step."""
    recipe, proc = torchgen_tree(tmp_path, ALL)
    assert proc.returncode == 0, proc.stderr
    tree = tmp_path / "out/torchgen-1.0"
    configure(tree, load_recipe(recipe))
    build = ["ninja", "-f", "debian/debforge/build-amd64.ninja", "tiny@generic"]
    ok = subprocess.run(build, cwd=tree, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert (tree / INSTALL / "ops/one.h").is_file() and (tree / "obj-debforge/generic/libtiny.so.1").is_file()
    assert (tree / GEN / "torch/csrc/inductor/aoti_torch/generated/c_shim_cpu.c").is_file()
    assert not (tree / "torch").exists()   # nothing written into the source tree
    assert not (tree / f"{GEN}.check-outputs").exists()
    assert not list((tree / "obj-debforge").glob("*.declared-outputs"))   # ninja removes the list after success
    # upstream's generator changed, the list did not
    (tree / "writes.txt").write_text("gen.c\nops/two.h\naoti/c_shim_cpu.c\n")
    bad = subprocess.run(build, cwd=tree, capture_output=True, text=True)
    assert bad.returncode != 0
    assert ("check-outputs: error: generate step //:generated declares, but its run did not write, 1 file(s):\n"
            f"  {INSTALL}/ops/one.h\n") in bad.stdout
    assert ("check-outputs: error: generate step //:generated wrote, but does not declare, 1 file(s):\n"
            f"  {INSTALL}/ops/two.h\n") in bad.stdout
    assert "record it anew (tools/rule-outputs RECIPE TREE //:generated > FILE)" in bad.stdout
    assert not (tree / INSTALL / "ops/two.h").exists()   # nothing of the failed run reaches the build
