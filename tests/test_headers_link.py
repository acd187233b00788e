"""debian/tests/c-headers-link: every function the -dev package's C headers declare links against the installed
libraries (a user's C program calling it would fail to link otherwise). Run here on the fixture's libraries built
with gcc, the generated script pointed at a staged /usr/include and the generated .pc files."""

import os
import shutil
import subprocess

import pytest
from debian.deb822 import Deb822

from conftest import FIXTURES, fixture_plan, fixture_recipe
from debforge.backends import debian
from debforge.backends.debian import tests as debian_tests
from debforge.backends.debian.common import SCRIPTS
from debforge.core.errors import DebforgeError
from debforge.recipe.schema import load_recipe

LIBS = [("calc", "//:calc"), ("core", "//:core")]
EXTRA_H = """\
#ifdef __cplusplus
extern "C" {
#endif
int calc_twice(int a);
static inline int calc_thrice(int a) { return 3 * a; }   /* defined here: nothing to link */
int calc_thrice(int a);                                 /* declared again, still the inline one */
void calc_reset(void);                                  /* no library defines it */
#ifdef __cplusplus
}
#endif
"""
CXX_H = "namespace calc { int twice(int a); }\n"   # a C++ header: not C, not checked
INTERNAL_H = "int calc_internal(int a);\n"   # parses as C, but a C++ library defines it: C++ linkage, not checked
INTERNAL_CC = '#include "internal.h"\nint calc_internal(int a) { return a; }\n'


def staged(tmp_path, headers, dev_tail=""):
    """The fixture tree with `headers` (name -> text) added, its generated debian/ files, and the script of the
    test pointed at the headers staged under tmp_path/include: (files, script path, environment)."""
    tree = tmp_path / "tree"
    tmp_path.mkdir(exist_ok=True)
    shutil.copytree(FIXTURES / "testsuite", tree)
    (tree / "check.h").unlink()   # the tests' helper, which no library defines
    for name, text in headers.items():
        (tree / name).write_text(text)
    path = fixture_recipe(tmp_path / "r.yaml", tree, "calc", LIBS,
                          "  headers:\n    - {files: '*.h', to: calc}\n" + dev_tail)
    r = load_recipe(path)
    files = debian.render(r, {"amd64": fixture_plan(r)}, tree, 0)
    include, lib, pc = (tmp_path / d for d in ("include", "lib", "pkgconfig"))
    (include / "calc").mkdir(parents=True)
    lib.mkdir()
    pc.mkdir()
    for h in tree.glob("*.h"):
        shutil.copy(h, include / "calc")
    for name, (text, _) in files.items():
        if name.startswith("debforge/pkgconfig/"):
            (pc / os.path.basename(name)).write_text(text)
    objs = [tree / "core.c"]
    if "internal.h" in headers:   # libcore holds a C++ function too
        (tree / "internal.cc").write_text(INTERNAL_CC)
        subprocess.run(["g++", "-c", "-fPIC", "-I", tree, "-o", tmp_path / "internal.o", tree / "internal.cc"],
                       check=True)
        objs.append(tmp_path / "internal.o")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib / "libcore.so", *objs], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib / "libcalc.so", tree / "calc.c", "-L", lib, "-lcore"],
                   check=True)
    script = tmp_path / "c-headers-link"
    script.write_text(files["tests/c-headers-link"][0].replace("/usr/include/", f"{include}/"))
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc), LIBRARY_PATH=str(lib), LD_LIBRARY_PATH=str(lib),
               AUTOPKGTEST_TMP=str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    return files, script, env


def run(script, env):
    return subprocess.run(["sh", script], capture_output=True, text=True, env=env)


