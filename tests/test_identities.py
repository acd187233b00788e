"""debian/debforge/check-identities, run on each library's generic link: a library that keeps its own copy of a
function-local static (or its guard), or of a template's static data member built at load time, that a library it
loads exports is refused; a constant table is not (g++ puts those with relocations in .data, where the names do not
tell them from state). Built here with gcc: the copies are real (the program sees two of each counter), the check
names them, and the same library without the version script passes."""

import subprocess

from conftest import ROOT

SCRIPT = ROOT / "debforge/data/skel/debforge/check-identities"
# statics with a dynamic initializer have guard variables too; Table<int>::cb is a constant with a relocation
HEADER = """#include <cstdlib>
namespace NS {
inline int *counter() { static int c = std::atoi("0"); return &c; }
template <class T> struct Reg { static int n; };
template <class T> int Reg<T>::n = std::atoi("0");
}
using NS::counter; using NS::Reg;
int dep_zero();
struct Callbacks { int (*call)(); };
template <class T> struct Table { static constexpr Callbacks cb{&dep_zero}; };
int call(const Callbacks *c);
"""


def build(tmp_path, hidden: bool, namespace: str = "app"):
    (tmp_path / "counter.h").write_text(HEADER.replace("NS", namespace))
    bump = "++*counter() + ++Reg<int>::n + call(&Table<int>::cb)"
    (tmp_path / "dep.cc").write_text(f'#include "counter.h"\nint dep_zero() {{ return 0; }}\n'
                                     'int call(const Callbacks *c) { return c->call(); }\n'
                                     f'int dep_bump() {{ return {bump}; }}\n')
    (tmp_path / "user.cc").write_text(f'#include "counter.h"\nint user_bump() {{ return {bump}; }}\n')
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


def nm(lib, kind: str) -> set[str]:
    out = subprocess.run(["nm", "--defined-only", "--format=posix", lib], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.split()[1] == kind}


def test_a_hidden_copy_of_a_static_the_dependency_exports_is_refused(tmp_path):
    shared, check = build(tmp_path, hidden=True)
    assert shared == "2"   # two of each counter: libuser's hidden copies and libdep's
    assert check.returncode == 1
    assert "libuser.so keeps its own copy of 4 statics that libdep.so exports" in check.stderr
    for static in ("app::counter()::c", "app::Reg<int>::n"):
        assert f"  {static}\n" in check.stderr and f"  guard variable for {static}\n" in check.stderr
    assert "_ZN5TableIiE2cbE" in nm(tmp_path / "libuser.so", "d")   # hidden too, but a constant:
    assert "Table<int>::cb" not in check.stderr
    assert "hint: " in check.stderr


def test_an_exported_static_is_one_object_and_passes(tmp_path):
    shared, check = build(tmp_path, hidden=False)
    assert shared == "4"
    assert check.returncode == 0, check.stderr


def test_libstdcxx_statics_are_left_out(tmp_path):
    """std::'s are libstdc++'s, written to tolerate a copy per library (std::_Sp_make_shared_tag::_S_ti()::__tag
    has an RTTI fallback): libLLVM and libz3 export some that TensorFlow's C API library hides."""
    shared, check = build(tmp_path, hidden=True, namespace="std")
    assert shared == "2"   # split, as above
    assert check.returncode == 0, check.stderr
