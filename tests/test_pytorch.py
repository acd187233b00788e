"""PyTorch 2.6 from its own Starlark metadata (issue 7), on the orig tarball of Debian's pytorch (trixie)."""

import array
import importlib.machinery
import importlib.util
import re
import subprocess
import sys
from collections import Counter

import pytest

import testbed
from conftest import CHROOT_BUILD, ROOT, configure, extract, heavy_sbuild, heavy_tree, run_cli
from debforge import frontends, upstream
from debforge.backends import ninja
from debforge.plan import make_plan
from debforge.recipe.schema import load_recipe

RECIPE = ROOT / "recipes/pytorch.yaml"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("pytorch")
    tree = upstream.unpacked(load_recipe(RECIPE), out, log=lambda m: None)
    return tree


@pytest.mark.slow
def test_every_package_evaluates(tree):
    r = load_recipe(RECIPE)
    g = frontends.get("bazel").scan(tree, r, "amd64").graph
    assert g.skipped == {}
    # 318 + the AVX512 copies' 66 genrules and library + ATen's tests' package (45 cc_test, a test helper) + the
    # flatc genrule of flatc-mobile-bytecode.patch + kineto's package (kineto-in-tree.patch: kineto, ipcfabric) +
    # libtorch (libtorch-links-torch-cpu.patch) + QNNPACK's 6 libraries and ao_sparse's sources (aten-qnnpack-xnnpack.patch)
    assert len(g.packages) == 20 and len(g.targets) == 385 + 46 + 1 + 2 + 1 + 7
    kinds = g.kinds()
    assert kinds["cc_library"] == 43 + 1 + 2 + 1 + 6 and kinds["cmake_configure_file"] == 3 and kinds["generate_aten"] == 1


@pytest.fixture(scope="module")
def plan(tree):
    r = load_recipe(RECIPE)
    return make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")


