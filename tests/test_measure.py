"""debforge measure-levels: a TU with vectorisable float loops gains ymm/FMA instructions at x86-64-v3 and is
listed as level-sensitive; a scalar TU is not; a TU that fails to compile at a level is named and counted as
sensitive; bad arguments exit 2."""

import os
import re
from types import SimpleNamespace

import pytest

from conftest import FIXTURES, fixture_recipe, run_cli
from debforge import measure
from debforge.core import isa
from debforge.core.errors import DebforgeError
from debforge.drivers import dpkg, ninjatree
from debforge.plan.model import Compile


def recipe(tmp_path):
    return fixture_recipe(tmp_path / "levels.yaml", FIXTURES / "levels", "levels", [("levels", "//:levels")],
                          "isa-levels: [x86-64-v3]\n")


def listed(path):
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]


def test_lists_exactly_the_vector_hot_tu(tmp_path):
    out = tmp_path / "levels.level-sensitive"
    proc = run_cli("measure-levels", recipe(tmp_path), "-o", out, "--only", "src/hot.c", "--only", "src/cold.c",
                   "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert listed(out) == ["src/hot.c"]
    header = out.read_text().splitlines()[0]
    assert header.startswith("# Level-sensitive translation units of levels 1.0")
    assert "liblevels: 2 of 5 TUs measured; level-sensitive 1 (50%)" in proc.stdout
    assert "src/hot.c: x86-64-v3 +" in proc.stdout
    assert "compiled 4/4" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["levels.level-sensitive", "levels.yaml"]


def test_failed_compile_is_named_and_sensitive(tmp_path):
    out = tmp_path / "list"
    proc = run_cli("measure-levels", recipe(tmp_path), "-o", out, "--only", "src/broken.c")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert listed(out) == ["src/broken.c"]
    assert "FAILED src/broken.c at x86-64-v3" in proc.stdout and "does not build with AVX2" in proc.stdout


def test_bad_arguments_exit_2(tmp_path):
    r = recipe(tmp_path)
    assert run_cli("measure-levels", r, "--sample", "0").returncode == 2
    assert run_cli("measure-levels", r, "--threshold", "x").returncode == 2
    proc = run_cli("measure-levels", r, "-o", tmp_path / "x", "--only", "nothing/*")
    assert proc.returncode == 2 and "--only and --within match no source" in proc.stderr
    assert not (tmp_path / "x").exists()
    proc = run_cli("measure-levels", r, "-o", tmp_path / "x", "--within", "nothing/*", "--sample", "2")
    assert proc.returncode == 2 and "--only and --within match no source" in proc.stderr


def test_code_only_a_level_defines_is_sensitive_at_any_threshold(tmp_path):
    """ssse3.c has no wide-vector instruction, but its x86-64-v3 object defines a function its baseline one lacks:
    compiled once, at the baseline, a v3 caller of it would not link."""
    out = tmp_path / "list"
    proc = run_cli("measure-levels", recipe(tmp_path), "-o", out, "--only", "src/ssse3.c", "--only", "src/cold.c",
                   "--threshold", "100000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert listed(out) == ["src/ssse3.c"]
    assert "src/ssse3.c: defines 1 symbols at a level that its baseline object lacks (code under a level's " \
           "macro), e.g. levels_ssse3_abs" in proc.stdout


def test_a_tu_sensitive_through_copies_alone_is_named(tmp_path):
    """copy.c's loops only copy: x86-64-v3 widens its moves to ymm (18 of them), no arithmetic. It is listed at the
    threshold (the measure counts every wide instruction), and the report says its copies buy copy width only."""
    out = tmp_path / "list"
    proc = run_cli("measure-levels", recipe(tmp_path), "-o", out, "--only", "src/copy.c", "--only", "src/hot.c")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert listed(out) == ["src/copy.c", "src/hot.c"]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("  src/copy.c: x86-64-v3 +"))
    assert line.endswith("fma 0; moves 18)"), line
    assert "1 of the 2 sensitive TUs are so through wide moves" in proc.stdout and "e.g. src/copy.c\n" in proc.stdout


def test_strong_definitions_leave_weak_and_unique_ones_out():
    nm = "f T 0 4\ng W 0 4\n_ZN1aE u 0 4\ntable R 0 8\nv V 0 4\nbss B 0 8\n"
    assert measure.strong_definitions(nm) == {"f", "table", "bss"}


def test_count_and_select():
    dump = ("   0:\tvmovups (%rdi),%ymm0\n   4:\tvfmadd213ps %ymm2,%ymm1,%ymm0\n   9:\tvaddps %zmm1,%zmm2,%zmm3\n"
            "   f:\tvfnmsub231ss %xmm1,%xmm2,%xmm3\n  13:\tvmovdqu64 %zmm0,(%rdi)\n  19:\tvmovups %xmm0,(%rdi)\n"
            "  1d:\tret\n")
    c = measure.count(dump)
    assert (c.ymm, c.zmm, c.fma, c.wide, c.moves) == (2, 2, 2, 5, 2)   # an xmm move is the baseline's width
    srcs = [f"s{i}" for i in range(10)]
    assert measure.select(srcs, [], None) == srcs
    assert measure.select(srcs, [], 2) == ["s0", "s5"]
    assert measure.select(srcs, ["s9"], 1) == ["s0", "s9"]
    kernels = [f"k/{s}" for s in srcs]   # a sample of one directory only, spread over it
    assert measure.select(srcs + kernels, [], 2, within=["k/*"]) == ["k/s0", "k/s5"]
    assert measure.select(srcs + kernels, [], None, within=["k/s[12]"]) == ["k/s1", "k/s2"]


def test_each_failed_edge_is_named_with_its_first_error_line():
    out = ("[1/3] g++ -c a.cc -o a.o\nFAILED: [code=1] a.o \ng++ -Werror=format -c a.cc -o a.o\nIn file included from a.cc:1:\n"
           "x.h:254:5: error: static assertion failed\nx.h:260:5: error: another\n[2/3] g++ -c b.cc -o b.o\n"
           "FAILED: c.o\ng++ -c c.cc -o c.o\nc.cc:1:2: error: #error no AVX2\n")
    assert measure.failures(out) == {"a.o": "x.h:254:5: error: static assertion failed",
                                     "c.o": "c.cc:1:2: error: #error no AVX2"}


def test_a_source_two_libraries_compile_alike_is_measured_once(tmp_path):
    """libtensorflow's kernels are libtensorflow_cc's too, with the same command line: one measure, in the library
    whose objects the built tree holds (else the smaller library), reported under both; other flags: one each."""
    def lib(name, srcs, flags=("-DX",)):
        return SimpleNamespace(spec=SimpleNamespace(name=name),
                               compiles=[Compile(s, "c++", list(flags), "//:x") for s in srcs])
    big = lib("big", ["k/a.cc", "k/b.cc", "k/c.cc", "util.cc"])
    small = lib("small", ["k/a.cc", "k/b.cc", "k/c.cc"])
    other = lib("other", ["k/a.cc"], flags=("-DY",))
    plan = SimpleNamespace(libraries=[big, small, other], levels=[isa.X86_64_V3])
    todo = measure.units(plan, [], None, ["k/*"])
    assert sorted((u.lib, u.src, u.also) for u in todo) == [
        ("other", "k/a.cc", ()), ("small", "k/a.cc", ("big",)), ("small", "k/b.cc", ("big",)),
        ("small", "k/c.cc", ("big",))]
    held = tmp_path / ninjatree.object_of("generic", "big", "k/b.cc")
    held.parent.mkdir(parents=True)
    held.write_bytes(b"")
    moved = {u.src: u.lib for u in measure.units(plan, [], None, ["k/*"], built=tmp_path) if u.lib != "other"}
    assert moved == {"k/a.cc": "small", "k/b.cc": "big", "k/c.cc": "small"}
    report = measure.report_library("big", [u for u in todo if "big" in u.libs()], ["x86-64-v3"], 16, 4)
    assert report[0].startswith("libbig: 3 of 4 TUs measured")


def test_from_build_counts_a_built_tree_without_compiling(tmp_path):
    """--from-build: the objects ninja built at every level are counted; a TU not built at every level (broken.c
    does not build at v3) is left out of the measure and the report says how many were counted."""
    r = recipe(tmp_path)
    assert run_cli("generate", r, "-o", tmp_path / "out").returncode == 0
    tree = next((tmp_path / "out").glob("levels-*"))
    ninjatree.configure(tree, 2)
    objs = [ninjatree.object_of(level, "levels", src) for level in ("generic", "x86-64-v3")
            for src in ("src/hot.c", "src/cold.c")]
    assert ninjatree.ninja(tree, ninjatree.ninja_file("amd64"), [], 2, objs)[0] == 0
    out = tmp_path / "list"
    proc = run_cli("measure-levels", r, "-o", out, "--from-build", tree)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert listed(out) == ["src/hot.c"]
    assert "liblevels: 2 of 5 TUs measured" in proc.stdout and "compiled" not in proc.stderr
    assert "read 5/5" in proc.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="chroot needs root")
