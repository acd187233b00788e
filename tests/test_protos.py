"""protobuf's proto_gen (what tf_proto_library and protobuf.bzl's cc_proto_library expand to): one protoc step per
rule with Debian's protoc, imports from the tree root, proto_gen deps and Debian's well-known types; the cc_library
next to it compiles the outputs; TensorFlow's header-only libraries of them add nothing to link. The heavy test
runs the planned protoc commands on TensorFlow's own protos."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, fixture_recipe, have
from debforge import frontends, upstream
from debforge.backends import ninja
from debforge.core.errors import DebforgeError
from debforge.data import SKEL
from debforge.graph import file_path
from debforge.plan import make_plan
from debforge.plan.rules import protobuf as protos
from debforge.recipe.schema import load_recipe

TREE = FIXTURES / "protos"
GEN = "obj-debforge/gen"


def recipe(tmp_path, tree=TREE):
    return load_recipe(fixture_recipe(tmp_path / "fixture.yaml", tree, "scene", [("scene", "//scene:scene")],
                                      "externals:\n  com_google_protobuf: {package: libprotobuf-dev, libs: [protobuf]}\n"))


def scan(r, tree=TREE):
    return frontends.get("bazel").scan(tree, r, "amd64", everything=False)


class Ctx:
    """The planner's answers for a tree without generated inputs: labels are tree files."""
    def __init__(self, ws):
        self.ws = ws
        self.root = str(ws.root)

    def inputs(self, t, labels):
        return [file_path(x) for x in labels]

    def rule(self, label):
        return self.ws.target(label)


def test_one_protoc_step_per_rule_before_the_compiles(tmp_path):
    plan = make_plan(recipe(tmp_path), scan(recipe(tmp_path)), "amd64")
    shape, scene = plan.steps   # sorted by label
    assert (shape.label, shape.kind) == ("//:shape_genproto", protos.KIND)
    assert shape.command == ["protoc", "-I.", f"--cpp_out={GEN}", "shape.proto"]
    assert shape.outputs == [f"{GEN}/shape.pb.cc", f"{GEN}/shape.pb.h"]
    # scene.proto imports shape.proto: an input of its step, so protoc reruns when it changes
    assert scene.command == ["protoc", "-I.", f"--cpp_out={GEN}", "scene/scene.proto"]
    assert scene.inputs == ["scene/scene.proto", "shape.proto"]
    assert plan.externals_used == ["libprotobuf-dev", "protobuf-compiler"]
    # scene also depends on TensorFlow's cc_header_only_library of its proto: no compiles, no steps of its own
    [lib] = plan.libraries
    assert sorted(c.src for c in lib.compiles) == [f"{GEN}/scene/scene.pb.cc", f"{GEN}/shape.pb.cc",
                                                   "scene/scene.cc"]
    assert sorted(lib.generated) == sorted(scene.outputs + shape.outputs)
    assert lib.external_libs == ["protobuf"]


def test_python_output_and_generated_proto_source(tmp_path):
    ws = scan(recipe(tmp_path))
    py = protos.proto_gen(ws.target("//scene:scene_py_genproto"), Ctx(ws))
    assert py.command == ["protoc", "-I.", f"--python_out={GEN}", "scene/scene.proto"]
    assert py.outputs == [f"{GEN}/scene/scene_pb2.py"]

    class Generated(Ctx):   # scene.proto as another rule's output: found under the bin directory
        def inputs(self, t, labels):
            return [f"{GEN}/{p}" if p.endswith("scene.proto") else p for p in super().inputs(t, labels)]

    step = protos.proto_gen(ws.target("//scene:scene_genproto"), Generated(ws))
    assert step.command == ["protoc", f"-I{GEN}", "-I.", f"--cpp_out={GEN}", f"{GEN}/scene/scene.proto"]
    assert step.outputs == [f"{GEN}/scene/scene.pb.cc", f"{GEN}/scene/scene.pb.h"]


def edited(tmp_path, old, new):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    build = tree / "scene/BUILD.bazel"
    text = build.read_text()
    assert old in text
    build.write_text(text.replace(old, new, 1))
    return tree


@pytest.mark.parametrize("old,new,message", [
    ('outs = ["scene.pb.cc", "scene.pb.h"]', 'outs = ["scene.pb.cc"]', "declares outs"),
    ('gen_cc = 1,', 'gen_cc = 1,\n    plugin = "//:grpc_cpp_plugin",', "protoc plugin '//:grpc_cpp_plugin'"),
    ('deps = ["//:shape_genproto"],\n)\n\n# the', 'deps = ["//:shape_proto_cc_impl"],\n)\n\n# the',
     "a cc_library, not a proto_gen"),
    ('deps = ["//:shape_genproto"],\n)\n\n# the', 'deps = ["@grpc//:protos"],\n)\n\n# the',
     "protos of an external repository"),
])
def test_what_protoc_cannot_do_names_the_build_line(tmp_path, old, new, message):
    tree = edited(tmp_path, old, new)
    r = recipe(tmp_path, tree)
    with pytest.raises(DebforgeError) as exc:
        make_plan(r, scan(r, tree), "amd64")
    assert message in exc.value.message
    assert exc.value.file.endswith("scene/BUILD.bazel") and exc.value.line == 4


@pytest.mark.skipif(not (have("protoc") and Path("/usr/include/google/protobuf/timestamp.proto").exists()),
                    reason="needs protobuf-compiler and libprotobuf-dev")
def test_ninja_runs_protoc_and_the_library_round_trips_a_message(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    shutil.copytree(SKEL / "debforge", tree / "debian/debforge")
    r = recipe(tmp_path, tree)
    (tree / "build.ninja").write_text(ninja.render(make_plan(r, scan(r, tree), "amd64")))
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/config.ninja").write_text(
        "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lib = ctypes.CDLL(str(tree / "obj-debforge/generic/libscene.so.1"))
    assert lib.scene_area(3, 4) == 12


@pytest.mark.heavy
@pytest.mark.skipif(not have("protoc"), reason="needs protobuf-compiler")
def test_protoc_accepts_the_commands_for_tensorflow_framework_protos(tmp_path):
    """TensorFlow 2.14.1's //tensorflow/core/framework protos (Debian's orig tarball, ~1 min to fetch and unpack
    once): every planned protoc command runs with Debian's protoc and writes exactly the declared outputs."""
    r = load_recipe(ROOT / "recipes/tensorflow.yaml")
    tree = upstream.unpacked(r, tmp_path, print)
    ws = frontends.get("bazel").scan(tree, r, "amd64", everything=False)
    ws.evaluate_package("tensorflow/core/framework")
    rules = sorted(label for label, t in ws.graph.targets.items()
                   if t.kind == protos.KIND and label.startswith("//tensorflow/core/framework:")
                   and t.attrs.get("gen_cc"))
    assert len(rules) >= 30
    (tree / GEN).mkdir(parents=True)   # as ninja makes the outputs' directories
    for label in rules:
        step = protos.proto_gen(ws.target(label), Ctx(ws))
        proc = subprocess.run(step.command, cwd=tree, capture_output=True, text=True)
        assert proc.returncode == 0, f"{label}: {proc.stderr}"
        assert all((tree / out).is_file() for out in step.outputs), label
