"""debian/debforge/check-identities, run on each library's generic link: a library that keeps its own copy of a
function-local static (or its guard) that a library it loads exports is refused; a template's static data member
is not checked (its name does not say what it is). Built here with gcc: the copy is real (the program
sees two counters), the check names it, and the same library without the version script passes."""

import subprocess

from conftest import ROOT

SCRIPT = ROOT / "debforge/data/skel/debforge/check-identities"
# statics with a dynamic initializer have guard variables too
HEADER = """#include <cstdlib>
inline int *counter() { static int c = std::atoi("0"); return &c; }
template <class T> struct Reg { static int n; };
template <class T> int Reg<T>::n = std::atoi("0");
int dep_zero();
"""


def build(tmp_path, hidden: bool, header: str = HEADER):
    (tmp_path / "counter.h").write_text(header)
    (tmp_path / "dep.cc").write_text('#include "counter.h"\nint dep_zero() { return 0; }\n'
                                     'int dep_bump() { return ++*counter() + ++Reg<int>::n; }\n')
    (tmp_path / "user.cc").write_text('#include "counter.h"\n'
                                      'int user_bump() { return ++*counter() + dep_zero() + 0 * Reg<int>::n; }\n')
    (tmp_path / "user.lds").write_text("{ global: _Z9user_bumpv; local: *; };\n")
    (tmp_path / "main.cc").write_text("#include <cstdio>\nint dep_bump(); int user_bump();\n"
                                      'int main() { dep_bump(); std::printf("%d\\n", user_bump()); }\n')
    cc = ["g++", "-O1", "-fPIC", "-shared", "-o"]
    subprocess.run([*cc, tmp_path / "libdep.so", tmp_path / "dep.cc"], check=True)
    subprocess.run([*cc, tmp_path / "libuser.so", tmp_path / "user.cc", "-L", tmp_path, "-ldep",
                    *[f"-Wl,--version-script={tmp_path / 'user.lds'}"] * hidden], check=True)
    subprocess.run(["g++", "-o", tmp_path / "main", tmp_path / "main.cc", "-L", tmp_path, "-luser", "-ldep",
                    f"-Wl,-rpath,{tmp_path}"], check=True)
    shared = subprocess.run([tmp_path / "main"], capture_output=True, text=True, check=True).stdout.strip()
    check = subprocess.run(["sh", SCRIPT, tmp_path / "libuser.so"], capture_output=True, text=True,
                           env={"LD_LIBRARY_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    return shared, check


def test_a_hidden_copy_of_a_static_the_dependency_exports_is_refused(tmp_path):
    shared, check = build(tmp_path, hidden=True)
    assert shared == "1"   # two counters: libuser's hidden copy and libdep's
    assert check.returncode == 1
    assert "libuser.so keeps its own copy of 2 function-local statics that libdep.so exports" in check.stderr
    assert "  counter()::c\n" in check.stderr and "guard variable for counter()::c" in check.stderr
    assert "Reg<int>::n" not in check.stderr
    assert "hint: " in check.stderr


def test_an_exported_static_is_one_object_and_passes(tmp_path):
    shared, check = build(tmp_path, hidden=False)
    assert shared == "2"
    assert check.returncode == 0, check.stderr


def test_libstdcxx_statics_are_left_out(tmp_path):
    """std::'s are libstdc++'s, written to tolerate a copy per library (std::_Sp_make_shared_tag::_S_ti()::__tag
    has an RTTI fallback): libLLVM and libz3 export some that TensorFlow's C API library hides."""
    header = HEADER.replace("inline int *counter() {", "namespace std { inline int *counter() {").replace(
        "return &c; }", "return &c; } }\nusing std::counter;")
    shared, check = build(tmp_path, hidden=True, header=header)
    assert shared == "1"   # split, as above
    assert check.returncode == 0, check.stderr
