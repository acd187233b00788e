"""The recipe's `exports` (issue 19): a demangled C++ glob exports what its qualified name covers, function
templates (whose demangled names start with the return type), operators, vtables and typeinfo included, and
nothing outside it; a glob that cannot be matched is refused with the reason. Checked on a library g++ links."""

import subprocess

import pytest

from conftest import fixture_recipe
from debforge.backends.ninja import version_script
from debforge.core.errors import DebforgeError
from debforge.recipe.schema import load_recipe

SOURCE = """
#include <ostream>
namespace ns {
struct X { virtual ~X(); int v = 0; };
X::~X() {}
template <class T> bool Parse(const char* s) { return s != nullptr && sizeof(T) > 0; }
template bool Parse<int>(const char*);
std::ostream& operator<<(std::ostream& o, const X& x) { return o << x.v; }
int Plain(int a) { return a + 1; }
namespace internal { long Helper(long a) { return a * 2; } }
}
namespace other { int f(int a, ns::X const& x) { return a + x.v; } }
extern "C" int c_api(int a) { return a; }
extern "C" int c_hidden(int a) { return a; }
"""


def exported(tmp_path, exports):
    (tmp_path / "x.cc").write_text(SOURCE)
    (tmp_path / "x.map").write_text(version_script(tuple(exports)))
    so = tmp_path / "libx.so"
    subprocess.run(["g++", "-shared", "-fPIC", "-o", str(so), str(tmp_path / "x.cc"),
                    f"-Wl,--version-script,{tmp_path / 'x.map'}"], check=True)
    out = subprocess.run(["nm", "-D", "-C", "--defined-only", str(so)], capture_output=True, text=True, check=True)
    return {line.split(" ", 2)[2] for line in out.stdout.splitlines()}


def test_a_namespace_glob_exports_templates_operators_and_vtables(tmp_path):
    syms = exported(tmp_path, ["ns::*", "c_api"])
    assert {"bool ns::Parse<int>(char const*)", "ns::operator<<(std::ostream&, ns::X const&)", "vtable for ns::X",
            "typeinfo for ns::X", "ns::Plain(int)", "ns::internal::Helper(long)", "c_api"} <= syms
    assert not {s for s in syms if s.startswith("other::") or s == "c_hidden"}


def test_name_and_operator_globs_export_only_what_they_name(tmp_path):
    syms = exported(tmp_path, ["ns::Parse*", "ns::operator<<*"])
    assert syms == {"bool ns::Parse<int>(char const*)", "ns::operator<<(std::ostream&, ns::X const&)"}


@pytest.mark.parametrize("glob, why", [
    ("ns::Foo<int>::*", "scopes are plain names"),
    ("ns::operator@*", "an operator"),
    ("*::Parse", "scopes are plain names"),
    ("c;api", "a C symbol glob holds"),
])
def test_a_glob_that_cannot_be_matched_is_refused_with_why(tmp_path, glob, why):
    recipe = fixture_recipe(tmp_path / "r.yaml", tmp_path, "x", [("x", "//:x")])
    recipe.write_text(recipe.read_text().replace("soversion: 1}", f'soversion: 1, exports: ["{glob}"]}}'))
    with pytest.raises(DebforgeError, match=why) as info:
        load_recipe(recipe)
    assert info.value.line == 15 and "is not valid" in info.value.message


@pytest.mark.parametrize("key, value, why", [
    ("name", "libx", "starts with lib: the file would be liblibx.so"),
    ("license", "Apache2", "neither an SPDX identifier nor a license of /usr/share/common-licenses"),
])
def test_doubled_lib_prefix_and_unknown_license_are_refused(tmp_path, key, value, why):
    recipe = fixture_recipe(tmp_path / "r.yaml", tmp_path, "xy", [("x", "//:x")])
    text = recipe.read_text()
    recipe.write_text(text.replace("{name: x,", f"{{name: {value},") if key == "name" else
                      text.replace("license: Apache-2.0", f"license: {value}"))
    with pytest.raises(DebforgeError, match=why) as info:
        load_recipe(recipe)
    assert info.value.line == (15 if key == "name" else 6)


@pytest.mark.parametrize("name", ["GPL-2+", "MIT", "BSD-3-Clause", "LGPL-2.1", "Expat", "BSD-3-clause", "LGPL-2.1+"])
def test_spdx_dep5_and_common_licenses_names_are_accepted(tmp_path, name):
    recipe = fixture_recipe(tmp_path / "r.yaml", tmp_path, "xy", [("x", "//:x")])
    recipe.write_text(recipe.read_text().replace("license: Apache-2.0", f"license: {name}"))
    assert load_recipe(recipe).license == name
