"""Memory-aware compile pools: the recipe's config.compile-memory puts each compile into the ninja pool of its
memory class; debian/debforge/pools gives the pools depths that fit the builder's memory (MemAvailable, cgroup
limits) at its parallel level; ninja then runs no more heavy compiles at once than that."""

import itertools
import re
import shutil
import subprocess

import pytest

from conftest import FIXTURES, fixture_plan, fixture_recipe, run_cli
from debforge.backends import ninja
from debforge.core.errors import DebforgeError
from debforge.data import SKEL
from debforge.plan import pools
from debforge.recipe.schema import load_recipe

SCRIPT = SKEL / "debforge/pools"
TF_CLASSES = ["compile_6g=6144", "compile_2g=2048", "compile_1g=1024"]
HEAVY = [f"kernels/heavy{i}.cc" for i in range(4)]
LIGHT = [f"kernels/light{i}.cc" for i in range(4)]


def write_tree(tmp_path, memory="{default: 256M, \"kernels/heavy*.cc\": 2G}"):
    """An upstream tree of one library with four heavy and four light sources, and its recipe."""
    tree = tmp_path / "tree"
    (tree / "kernels").mkdir(parents=True)
    (tree / "WORKSPACE").write_text("")
    (tree / "BUILD.bazel").write_text(
        'cc_library(name = "kernels", srcs = glob(["kernels/*.cc"]), visibility = ["//visibility:public"])\n')
    for i, src in enumerate(HEAVY + LIGHT):
        (tree / src).write_text(f"int f{i}(int x) {{ return x + {i}; }}\n")
    recipe = fixture_recipe(tmp_path / "kernels.yaml", tree, "kernels", [("kernels", "//:kernels")],
                            "isa-levels: []\n" + (f"config:\n  compile-memory: {memory}\n" if memory else ""))
    return tree, recipe


def render(tmp_path, **kw):
    _, path = write_tree(tmp_path, **kw)
    return ninja.render(fixture_plan(path))


def fake_root(tmp_path, mem_available_mib, cgroup=""):
    """A /proc and /sys for the script: MemAvailable, and optionally /proc/self/cgroup's text."""
    root = tmp_path / "root"
    (root / "proc/self").mkdir(parents=True, exist_ok=True)
    (root / "proc/meminfo").write_text(f"MemTotal:       99999999 kB\nMemAvailable:   {mem_available_mib * 1024} kB\n")
    (root / "proc/self/cgroup").write_text(cgroup)
    return root


