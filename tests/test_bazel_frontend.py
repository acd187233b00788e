"""The bazel frontend's semantics on small hand-written trees: select() against the Debian configuration,
config_setting(_group), Label(), macros and rule(), external repositories (stand-ins, recipe files, stubs), and the
select()/load cycles that eager resolution meets in TensorFlow."""

import pytest

from debforge.core.errors import DebforgeError
from debforge.core.globs import compile_pattern
from debforge.core.labels import absolute
from debforge.frontends.bazel.evaluate import Workspace
from debforge.frontends.bazel.select import DebianConfig
from debforge.graph import ScanView
from debforge.recipe.model import Config, RepoFile


def tree(root, files, arch="amd64", config=Config(), repo_files=None):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return Workspace(root, DebianConfig.for_arch(arch, config), repo_files=repo_files)


def attrs(ws, label):
    return ws.target(label).attrs


SELECTS = '''
config_setting(name = "gcc", flag_values = {"@bazel_tools//tools/cpp:compiler": "gcc"})
config_setting(name = "k8", values = {"cpu": "k8"})
config_setting(name = "k8_gcc", values = {"cpu": "k8"}, flag_values = {"@bazel_tools//tools/cpp:compiler": "gcc"})
config_setting(name = "feature", define_values = {"feature": "on"})
cc_library(
    name = "lib",
    srcs = ["a.c"] + select({
        "@platforms//cpu:x86_64": ["x86.c"],
        "@platforms//cpu:aarch64": ["arm.c"],
        "//conditions:default": ["other.c"],
    }),
    copts = select({":gcc": ["-DGCC"], "//conditions:default": []}) + select({
        ":k8": ["-DK8"], ":k8_gcc": ["-DK8_GCC"], "//conditions:default": [],
    }),
    defines = select({":feature": ["FEATURE"], "//conditions:default": []}),
)
'''


@pytest.mark.parametrize("arch,src", [("amd64", "//:x86.c"), ("arm64", "//:arm.c"), ("s390x", "//:other.c")])
def test_select_follows_the_architecture(tmp_path, arch, src):
    ws = tree(tmp_path, {"BUILD": SELECTS}, arch=arch)
    assert attrs(ws, "//:lib")["srcs"] == ["//:a.c", src]


def test_select_prefers_the_most_specialised_setting_and_reads_recipe_defines(tmp_path):
    ws = tree(tmp_path, {"BUILD": SELECTS}, config=Config(define_values={"feature": "on"}))
    assert attrs(ws, "//:lib")["copts"] == ["-DGCC", "-DK8_GCC"]
    assert attrs(ws, "//:lib")["defines"] == ["FEATURE"]


def test_select_without_match_or_default_names_the_line(tmp_path):
    ws = tree(tmp_path, {"BUILD": 'x = 1\ncc_library(name = "l", srcs = select({"@platforms//os:windows": ["w.c"]}))\n'})
    with pytest.raises(DebforgeError) as info:
        ws.evaluate_package("")
    assert info.value.file == "BUILD" and info.value.line == 2
    assert "no condition matches" in info.value.message


def test_ambiguous_select_is_an_error(tmp_path):
    ws = tree(tmp_path, {"BUILD": '''
config_setting(name = "a", values = {"cpu": "k8"})
config_setting(name = "b", values = {"compilation_mode": "opt"})
cc_library(name = "l", srcs = select({":a": ["a.c"], ":b": ["b.c"]}))
'''})
    with pytest.raises(DebforgeError, match="all match with different values"):
        ws.evaluate_package("")


def test_select_values_may_hold_anything_starlark_has(tmp_path):
    """Values never cross into Python: a struct holding a function is a fine select() value."""
    ws = tree(tmp_path, {"BUILD": '''
def pick():
    return select({"//conditions:default": struct(f = lambda: ["x.c"])})
cc_library(name = "l", srcs = pick().f())
'''})
    assert attrs(ws, "//:l")["srcs"] == ["//:x.c"]


