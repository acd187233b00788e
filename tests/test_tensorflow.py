"""TensorFlow 2.14.1 from Debian's orig tarball: libtensorflow_framework.so.2 plans whole (protoc, mlir-tblgen,
the options header and a proto_text host tool as steps) and ninja -n finds every input at its three levels.
Heavy: about 2 minutes (unpacking the tarball, planning 600 translation units)."""

import dataclasses
import shutil
import subprocess
from collections import Counter

import pytest

from conftest import ROOT
from debforge import SKEL_DIR, frontends, pools, protos, sources, tblgen
from debforge.backends import ninja
from debforge.plan import make_plan
from debforge.recipe.schema import load_recipe


@pytest.mark.heavy
def test_framework_plans_and_ninja_finds_every_input(tmp_path):
    r = load_recipe(ROOT / "recipes/tensorflow.yaml")
    r = dataclasses.replace(r, packages=tuple(p for p in r.packages if p.name == "libtensorflow-framework2"))
    tree, _ = sources.prepare(r, tmp_path, print)
    plan = make_plan(r, frontends.get("bazel").scan(tree, r, "amd64", everything=False), "amd64")
    [lib] = plan.libraries
    assert lib.filename == "libtensorflow_framework.so.2.14.1"   # upstream's name, without the +dfsg
    assert len(lib.compiles) > 600 and sum(c.src.endswith(".pb.cc") for c in lib.compiles) > 60
    kinds = Counter(s.kind for s in plan.steps)
    assert kinds[protos.KIND] > 60 and kinds[tblgen.KIND] == 8 and kinds["tf_gen_options_header"] == 1
    assert [t.label for t in plan.host_tools] == ["//tensorflow/tools/proto_text:gen_proto_text_functions"]
    assert {"protobuf-compiler", "mlir-19-tools"} <= set(plan.externals_used)
    shutil.copytree(SKEL_DIR / "debforge", tree / "debian/debforge", dirs_exist_ok=True)
    build = tree / "build.ninja"
    build.write_text(ninja.render(plan, "tensorflow.yaml"))
    (tree / "obj-debforge").mkdir()
    (tree / "obj-debforge/config.ninja").write_text(
        "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    subprocess.run(["perl", SKEL_DIR / "debforge/pools", tree / pools.POOLS_FILE, "2",
                    *pools.script_args(r.config.compile_memory)], check=True, capture_output=True)
    dry = subprocess.run(["ninja", "-n", "generic", "x86-64-v3", "x86-64-v4"], cwd=tree, capture_output=True,
                         text=True)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr
    # every compile at three levels, the host tool's, the steps and the links
    edges = int(dry.stdout.strip().splitlines()[-1].split("/")[1].split("]")[0])
    assert edges > 3 * len(lib.compiles) + len(plan.steps)