def test_the_declared_functions_link_and_cxx_headers_are_counted_apart(tmp_path):
    files, script, env = staged(tmp_path, {"extra.h": EXTRA_H.replace("void calc_reset(void);", ""),
                                           "calcxx.h": CXX_H})
    stanzas = {s["Tests"]: s for s in Deb822.iter_paragraphs(files["tests/control"][0])}
    assert stanzas["c-headers-link"]["Restrictions"] == "skippable"
    assert {"libcalc-dev", "pkgconf", "build-essential"} <= {d.strip() for d in
                                                             stanzas["c-headers-link"]["Depends"].split(",")}
    assert 'modules="calc core"' in files["tests/c-headers-link"][0]
    done = run(script, env)
    assert done.returncode == 0, done.stdout + done.stderr
    # calc.h, core.h, extra.h as C, calcxx.h not; calc_twice and calc_core_add declared twice, the inline one
    # defined: 2 functions
    assert "3 headers compile as C, 1 do not (C++ headers)" in done.stdout
    assert "2 functions declared" in done.stdout
    assert "ok: each of the 2 functions with C linkage links and binds" in done.stdout


def test_a_declared_function_no_library_defines_fails_at_its_header_line(tmp_path):
    _, script, env = staged(tmp_path, {"extra.h": EXTRA_H})
    done = run(script, env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL: {tmp_path}/include/calc/extra.h:7: calc_reset is declared there, and no library of calc core " \
           "defines it" in done.stdout
    assert "calc_twice" not in done.stdout.split("FAIL")[1]


def test_functions_with_cxx_linkage_are_named_and_not_checked(tmp_path):
    _, script, env = staged(tmp_path, {"internal.h": INTERNAL_H})
    done = run(script, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'not checked: C++ linkage (no extern "C"): calc_internal' in done.stdout
    assert "ok: each of the 2 functions with C linkage links and binds" in done.stdout
    # a missing function is still one, beside a function with C++ linkage
    _, script, env = staged(tmp_path / "missing", {"internal.h": INTERNAL_H, "extra.h": EXTRA_H})
    done = run(script, env)
    assert done.returncode == 1 and "calc_reset is declared there" in done.stdout, done.stdout + done.stderr
    assert "calc_internal" not in done.stdout


def test_unlinked_headers_are_named_and_not_checked(tmp_path):
    _, script, env = staged(tmp_path, {"extra.h": EXTRA_H},
                            "  unlinked-headers:\n    extra*.h: calc_reset is the Python bindings'\n")
    done = run(script, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"not checked: {tmp_path}/include/calc/extra.h (dev.unlinked-headers)" in done.stdout
    assert "2 headers compile as C" in done.stdout and "2 functions declared" in done.stdout


@pytest.mark.parametrize("entry, message, line", [
    ("  unlinked-headers:\n    nothing*.h: why\n", "dev.unlinked-headers 'nothing*.h' matches no header", 24),
    ("  unlinked-headers: [core.h]\n", "dev.unlinked-headers must be a mapping of header glob -> reason", 23),
    ("  unlinked-headers:\n    ../core.h: why\n", "must be a relative path inside the tree", 24),
    ("  unlinked-headers:\n    core.h: \"\"\n", "the reason for dev.unlinked-headers 'core.h'", 24),
])
def test_bad_unlinked_headers_are_errors_at_their_line(tmp_path, entry, message, line):
    with pytest.raises(DebforgeError) as exc:
        staged(tmp_path, {}, entry)
    assert message in str(exc.value) and exc.value.line == line, (str(exc.value), exc.value.line)


def test_only_cxx_headers_skip(tmp_path):
    _, script, env = staged(tmp_path, {})
    for h in (tmp_path / "include/calc").glob("*.h"):
        h.write_text(CXX_H)
    done = run(script, env)
    assert done.returncode == 77 and "nothing to check" in done.stdout, done.stdout + done.stderr


def test_headers_and_modules_of_profiled_packages_are_left_out(tmp_path):
    path = fixture_recipe(tmp_path / "r.yaml", FIXTURES / "testsuite", "calc", LIBS,
                          "  headers:\n    - {files: '*.h', to: calc}\n")
    script = debian_tests.headers_script(load_recipe(path), SCRIPTS, [
        ("calc.h", "usr/include/calc", ""), ("cc.h", "usr/include/calc/cc", "<pkg.calc.cc>"),
        ("core.h", "usr/include", "<!nocheck>")], [("calc", ""), ("calc_cc", "<pkg.calc.cc>")])
    assert "/usr/include/calc/calc.h\n/usr/include/core.h\nEOF" in script and "cc.h" not in script
    assert 'modules="calc"' in script