def test_config_setting_group_and_bool_flag_defaults(tmp_path):
    ws = tree(tmp_path, {"BUILD": '''
load("@bazel_skylib//lib:selects.bzl", "selects")
load("@bazel_skylib//rules:common_settings.bzl", "bool_flag")
bool_flag(name = "fast", build_setting_default = True)
config_setting(name = "is_fast", flag_values = {":fast": "True"})
config_setting(name = "windows", values = {"cpu": "x64_windows"})
selects.config_setting_group(name = "fast_or_windows", match_any = [":is_fast", ":windows"])
selects.config_setting_group(name = "fast_and_windows", match_all = [":is_fast", ":windows"])
cc_library(name = "any", srcs = select({":fast_or_windows": ["yes.c"], "//conditions:default": ["no.c"]}))
cc_library(name = "all", srcs = select({":fast_and_windows": ["yes.c"], "//conditions:default": ["no.c"]}))
'''})
    assert attrs(ws, "//:any")["srcs"] == ["//:yes.c"]
    assert attrs(ws, "//:all")["srcs"] == ["//:no.c"]


def test_flag_is_the_config_value_else_the_default_as_bazel_reads_it(tmp_path):
    ws = tree(tmp_path, {"BUILD": '''
load("@bazel_skylib//rules:common_settings.bzl", "bool_flag", "string_flag")
bool_flag(name = "on", build_setting_default = True)
bool_flag(name = "off", build_setting_default = False)
string_flag(name = "mode", build_setting_default = "fast")
bool_flag(name = "set", build_setting_default = False)
config_setting(name = "is_set", flag_values = {":set": "1"})
cc_library(name = "l", srcs = select({":is_set": ["yes.c"], "//conditions:default": ["no.c"]}))
'''}, config=Config(flag_values={"//:set": "True", "//:given": "0"}))
    assert isinstance(ws, ScanView)
    assert [ws.flag(f"//:{n}") for n in ("on", "off", "mode", "set", "given", "none")] == \
        ["true", "false", "fast", "true", "false", None]
    assert ws.flag("@other//:x") is None
    assert attrs(ws, "//:l")["srcs"] == ["//:yes.c"]


def test_macros_rules_and_labels(tmp_path):
    ws = tree(tmp_path, {
        "defs.bzl": '''
def _impl(ctx):
    pass

my_rule = rule(implementation = _impl, attrs = {"srcs": attr.label_list()})

def lib(name, **kwargs):
    native.cc_library(name = name, copts = ["-I" + Label("//" + native.package_name() + ":x").package],
                      deps = [Label("//dep:d")], **kwargs)
''',
        "pkg/BUILD": 'load("//:defs.bzl", "lib", "my_rule")\nlib(name = "l", srcs = ["l.c"])\n'
                     'my_rule(name = "r", srcs = [":l.c"], data = depset(["f"]))\n',
        "BUILD": "",
    })
    assert attrs(ws, "//pkg:l") == {"copts": ["-Ipkg"], "deps": ["//dep:d"], "srcs": ["//pkg:l.c"]}
    r = ws.target("//pkg:r")
    assert (r.kind, r.location, r.attrs["data"]) == ("my_rule", "pkg/BUILD:3", ["//pkg:f"])


def test_str_of_a_label_is_the_label(tmp_path):
    """TF's clean_dep is str(Label(x)): it must come back as a label, also as a select() key."""
    ws = tree(tmp_path, {"BUILD": '''
config_setting(name = "k8", values = {"cpu": "k8"})
cc_library(name = "l", srcs = select({str(Label("//:k8")): ["k8.c"], "//conditions:default": []}),
           deps = [str(Label("@other//x:y"))])
# TF's tf_deps(): a label without ':' gets ':' + its last path piece, then a suffix
cc_library(name = "m", deps = [(d if ":" in d else d + ":" + d.split("/")[-1]) + "_cc"
                               for d in [str(Label("//x/core:all"))]])
'''})
    assert attrs(ws, "//:l") == {"srcs": ["//:k8.c"], "deps": ["@other//x:y"]}
    assert attrs(ws, "//:m") == {"deps": ["//x/core:all_cc"]}


