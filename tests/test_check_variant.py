"""debian/debforge/check-variant on copies built here with g++: a level's copy may lack the vague-linkage symbols
the baseline copy exports (an inline function's static that code under #ifndef __AVX2__ uses: every user emits
its own), never a function the baseline defines."""

import subprocess

from conftest import ROOT

SCRIPT = ROOT / "debforge/data/skel/debforge/check-variant"
SOURCE = """#include <cstdlib>
inline int *slow_path() { static int calls = std::atoi("0"); return &calls; }
int api(int x) {
#ifndef __AVX2__
    ++*slow_path();
#endif
    return x + 1;
}
#ifndef __AVX2__
int only_generic() { return 0; }
#endif
"""


def copies(tmp_path, source):
    (tmp_path / "lib.cc").write_text(source)
    out = {}
    for level, march in (("generic", []), ("v3", ["-march=x86-64-v3"])):
        out[level] = tmp_path / level / "libx.so.1"
        out[level].parent.mkdir()
        subprocess.run(["g++", "-O2", "-fPIC", "-shared", *march, "-Wl,-soname,libx.so.1", "-o", out[level],
                        tmp_path / "lib.cc"], check=True)
    return subprocess.run(["sh", SCRIPT, out["generic"], out["v3"]], capture_output=True, text=True)


def test_a_copy_may_lack_an_inline_functions_static(tmp_path):
    check = copies(tmp_path, SOURCE.replace("#ifndef __AVX2__\nint only_generic", "#if 1\nint only_generic"))
    assert check.returncode == 0, check.stderr


def test_a_copy_must_not_lack_a_function(tmp_path):
    check = copies(tmp_path, SOURCE)
    assert check.returncode == 1
    assert "lacks dynamic symbols" in check.stderr and "_Z12only_genericv" in check.stderr
    assert "slow_path" not in check.stderr
