"""gRPC's C++ services: gRPC's cc_grpc_library (a generate_cc rule over a proto_library) and protobuf.bzl's
proto_gen with grpc_cpp_plugin (TensorFlow's tf_proto_library_cc) become protoc steps running Debian's plugin, with
the outputs gRPC's rules declare; and the recipe's leave-out: what needs a repository Debian lacks is cut from the
closure, by name, and the plan says what each library lost."""

import shutil
import subprocess

import pytest

from conftest import FIXTURES, fixture_recipe, have
from debforge import frontends
from debforge.backends import ninja
from debforge.core.errors import DebforgeError
from debforge.plan import make_plan
from debforge.plan.rules import protobuf as protos
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "grpc"
GEN = "obj-debforge/gen"
LEAVE_OUT = """\
leave-out:
  //:tracing: "tf_runtime: tracing through TFRT's async values"
  //:tracing_registration: "tf_runtime: TFRT's tracing hooks"
"""


def recipe(tmp_path, extra=LEAVE_OUT):
    return load_recipe(fixture_recipe(tmp_path / "fixture.yaml", TREE, "echo", [("echo", "//:echo")], f"""\
tools:
  "//external:grpc_cpp_plugin": {{command: grpc_cpp_plugin, package: protobuf-compiler-grpc}}
  "@com_github_grpc_grpc//src/compiler:grpc_cpp_plugin": {{command: grpc_cpp_plugin, package: protobuf-compiler-grpc}}
externals:
  com_google_protobuf: {{package: libprotobuf-dev, libs: [protobuf]}}
  com_github_grpc_grpc: {{package: libgrpc++-dev, libs: [grpc++, grpc]}}
  //external: {{package: libgrpc++-dev, libs: [grpc++, grpc]}}
{extra}"""))


def plan_of(r):
    return make_plan(r, frontends.get("bazel").scan(TREE, r, "amd64", everything=False), "amd64")


def test_grpc_services_are_protoc_steps_with_debians_plugin(tmp_path):
    plan = plan_of(recipe(tmp_path))
    steps = {s.label: s for s in plan.steps}
    codegen = steps["//:_echo_cc_grpc_grpc_codegen"]
    assert codegen.kind == protos.GRPC_KIND
    assert codegen.outputs == [f"{GEN}/echo.grpc.pb.h", f"{GEN}/echo.grpc.pb.cc", f"{GEN}/echo_mock.grpc.pb.h"]
    assert codegen.command == ["sh", "-c", "protoc --plugin=protoc-gen-PLUGIN=\"$(command -v grpc_cpp_plugin)\" "
                               f"-I. --PLUGIN_out=generate_mock_code=true:{GEN} echo.proto"]
    assert codegen.build_depends == ["libprotobuf-dev", "protobuf-compiler", "protobuf-compiler-grpc"]
    ping = steps["//tf:ping_genproto"]   # proto_gen with the plugin: messages and services in one protoc run
    assert sorted(ping.outputs) == [f"{GEN}/tf/ping.{x}" for x in ("grpc.pb.cc", "grpc.pb.h", "pb.cc", "pb.h")]
    assert ping.command == ["sh", "-c", "protoc --plugin=protoc-gen-grpc=\"$(command -v grpc_cpp_plugin)\" "
                            f"-I. --cpp_out={GEN} --grpc_out=services_namespace=grpc:{GEN} tf/ping.proto"]
    [lib] = plan.libraries
    assert sorted(c.src for c in lib.compiles) == [
        "echo.cc", f"{GEN}/echo.grpc.pb.cc", f"{GEN}/echo.pb.cc", f"{GEN}/tf/ping.grpc.pb.cc", f"{GEN}/tf/ping.pb.cc"]
    assert lib.external_libs == ["protobuf", "grpc++", "grpc"]
    assert {"libgrpc++-dev", "protobuf-compiler-grpc"} <= set(lib.build_depends)


def test_a_target_left_out_is_cut_and_named_in_the_plan(tmp_path):
    [lib] = plan_of(recipe(tmp_path)).libraries
    assert "tracing.cc" not in [c.src for c in lib.compiles]
    assert lib.left_out == [("//:tracing", "//:echo", "tf_runtime: tracing through TFRT's async values"),
                            ("//:tracing_registration", "//:echo", "tf_runtime: TFRT's tracing hooks")]
    # echo.cc calls into //:tracing (no registration): the plan says the library will not build as it stands
    assert lib.left_out_used == [("//:tracing", "//:echo")]
    # without the entry, the unmapped repository is an error naming the way the library reached it
    with pytest.raises(DebforgeError) as exc:
        plan_of(recipe(tmp_path, extra=""))
    assert "@tf_runtime" in exc.value.message and "reached through //:echo -> //:tracing" in exc.value.message
    assert exc.value.file.endswith("BUILD.bazel")


@pytest.mark.parametrize("pattern,valid,tracing", [
    ("//:tracing", True, True), ("//...", True, True), ("//tf/...", True, False), ("//:trac", True, False),
    ("@tf_runtime//:x", False, None), ("//../x:y", False, None), ("tracing", False, None)])
def test_leave_out_patterns(tmp_path, pattern, valid, tracing):
    extra = f'leave-out:\n  "{pattern}": "why"\n'
    if not valid:
        with pytest.raises(DebforgeError) as exc:
            recipe(tmp_path, extra)
        assert "leave-out key" in exc.value.message and exc.value.line
        return
    [entry] = recipe(tmp_path, extra).leave_out
    assert entry.matches("//:tracing") is tracing
    assert entry.matches("//tf:ping_proto_cc_impl") is (pattern in ("//...", "//tf/..."))


@pytest.mark.skipif(not (have("protoc") and have("grpc_cpp_plugin") and have("ninja")),
                    reason="needs protobuf-compiler and protobuf-compiler-grpc")
def test_ninja_runs_protoc_with_the_plugin(tmp_path):
    plan = plan_of(recipe(tmp_path))
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    (tree / "build.ninja").write_text(ninja.render(plan))
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/config.ninja").write_text("cc = gcc\ncxx = g++\ncflags =\ncxxflags =\nldflags =\n")
    subprocess.run(["ninja", "generated"], cwd=tree, check=True, capture_output=True)
    for step in plan.steps:
        for out in step.outputs:
            assert (tree / out).is_file(), out
    assert "class MockEchoStub" in (tree / GEN / "echo_mock.grpc.pb.h").read_text()
    assert "namespace grpc" in (tree / GEN / "tf/ping.grpc.pb.h").read_text()   # services_namespace