def test_build_in_a_root_builds_the_sample_first_and_counts_a_failure_as_sensitive(tmp_path):
    """--from-build TREE --build-in ROOT: the measured TUs' objects the tree lacks are built by its own ninja file in
    the root (here /, which has ninja and the tree at its own path), then counted; broken.c, which does not build
    at x86-64-v3, is sensitive and named. The objects built before are not built again."""
    r = recipe(tmp_path)
    assert run_cli("generate", r, "-o", tmp_path / "out").returncode == 0
    tree = next((tmp_path / "out").glob("levels-*"))
    ninjatree.configure(tree, 2)
    before = ninjatree.object_of("generic", "levels", "src/hot.c")
    assert ninjatree.ninja(tree, ninjatree.ninja_file("amd64"), [], 2, [before])[0] == 0
    mtime = (tree / before).stat().st_mtime_ns
    out = tmp_path / "list"
    proc = run_cli("measure-levels", r, "-o", out, "--from-build", tree, "--build-in", "/", "--only", "src/hot.c",
                   "--only", "src/cold.c", "--only", "src/broken.c", "-j", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "building 5 objects of the 3 measured TUs in /" in proc.stderr   # 6 less the one built before
    assert "1 edges failed" in proc.stderr and "FAILED: obj-debforge/x86-64-v3/obj/levels/src/broken.c.o" \
        in proc.stderr
    assert (tree / before).stat().st_mtime_ns == mtime
    assert listed(out) == ["src/broken.c", "src/hot.c"]
    assert "liblevels: 3 of 5 TUs measured" in proc.stdout
    assert re.search(r"FAILED src/broken.c at x86-64-v3: .*broken.c:\d+:\d+: error: ", proc.stdout), proc.stdout


def test_build_in_needs_a_root_with_the_tree(tmp_path):
    r = recipe(tmp_path)
    assert run_cli("generate", r, "-o", tmp_path / "out").returncode == 0
    tree = next((tmp_path / "out").glob("levels-*"))
    for args in (["--build-in", "/"], ["--from-build", tree, "--build-in", tmp_path]):
        proc = run_cli("measure-levels", r, "-o", tmp_path / "list", *args)
        assert proc.returncode == 2 and "--build-in ROOT needs --from-build TREE" in proc.stderr, proc.stderr
    assert not (tmp_path / "list").exists()


def test_from_build_needs_a_built_tree(tmp_path):
    r = recipe(tmp_path)
    assert run_cli("generate", r, "-o", tmp_path / "out").returncode == 0
    tree = next((tmp_path / "out").glob("levels-*"))
    proc = run_cli("measure-levels", r, "-o", tmp_path / "list", "--from-build", tree)
    assert proc.returncode == 2 and "holds no translation unit built at every level" in proc.stderr
    proc = run_cli("measure-levels", r, "-o", tmp_path / "list", "--from-build", tmp_path)
    assert proc.returncode == 2 and "not a tree written by debforge generate" in proc.stderr
    assert not (tmp_path / "list").exists()


def test_missing_build_depends_stop_before_compiling(tmp_path, monkeypatch):
    """Without the Build-Depends every compile would fail and count as sensitive: stop and say what to do."""
    monkeypatch.setattr(dpkg, "missing_build_depends", lambda tree: "libnothere-dev")
    with pytest.raises(DebforgeError, match="lacks its Build-Depends: libnothere-dev") as err:
        measure.run(str(recipe(tmp_path)), tmp_path / "list", None, [], 16, 1, lambda msg: None)
    assert "--from-build" in err.value.hint and not (tmp_path / "list").exists()


def test_vector_hot_code_the_recipe_compiles_once_is_flagged(tmp_path):
    """A recipe whose list leaves a hot TU out, or whose package has no variants, is told what it misses."""
    r = fixture_recipe(tmp_path / "levels.yaml", FIXTURES / "levels", "levels", [("levels", "//:levels")],
                       'isa-levels: [x86-64-v3]\nlevel-sensitive: ["src/cold.c"]\n')
    proc = run_cli("measure-levels", r, "-o", tmp_path / "list", "--only", "src/hot.c", "--only", "src/cold.c")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning: the recipe's current level-sensitive list compiles 1 vector-hot TUs once (src/hot.c +" \
        in proc.stdout
    r.write_text(r.read_text().replace("  - name: liblevels1\n", "  - name: liblevels1\n    variants: false\n")
                 .replace('level-sensitive: ["src/cold.c"]\n', ""))
    proc = run_cli("measure-levels", r, "-o", tmp_path / "list", "--only", "src/hot.c")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning: liblevels's package has variants: false, yet 1 of its TUs gain >= 16" in proc.stdout
