"""A library of the recipe that another one links (cc_shared_library's dynamic_deps, named through the filegroup
tf_cc_shared_object makes, or its shared object among a cc_binary's srcs) is linked, and what it holds is not compiled again: one copy of each target, as bazel
builds TensorFlow's libtensorflow_cc over libtensorflow_framework."""

import ctypes
import os
import shutil
import subprocess

from conftest import FIXTURES, configure, fixture_plan, fixture_recipe
from debforge.backends import ninja
from debforge.data import SKEL

TREE = FIXTURES / "dynamicdeps"


def plan_of(tmp_path, tree=TREE):
    return fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "ops",
                                       [("framework", "//:framework"), ("cc", "//:cc"), ("api", "//:api")]))

def test_what_the_linked_library_holds_is_not_compiled_again(tmp_path):
    framework, cc, api = plan_of(tmp_path).libraries
    assert [c.src for c in framework.compiles] == ["registry.cc"]
    assert [c.src for c in cc.compiles] == ["ops.cc", "obj-debforge/gen/tool_saw.cc"]   # :registry_alias linked
    assert cc.siblings == ["framework"]
    # the framework's shared object among a cc_binary's srcs (through a symlink genrule): linked the same way
    assert [c.src for c in api.compiles] == ["api.cc"] and api.siblings == ["framework"]


def test_a_linked_librarys_includes_and_defines_still_apply(tmp_path):
    """brotli's layout: brotlidec links brotlicommon, whose dep brotli_inc strips c/include; brotlidec's own
    sources include <brotli/port.h>, so they need that -I (bazel propagates includes whatever is linked)."""
    tree = tmp_path / "tree"
    (tree / "c/include/brotli").mkdir(parents=True)
    (tree / "WORKSPACE").write_text("")
    (tree / "c/include/brotli/port.h").write_text("#define BROTLI_PORT 1\n")
    (tree / "common.c").write_text("#include <brotli/port.h>\nint common(void) { return BROTLI_PORT; }\n")
    (tree / "dec.c").write_text("#include <brotli/port.h>\nint dec(void) { return BROTLI_PORT + DEC; }\n")
    (tree / "BUILD.bazel").write_text(
        'cc_library(name = "inc", hdrs = ["c/include/brotli/port.h"], strip_include_prefix = "c/include",\n'
        '           defines = ["DEC=1"])\n'
        'cc_library(name = "common", srcs = ["common.c"], deps = [":inc"])\n'
        'cc_library(name = "dec", srcs = ["dec.c"], deps = [":common"])\n')
    common, dec = fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "brotli",
                                              [("common", "//:common"), ("dec", "//:dec")])).libraries
    assert dec.siblings == ["common"] and [c.src for c in dec.compiles] == ["dec.c"]
    assert {"-I", "c/include", "-DDEC=1"} <= set(dec.compiles[0].flags)