def run_script(tmp_path, root, jobs, classes):
    out = tmp_path / "pools.ninja"
    proc = subprocess.run(["perl", str(SCRIPT), "--root", str(root), str(out), str(jobs), *classes],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    depths = dict(re.findall(r"^pool (\S+)\n  depth = ([0-9]+)$", out.read_text(), re.M))
    budget = int(re.search(r"budget ([0-9]+) MiB", proc.stdout).group(1))
    return {k: int(v) for k, v in depths.items()}, budget, proc


# --- recipe data ------------------------------------------------------------------------------------------------

def test_compile_memory_is_read_in_mib(tmp_path):
    _, path = write_tree(tmp_path, memory='{default: 1G, "a/*.cc": 6G, "b.cc": 1.5G, "c/**": 512M}')
    assert load_recipe(path).config.compile_memory == {"default": 1024, "a/*.cc": 6144, "b.cc": 1536, "c/**": 512}


@pytest.mark.parametrize("memory, message", [
    ('{"a.cc": 6GB}', "'6GB' is not a memory size"),
    ('{"a.cc": 0G}', "'0G' is not a memory size"),
    ('{"../a.cc": 2G}', "relative path inside the tree"),
    ('{"a/**b/*.cc": 2G}', "'**' must be a whole path segment"),
    ("[6G]", "must be a mapping of source glob"),
])
def test_bad_compile_memory_names_the_recipe_line(tmp_path, memory, message):
    _, path = write_tree(tmp_path, memory=memory)
    with pytest.raises(DebforgeError) as e:
        load_recipe(path)
    assert message in str(e.value)
    assert e.value.line == len(path.read_text().splitlines())   # the compile-memory line, the recipe's last


def test_a_flavour_cannot_set_its_own_compile_memory(tmp_path):
    _, path = write_tree(tmp_path, memory=None)
    path.write_text(path.read_text() + """\
flavors:
  cuda:
    gpu-archs: [sm_80]
    config:
      compile-memory: {default: 2G}
    packages:
      - {name: libkernels1-cuda, libraries: [{name: kernels, target: "//:kernels", soversion: 1}]}
""")
    with pytest.raises(DebforgeError) as e:
        load_recipe(path)
    assert "set once, in the recipe's config" in str(e.value)
    assert e.value.line == len(path.read_text().splitlines()) - 2


# --- pool assignment --------------------------------------------------------------------------------------------

def test_a_source_gets_the_largest_estimate_of_the_globs_it_matches():
    memory = {"default": 1024, "tensorflow/core/kernels/*.cc": 2048, "tensorflow/core/kernels/matmul_op*.cc": 6144}
    assert pools.pool_of(memory, "tensorflow/core/kernels/matmul_op_real.cc") == "compile_6g"
    assert pools.pool_of(memory, "tensorflow/core/kernels/gather_op.cc") == "compile_2g"
    assert pools.pool_of(memory, "tensorflow/core/kernels/image/resize.cc") == "compile_1g"   # * stops at /
    assert pools.pool_of({"x.cc": 1536}, "y.cc") == "compile_1g"   # the built-in default
    assert pools.pool_of({}, "x.cc") is None
    assert pools.script_args(memory) == TF_CLASSES
    assert pools.script_args({"x.cc": 512}) == ["compile_1g=1024", "compile_512m=512"]


def test_ninja_puts_each_compile_in_its_pool_and_includes_the_pools_file(tmp_path):
    text = render(tmp_path)
    assert f"include {pools.POOLS_FILE}\n" in text
    edges = dict(re.findall(r"^build obj-debforge/generic/obj/kernels/(\S+)\.o: cxx .*\n(?:  .*\n)*?  pool = (\S+)$",
                            text, re.M))
    assert edges == {**{s: "compile_2g" for s in HEAVY}, **{s: "compile_256m" for s in LIGHT}}
    assert "pool = " not in text.split("build obj-debforge/generic/libkernels.so")[1]   # links are not pooled


def test_no_compile_memory_no_pools(tmp_path):
    text = render(tmp_path, memory=None)
    assert "pool" not in text and "pools.ninja" not in text


# --- depths -----------------------------------------------------------------------------------------------------

def test_two_core_24g_builder_runs_both_jobs_heavy(tmp_path):
    """The builder of the issue: 2 matmul_op compiles (2 x 6 GiB) fit in 22 GiB, so -j2 is not held back..."""
    depths, budget, _ = run_script(tmp_path, fake_root(tmp_path, 22 * 1024), 2, TF_CLASSES)
    assert budget == int(22 * 1024 * 0.9)
    assert depths == {"compile_6g": 2, "compile_2g": 1, "compile_1g": 2}


def test_many_jobs_on_24g_hold_the_heavy_compiles_back(tmp_path):
    """...but -j16 on it would start 16 of them (96 GiB): one runs, beside one gather-class compile and 11 light
    ones (16 light ones alone would fit, but not beside the two heavy ones)."""
    depths, budget, proc = run_script(tmp_path, fake_root(tmp_path, 22 * 1024), 16, TF_CLASSES)
    assert depths == {"compile_6g": 1, "compile_2g": 1, "compile_1g": 11}
    assert f"at most {6144 + 2048 + 11 * 1024} MiB at once" in proc.stdout and budget >= 6144 + 2048 + 11 * 1024
    assert "warning" not in proc.stderr


def test_cgroup_v2_limit_below_memavailable_wins(tmp_path):
    root = fake_root(tmp_path, 22 * 1024, "0::/build/job\n")
    for d, limit in (("sys/fs/cgroup/build", 8 << 30), ("sys/fs/cgroup/build/job", "max")):
        (root / d).mkdir(parents=True)
        (root / d / "memory.max").write_text(f"{limit}\n")
        (root / d / "memory.current").write_text(f"{2 << 30}\n")
        (root / d / "memory.stat").write_text(f"anon 1\ninactive_file {1 << 30}\nactive_file 5\n")
    _, budget, proc = run_script(tmp_path, root, 2, TF_CLASSES)
    assert budget == int(7 * 1024 * 0.9)   # 8 GiB limit - (2 GiB used - 1 GiB inactive page cache)
    assert "memory.max of /build" in proc.stdout


def test_cgroup_v1_limit_below_memavailable_wins(tmp_path):
    root = fake_root(tmp_path, 22 * 1024, "4:memory:/docker/abc\n0::/\n")
    d = root / "sys/fs/cgroup/memory/docker/abc"
    d.mkdir(parents=True)
    (d / "memory.limit_in_bytes").write_text(f"{6 << 30}\n")
    (d / "memory.usage_in_bytes").write_text(f"{1 << 30}\n")
    _, budget, _ = run_script(tmp_path, root, 2, TF_CLASSES)
    assert budget == int(5 * 1024 * 0.9)


def test_too_small_builder_builds_one_at_a_time_and_warns(tmp_path):
    depths, _, proc = run_script(tmp_path, fake_root(tmp_path, 4 * 1024), 2, TF_CLASSES)
    assert depths == {"compile_6g": 1, "compile_2g": 1, "compile_1g": 1}
    assert "may run out of memory" in proc.stderr


def worst_case(depths: dict[str, int], sizes: dict[str, int], jobs: int) -> int:
    """The most memory ninja -jJOBS can have in compiles at once: every way of filling the pools, tried."""
    names = list(depths)
    return max(sum(n * sizes[c] for n, c in zip(ns, names))
               for ns in itertools.product(*(range(depths[c] + 1) for c in names)) if sum(ns) <= jobs)


@pytest.mark.parametrize("classes", [TF_CLASSES, ["compile_6g=6144", "compile_1g=1024"],
                                     ["compile_3g=3072", "compile_2g=2048", "compile_512m=512"]])
def test_depths_never_let_the_compiles_exceed_the_budget(tmp_path, classes):
    sizes = {c.split("=")[0]: int(c.split("=")[1]) for c in classes}
    lightest = min(sizes, key=sizes.get)
    for mem, jobs in itertools.product((5 * 1024, 12 * 1024, 22 * 1024, 60 * 1024), (1, 2, 4, 8, 16)):
        depths, budget, proc = run_script(tmp_path, fake_root(tmp_path, mem), jobs, classes)
        assert all(d >= 1 for d in depths.values()) and set(depths) == set(sizes)
        if "warning" in proc.stderr:   # only where one compile of each class cannot fit
            assert worst_case(dict.fromkeys(sizes, 1), sizes, jobs) > budget, (mem, jobs)
        else:
            assert worst_case(depths, sizes, jobs) <= budget, (mem, jobs, depths)
        if depths[lightest] < min(jobs, budget // sizes[lightest]):   # fewer light jobs only where needed
            assert worst_case({**depths, lightest: depths[lightest] + 1}, sizes, jobs) > budget, (mem, jobs, depths)


# --- the generated package --------------------------------------------------------------------------------------

@pytest.fixture
def generated(tmp_path):
    tree, recipe = write_tree(tmp_path)
    proc = run_cli("generate", recipe, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "out/kernels-1.0"


def test_rules_configure_writes_the_pools_that_ninja_needs(generated):
    ninja_file = "debian/debforge/build-amd64.ninja"
    conf = subprocess.run(["make", "-f", "debian/rules", "override_dh_auto_configure"], cwd=generated,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                               "DEB_BUILD_OPTIONS": "parallel=3"})
    assert conf.returncode == 0, conf.stderr
    assert re.search(r"pools: -j3, budget [0-9]+ MiB .*compile_2g [1-3], compile_256m 3", conf.stdout)
    dry = subprocess.run(["ninja", "-n", "-f", ninja_file, "generic"], cwd=generated, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    (generated / pools.POOLS_FILE).unlink()   # without it ninja refuses to build: the pools are not optional
    dry = subprocess.run(["ninja", "-n", "-f", ninja_file, "generic"], cwd=generated, capture_output=True, text=True)
    assert dry.returncode != 0 and "pools.ninja" in dry.stderr


def test_ninja_runs_no_more_heavy_compiles_at_once_than_the_pool_depth(generated, tmp_path):
    """Real compiles under ninja -j4, each logged by a compiler wrapper: with 4 GiB available the 2 GiB class gets
    depth 1 and the light sources still run four at once."""
    log = tmp_path / "compiles.log"
    wrapper = tmp_path / "logging-cxx"
    wrapper.write_text(f"""#!/bin/sh
src=; prev=
for a; do [ "$prev" = -c ] && src=$a; prev=$a; done
[ -n "$src" ] || exec g++ "$@"   # the link
echo "start $src $(date +%s.%N)" >> {log}
sleep 0.5
g++ "$@"; rc=$?
echo "end $src $(date +%s.%N)" >> {log}
exit $rc
""")
    wrapper.chmod(0o755)
    (generated / "obj-debforge").mkdir()
    (generated / "obj-debforge/config.ninja").write_text(
        f"cc = gcc\ncxx = {wrapper}\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    out = generated / pools.POOLS_FILE
    subprocess.run(["perl", str(SCRIPT), "--root", str(fake_root(tmp_path, 4 * 1024)), str(out), "4",
                    *pools.script_args({"default": 256, "kernels/heavy*.cc": 2048})], check=True)
    assert "pool compile_2g\n  depth = 1\n" in out.read_text()
    proc = subprocess.run(["ninja", "-j4", "-f", "debian/debforge/build-amd64.ninja", "generic"], cwd=generated,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = sorted((float(t), kind, src) for kind, src, t in (ln.split() for ln in log.read_text().splitlines()))
    assert len(events) == 16, events
    running: set[str] = set()
    peak_heavy = peak_all = 0
    for _, kind, src in sorted(events, key=lambda e: (e[0], e[1] == "start")):   # an end before a start at a tie
        running.add(src) if kind == "start" else running.discard(src)
        peak_heavy = max(peak_heavy, sum(s in HEAVY for s in running))
        peak_all = max(peak_all, len(running))
    assert peak_heavy == 1
    assert peak_all >= 3   # the light ones ran beside it: the pool limits only its class


def test_a_gpu_flavour_package_writes_and_uses_the_pools_too(tmp_path):
    shutil.copytree(FIXTURES / "gpu", tmp_path / "gpu")
    recipe = tmp_path / "gpu/recipe.yaml"
    recipe.write_text(recipe.read_text() + 'config:\n  compile-memory: {default: 512M, "kernels.cu": 2G}\n')
    proc = run_cli("generate", "--flavor", "cuda", recipe, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    debian = tmp_path / "out/gpufixture-cuda-1.0/debian"
    assert ("\tperl debian/debforge/pools $(B)/pools.ninja $(or $(DEB_BUILD_OPTION_PARALLEL),1) "
            "compile_2g=2048 compile_512m=512\n") in (debian / "rules").read_text()
    assert (debian / "debforge/pools").is_file()
    text = (debian / "debforge/build-amd64.ninja").read_text()
    assert f"include {pools.POOLS_FILE}\n" in text
    assert re.search(r"^build \S+/kernels\.cu\.o: gpu kernels\.cu.*\n(?:  .*\n)*?  pool = compile_2g$", text, re.M)