def test_upstream_repository_name_means_the_tree(tmp_path):
    ws = tree(tmp_path, {"WORKSPACE": 'workspace(name = "org_upstream")\n',
                         "BUILD": 'config_setting(name = "k8", values = {"cpu": "k8"})\n'
                                  'load("@org_upstream//:defs.bzl", "X")\n'
                                  'cc_library(name = "l", srcs = X + select({"@org_upstream//:k8": ["k.c"]}))\n',
                         "defs.bzl": 'X = ["x.c"]\n'})
    assert attrs(ws, "//:l")["srcs"] == ["//:x.c", "//:k.c"]


def test_external_loads_stand_ins_recipe_files_and_stubs(tmp_path):
    files = {
        "third_party/defs.bzl.tpl": "def if_gpu(a, b = []):\n    return a if %{gpu} else b\n",
        "BUILD": '''
load("@rules_cc//cc:defs.bzl", "cc_library")
load("@bazel_skylib//lib:paths.bzl", "paths")
load("@local_config_gpu//:defs.bzl", "if_gpu")
load("@somewhere//:rules.bzl", "fancy_rule", "helper")
cc_library(name = "l", srcs = [paths.join("src", "a.c")] + if_gpu(["gpu.c"], ["cpu.c"]))
fancy_rule(name = "f", srcs = ["x"])
helper("not a target")
''',
    }
    ws = tree(tmp_path, files, repo_files={
        "@local_config_gpu//:defs.bzl": RepoFile("third_party/defs.bzl.tpl", {"%{gpu}": "False"}, 1)})
    ws.evaluate_package("")
    assert attrs(ws, "//:l")["srcs"] == ["//:src/a.c", "//:cpu.c"]
    assert ws.target("//:f").kind == "@somewhere//:rules.bzl%fancy_rule"
    assert ws.graph.external_loads == {"@somewhere//:rules.bzl": ["fancy_rule", "helper"]}


def test_rules_cc_compiler_settings(tmp_path):
    """abseil 2026 picks its copts with rules_cc's compiler settings: GCC's, not the empty default."""
    ws = tree(tmp_path, {"BUILD": 'cc_library(name = "l", copts = select({"@rules_cc//cc/compiler:clang": ["-DLLVM"], '
                                  '"@rules_cc//cc/compiler:gcc": ["-DGCC"], "//conditions:default": []}))\n'})
    assert attrs(ws, "//:l")["copts"] == ["-DGCC"]


def test_condition_in_a_package_the_tree_lacks_does_not_match(tmp_path):
    ws = tree(tmp_path, {"BUILD": 'cc_library(name = "l", srcs = select({"//tools/cpp:asan": ["a.c"], '
                                  '"//conditions:default": ["b.c"]}))\n'})
    assert attrs(ws, "//:l")["srcs"] == ["//:b.c"]
    assert ws.graph.unknown_conditions == {"//tools/cpp:asan": 1}


def test_condition_naming_a_missing_setting_in_an_existing_package_is_an_error(tmp_path):
    ws = tree(tmp_path, {"BUILD": 'cc_library(name = "l", srcs = select({"//sub:nope": ["a.c"], '
                                  '"//conditions:default": []}))\n', "sub/BUILD": ""})
    with pytest.raises(DebforgeError, match="names no config_setting"):
        ws.evaluate_package("")


def test_relative_condition_of_a_bzl_top_level_select_the_loading_package_lacks_does_not_match(tmp_path):
    """As abseil's configure_copts.bzl: a global select()s on ":cpu_k8", which bazel resolves lazily in the
    package of the rule using it; every package loads the file, one declares the setting."""
    ws = tree(tmp_path, {"copts.bzl": 'RANDEN = select({":cpu_k8": ["-maes"], "//conditions:default": []})\n',
                         "BUILD": "", "a/BUILD": 'load("//:copts.bzl", "RANDEN")\ncc_library(name = "l", copts = RANDEN)\n'})
    assert attrs(ws, "//a:l")["copts"] == []
    assert ws.graph.unknown_conditions == {"//a:cpu_k8": 1}


def test_relative_condition_in_a_build_file_naming_no_setting_is_still_an_error(tmp_path):
    ws = tree(tmp_path, {"BUILD": 'cc_library(name = "l", copts = select({":k8": ["-x"], "//conditions:default": []}))\n'})
    with pytest.raises(DebforgeError, match="names no config_setting"):
        ws.evaluate_package("")


