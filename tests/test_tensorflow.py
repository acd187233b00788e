"""TensorFlow 2.14.1 from Debian's orig tarball: libtensorflow_framework.so.2 plans whole (protoc, mlir-tblgen,
the options header and a proto_text host tool as steps) and ninja -n finds every input at its three levels.
Heavy: about 2 minutes (unpacking the tarball, planning 600 translation units). libtensorflow_cc.so.2 and
libtensorflow.so.2 (slow, 3-4 minutes) plan over it with gRPC's services, TF Lite's flatc, the op generators
linking libtensorflow_framework, and what needs stablehlo, tf_runtime and sobol_data cut by the recipe's
leave-out. Heavy too: 18 sampled TUs of libtensorflow_framework compile in a sid root with the Build-Depends
(bench/sample_compile.py)."""

import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

import testbed
from conftest import CHROOT_BUILD, ROOT, configure, cpu_runs, extract, heavy_sbuild, heavy_tree, run_cli
from debforge import frontends, upstream
from debforge.backends import debian, ninja
from debforge.core.errors import DebforgeError
from debforge.drivers import sbuild
from debforge.plan import header_files, make_plan
from debforge.plan.rules import protobuf as protos
from debforge.plan.rules import tblgen
from debforge.plan.sensitivity import check_level_macros
from debforge.recipe.schema import load_recipe


@pytest.mark.heavy
def test_framework_plans_and_ninja_finds_every_input(tmp_path):
    r = load_recipe(ROOT / "recipes/tensorflow.yaml")
    r = dataclasses.replace(r, packages=tuple(p for p in r.packages if p.name == "libtensorflow-framework2"))
    tree = upstream.unpacked(r, tmp_path, print)
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    [lib] = plan.libraries
    assert lib.filename == "libtensorflow_framework.so.2.14.1"   # upstream's name, without the +dfsg
    assert len(lib.compiles) > 600 and sum(c.src.endswith(".pb.cc") for c in lib.compiles) > 60
    kinds = Counter(s.kind for s in plan.steps)
    assert kinds[protos.KIND] > 60 and kinds[tblgen.KIND] == 8 and kinds["tf_gen_options_header"] == 1
    assert [t.label for t in plan.host_tools] == ["//tensorflow/tools/proto_text:gen_proto_text_functions"]
    assert {"protobuf-compiler", "mlir-19-tools"} <= set(plan.externals_used)
    rc, edges, out = dry_run(r, plan, tree)
    assert rc == 0, out
    # every compile at the baseline and the level-sensitive ones (the kernels) at two more levels, the host
    # tool's, the steps and the links
    assert edges > compiles_at_three_levels(lib) + len(plan.steps)


def compiles_at_three_levels(lib) -> int:
    return len(lib.compiles) + 2 * sum(c.level_sensitive for c in lib.compiles)


def dry_run(r, plan, tree):
    """ninja -n over the three levels: (return code, edges, output)."""
    configure(tree, r)
    (tree / "build.ninja").write_text(ninja.render(plan))
    dry = subprocess.run(["ninja", "-n", "generic", "x86-64-v3", "x86-64-v4"], cwd=tree, capture_output=True,
                         text=True)
    last = dry.stdout.strip().splitlines()[-1] if dry.stdout.strip() else "[0/0]"
    return dry.returncode, int(last.split("/")[1].split("]")[0]), dry.stdout[-2000:] + dry.stderr


TF_NINJA = "fb395503c02a9e6633e783a99c8e72daa3e45288a9c65e8a05d18d18a2f96a46"


@pytest.fixture(scope="module")
def tf_plan(tmp_path_factory):
    """The recipe's three libraries planned over the patched orig tree: (recipe, tree, scan, plan)."""
    r = load_recipe(ROOT / "recipes/tensorflow.yaml")
    tree = upstream.unpacked(r, tmp_path_factory.mktemp("tf"), print)
    ws = frontends.get("bazel").scan(tree, r, "amd64", everything=False)
    return r, tree, ws, make_plan(r, ws, "amd64")