def test_the_registration_runs_once(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    plan = plan_of(tmp_path, tree)
    configure(tree, plan.recipe)
    (tree / "build.ninja").write_text(ninja.render(plan))
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    generic = tree / "obj-debforge/generic"
    ctypes.CDLL(str(generic / "libframework.so.1"), mode=os.RTLD_GLOBAL)
    assert ctypes.CDLL(str(generic / "libcc.so.1")).ops_registered() == 1
    assert ctypes.CDLL(str(generic / "libapi.so.1")).api_registered() == 1   # the one registry
    # the generator ran at build time against the framework's generic copy (found through its RUNPATH)
    assert ctypes.CDLL(str(generic / "libcc.so.1")).tool_saw() == 1


def test_a_host_tool_links_the_recipe_library_it_names(tmp_path):
    plan = plan_of(tmp_path)
    [tool] = plan.host_tools
    assert tool.label == "//:gen_tool" and tool.siblings == ["framework"]
    assert [c.src for c in tool.compiles] == ["gen_tool.cc"]   # registry.cc is the framework's
    [step] = [s for s in plan.steps if s.label == "//:gen_tool_saw"]
    assert "obj-debforge/generic/libframework.so" in step.inputs and tool.path in step.inputs


def test_a_library_links_what_its_siblings_link():
    """bazel links every transitive dependency: inline code of a sibling's headers calls the libraries below it."""
    from debforge.plan.libraries import link_transitively
    from debforge.plan.model import SharedLibrary
    from debforge.recipe.model import BinaryPackage, Library

    def lib(name, siblings, ext=()):
        spec = Library(name, f"//:{name}", "1", "1", 1)
        return SharedLibrary(spec, BinaryPackage("libx1", (spec,), False, "", 1), siblings=list(siblings),
                             external_libs=list(ext))
    top, mid, low = lib("top", ["mid"]), lib("mid", ["low"], ["z"]), lib("low", [], ["m"])
    link_transitively([top, mid, low])
    assert top.siblings == ["mid", "low"] and top.external_libs == ["z", "m"]
    assert mid.siblings == ["low"] and low.siblings == []


def test_the_autopkgtest_runs_the_generator_against_the_installed_framework(tmp_path):
    """In the upstream-tests autopkgtest (config.ninja: host_libs = installed) a host tool links the installed
    library and the step that runs it waits for that file: nothing of the library is built; in the build, the
    generic copy is built first."""
    plan = plan_of(tmp_path)
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    (tree / "obj-debforge").mkdir()
    (tree / "build.ninja").write_text(ninja.render(plan))
    config = "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n"

    def commands(extra: str) -> str:
        (tree / "obj-debforge/config.ninja").write_text(config + extra)
        return subprocess.run(["ninja", "-t", "commands", "obj-debforge/gen/tool_saw.cc"], cwd=tree,
                              capture_output=True, text=True, check=True).stdout

    build = commands("")
    assert "obj-debforge/generic/obj/framework/registry.cc.o" in build and "libframework.so.1" in build
    installed = commands(f"host_libs = installed\ninstalled_libdir = {tmp_path}/usr/lib\n")
    assert "registry.cc" not in installed and "-soname" not in installed
    assert "-lframework" in installed and "gen_tool" in installed
    # the step waits for the installed library: ninja names it when it is missing
    proc = subprocess.run(["ninja", "-n", "obj-debforge/gen/tool_saw.cc"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode != 0 and f"'{tmp_path}/usr/lib/libframework.so', needed by 'host-lib-framework-installed'" \
        in proc.stdout + proc.stderr


def test_the_generator_runs_in_a_fresh_tree_against_an_installed_framework(tmp_path):
    """The autopkgtest's case for real: the framework built in one tree and 'installed' (its files copied to a
    library directory), then in a fresh tree the generator is linked against that copy and run; the fresh tree
    compiles nothing of the framework."""
    built = tmp_path / "built"
    shutil.copytree(TREE, built)
    shutil.copytree(SKEL / "debforge", built / "debian/debforge")
    (built / "obj-debforge").mkdir()
    text = ninja.render(plan_of(tmp_path))
    (built / "build.ninja").write_text(text)
    config = "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\n"
    (built / "obj-debforge/config.ninja").write_text(config + "ldflags =\n")
    subprocess.run(["ninja", "obj-debforge/generic/libframework.so"], cwd=built, check=True, capture_output=True)
    libdir = tmp_path / "usr/lib"
    libdir.mkdir(parents=True)
    for f in ("libframework.so", "libframework.so.1"):
        shutil.copy(built / "obj-debforge/generic" / f, libdir / f, follow_symlinks=True)
    fresh = tmp_path / "fresh"
    shutil.copytree(TREE, fresh)
    (fresh / "obj-debforge").mkdir()
    (fresh / "build.ninja").write_text(text)
    (fresh / "obj-debforge/config.ninja").write_text(
        config + f"ldflags = -L{libdir}\nhost_libs = installed\ninstalled_libdir = {libdir}\n")
    proc = subprocess.run(["ninja", "-v", "obj-debforge/gen/tool_saw.cc"], cwd=fresh, capture_output=True, text=True,
                          env={**os.environ, "LD_LIBRARY_PATH": str(libdir)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "registry.cc" not in proc.stdout and not (fresh / "obj-debforge/generic").exists()
    assert (fresh / "obj-debforge/gen/tool_saw.cc").read_text() == 'extern "C" int tool_saw() { return 1; }\n'


def test_what_the_linked_librarys_version_script_hides_is_linked_from_its_objects(tmp_path):
    """TF's libtensorflow_framework hides *mlir* (its version script), and libtensorflow's own code calls TF's MLIR
    dialect, which the framework holds: upstream's bazel compiles it into both. Here the dependent library links
    an archive of its sibling's objects after the sibling's .so, and ld takes from it only the object that defines
    the hidden function: not the one with a registration (a constructor), whose symbols the .so exports."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "WORKSPACE").write_text("")
    (tree / "fw.c").write_text("int fw_hidden(void) { return 41; }\nint fw_public(void) { return fw_hidden() + 1; }\n")
    (tree / "reg.c").write_text("int fw_registered;\n__attribute__((constructor)) static void reg(void) "
                                "{ fw_registered++; }\n")
    (tree / "fw.lds").write_text("{ global: fw_public; fw_registered; local: *; };\n")
    (tree / "api.c").write_text("int fw_hidden(void);\nint fw_public(void);\nextern int fw_registered;\n"
                                "int api(void) { return fw_hidden() + fw_public() + fw_registered; }\n")
    (tree / "BUILD.bazel").write_text(
        'cc_library(name = "fwlib", srcs = ["fw.c", "reg.c"])\n'
        'cc_binary(name = "libfw.so", linkshared = 1, deps = [":fwlib", "fw.lds"],\n'
        '          linkopts = ["-Wl,--version-script,$(location :fw.lds)"])\n'
        'cc_library(name = "apilib", srcs = ["api.c"], deps = [":fwlib"])\n'
        'cc_binary(name = "libapi.so", linkshared = 1, srcs = [":libfw.so"], deps = [":apilib"])\n')
    plan = fixture_plan(fixture_recipe(tmp_path / "fixture.yaml", tree, "fw", [("fw", "//:libfw.so"),
                                                                               ("api", "//:libapi.so")]))
    fw, api = plan.libraries
    assert api.siblings == ["fw"] and [c.src for c in api.compiles] == ["api.c"]
    configure(tree, plan.recipe)
    (tree / "build.ninja").write_text(ninja.render(plan))
    proc = subprocess.run(["ninja", "generic"], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    generic = tree / "obj-debforge/generic"
    defined = subprocess.run(["nm", "--defined-only", generic / "libapi.so.1"], capture_output=True, text=True,
                             check=True).stdout.split()
    assert "fw_hidden" in defined and "fw_registered" not in defined and "reg" not in defined
    ctypes.CDLL(str(generic / "libfw.so.1"), mode=os.RTLD_GLOBAL)
    assert ctypes.CDLL(str(generic / "libapi.so.1")).api() == 41 + 42 + 1   # the registration ran once