def test_select_load_cycle_is_broken_by_reading_literal_settings(tmp_path):
    """As in TensorFlow: pkg/BUILD loads rules.bzl, whose top-level code select()s on a config_setting of pkg,
    using a helper of rules.bzl itself. bazel's select() is lazy and never meets this; debforge reads pkg's
    config_setting calls with the functions of rules.bzl and resolves the condition."""
    ws = tree(tmp_path, {
        "BUILD": "",
        "pkg/rules.bzl": '''
def if_oss(a, b):
    return a

def copts():
    return select({"//pkg:windows": ["/W4"], "//conditions:default": ["-Wall"]})

DEFAULT_COPTS = copts()

def lib(name, **kwargs):
    native.cc_library(name = name, copts = DEFAULT_COPTS, **kwargs)
''',
        "pkg/BUILD": '''
load(":rules.bzl", "if_oss", "lib")
config_setting(name = "windows", values = if_oss({"cpu": "x64_windows"}, {}))
lib(name = "l", srcs = ["l.c"])
''',
    })
    assert attrs(ws, "//pkg:l")["copts"] == ["-Wall"]
    assert ws.target("//pkg:windows").kind == "config_setting"


def test_a_true_load_cycle_is_reported(tmp_path):
    ws = tree(tmp_path, {"BUILD": 'load("//:a.bzl", "x")\n', "a.bzl": 'load("//:b.bzl", "y")\nx = 1\n',
                         "b.bzl": 'load("//:a.bzl", "x")\ny = 2\n'})
    with pytest.raises(DebforgeError, match="load cycle: //:a.bzl -> //:b.bzl -> //:a.bzl"):
        ws.evaluate_package("")


def test_a_loaded_file_that_does_not_parse_is_located_there(tmp_path):
    ws = tree(tmp_path, {"BUILD": "\nload('src/tiny.c', 'x')\n", "src/tiny.c": "int\nmain\nint tiny(void);\n"})
    with pytest.raises(DebforgeError) as e:
        ws.evaluate_package("")
    assert (e.value.file, e.value.line) == ("src/tiny.c", 3)
    assert str(e.value.message).startswith("Parse error: unexpected identifier 'tiny'")
    assert e.value.message.endswith(" (called from BUILD:2)") and ": error: " not in e.value.message


def test_a_failed_package_leaves_no_targets_behind(tmp_path):
    ws = tree(tmp_path, {"BUILD": 'cc_library(name = "early", srcs = ["a.c"])\nfail("broken")\n'})
    with pytest.raises(DebforgeError, match="broken"):
        ws.evaluate_package("")
    assert ws.graph.targets == {} and ws.graph.packages == {}
    with pytest.raises(DebforgeError, match="broken"):   # asked again, the same error, not a half package
        ws.target("//:early")


@pytest.mark.parametrize("pattern,yes,no", [
    ("*.c", ["a.c"], ["sub/a.c", "a.h"]),
    ("**/*.c", ["a.c", "sub/a.c", "s/t/a.c"], ["a.h"]),
    ("sub/**", ["sub/a", "sub/b/c"], ["a", "subx/a"]),
    ("a?.h", ["ab.h"], ["abc.h"]),
])
def test_glob_patterns(pattern, yes, no):
    regex = compile_pattern(pattern)
    assert all(regex.match(p) for p in yes) and not any(regex.match(p) for p in no)


@pytest.mark.parametrize("label,expected", [
    ("x", "//pkg:x"), (":x", "//pkg:x"), ("//a/b", "//a/b:b"), ("//a:b/c.h", "//a:b/c.h"),
    ("@r//a:b", "@r//a:b"), ("@r", "@r//:r"), ("@//a:b", "//a:b"),
])
def test_labels(label, expected):
    assert absolute(label, "", "pkg") == expected


@pytest.mark.parametrize("label", ["//../x:y", "//a:../b", "", "//a:/etc/passwd"])
def test_labels_stay_in_the_tree(label):
    with pytest.raises(ValueError):
        absolute(label, "", "pkg")
