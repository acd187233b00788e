"""A compile option whose code needs the compiler's runtime is passed to the link too: bazel gives copts to
compiles only, and upstream links its own runtime as a dependency (TF's --config=mkl: LLVM's libiomp5 through
//tensorflow/tsl/mkl:intel_binary_blob), which a Debian build leaves out for the compiler's (GCC's libgomp)."""

import subprocess

from conftest import fixture_plan, fixture_recipe, ninja_generic

BUILD = """\
cc_library(
    name = "par",
    srcs = ["par.c"],
    copts = ["-fopenmp"],
    visibility = ["//visibility:public"],
)

cc_library(
    name = "api",
    srcs = ["api.c"],
    deps = [":par"],
)

cc_library(
    name = "plain",
    srcs = ["api.c"],
)
"""
PAR = """\
#include <omp.h>
int par_threads(int n) {
    int seen = 0;
#pragma omp parallel num_threads(n) reduction(+:seen)
    seen += omp_get_num_threads() == n;
    return seen;
}
"""


def tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "WORKSPACE").write_text("")
    (src / "BUILD.bazel").write_text(BUILD)
    (src / "par.c").write_text(PAR)
    (src / "api.c").write_text("int api_version(void) { return 1; }\n")
    return fixture_recipe(tmp_path / "par.yaml", src, "par", [("par", "//:api"), ("plain", "//:plain")])


def test_a_library_with_openmp_code_links_the_compilers_runtime(tmp_path):
    recipe = tree(tmp_path)
    par, plain = fixture_plan(recipe).libraries
    assert "-fopenmp" in par.linkopts and "-fopenmp" not in plain.linkopts
    built = ninja_generic(recipe, tmp_path / "out", "par")
    assert built.returncode == 0, built.stdout + built.stderr
    so = next((tmp_path / "out").glob("*/obj-debforge/generic/libpar.so.*.*"))
    dynamic = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
    assert "[libgomp.so.1]" in dynamic
    # and the runtime runs the parallel region with the threads asked for
    program = tmp_path / "use.c"
    program.write_text("int par_threads(int);\nint main(void) { return par_threads(3) != 3; }\n")
    exe = tmp_path / "use"
    subprocess.run(["gcc", program, so, f"-Wl,-rpath,{so.parent}", "-o", exe], check=True)
    assert subprocess.run([exe]).returncode == 0