def dry_run(tree, plan, *targets):
    """ninja -n of targets over the rendered plan: every input must be found (tree files, generated files, the
    debian/debforge scripts)."""
    configure(tree, load_recipe(RECIPE))
    (tree / "build.ninja").write_text(ninja.render(plan))
    dry = subprocess.run(["ninja", "-n", *targets], cwd=tree, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    return dry.stdout.splitlines()


LEVELS = ("generic", "x86-64-v3", "x86-64-v4")


@pytest.mark.slow
def test_c10_plan(tree, plan):
    c10, torch, shim = plan.libraries
    assert (c10.spec.name, torch.spec.name) == ("c10", "torch_cpu")
    # libtorch.so: no code of its own, linking libtorch_cpu (and libc10), as Debian's libtorch2.6 ships it
    assert (shim.spec.name, shim.compiles, shim.siblings) == ("torch", [], ["torch_cpu", "c10"])
    srcs = [c.src for c in c10.compiles]
    assert len(srcs) == len(set(srcs)) == 88
    assert all(s.startswith("c10/") and s.endswith(".cpp") for s in srcs)
    assert not any(s.startswith(("c10/cuda/", "c10/test/", "c10/benchmark/")) for s in srcs)
    # the recipe turns c10's gflags/glog bool_flags (default true) off, as Debian's build does
    [step] = [s for s in plan.steps if s.label == "//c10/macros:cmake_macros_h"]
    assert step.outputs == ["obj-debforge/gen/c10/macros/cmake_macros.h"]
    assert step.command[4:] == ["C10_BUILD_SHARED_LIBS", "C10_USE_MSVC_STATIC_RUNTIME"]
    assert c10.external_libs == ["cpuinfo"] and c10.generated == step.outputs   # fmt: header-only
    lines = dry_run(tree, plan, *(f"c10@{level}" for level in LEVELS))
    assert "generate obj-debforge/gen/c10/macros/cmake_macros.h" in lines[0]
    assert len(lines) == 1 + 3 * (88 + 3) + 3   # the header; per level objects, link, 2 symlinks; 3 checks


@pytest.mark.slow
def test_torch_cpu_plan(tree, plan):
    """libtorch_cpu (//:torch): 1253 translation units (22 of them libkineto's), ATen's 7180 generated files (what
    torchgen writes, the AOTInductor C shims among them), and a ninja -n of all three levels that finds every input."""
    _, torch, _ = plan.libraries
    srcs = [c.src for c in torch.compiles]
    assert len(srcs) == len(set(srcs)) == 1253
    by_area = Counter(next((a for a in ("aten/src/ATen/native/", "obj-debforge/gen/", "torch/csrc/jit/",
                                         "torch/csrc/autograd/") if s.startswith(a)), "other") for s in srcs)
    assert by_area == {"aten/src/ATen/native/": 317, "obj-debforge/gen/": 250, "torch/csrc/jit/": 277,
                       "torch/csrc/autograd/": 26, "other": 361 + 22}
    assert len(torch.generated) == 7180 + 66 + 1 and torch.siblings == ["c10"]   # + the mobile bytecode's header
    # ATen's BLAS/LAPACK calls link the system's (the recipe's aten-system-blas.patch), as Debian's libtorch_cpu
    # c10d's Gloo and MPI process groups (torch-distributed-backends.patch); QNNPACK's and XNNPACK's thread pool
    # and XNNPACK (aten-qnnpack-xnnpack.patch)
    assert torch.external_libs == ["protobuf", "onnx", "onnx_proto", "pthreadpool", "sleef", "dnnl", "cpuinfo",
                                   "XNNPACK", "lapack", "blas", "tensorpipe", "cpp-httplib", "gloo", "mpi"]
    assert Counter(s.kind for s in plan.steps) == {"genrule": 200 + 1, "cmake_configure_file": 2,
                                                   "header_template_rule": 1, "generate_aten": 1}
    # ATen's kernels: one copy per CPU capability of CMake's amd64 set (the recipe's aten-avx512-kernels.patch),
    # with cmake/Codegen.cmake's flags after dpkg-buildflags' (the compile rule puts copts last: -O3 wins)
    caps = Counter(c.src.rsplit(".", 2)[1] for c in torch.compiles
                   if c.src.endswith((".DEFAULT.cpp", ".AVX2.cpp", ".AVX512.cpp")))
    assert caps == {"DEFAULT": 66, "AVX2": 66, "AVX512": 66}
    [avx512] = [c for c in torch.compiles if c.src.endswith("native/cpu/BinaryOpsKernel.cpp.AVX512.cpp")]
    flags = " ".join(avx512.flags)
    assert "-DCPU_CAPABILITY=AVX512 -DCPU_CAPABILITY_AVX512 -O3 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma" \
        in flags
    # above the baseline only where ATen or caffe2 dispatch at run time (the recipe's caffe2-baseline-no-f16c.patch)
    assert all({"-mavx", "-mavx2", "-mavx512f"} & set(c.flags) for c in torch.compiles if "-mf16c" in c.flags)
    # DispatchStub.h's layout has the AVX512 slot in every TU that declares a stub, kernel copy or not
    assert all("-DHAVE_AVX512_CPU_DEFINITION" in c.flags for c in torch.compiles if "-DHAVE_AVX2_CPU_DEFINITION"
               in c.flags)
    # as Debian's build: libkineto compiled in with its own namespace, and torch's compiles see USE_KINETO and
    # libonnx-dev's ONNX_ML (its CMake target's definitions; onnx.cpp includes onnx-ml.pb.h through onnx_pb.h)
    kineto = [c for c in torch.compiles if c.src.startswith("kineto/libkineto/src/")]
    assert len(kineto) == 22 and all("-DKINETO_NAMESPACE=libkineto" in c.flags for c in kineto)
    [onnx] = [c for c in torch.compiles if c.src == "torch/csrc/jit/serialization/onnx.cpp"]
    assert {"-DUSE_KINETO", "-DLIBKINETO_NOCUPTI", "-DONNX_ML=1", "-DONNX_NAMESPACE=onnx"} <= set(onnx.flags)
    assert "-DKINETO_NAMESPACE=libkineto" not in onnx.flags
    # copts are split as sh splits words (upstream writes "-fno-math-errno ")
    assert not any(f != f.strip() for c in torch.compiles for f in c.flags)
    # the recipe's dropped MKL turns ATen's AT_MKL_ENABLED off (BUILD.bazel substitutes 1)
    [config] = [s for s in plan.steps if s.label == "//:aten_src_ATen_config"]
    assert config.command[config.command.index("@AT_MKL_ENABLED@") + 1] == "0"
    # no ISA-level copies (the recipe's variants: false on libtorch-cpu2.6, after bench/torch_levels.py)
    assert not torch.copies and "torch_cpu@x86-64-v3" not in ninja.render(plan)
    lines = dry_run(tree, plan, "torch_cpu@generic")
    done = Counter(line.split("] ", 1)[1].split(" ", 1)[0] for line in lines)
    assert done["generate"] == 205   # torch_cpu's steps and c10's header: c10 headers are included too
    assert sum(1 for line in lines if " -c " in line and "/obj/torch_cpu/" in line) == 1253
    assert len(lines) == 1553        # + c10@generic (88 compiles, its link and 2 symlinks), the link, 2 symlinks,
                                     # check-identities


@pytest.mark.slow
def test_cpp_tests_link_each_levels_libtorch_cpu_and_libc10(tree, plan):
    """Upstream's C++ tests at every level: c10's; ATen's CPU tests, which only CMake declares (the recipe's
    aten-cpu-tests.patch declares the same list for bazel); the C++ API's (//:api_tests). Each compiles only its own
    sources and test helpers, and links that level's libtorch_cpu and libc10 (ATen's tests depend on //:torch
    alone and call c10 through its headers)."""
    tests = {t.label: t for t in plan.tests}
    text = (tree / "aten/src/ATen/test/CMakeLists.txt").read_text()
    listed = text.split("list(APPEND ATen_CPU_TEST_SRCS", 1)[1].split(")", 1)[0]
    cmake = re.findall(r"^ *\$\{CMAKE_CURRENT_SOURCE_DIR\}/(\w+)\.cpp", listed, re.M)   # not the "# ..." ones
    assert len(cmake) == 45 and "xnnpack_test" not in cmake
    aten = {label.split(":")[1] for label in tests if label.startswith("//aten/src/ATen/test:")}
    assert aten == set(cmake)
    assert [label for label, _ in plan.tests_left_out] == ["//:integration_test"]
    for name in aten:
        t = tests[f"//aten/src/ATen/test:{name}"]
        assert t.siblings == ["torch_cpu", "c10"] and [c.src for c in t.compiles] == [f"aten/src/ATen/test/{name}.cpp"]
        assert t.external_libs[:3] == ["gtest_main", "gmock", "gtest"]
    api = {label: t for label, t in tests.items() if label.startswith("//:")}
    assert len(api) == 23 and all(t.siblings == ["torch_cpu", "c10"] for t in api.values())
    # CMake's main(), which filters the *_CUDA cases out without a GPU (torch-api-tests-main.patch), and support.cpp
    assert sorted(c.src for c in api["//:autograd_test"].compiles) == [
        "test/cpp/api/autograd.cpp", "test/cpp/api/support.cpp", "test/cpp/common/main.cpp"]
    assert all(t.siblings == ["c10"] or t.label == "//c10/test:util/bit_cast_test"
               for t in tests.values() if t.label.startswith("//c10/"))
    assert len(tests) == 5 + 45 + 23
    # each level's program links that level's copies, and its run checks both were the ones ld.so mapped
    text = ninja.render(plan)
    for level in LEVELS:
        link = text.split(f"build obj-debforge/{level}/tests/build/bin/aten/src/ATen/test/basic: ", 1)[1]
        libs = link.split("libs = ", 1)[1].split(" -lgtest_main", 1)[0].replace("$\n", "").split()
        assert libs == [f"-Lobj-debforge/{level}"] * (level != "generic") + ["-Lobj-debforge/generic",
                                                                              "-ltorch_cpu", "-lc10"]
        run = text.split(f"build obj-debforge/{level}/tests/build/results/aten/src/ATen/test/basic.result: ", 1)[1]
        # the level's copies it must have loaded: libtorch_cpu has only the generic one
        mapped = "'libtorch_cpu.so.2.6 libc10.so.2.6'" if level == "generic" else " libc10.so.2.6 "
        assert mapped in run.split("label = ", 1)[0].replace("$\n      ", "")


def compare_tool():
    loader = importlib.machinery.SourceFileLoader("compare_torch_sources", str(ROOT / "tools/compare-torch-sources"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sources_against_cmake(tree, plan):
    """The files //:torch compiles against those CMake compiles into libtorch_cpu with Debian's options; each
    difference is explained in recipes/pytorch.yaml."""
    tool = compare_tool()
    _, torch, _ = plan.libraries
    ours = {tool.normalise(c.src) for c in torch.compiles}
    theirs, _ = tool.cmake_sources(tree)
    assert (len(ours & theirs), len(ours - theirs), len(theirs - ours)) == (1251, 2, 64)
    assert ours - theirs == {"caffe2/perfkernels/common_avx.cc", "torch/csrc/jit/mobile/debug_info.cpp"}
    only_cmake = Counter(map(tool.group, theirs - ours))
    assert only_cmake == {"aten/src/ATen/native/vulkan": 59, "aten/src/ATen/nnapi": 4, "caffe2/serialize": 1}
    # CMake's three CPU capabilities (the recipe's patch adds AVX512 to bazel's two): every kernel copy is common
    for cap in ("DEFAULT", "AVX2", "AVX512"):
        assert sum(s.endswith(f".{cap}.cpp") for s in ours & theirs) == 66
        assert not any(s.endswith(f".{cap}.cpp") for s in ours ^ theirs)


def test_cmake_evaluator(tmp_path):
    """The CMake subset the comparison evaluates: conditions, set/list, globs, foreach, subdirectories with
    PARENT_SCOPE, append_filelist from build_variables.bzl, exclude(), add_library."""
    (tmp_path / "build_variables.bzl").write_text('core = ["core/a.cpp", "core/b.cpp"]\n'
                                                  'extra = core + ["core/x.cpp"]\n')
    for f in ("sub/k1.cpp", "sub/k2.cpp", "sub/deep/k3.cpp", "sub/k1.h"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    (tmp_path / "sub/CMakeLists.txt").write_text(
        'file(GLOB flat "*.cpp")\nfile(GLOB_RECURSE deep "*.cpp")\n'
        'set(SUB ${flat} PARENT_SCOPE)  # a comment\nset(DEEP "${deep}" PARENT_SCOPE)\nset(LOCAL x)\n')
    (tmp_path / "CMakeLists.txt").write_text("""
set(SRCS)
if(USE_A AND NOT (USE_B OR "${MODE}" STREQUAL "lite"))
  append_filelist("extra" SRCS)
elseif(USE_B)
  list(APPEND SRCS never.cpp)
else()
  list(APPEND SRCS also_never.cpp)
endif()
exclude(SRCS "${SRCS}" ${PROJECT_SOURCE_DIR}/core/b.cpp)
add_subdirectory(sub)
add_subdirectory(${UNSET_SOURCE_DIR})
foreach(cap DEFAULT AVX2)
  list(APPEND SRCS ${CMAKE_BINARY_DIR}/k.${cap}.cpp)
endforeach()
if(LOCAL)
  list(APPEND SRCS local_leaked.cpp)
endif()
add_library(t ${SRCS} ${SUB} [[x.cpp]])
""")
    tool = compare_tool()
    ev = tool.Evaluator(tmp_path, {"USE_A": "ON", "USE_B": "OFF", "MODE": "full", "PROJECT_SOURCE_DIR": str(tmp_path),
                                   "CMAKE_BINARY_DIR": f"{tmp_path}/build"},
                        tool.build_variables(tmp_path), {})
    ev.run_file(tmp_path / "CMakeLists.txt")
    rel = [p.removeprefix(f"{tmp_path}/") for p in ev.targets["t"]]
    assert rel == ["core/a.cpp", "core/x.cpp", "build/k.DEFAULT.cpp", "build/k.AVX2.cpp", "sub/k1.cpp",
                   "sub/k2.cpp", "x.cpp"]
    assert ev.scope["DEEP"].count(";") == 2 and "LOCAL" not in ev.scope
    assert tool.normalise("obj-debforge/gen/aten/src/ATen/RegisterCPU.cpp") == "build/aten/src/ATen/RegisterCPU.cpp"
    assert tool.normalise("obj-debforge/gen/torch/csrc/autograd/generated/Functions.cpp") == \
        "torch/csrc/autograd/generated/Functions.cpp"


@pytest.mark.heavy
def test_c10_debs_build_lintian_clean(tmp_path):
    """The c10 part of the recipe through dpkg-buildpackage under the profile that leaves libtorch_cpu out: 3 x 88
    TUs (about 11 minutes at parallel=2 on 2 cores), then c10's own tests (c10/test: 5 programs, 835 googletest
    cases) at each level against that level's libc10 (about 25 minutes more of compiling on a loaded machine)."""
    proc = run_cli("build", RECIPE, "-o", tmp_path, "--profiles", "pkg.pytorch.c10-only",
                   env={"DEB_BUILD_OPTIONS": "parallel=2"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = next(tmp_path.glob("*.build")).read_text()
    for level in ("generic", "x86-64-v3", "x86-64-v4"):
        assert f"debforge tests: {level} (build): 5 passed, 0 failed" in log
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
    assert not (dev / "usr/include/ATen").exists()   # libtorch_cpu's headers share its profile
    pcs = {p.name: p.read_text() for p in (dev / f"usr/lib/{triplet}/pkgconfig").iterdir()}
    assert set(pcs) == {"c10.pc"} and "Libs: -lc10\n" in pcs["c10.pc"]
    assert "debforge: lintian: 0 errors, 0 warnings" in proc.stderr


@pytest.mark.heavy
def test_torch_cpu_links_and_upstreams_tests_pass_in_trixie(tmp_path):
    """libtorch_cpu at the generic level, built whole in a trixie root with the generated Build-Depends
    (tools/chroot-build): 1253 compiles, torchgen's steps, the link under -z defs over libc10; then upstream's C++
    tests (c10's, ATen's CPU tests, the C++ frontend's) built and run against it (debian/debforge/run-tests, as
    dh_auto_test runs them). About 2.5 hours on 2 cores: with DEBFORGE_HEAVY_DIR set, the tree, root and objects
    stay in $DEBFORGE_HEAVY_DIR/torch and a rerun resumes where an interrupted one stopped."""
    base, tree = heavy_tree(tmp_path, "pytorch", "torch", "trixie")
    # ATen's and the C++ API's tests link libtorch_cpu, whose package a build profile may leave out: their group
    build = subprocess.run([CHROOT_BUILD, "run", base, tree, "torch_cpu@generic", "torch@generic", "tests@generic",
                            "tests_libtorch-cpu2.6@generic"], capture_output=True, text=True)
    log = (base / "build.log").read_text().rsplit("\n=== ", 1)[-1]   # this run's part
    assert build.returncode == 0, "\n".join(re.findall(r"^FAILED: .*(?:\n.*){0,8}", log, re.M))[-6000:]
    lib = tree / "obj-debforge/generic/libtorch_cpu.so.2.6.0"
    dynamic = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
    assert "[libc10.so.2.6]" in dynamic and "[libtorch_cpu.so.2.6]" in dynamic
    shim = subprocess.run(["readelf", "-d", tree / "obj-debforge/generic/libtorch.so.2.6.0"], capture_output=True,
                          text=True, check=True).stdout
    assert re.findall(r"\(NEEDED\).*\[(\S+)\]", shim) == ["libtorch_cpu.so.2.6", "libc.so.6"]
    tests = subprocess.run(["chroot", base / "root", "sh", "-c", f"cd {tree} && TEST_GROUPS=_libtorch-cpu2.6 sh "
                            "debian/debforge/run-tests build debian/debforge/build-amd64.ninja 2 generic"],
                           capture_output=True, text=True)
    assert "debforge tests: generic (build): 73 passed, 0 failed" in tests.stdout, tests.stdout[-6000:]


TORCH_DEBS = {"libc10", "libc10-generic", "libc10-avx2", "libc10-avx512", "libtorch-cpu2.6", "libtorch-cpu2.6-generic",
              "libtorch-dev", "pytorch-src"}


@pytest.mark.heavy
def test_libtorch_packages_build_in_sbuild_lintian_clean_and_autopkgtests_pass(tmp_path):
    """Issue 18's packages, built as a buildd builds them: `debforge build --sbuild trixie` (a clean, offline trixie
    chroot; trixie's lintian in it without errors or warnings; blhc on the log) makes libc10 and libtorch-cpu2.6 (with
    libtorch.so), libtorch-dev and pytorch-src, upstream's 73 C++ test programs passing in dh_auto_test at each level
    this CPU runs; then the autopkgtests on the installed packages in a trixie testbed: the hwcaps check, upstream's
    tests built against libtorch-dev, every function its C headers declare linked, and the two consumer programs.
    Hours on 2 cores: with DEBFORGE_HEAVY_DIR set, the compiler cache stays in $DEBFORGE_HEAVY_DIR/torch-ccache and a
    rerun reuses what an interrupted one compiled."""
    out, debs = heavy_sbuild("pytorch", "torch", "trixie", 73)
    assert TORCH_DEBS <= set(debs), sorted(debs)
    lib = extract(debs["libtorch-cpu2.6-generic"], tmp_path / "lib")
    assert list(lib.glob("usr/lib/*/libtorch_cpu.so.2.6.0")) and list(lib.glob("usr/lib/*/libtorch.so.2.6.0"))
    source = next(p for p in out.iterdir() if p.is_dir() and (p / "debian/control").is_file())
    test = testbed.autopkgtest([debs[n] for n in sorted(set(debs) - {"pytorch-src"})], source, "trixie")
    assert test.returncode == 0, test.stdout[-6000:] + test.stderr[-3000:]
    passed = re.findall(r"^(\S+) +PASS", test.stdout, re.M)
    assert passed == ["hwcaps", "upstream-tests", "c-headers-link", "libtorch-smoke", "libtorch-frontend",
                      "libtorch-c10d"], \
        test.stdout[-3000:]


def test_the_level_bench_checks_both_copies_and_reads_atens_capability(tmp_path):
    """bench/torch_levels.py (it needs the built packages to run): a run must have mapped its level's libtorch_cpu
    and libc10 (one from another directory is a wrong copy), and it reports the kernel capability ATen chose."""
    sys.path.insert(0, str(ROOT / "bench"))
    import levels
    import torch_levels as bench
    v3 = "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3"
    fake = tmp_path / "prog"   # prints what torch_levels.cpp prints, having loaded the v3 copies
    fake.write_text(f"#!/bin/sh\necho 'matmul 2.5000 00000000000000ff 262144'\n"
                    f"echo 'loaded {v3}/libtorch_cpu.so.2.6.0' >&2\necho \"loaded ${{C10:-{v3}}}/libc10.so.2.6.0\" >&2\n"
                    f"echo \"capability ${{ATEN_CPU_CAPABILITY:-AVX512}}\" >&2\n")
    fake.chmod(0o755)
    assert bench.run(fake, "x86-64-v3", "glibc.cpu.hwcaps=-AVX512F", {}, 1, 1, [], None) == (
        {"matmul": (2.5, "00000000000000ff")}, "AVX512")
    assert bench.run(fake, "x86-64-v3", "", {"ATEN_CPU_CAPABILITY": "NO AVX"}, 1, 1, [], None)[1] == "NO AVX"
    with pytest.raises(SystemExit, match="not that level's copy"):
        bench.run(fake, "x86-64-v3", "", {"C10": "/usr/lib/x86_64-linux-gnu"}, 1, 1, [], None)
    with pytest.raises(SystemExit, match="not that level's copy"):
        bench.run(fake, "generic", "glibc.cpu.hwcaps=-AVX2", {}, 1, 1, [], None)
    # a row of the side-by-side table: each copy's ms, the speed against generic, the outputs against generic's
    outputs = {}
    for name, values in (("generic", [1.0, -2.0]), ("x86-64-v3", [1.0, -2.0]), ("x86-64-v4", [1.0, -2.5])):
        outputs[name] = tmp_path / f"{name}.f32"
        outputs[name].write_bytes(array.array("f", values).tobytes())
    row = levels.columns(list(outputs), [3.0, 2.0, 1.5], outputs, bench.TOLERANCE).split()
    assert row[:5] == ["3.000", "2.000", "1.500", "1.50x", "2.00x"]
    assert " ".join(row[5:]) == "x86-64-v3: identical; x86-64-v4: 2.5e-01 BEYOND TOLERANCE"
