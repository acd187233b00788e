"""Property-based tests: whatever recipe or BUILD file comes in, debforge answers with its result or a clean error
that names a file (exit 2), never a traceback."""

import contextlib
import io
import posixpath
import re
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from debforge import cli
from debforge.core import confine, labels
from debforge.core.globs import compile_pattern
from debforge.graph import file_path

CATALOGUE = FIXTURES / "catalogue"
BASE = yaml.safe_load((CATALOGUE / "recipe.yaml").read_text())
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOCATED = re.compile(r"^\S.*?(:\d+)?: error: ", re.M)   # "file[:line]: error: ..."

scalars = st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats(allow_nan=False) | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) |
                      st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _generate(recipe: str, build: str | None = None) -> tuple[int, str]:
    """`debforge generate --diff` in this process, on a copy of the catalogue tree (BUILD replaced if given)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp, "tree")
        shutil.copytree(CATALOGUE / "tree", tree)
        if build is not None:
            (tree / "BUILD").write_text(build)
        Path(tmp, "recipe.yaml").write_text(recipe)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["generate", str(Path(tmp, "recipe.yaml")), "--source", str(tree), "--diff"])
        return rc, err.getvalue()


def _clean(rc: int, stderr: str) -> None:
    assert rc in (0, 2), stderr
    if rc == 2:
        assert LOCATED.search(stderr) and stderr.count(": error: ") == 1, stderr


def _paths(node, prefix=()):
    """Every key path of a nested recipe, for mutations."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = list(_paths(BASE))[1:]


@st.composite
def mutated_recipes(draw):
    recipe = yaml.safe_load(yaml.safe_dump(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = recipe
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        except (KeyError, IndexError, TypeError):
            pass   # an earlier mutation removed or retyped this path
    return yaml.safe_dump(recipe)


@SETTINGS
@given(mutated_recipes())
def test_mutated_recipes_give_clean_errors(recipe):
    _clean(*_generate(recipe))


@SETTINGS
@given(st.text(alphabet="ab1:-[]{}&*!|>'\"\n\t #%@`,?.\\/", max_size=80))
def test_yaml_noise_gives_clean_errors(text):
    _clean(*_generate(text))


# BUILD snippets: rules and calls with attribute values both plausible and hostile
strings = st.sampled_from(["tiny.c", "src/tiny.c", "include", "../x.c", "/etc/passwd", "", ":tiny", "//:tiny",
                           "@ext//:x", "//nopkg:x", "-I/usr/include", "-Iinclude", "*", "**", "src/**", "a**",
                           "..", ":a", ":b", "//conditions:default", "@platforms//os:linux", "-DX=1"]) | \
    st.text(alphabet="abc./:@*-_ ", max_size=10)


def literal(draw, depth=0):
    kind = draw(st.sampled_from(["str", "int", "none", "bool", "list", "dict", "select", "glob"] if depth < 2
                                else ["str", "int", "none"]))
    if kind == "str":
        return repr(draw(strings))
    if kind == "int":
        return str(draw(st.integers(-5, 10**12)))
    if kind == "none":
        return "None"
    if kind == "bool":
        return draw(st.sampled_from(["True", "False"]))
    if kind == "list":
        return "[" + ", ".join(literal(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{repr(draw(strings))}: {literal(draw, depth + 1)}"
                               for _ in range(draw(st.integers(0, 2)))) + "}"
    if kind == "select":
        return "select({" + ", ".join(f"{repr(draw(strings))}: {literal(draw, depth + 1)}"
                                      for _ in range(draw(st.integers(0, 2)))) + "})"
    return f"glob([{repr(draw(strings))}])"


@st.composite
def build_files(draw):
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        rule = draw(st.sampled_from(["cc_library", "filegroup", "alias", "config_setting", "genrule",
                                     "cc_binary", "load", "raw"]))
        if rule == "load":
            lines.append(f"load({draw(strings)!r}, {draw(st.sampled_from(['x', 'cc_library']))!r})")
        elif rule == "raw":
            lines.append(draw(st.text(alphabet="abc()[]{}=:,.'\"\n #*+-01", max_size=30)))
        else:
            name = draw(st.sampled_from(['"tiny"', '"a"', '"b"', "5", '""', '"../x"']))
            attrs = draw(st.lists(st.sampled_from(["srcs", "hdrs", "deps", "includes", "copts", "defines",
                                                   "strip_include_prefix", "actual", "values", "linkopts",
                                                   "outs", "cmd"]), max_size=4, unique=True))
            lines.append(f"{rule}(name = {name}" + "".join(f", {a} = {literal(draw)}" for a in attrs) + ")")
    return "\n".join(lines) + "\n"


@SETTINGS
@given(build_files())
def test_build_snippets_give_clean_errors(build):
    _clean(*_generate((CATALOGUE / "recipe.yaml").read_text(), build))


# The confinement primitives themselves, on arbitrary text
path_text = st.text(alphabet="ab./*:@", max_size=16)


@settings(max_examples=300, deadline=None)
@given(path_text)
def test_inside_never_leaves_the_tree(path):
    norm = confine.inside(path)
    if norm is not None:
        assert posixpath.normpath(posixpath.join("/tree", norm)).startswith("/tree")


@settings(max_examples=300, deadline=None)
@given(path_text, st.sampled_from(["", "pkg", "a/b"]))
def test_labels_stay_in_the_tree(text, pkg):
    try:
        label = labels.absolute(text, "", pkg)
    except ValueError:
        return
    if not label.startswith("@"):
        assert confine.inside(file_path(label)) is not None


@settings(max_examples=300, deadline=None)
@given(path_text)
def test_accepted_glob_patterns_stay_in_the_package(pattern):
    try:
        compile_pattern(pattern)
    except ValueError:
        return
    assert confine.inside(pattern) is not None