@pytest.mark.slow
def test_tensorflow_cc_and_libtensorflow_plan_and_ninja_finds_every_input(tf_plan, tmp_path):
    r, tree, _, plan = tf_plan
    framework, cc, tf = plan.libraries
    assert cc.filename == "libtensorflow_cc.so.2.14.1" and cc.siblings == ["tensorflow_framework"]
    assert len(framework.compiles) == 617
    assert len(cc.compiles) == 1981   # what libtensorflow_framework holds is linked, not compiled again
    assert not {c.src for c in cc.compiles} & {c.src for c in framework.compiles}
    # libtensorflow (the C API) over the same framework: its own closure, as upstream's
    assert tf.filename == "libtensorflow.so.2.14.1" and tf.siblings == ["tensorflow_framework"]
    assert len(tf.compiles) == 1235 and not {c.src for c in tf.compiles} & {c.src for c in framework.compiles}
    kinds = Counter(s.kind for s in plan.steps)
    assert kinds[protos.GRPC_KIND] == 8 and kinds[protos.KIND] == 103 and kinds[tblgen.KIND] == 43
    # the C++ op wrappers (tensorflow/cc/ops/*.cc) come from generators linked against libtensorflow_framework
    gens = [t for t in plan.host_tools if t.label.endswith("_gen_cc")]
    assert len(gens) == 27 and all(t.siblings == ["tensorflow_framework"] for t in gens)
    assert {"protobuf-compiler-grpc", "libgrpc++-dev", "flatbuffers-compiler"} <= set(cc.build_depends)
    # every cut names its reason: the repository Debian lacks, or the registration built without XLA
    assert {why for _, _, why in cc.left_out} <= {e.reason for e in r.leave_out}
    assert {why.split(":")[0] for _, _, why in cc.left_out} == {
        "stablehlo", "tf_runtime", "sobol_data", "XLA JIT", "TFR"}
    # 30 kept targets of libtensorflow_cc include or call what leave-out removed (no alwayslink registration): it
    # plans, it does not build yet, and the plan says so, with the chain of targets that reached each
    users = {kept for _, kept in cc.left_out_used}
    assert len(users) == 30 and users <= set(cc.left_out_chains)
    assert all(cc.left_out_chains[k][:1] in ([], ["//tensorflow:libtensorflow_cc.so.2.14.1"]) for k in users)
    assert not framework.left_out_used
    assert not any(cut.startswith("@stablehlo") or cut.startswith("@tf_runtime") for cut, _, _ in cc.left_out)
    # the generated ninja file is pinned (tests/test_outputs_pinned.py says why)
    ninja_file = debian.render(r, {"amd64": plan}, tree, 1700000000)["debforge/build-amd64.ninja"][0]
    assert hashlib.sha256(ninja_file.encode()).hexdigest() == TF_NINJA
    rc, edges, out = dry_run(r, plan, tree)
    assert rc == 0, out
    assert edges > sum(map(compiles_at_three_levels, (framework, cc, tf))) + len(plan.steps)
    # the recipe's level-sensitive families (math and tensor-movement kernels): the framework is runtime code
    assert [sum(c.level_sensitive for c in lib.compiles) for lib in (framework, tf)] == [6, 411]
    # Eigen's alignment is one for every level, as upstream's eigen_archive.BUILD sets it: left to -march, the
    # x86-64-v3 copy's kernels aborted on tensors the level-neutral C API code had accepted (c_api_test: Check
    # failed: IsAligned(), 6 Dec 2026), and the planner says so at the external's line
    assert all("-DEIGEN_MAX_ALIGN_BYTES=64" in c.flags for c in tf.compiles if c.level_sensitive)
    eigen = r.externals["eigen_archive"]
    bare = dataclasses.replace(r, externals={**r.externals, "eigen_archive": dataclasses.replace(eigen, defines=())})
    with pytest.raises(DebforgeError, match="EIGEN_MAX_ALIGN_BYTES is left to each object's -march") as e:
        check_level_macros(bare, plan.libraries)
    assert e.value.line == eigen.line
    c_api_headers_stand_alone(r, tree, tmp_path / "include")
    # the speed program of issue 17 and the consumer test's program against libtensorflow-dev's headers as installed
    for program in ("bench/tf_capi_levels.c", "recipes/tensorflow/capi-graph.c"):
        done = subprocess.run(["gcc", "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I",
                               tmp_path / "include", ROOT / program], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_libtensorflow_without_xla_keeps_no_target_that_uses_left_out_code(tf_plan):
    """The C API built without XLA (with_xla_support false, the no-xla patches): its closure reaches no StableHLO,
    TFRT or XLA JIT code, and loses only alwayslink registrations, so it can compile and link under -z defs."""
    r, tree, ws, plan = tf_plan
    _, _, tf = plan.libraries
    assert not tf.left_out_used
    assert [(cut, kept) for cut, kept, _ in tf.left_out] == [
        ("//tensorflow/compiler/jit:xla_kernel_creator", "//tensorflow/core/common_runtime/eager:core"),
        ("//tensorflow/compiler/mlir/tfr:graph_decompose_pass", "//tensorflow/c:c_api_no_xla"),
        ("//tensorflow/compiler/mlir/tfr:node_expansion_pass", "//tensorflow/c:c_api_no_xla"),
        ("//tensorflow/core/kernels:sobol_op", "//tensorflow/core:dynamic_kernels_impl")]
    # what each cut takes out registers itself (alwayslink), and no other C++ file outside tests and the Python
    # bindings includes its headers
    cut = [ws.target(label) for label, _, _ in tf.left_out]
    assert all(t.attrs.get("alwayslink") for t in cut)
    headers = {h.lstrip("/").replace(":", "/") for t in cut for h in t.attrs.get("hdrs", [])}
    assert len(headers) == 3   # sobol_op has none
    own = {s.lstrip("/").replace(":", "/") for t in cut for s in t.attrs.get("srcs", [])}
    includers = [str(f.relative_to(tree)) for f in (tree / "tensorflow").rglob("*.[ch]*")
                 if f.suffix in (".cc", ".h") and not f.name.endswith("_test.cc")
                 and not str(f.relative_to(tree)).startswith("tensorflow/python/")
                 and str(f.relative_to(tree)) not in own
                 and any(f'#include "{h}"' in f.read_text(errors="replace") for h in headers)]
    assert includers == []
    # nor does any of libtensorflow's sources, through quoted #includes followed in the tree (every branch of every
    # #if: more than a compile sees), reach a file of a cut target or of TFRT, StableHLO or XLA's MHLO
    cut_files = {f.lstrip("/").replace(":", "/") for t in cut for a in ("srcs", "hdrs") for f in t.attrs.get(a, [])}
    missing = ("tfrt/", "stablehlo/", "mhlo/", "tensorflow/core/tfrt/", "tensorflow/compiler/xla/mlir_hlo/",
               "tensorflow/compiler/mlir/tf2xla/", "tensorflow/compiler/xla/runtime/", "tensorflow/compiler/jit/kernels/")
    assert included(tree, [c.src for c in tf.compiles], lambda f: f in cut_files or f.startswith(missing)) == {}
    # no XLA JIT, MLIR bridge, PJRT or next pluggable device source is compiled in; XLA's own HLO code stays
    srcs = [c.src for c in tf.compiles]
    for gone in ("tensorflow/compiler/jit/kernels/", "tensorflow/compiler/jit/xla_device", "tensorflow/compiler/tf2xla/",
                 "tensorflow/compiler/mlir/tf2xla/", "tensorflow/compiler/xla/pjrt/",
                 "tensorflow/core/common_runtime/next_pluggable_device/", "tensorflow/core/tfrt/"):
        assert not [s for s in srcs if s.startswith(gone)], gone
    # fft2d is Debian's (sid's libfft2d-dev), linked for the Spectrogram kernel, not dropped
    assert "tensorflow/core/kernels/spectrogram.cc" in srcs
    assert "fft2d_fftsg" in tf.external_libs and "libfft2d-dev" in tf.build_depends


# upstream's C API tests the recipe runs (tests.select less tests.leave-out)
C_API_TESTS = {"//tensorflow/c:c_api_experimental_test", "//tensorflow/c:c_api_function_test",
               "//tensorflow/c:c_api_test_cpu", "//tensorflow/c:c_test", "//tensorflow/c:env_test_cpu",
               "//tensorflow/c:kernels_test_cpu", "//tensorflow/c:tf_status_helper_test",
               "//tensorflow/c:while_loop_test", "//tensorflow/c/eager:c_api_experimental_reader_test_cpu",
               "//tensorflow/c/eager:custom_device_test"}
# their links call C++ members libtensorflow holds but its version script hides (found by the full generic build)
HIDDEN_CXX_TESTS = {"//tensorflow/c/eager:dlpack_test_cpu", "//tensorflow/c:ops_test"}
GRPC_TESTS = {"//tensorflow/c/eager:c_api_test_cpu", "//tensorflow/c/eager:c_api_remote_test_cpu",
              "//tensorflow/c/eager:c_api_remote_function_test_cpu", "//tensorflow/c/eager:c_api_cluster_test_cpu",
              "//tensorflow/c/eager:c_api_distributed_test_cpu"}


@pytest.mark.slow
def test_c_api_tests_link_libtensorflow_and_the_autopkgtest_builds_only_them(tf_plan, tmp_path):
    """Upstream's C API tests (the recipe's tests): each links libtensorflow and libtensorflow_framework of its
    level, never libtensorflow_cc, and compiles no shipped code; c_api_test gets its custom-op shared object and
    SavedModel as runfiles; those that call C++ that libtensorflow's version script hides are left out, saying so;
    the autopkgtest's graph compiles and links nothing of the libraries."""
    r, tree, ws, plan = tf_plan
    framework, cc, tf = plan.libraries
    tests = {t.label: t for t in plan.tests}
    assert set(tests) == C_API_TESTS
    shipped = {c.src for c in framework.compiles + tf.compiles}
    for label, t in tests.items():
        assert t.siblings == (["tensorflow_framework"] if label.endswith(":tf_status_helper_test")
                              else ["tensorflow", "tensorflow_framework"]), label
        assert not {c.src for c in t.compiles} & shipped, label   # no static copy of what ships
    # beside each test's own sources, test-only helpers; one library target: the test's kernel (test_op.cc)
    owners = {c.owner for t in tests.values() for c in t.compiles} - set(tests)
    assert {o for o in owners if not ws.target(o).attrs.get("testonly")} == {"//tensorflow/c:test_op_kernel"}
    c_api = tests["//tensorflow/c:c_api_test_cpu"]
    assert "obj-debforge/gen/tensorflow/c/test_op1.so" in c_api.data
    assert "tensorflow/cc/saved_model/testdata/half_plus_two/00000123/saved_model.pb" in c_api.data
    assert not [c for c in c_api.compiles if c.src.startswith("tensorflow/compiler/")]   # built without XLA's JIT
    assert plan.workspace == "org_tensorflow"
    op1 = {lib.label: lib for lib in plan.test_libraries}["//tensorflow/c:test_op1.so"]
    assert [c.src for c in op1.compiles] == ["tensorflow/c/test_op1.cc"]
    # left out with the reason, which holds: each compiles a call of GrpcServer::Create, whose code libtensorflow
    # holds under names that upstream's version script (*TF_*, *TFE_*) hides; no test that runs calls it
    left_out = dict(plan.tests_left_out)
    assert set(left_out) == GRPC_TESTS | HIDDEN_CXX_TESTS
    assert all("GrpcServer::Create" in left_out[label] for label in GRPC_TESTS)
    assert all("version script hides" in left_out[label] for label in HIDDEN_CXX_TESTS)
    grpc = "tensorflow/core/distributed_runtime/rpc/grpc_server_lib.cc"
    assert grpc in {c.src for c in tf.compiles} and grpc not in shipped - {c.src for c in tf.compiles}
    assert re.findall(r"^\s*(\S+);", (tree / "tensorflow/c/version_script.lds").read_text(), re.M)[:2] == [
        "*TF_*", "*TFE_*"]
    creates = re.findall(r"static Status Create\(([^)]*)\)", (tree / grpc.replace(".cc", ".h")).read_text())
    assert len(creates) == 3 and not any("TF_" in c or "TFE_" in c for c in creates)

    def calls_create(label):
        t = ws.target(label)
        helpers = [d for d in t.attrs.get("deps", []) if (h := ws.target(d)) is not None and h.attrs.get("testonly")]
        files = [f for x in [label, *helpers] for f in ws.target(x).attrs.get("srcs", []) if f.endswith(".cc")]
        return any("GrpcServer::Create" in (tree / f.lstrip("/").replace(":", "/")).read_text() for f in files)
    assert all(calls_create(label) for label in GRPC_TESTS) and not any(map(calls_create, C_API_TESTS))
    # the autopkgtest (config.ninja: host_libs = installed) builds the tests and runs the op generators their
    # headers need against the installed framework: not one compile or link of a library
    configure(tree, r)
    (tree / "build.ninja").write_text(ninja.render(plan))
    with open(tree / "obj-debforge/config.ninja", "a") as f:
        f.write("host_libs = installed\ninstalled_libdir = /usr/lib/x86_64-linux-gnu\n")
    lines = subprocess.run(["ninja", "-t", "commands", "installed-tests@x86-64-v3"], cwd=tree, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    assert not [x for x in lines if re.search(r" -o obj-debforge/(generic|x86-64-v[34])/obj/| -soname", x)]
    tools = {re.search(r" -o obj-debforge/host/bin/(\S+?)(?:\.new)? ", x)[1]: x for x in lines
             if " -o obj-debforge/host/bin/" in x}
    # the op generators link the installed framework; proto_text's generator (of the framework's .pb_text.h, which
    # the tests include) compiles its own closure
    assert len(tools) > 20 and [t for t, x in tools.items() if " -ltensorflow_framework " not in x] == \
        ["tensorflow/tools/proto_text/gen_proto_text_functions"]
    # the generators' compiles include the framework's .pb.h (cc_op_gen.h: op_def.pb.h), which in the fresh tree
    # only protoc's steps make: each compile waits for them (a 6 Dec autopkgtest failed without)
    gen = [x.split(" -o ")[1].split()[0] for x in lines if re.search(r" -o obj-debforge/host/obj/\S+/cc_op_gen\.cc", x)]
    assert gen and all("obj-debforge/gen/tensorflow/core/framework/op_def.pb.h" in waited(tree, obj) for obj in gen)
    # the tests' own objects (level-neutral ones at the baseline)
    assert sum(bool(re.search(r" -o obj-debforge/[^/ ]+/tests/obj/", x)) for x in lines) > 12
    script = debian.render(r, {"amd64": plan}, tree, 1700000000)["tests/upstream-tests"][0]
    assert '"host_libs = installed"' in script


def waited(tree: Path, target: str) -> set[str]:
    """What ninja builds before `target`: its inputs (ninja -t query), and through the phony targets among them
    (names without a path), theirs."""
    out, todo = set(), [target]
    while todo:
        text = subprocess.run(["ninja", "-t", "query", *todo], cwd=tree, capture_output=True, text=True,
                              check=True).stdout
        found = {ln.split()[-1] for part in re.findall(r"^  input: .*\n((?:    .*\n)*)", text, re.M)
                 for ln in part.splitlines()}
        todo = [x for x in found - out if "/" not in x]
        out |= found
    return out


def included(tree, sources, wanted) -> dict[str, str]:
    """Each source that reaches, through quoted #includes of the tree's files, a file `wanted` says yes to: that
    file. Preprocessor conditions are not read (every branch counts); generated files are not there, so their
    includes are not followed."""
    direct: dict[str, list[str]] = {}
    found = {}
    for src in sources:
        seen, todo = set(), [src]
        while todo and src not in found:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            if wanted(path):
                found[src] = path
            elif (tree / path).is_file():
                if path not in direct:
                    direct[path] = INCLUDE.findall((tree / path).read_text(errors="replace"))
                todo += direct[path]
    return found


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


# upstream's C API headers that only C++ can include (default member initializers)
CXX_ONLY_HEADERS = ("tensorflow/c/eager/c_api_experimental.h",)


def c_api_headers_stand_alone(r, tree, include):
    """libtensorflow-dev's headers, laid out as installed, compile from C and C++ with nothing else: no header
    includes one the package does not ship."""
    headers = header_files(r, str(tree))
    for src, dest, _ in headers:
        target = include / dest.removeprefix("usr/include/") / src.rsplit("/", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((tree / src).read_bytes())
    names = sorted(str(p.relative_to(include)) for p in include.rglob("*.h"))
    assert "tensorflow/c/c_api.h" in names and "tensorflow/c/eager/c_api.h" in names and len(names) == len(headers)
    for compiler, ext in (("gcc", "c"), ("g++", "cc")):
        src = include.parent / f"all_headers.{ext}"
        src.write_text("".join(f"#include <{n}>\n" for n in names if ext == "cc" or n not in CXX_ONLY_HEADERS)
                       + "int main(void) { return TF_Version() != 0; }\n")
        done = subprocess.run([compiler, "-fsyntax-only", "-Wall", "-Werror", "-I", str(include), str(src)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]


SAMPLE_GROUPS = ("tensorflow/core/kernels/", "tensorflow/core/framework/", "tensorflow/core/common_runtime/",
                 "tensorflow/tsl/", "obj-debforge/gen/", "tensorflow/core/grappler/", "tensorflow/core/util/",
                 "tensorflow/compiler/")


def framework_recipe(tmp_path) -> Path:
    """recipes/tensorflow.yaml for libtensorflow_framework alone: the other libraries' packages, and the tests and
    consumer programs that link them, taken out (its patches beside it, as in recipes/)."""
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    shutil.copytree(ROOT / "recipes/patches", recipes / "patches")   # a symlink out of the directory is refused
    text = (ROOT / "recipes/tensorflow.yaml").read_text()
    for name in ("libtensorflow-cc2", "libtensorflow2"):
        text, n = re.subn(rf"  - name: {name}\n(?:    [^\n]*\n)*?    libraries:\n      - {{[^\n]*}}\n", "", text)
        assert n == 1, name
    for key in ("tests", "consumer-tests"):   # a top-level key and its indented or commented lines
        text, n = re.subn(rf"^{key}:\n?(?:[ #][^\n]*\n|\n)*", "", text, flags=re.M)
        assert n == 1, key
    (recipes / "tensorflow.yaml").write_text(text)
    return recipes / "tensorflow.yaml"


@contextlib.contextmanager
def framework_in_sid(tmp_path):
    """The tree `debforge generate` writes for libtensorflow_framework alone, bind-mounted at its own path in a sid
    root that mmdebstrap makes with the generated Build-Depends (ml-dtypes-dev, libmlir-19-dev, ...): (tree, root)."""
    subprocess.run([ROOT / ".venv/bin/debforge", "generate", framework_recipe(tmp_path), "-o", tmp_path / "out"],
                   check=True, capture_output=True)
    tree = tmp_path / "out/tensorflow-2.14.1+dfsg"
    control = (tree / "debian/control").read_text().split("\n\n")[0]
    field = control.split("\nBuild-Depends:", 1)[1].split("\nBuild-Depends-Indep:")[0]
    build_depends = [d.strip().split()[0] for d in field.split(",") if d.strip()]
    assert {"ml-dtypes-dev", "libmlir-19-dev", "llvm-19-dev", "libprotoc-dev"} <= set(build_depends)
    tarball = tmp_path / "sid.tar"
    sbuild.mmdebstrap("sid", "amd64", tarball, tmp_path / "mmdebstrap.log",
                      include=tuple(d for d in build_depends if not d.startswith("debhelper")))
    root = testbed.unpack(tarball, tmp_path / "root")
    inside = root / str(tree).lstrip("/")
    inside.mkdir(parents=True)
    subprocess.run(["mount", "--bind", tree, inside], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", root / "proc"], check=True)   # the pools read /proc/meminfo
    try:
        yield tree, root
    finally:
        subprocess.run(["umount", root / "proc"], check=True)
        subprocess.run(["umount", inside], check=True)


@pytest.mark.heavy
def test_framework_sample_compiles_against_sid(tmp_path):
    """bench/sample_compile.py, 2 TUs of each source area of libtensorflow_framework (18), compiles with the flags
    of the generated debian/rules in a sid root holding the generated Build-Depends, the recipe's DEP-3 patches
    applied (the TFG dialect ported to MLIR 19). About 3 minutes on an idle 2-core machine (the root, the generate
    steps, 18 compiles), much more on a busy one."""
    with framework_in_sid(tmp_path) as (tree, root):
        run = subprocess.run([ROOT / ".venv/bin/python", ROOT / "bench/sample_compile.py", tree, "--lib",
                              "tensorflow_framework", *(f"--group={g}" for g in SAMPLE_GROUPS), "--per-group", "2",
                              "--chroot", root, "-j", "2"], capture_output=True, text=True)
    lines = run.stdout.splitlines()
    ok = [line.split()[-1] for line in lines if line.startswith("ok ")]
    failed = [line.split()[-1] for line in lines if line.startswith(("FAIL ", "not run "))]
    assert len(ok) + len(failed) == 18 and "FAILED step" not in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    assert not failed and run.returncode == 0, run.stdout[-3000:]


# dlopen()s a library (its static initialisers: TF's op and kernel registrations run) and calls two of the C entry
# points libtensorflow_framework exports (tensorflow/c/tf_status.cc)
LOAD_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
  if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
  void *(*new_status)(void) = (void *(*)(void))dlsym(h, "TF_NewStatus");
  int (*code)(void *) = (int (*)(void *))dlsym(h, "TF_GetCode");
  if (!new_status || !code) { printf("dlsym: %s\n", dlerror()); return 1; }
  printf("TF_GetCode(TF_NewStatus()) = %d\n", code(new_status()));
  return 0;
}
"""


@pytest.mark.heavy
def test_framework_builds_links_and_loads_in_sid(tmp_path):
    """The generated ninja builds libtensorflow_framework.so.2 whole at the generic level (617 TUs, every generate
    step, the proto_text host tool) against sid's -dev packages, links it under -z defs with the recipe's -l list
    (libMLIR from /usr/lib/llvm-19/lib, by RUNPATH), and the result loads: its registrations run, its C entry
    points answer. The build took 55 min at -j2 on a 2-core machine with other compiles beside it."""
    with framework_in_sid(tmp_path) as (tree, root):
        inside = str(tree)
        subprocess.run(["chroot", root, "make", "-C", inside, "-f", "debian/rules", "override_dh_auto_configure"],
                       check=True, capture_output=True, env={**os.environ, "DEB_BUILD_OPTIONS": "parallel=2"})
        library = "obj-debforge/generic/libtensorflow_framework.so.2.14.1"
        build = subprocess.run(["chroot", root, "ninja", "-C", inside, "-f", "debian/debforge/build-amd64.ninja",
                                "-j2", library], capture_output=True, text=True)
        assert build.returncode == 0, build.stdout[-5000:]
        dynamic = subprocess.run(["readelf", "-d", tree / library], capture_output=True, text=True,
                                 check=True).stdout
        assert "[libtensorflow_framework.so.2]" in dynamic and "[/usr/lib/llvm-19/lib]" in dynamic
        (root / "tmp/load.c").write_text(LOAD_C)
        subprocess.run(["chroot", root, "gcc", "-o", "/tmp/load", "/tmp/load.c"], check=True)
        load = subprocess.run(["chroot", root, "/tmp/load", f"{inside}/{library}"], capture_output=True, text=True)
    assert load.returncode == 0 and "TF_GetCode(TF_NewStatus()) = 0" in load.stdout, load.stdout + load.stderr


@pytest.mark.heavy
def test_framework_at_three_levels_selectively_in_sbuild_lintian_clean(tmp_path):
    """Issue 16's proof: `debforge build --sbuild sid` of libtensorflow_framework alone makes
    libtensorflow-framework2 (meta, -generic, -avx2, -avx512) from the selective graph: its 617 TUs at the baseline,
    the 6 op kernels the recipe lists again at x86-64-v3 and v4 (each copy links the baseline objects of the rest and
    passes check-variant), sid's lintian without errors or warnings. More than an hour at -j2 on 2 cores; the
    generic build alone took 55 min (test_framework_builds_links_and_loads_in_sid)."""
    start = time.monotonic()
    proc = run_cli("build", framework_recipe(tmp_path), "-o", tmp_path / "out", "--sbuild", "sid",
                   "--no-check-reproducible", env={"DEB_BUILD_OPTIONS": "parallel=2"})
    print(f"sbuild of the framework at three levels: {time.monotonic() - start:.0f} s")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "libtensorflow_framework: 6 of 617 TUs level-sensitive" in proc.stderr
    assert "debforge: lintian (sid's, in the chroot): 0 errors, 0 warnings" in proc.stderr
    debs = {p.name.split("_")[0]: p for p in (tmp_path / "out").glob("*.deb") if "-dbgsym_" not in p.name}
    assert {"libtensorflow-framework2", "libtensorflow-dev"} <= set(debs)
    for suffix, sub in (("generic", ""), ("avx2", "glibc-hwcaps/x86-64-v3/"), ("avx512", "glibc-hwcaps/x86-64-v4/")):
        pkg = f"libtensorflow-framework2-{suffix}"
        assert list(extract(debs[pkg], tmp_path / pkg).glob(f"usr/lib/*/{sub}libtensorflow_framework.so.2.14.1"))


@pytest.mark.heavy
def test_c_api_links_over_the_framework_and_upstreams_tests_pass_in_sid(tmp_path):
    """libtensorflow_framework.so.2 and libtensorflow.so.2 at the generic level, built whole in a sid root with the
    generated Build-Depends (tools/chroot-build), and upstream's C API tests (10 run, the others left out by the
    recipe with their reasons) built and run against them (debian/debforge/run-tests, as dh_auto_test runs them).
    Hours on 2 cores: with DEBFORGE_HEAVY_DIR set, the tree, root and objects stay in $DEBFORGE_HEAVY_DIR/tf and a
    rerun resumes where an interrupted one stopped."""
    base, tree = heavy_tree(tmp_path, "tensorflow", "tf", "sid")
    libs = [f"obj-debforge/generic/lib{name}.so.2.14.1" for name in ("tensorflow_framework", "tensorflow")]
    build = subprocess.run([CHROOT_BUILD, "run", base, tree, *libs, "tests@generic"], capture_output=True, text=True)
    log = (base / "build.log").read_text().rsplit("\n=== ", 1)[-1]   # this run's part
    assert build.returncode == 0, "\n".join(re.findall(r"^FAILED: .*(?:\n.*){0,8}", log, re.M))[-6000:]
    dynamic = subprocess.run(["readelf", "-d", tree / libs[1]], capture_output=True, text=True, check=True).stdout
    assert "[libtensorflow_framework.so.2]" in dynamic and "[libtensorflow.so.2]" in dynamic
    tests = subprocess.run(["chroot", base / "root", "sh", "-c", f"cd {tree} && sh debian/debforge/run-tests build "
                            "debian/debforge/build-amd64.ninja 2 generic"], capture_output=True, text=True)
    assert "debforge tests: generic (build): 10 passed, 0 failed" in tests.stdout, tests.stdout[-6000:]
    assert tests.returncode == 0, tests.stderr[-3000:]


C_API_DEBS = {f"{stem}{suffix}" for stem in ("libtensorflow2", "libtensorflow-framework2")
              for suffix in ("", "-generic", "-avx2", "-avx512")} | {"libtensorflow-dev", "tensorflow-src"}


@pytest.mark.heavy
def test_c_api_packages_at_three_levels_lintian_clean_and_autopkgtests_pass(tmp_path):
    """Issue 17's packages, built as a buildd builds them: `debforge build --sbuild sid` (a clean, offline sid
    chroot; sid's lintian in it without errors or warnings; blhc on the log) makes libtensorflow2 and
    libtensorflow-framework2 (meta, -generic, -avx2, -avx512: the recipe's 411 + 6 level-sensitive TUs again at
    x86-64-v3 and v4), libtensorflow-dev and tensorflow-src, with upstream's C API tests (10 run, the others left
    out by the recipe with their reasons) passing in dh_auto_test at each level this CPU runs; then the
    autopkgtests on the installed packages in a sid testbed: upstream's tests built against libtensorflow-dev,
    every function its C headers declare linked (c-headers-link), the c-api-graph consumer program (built with
    pkg-config's flags, and with -ltensorflow alone through libtensorflow-dev's ld script) and the hwcaps dispatch
    check, each level forced in turn. Hours on 2 cores: with DEBFORGE_HEAVY_DIR set, the compiler cache
    stays in $DEBFORGE_HEAVY_DIR/tf-ccache and a rerun reuses what an interrupted one compiled."""
    out, debs = heavy_sbuild("tensorflow", "tf", "sid", 10)
    assert set(debs) == C_API_DEBS
    # MLIR's TypeIDs are one per process with the shared libMLIR (function-local-statics-exported.patch): the resolvers'
    # statics are exported, the trait libMLIR's pass manager missed among them
    for stem, so, resolver in (("libtensorflow2", "libtensorflow.so.2.14.1", "TypeIDResolver"),
                               ("libtensorflow-framework2", "libtensorflow_framework.so.2.14.1",
                                "TypeIDResolverINS_7OpTrait19IsIsolatedFromAbove")):
        for suffix, sub in (("generic", ""), ("avx2", "glibc-hwcaps/x86-64-v3/"), ("avx512", "glibc-hwcaps/x86-64-v4/")):
            [lib] = extract(debs[f"{stem}-{suffix}"], tmp_path / stem / suffix).glob(f"usr/lib/*/{sub}{so}")
            dynsym = subprocess.run(["readelf", "-W", "--dyn-syms", lib], capture_output=True, text=True).stdout
            assert re.search(rf"UNIQUE DEFAULT .*{resolver}", dynsym), lib
    source = next(p for p in out.iterdir() if p.is_dir() and (p / "debian/control").is_file())
    test = testbed.autopkgtest([debs[n] for n in sorted(C_API_DEBS - {"tensorflow-src"})], source, "sid")
    assert test.returncode == 0, test.stdout[-6000:] + test.stderr[-3000:]
    passed = re.findall(r"^(\S+) +PASS", test.stdout, re.M)
    assert passed == ["hwcaps", "upstream-tests", "c-headers-link", "c-api-graph", "c-api-graph-ltensorflow"], \
        test.stdout[-3000:]
    for level in ("generic", "x86-64-v3", "x86-64-v4"):
        if cpu_runs(level):
            assert f"debforge tests: {level} (installed): 10 passed, 0 failed" in test.stdout, test.stdout[-6000:]


def test_the_level_bench_checks_the_copy_and_compares_outputs(tmp_path):
    """bench/tf_capi_levels.py (it needs the built packages to run): each level's run must have mapped that
    level's copy, and a copy's output is bit-identical to the generic one's or within the tolerance."""
    import array
    import sys
    sys.path.insert(0, str(ROOT / "bench"))
    import levels
    import tf_capi_levels as bench
    assert levels.masks() == {"generic": "glibc.cpu.hwcaps=-AVX2", "x86-64-v3": "glibc.cpu.hwcaps=-AVX512F",
                              "x86-64-v4": ""}
    # --levels: the copies built (only v4's, to bound what the levels buy), those the CPU runs
    assert list(levels.runnable("generic,x86-64-v4")) == ["generic"] + ["x86-64-v4"] * cpu_runs("x86-64-v4")
    with pytest.raises(SystemExit, match="unknown level x86-64-v9"):
        levels.runnable("generic,x86-64-v9")
    fake = tmp_path / "prog"   # prints what tf_capi_levels.c prints, having "loaded" the v3 copy
    fake.write_text("#!/bin/sh\necho 'tanh 1.2500 00000000000000ff 4'\n"
                    "echo 'loaded /usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libtensorflow.so.2.14.1' >&2\n")
    fake.chmod(0o755)
    assert bench.run(fake, "x86-64-v3", "glibc.cpu.hwcaps=-AVX512F", "0", 1, [], None) == {
        "tanh": (1.25, "00000000000000ff")}
    for level in ("generic", "x86-64-v4"):
        with pytest.raises(SystemExit, match="not that level's copy"):
            bench.run(fake, level, "", "0", 1, [], None)
    outputs = {}
    for name, values in (("g", [1.0, -2.0, 0.5]), ("same", [1.0, -2.0, 0.5]), ("fma", [1.0, -2.0 + 4e-6, 0.5]),
                         ("off", [1.0, -2.0, 0.6])):
        outputs[name] = tmp_path / f"{name}.f32"
        outputs[name].write_bytes(array.array("f", values).tobytes())
    assert levels.agreement(outputs["g"], outputs["same"], bench.TOLERANCE) == "identical"
    assert levels.agreement(outputs["g"], outputs["fma"], bench.TOLERANCE).endswith(" ok")
    assert levels.agreement(outputs["g"], outputs["off"], bench.TOLERANCE).endswith("BEYOND TOLERANCE")
