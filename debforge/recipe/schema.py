"""The recipe schema: dataclasses, and their validation from line-marked YAML.

Every error names the recipe file and the line of the offending key; unknown keys get a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from pathlib import Path

from debian.deb822 import PkgRelation
from license_expression import get_spdx_licensing

from ..core import confine, exports, isa
from ..core.errors import DebforgeError
from ..core.escape import CONTROL
from ..core.globs import compile_pattern
from ..core.layout import HEADERS_TEST, HWCAPS_TEST, UPSTREAM_TEST
from ..flavors import FLAVORS
from .load import Node, load_yaml
from .model import (BinaryPackage, Component, Config, ConsumerTest, External, FlavorSpec, HeaderOnly, HeaderSet,
                    KnownCut, LeaveOut, LevelGlob, Library, Recipe, RepoFile, TestEntry, Tests, Tool, Upstream)

COMMON_LICENSES = frozenset(p.name for p in Path("/usr/share/common-licenses").iterdir()) \
    if Path("/usr/share/common-licenses").is_dir() else frozenset()
PKG_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")   # dpkg-source's orig-<component> tarballs
FRONTEND = re.compile(r"[a-z][a-z0-9_]*")
UPSTREAM_VERSION = re.compile(r"[0-9][A-Za-z0-9.+~-]*")
LIB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+.-]*")   # becomes a file and directory name: no "..", no /
SOVERSION = re.compile(r"[0-9]+(\.[0-9]+)*")
MAINTAINER = re.compile(r"[^<>]+ <[^<>@\s]+@[^<>\s]+>")
LABEL = re.compile(r"(@[A-Za-z0-9_.-]*)?//[A-Za-z0-9_./+-]*(:[A-Za-z0-9_./+=,@~-]+)?")
SUITE = re.compile(r"[a-z][a-z0-9-]*")
MACRO = re.compile(r"[A-Za-z_]\w*")
MACRO_DEFINITION = re.compile(r"[A-Za-z_]\w*(?:=[A-Za-z0-9_.:+-]*)?")
SECTION = re.compile(r"(?:(?:contrib|non-free|non-free-firmware)/)?[a-z0-9][a-z0-9-]*")   # Policy 2.4
HOMEPAGE = re.compile(r"https?://[A-Za-z0-9._~:/?#@!&+,;=%-]+")   # no quote, $, space: it lands in debian/watch
LICENSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*")   # a DEP-5 short name: also a file of common-licenses
VERSION = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*")   # a Debian version in a dependency relation
CMAKE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")   # find_package(NAME), NAMEConfig.cmake, NAME:: targets
PC_MODULE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
REVISION = re.compile(r"[0-9][A-Za-z0-9.+~]*")
LABEL_OR_NAME = re.compile(r"[A-Za-z0-9_@/:.+=,~-]+")   # a build setting (label) or a --define name
REPO = re.compile(r"@?[A-Za-z0-9_.+-]+")   # a bazel repository
EXTERNAL = re.compile(rf"{REPO.pattern}|//[A-Za-z0-9_./+-]*")   # a repository, or an in-tree package Debian has
BUG_DIGITS = 9   # Debian bug numbers have 7 digits today
MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([MG])")   # 512M, 1.5G: binary units, as /proc/meminfo counts
_PROFILE = r"!?[a-z0-9][a-z0-9.+-]*"
BUILD_PROFILES = re.compile(rf"<{_PROFILE}(?: {_PROFILE})*>(?: <{_PROFILE}(?: {_PROFILE})*>)*")   # Policy 7.1


def _mapping(node: Node, what: str, allowed: dict[str, bool]) -> dict[str, Node]:
    """Check node is a mapping with only `allowed` keys (name -> required)."""
    if not isinstance(node.value, dict):
        raise node.error(f"{what} must be a mapping, not {_type(node.value)}")
    for key, value in node.value.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            raise value.error(f"unknown key '{key}' in {what}",
                              f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(allowed))}")
    for key, required in allowed.items():
        if required and key not in node.value:
            raise node.error(f"{what} lacks required key '{key}'")
    return node.value


def _type(value) -> str:
    return {dict: "a mapping", list: "a list", type(None): "empty"}.get(type(value), type(value).__name__)


def _str(node: Node, what: str, pattern: re.Pattern | None = None, explain: str = "", lines: bool = False) -> str:
    """A non-empty string, matching all of `pattern`; with no control character (`lines`: but newlines), since
    every value lands in generated files where a line break or control character would start something else."""
    value = node.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and abs(value) >= 10 ** 100:
            raise node.error(f"{what} is a number of {len(str(abs(value)))} digits: too long to be valid")
        value = str(value)  # versions such as 1.2 or sonames such as 1 are natural to write unquoted
    if not isinstance(value, str) or not value.strip():
        raise node.error(f"{what} must be a non-empty string, not {_type(node.value)}")
    bad = CONTROL.search(value.replace("\n", "") if lines else value)
    if bad:
        raise node.error(f"{what} {value[:60]!r} holds the control character {bad.group()!r}",
                         "multi-line text is only for description and copyright" if bad.group() == "\n" else None)
    if pattern and not pattern.fullmatch(value):
        raise node.error(f"{what} '{value}' is not valid{': ' + explain if explain else ''}")
    return value


def _list(node: Node, what: str) -> list[Node]:
    if not isinstance(node.value, list):
        raise node.error(f"{what} must be a list, not {_type(node.value)}")
    return node.value


def _bool(node: Node, what: str) -> bool:
    if not isinstance(node.value, bool):
        raise node.error(f"{what} must be true or false")
    return node.value


def _relpath(node: Node, what: str) -> str:
    value = _str(node, what)
    if confine.inside(value) is None:
        raise node.error(f"{what} '{value}' must be a relative path inside the tree (no leading / and no ..)")
    return value


def _label(node: Node, what: str) -> str:
    value = _str(node, what, LABEL, "expected a bazel label such as //pkg:name")
    if ".." in re.split(r"[/:]", value):
        raise node.error(f"{what} '{value}' leads out of the tree (labels have no '..')")
    return value


def _glob(node: Node, what: str) -> str:
    value = _relpath(node, what)
    try:
        compile_pattern(value)
    except ValueError as exc:
        raise node.error(str(exc)) from None
    return value


TOP_KEYS = {
    "source": True, "version": True, "debian-revision": False, "upstream": True, "maintainer": True,
    "section": False, "homepage": True, "license": True, "copyright": True, "summary": True,
    "description": True, "frontend": True, "architectures": False, "isa-levels": False, "packages": True,
    "dev": True, "externals": False, "config": False, "distribution": False, "closes": False, "bazel": False,
    "flavors": False, "tools": False, "python-requirements": False, "patches": False, "leave-out": False,
    "rule-outputs": False, "level-sensitive": False, "tests": False, "consumer-tests": False,
    "lintian-overrides": False, "known-cuts": False, "buildflags": False,
}
BUILDFLAGS = ("CPPFLAGS", "CFLAGS", "CXXFLAGS", "LDFLAGS")   # those debian/rules hands to the ninja file
BUILDFLAG_OPS = ("strip", "append", "prepend")
# one compiler or linker option: no spaces, quotes or make/shell syntax (it is written into debian/rules)
BUILDFLAG = re.compile(r"-[A-Za-z0-9][A-Za-z0-9_=,.+:/-]*")
# a tag, then its context: words, a glob, or a file in brackets as lintian points it out ([usr/lib/*/libfoo.a])
LINTIAN_TAG = re.compile(r"[a-z0-9][a-z0-9+.-]*(?: \S[^\n]*)?")


def _upstream(node: Node, recipe_dir: Path) -> Upstream:
    m = _mapping(node, "upstream", {"debian": False, "suite": False, "dir": False, "tarball": False,
                                     "components": False})
    given = [k for k in ("debian", "dir", "tarball") if k in m]
    if len(given) != 1:
        raise node.error("upstream needs exactly one of 'debian' (a Debian source package), 'dir' or 'tarball'")
    for key in ("suite", "components"):
        if key in m and "debian" not in m:
            raise m[key].error(f"'{key}' only applies to upstream.debian")
    if "debian" in m:
        return Upstream(debian=_str(m["debian"], "upstream.debian", PKG_NAME),
                        suite=_str(m["suite"], "upstream.suite", SUITE) if "suite" in m else "trixie",
                        components=_components(m["components"]) if "components" in m else ())
    key = given[0]
    path = Path(_str(m[key], f"upstream.{key}")).expanduser()
    return Upstream(**{key: path if path.is_absolute() else (recipe_dir / path)})


def _components(node: Node) -> tuple[Component, ...]:
    """name -> {from: a directory of the Debian source package's debian tarball (debian/...), copyright, license}."""
    if not isinstance(node.value, dict) or not node.value:
        raise node.error(f"upstream.components must be a non-empty mapping, not {_type(node.value)}")
    out = []
    for name, value in node.value.items():
        what = f"upstream.components.{name}"
        if not COMPONENT.fullmatch(str(name)):
            raise value.error(f"component name '{name}' is not valid: dpkg-source takes letters, digits and '-' "
                              f"(it names the tarball <source>_<version>.orig-{name}.tar.xz and its directory)")
        m = _mapping(value, what, {"from": True, "copyright": True, "license": False})
        path = _relpath(m["from"], f"{what}.from")
        if path.split("/", 1)[0] != "debian" or path.rstrip("/") == "debian":
            raise m["from"].error(f"{what}.from '{path}' must be a directory under debian/ of the Debian source "
                                  f"package (where Debian carries code its orig tarball lacks)")
        out.append(Component(str(name), path.rstrip("/"), value.line, _str(m["copyright"], f"{what}.copyright",
                                                                             lines=True),
                             _license(m["license"]) if "license" in m else ""))
    return tuple(out)


def _packages(node: Node, version: str, recipe_dir: Path, flavor: str = "") -> tuple[BinaryPackage, ...]:
    """`flavor`: a GPU flavour's packages, which take no symbols file."""
    out: list[BinaryPackage] = []
    seen_pkgs: set[str] = set()
    seen_libs: set[str] = set()
    link_also: list[tuple[str, Node]] = []
    for item in _list(node, "packages"):
        m = _mapping(item, "packages entry", {"name": True, "libraries": True, "variants": False, "summary": False,
                                              "build-profiles": False, "symbols": False})
        name = _str(m["name"], "package name", PKG_NAME, "Debian package names use a-z, 0-9, + - .")
        if flavor and "symbols" in m:
            raise _flavor_symbols(m["symbols"], flavor, name)
        if name in seen_pkgs:
            raise m["name"].error(f"package '{name}' is listed twice")
        seen_pkgs.add(name)
        libs = []
        for lib_node in _list(m["libraries"], f"libraries of {name}"):
            lm = _mapping(lib_node, f"library of {name}",
                          {"name": True, "target": True, "soversion": False, "version": False, "exports": False,
                           "version-script": False, "link-also": False})
            lname = _str(lm["name"], "library name", LIB_NAME)
            if lname.startswith("lib"):
                raise lm["name"].error(f"library name '{lname}' starts with lib: the file would be lib{lname}.so",
                                       f"write name: {lname[3:]} (debforge adds the lib prefix)")
            if "soversion" not in lm:
                raise lib_node.error(f"library '{lname}' has no soversion: debforge gives every library the SONAME "
                                     f"lib{lname}.so.<soversion>, the name under which ld.so finds its ISA-level "
                                     f"copies", "add soversion: N, the library's ABI version")
            if lname in seen_libs:
                raise lm["name"].error(f"library '{lname}' is listed twice")
            seen_libs.add(lname)
            libs.append(Library(
                name=lname,
                target=_label(lm["target"], "target"),
                soversion=_str(lm["soversion"], "soversion", SOVERSION, "expected digits such as 1 or 2.14"),
                version=_str(lm["version"], "library version", SOVERSION) if "version" in lm else version,
                line=lib_node.line,
                exports=tuple(_export(n) for n in _list(lm["exports"], "exports")) if "exports" in lm else (),
                export_lines=tuple(n.line for n in lm["exports"].value) if "exports" in lm else (),
                version_script=_label(lm["version-script"], "version-script") if "version-script" in lm else "",
                link_also=tuple(_str(n, "link-also entry", LIB_NAME) for n in _list(lm["link-also"], "link-also"))
                if "link-also" in lm else (),
                link_also_line=lm["link-also"].line if "link-also" in lm else 0))
            if "link-also" in lm:
                if flavor:
                    raise lm["link-also"].error(
                        f"a {flavor} flavour library takes no link-also: the CPU package's -dev link, which {lname} "
                        f"replaces at run time, decides what -l{lname} links", "give link-also to the CPU library")
                link_also.append((lname, lm["link-also"]))
            if "exports" in lm and "version-script" in lm:
                raise lm["version-script"].error(f"library '{lname}' has both exports and version-script: one "
                                                 f"decides what it exports")
            if not f"{libs[-1].version}.".startswith(f"{libs[-1].soversion}."):   # 10.0 does not start with 1
                raise lm.get("version", lm["soversion"]).error(
                    f"library version '{libs[-1].version}' does not start with its soversion '{libs[-1].soversion}'")
        if not libs:
            raise m["libraries"].error(f"package '{name}' has no libraries")
        out.append(BinaryPackage(
            name=name, libraries=tuple(libs),
            variants=_bool(m["variants"], "variants") if "variants" in m else True,
            summary=_str(m["summary"], "summary") if "summary" in m else "",
            line=item.line, build_profiles=_profiles(m),
            symbols=_symbols(m["symbols"], name, libs, recipe_dir) if "symbols" in m else None))
    if not out:
        raise node.error("packages is empty: list at least one library package")
    for lname, names in link_also:
        for n in names.value:
            if n.value == lname or n.value not in seen_libs:
                raise n.error(f"link-also of library '{lname}' names '{n.value}', "
                              + ("the library itself" if n.value == lname else "which is not a library of the recipe"),
                              f"name the recipe libraries -l{lname} should link too: "
                              f"{', '.join(sorted(seen_libs - {lname})) or 'the recipe has no other'}")
    return tuple(out)


# The short names of the copyright-format 1.0 specification (DEP-5), which no Debian package ships as data; a
# version may follow (-2, -2.0) and + for "or any later version"
DEP5_NAMES = re.compile(r"(public-domain|Apache|Artistic|BSD-[234]-clause|ISC|CC-BY(-SA|-ND|-NC|-NC-SA|-NC-ND)?|CC0|"
                        r"CDDL|CPL|EFL|Expat|GPL|LGPL|GFDL(-NIV)?|LPPL|MPL|Perl|Python|QPL|W3C|Zlib|Zope)"
                        r"(-[0-9][0-9.]*)?\+?")


def _license(node: Node) -> str:
    """An SPDX license identifier (license-expression's list), a DEP-5 short name (Expat, GPL-2+) or a name of
    /usr/share/common-licenses."""
    name = _str(node, "license", LICENSE, "expected an SPDX/DEP-5 short name")
    if name.removesuffix("+") in COMMON_LICENSES or DEP5_NAMES.fullmatch(name) \
            or not get_spdx_licensing().validate(name).errors:
        return name
    close = difflib.get_close_matches(name, [*COMMON_LICENSES, "Apache-2.0", "MIT", "BSD-3-Clause", "BSD-2-Clause",
                                             "MPL-2.0", "ISC", "Zlib"], n=1)
    raise node.error(f"license '{name}' is neither an SPDX identifier nor a license of /usr/share/common-licenses",
                     f"did you mean '{close[0]}'?" if close else "see https://spdx.org/licenses/")


def _flavor_symbols(node: Node, flavor: str, name: str) -> DebforgeError:
    return node.error(
        f"a {flavor} flavour package takes no symbols file: {name}'s libraries have the SONAMEs and ABI of the CPU "
        f"package they replace, and consumers' dependencies come from that package's symbols file",
        f"name the file in the CPU package's 'symbols', with a line '| {name} #MINVER#' after each SONAME line so "
        f"a program built against either package may use {name}; {name} keeps the shlibs file naming both "
        f"(docs/dev-packages.md#symbols-files)")


SYMBOLS_ENTRY = re.compile(r"(\S+) (\S+)(?: .*)?")   # dpkg-gensymbols: "SONAME PACKAGE #MINVER#" opens a library


def _symbols(node: Node, package: str, libs: list[Library], recipe_dir: Path) -> Path:
    """A dpkg-gensymbols file beside the recipe for the package's -generic build: an entry for each of its libraries
    (dpkg-gensymbols reports a library the file lacks as a change) naming <package>-generic, and no other."""
    rel, lines = _recipe_file(node, "symbols", recipe_dir)
    sonames = {f"lib{lib.name}.so.{lib.soversion}" for lib in libs}
    seen = set()
    for n, line in enumerate(lines, 1):
        if line[:1] in ("", " ", "*", "|", "#"):   # a symbol, a field, an alternative dependency, a comment
            continue
        m = SYMBOLS_ENTRY.fullmatch(line)
        if not m or m[1] not in sonames or m[2] != f"{package}-generic":
            raise DebforgeError(f"'{line[:80]}' is not the entry of a library of {package}: expected "
                                f"'SONAME {package}-generic #MINVER#' with a SONAME of {', '.join(sorted(sonames))}",
                                str(recipe_dir / rel), n)
        seen.add(m[1])
    if sonames - seen:
        raise node.error(f"symbols file {rel} has no entry for {', '.join(sorted(sonames - seen))}",
                         "record it again from a build (see docs/dev-packages.md)")
    return recipe_dir / rel


def _export(node: Node) -> str:
    glob = _str(node, "exports entry")
    why = exports.problem(glob)
    if why:
        raise node.error(f"exports entry '{glob}' is not valid: {why}")
    return glob


def _headers(node: Node) -> tuple[HeaderSet, ...]:
    out = []
    for item in _list(node, "dev.headers"):
        m = _mapping(item, "dev.headers entry", {"files": True, "to": False, "strip": False, "build-profiles": False,
                                                 "exclude": False})
        to = _str(m["to"], "headers 'to'") if "to" in m else "."
        if confine.inside(to) is None:
            raise m["to"].error(f"headers 'to' '{to}' must be relative to /usr/include (no leading / and no ..)")
        exclude = tuple(_glob(g, "headers 'exclude'") for g in _list(m["exclude"], "headers 'exclude'")) \
            if "exclude" in m else ()
        out.append(HeaderSet(files=_glob(m["files"], "headers 'files'"), to=to,
                             strip=_relpath(m["strip"], "headers 'strip'") if "strip" in m else "", line=item.line,
                             build_profiles=_profiles(m), exclude=exclude))
    return tuple(out)


def _unlinked_headers(node: Node) -> tuple[tuple[str, str, int], ...]:
    """glob of headers (tree paths, as dev.headers' files) -> why no library of the recipe defines what they
    declare."""
    if not isinstance(node.value, dict):
        raise node.error(f"dev.unlinked-headers must be a mapping of header glob -> reason, not {_type(node.value)}")
    return tuple((_glob(Node(glob, reason.line, node.file), "dev.unlinked-headers glob"),
                  _str(reason, f"the reason for dev.unlinked-headers '{glob}'"), reason.line)
                 for glob, reason in node.value.items())


def _profiles(m: dict[str, Node]) -> str:
    if "build-profiles" not in m:
        return ""
    return _str(m["build-profiles"], "build-profiles", BUILD_PROFILES,
                "a restriction formula as in debian/control, such as <!pkg.pytorch.c10-only>")


def _externals(node: Node) -> dict[str, External]:
    m = node.value
    if not isinstance(m, dict):
        raise node.error(f"externals must be a mapping of bazel repository -> Debian package, not {_type(m)}")
    out = {}
    for repo, value in m.items():
        if not EXTERNAL.fullmatch(repo):
            raise value.error(f"externals: {repo!r} is not a bazel repository (@name) or an in-tree package (//pkg)")
        name = repo.lstrip("@")
        if isinstance(value.value, str):
            package, versions = _dependency(value, f"externals.{repo}")
            out[name] = External(name, package, (), value.line, versions=versions)
            continue
        if isinstance(value.value, dict) and "drop" in value.value:
            dm = _mapping(value, f"externals.{repo}", {"drop": True, "undefine": False})
            undefine = tuple(_str(n, "externals undefine", MACRO) for n in _list(dm["undefine"], "undefine")
                             ) if "undefine" in dm else ()
            out[name] = External(name, "", (), value.line, _str(dm["drop"], f"externals.{repo}.drop"), undefine)
            continue
        em = _mapping(value, f"externals.{repo}", {"package": True, "libs": False, "includes": False,
                                                   "libdirs": False, "modules": False, "defines": False})
        libs = tuple(_str(n, "externals lib", LIB_NAME) for n in _list(em["libs"], "libs")) if "libs" in em else ()
        includes, libdirs = (tuple(_system_dir(n, f"externals.{repo}.{key}") for n in _list(em[key], key)
                                   ) if key in em else () for key in ("includes", "libdirs"))
        if libdirs and not libs:
            raise em["libdirs"].error(f"externals.{repo}.libdirs without libs: nothing would be linked from them")
        if isinstance(em["package"].value, list):   # Debian splits protobuf's headers: libprotobuf-dev, libprotoc-dev
            deps = [_dependency(n, f"externals.{repo}.package") for n in em["package"].value]
            if not deps:
                raise em["package"].error(f"externals.{repo}.package must name at least one Debian package")
        else:
            deps = [_dependency(em["package"], f"externals.{repo}.package")]
        defines = tuple(_str(n, f"externals.{repo}.defines", MACRO_DEFINITION,
                             "NAME or NAME=VALUE (letters, digits, _.:+-)")
                        for n in _list(em["defines"], "defines")) if "defines" in em else ()
        out[name] = External(name, deps[0][0], libs, value.line, includes=includes, defines=defines,
                             extra_packages=tuple(p for p, _ in deps[1:]), libdirs=libdirs,
                             versions=tuple(v for _, vs in deps for v in vs),
                             modules=_modules(em["modules"], repo) if "modules" in em else {})
    return out


def _cmake(dev: dict[str, Node]) -> dict[str, str]:
    """dev.cmake: NAME, or {name: NAME, prefix: P} where the library P<x> is the target NAME::<x>."""
    if "cmake" not in dev:
        return {}
    node = dev["cmake"]
    m = _mapping(node, "dev.cmake", {"name": True, "prefix": False}) if isinstance(node.value, dict) else {"name": node}
    return {"cmake": _str(m["name"], "dev.cmake name", CMAKE_NAME,
                          "a CMake package name: a letter, then letters, digits, _ and -, as absl or double-conversion"),
            "cmake_prefix": _str(m["prefix"], "dev.cmake prefix", LIB_NAME) if "prefix" in m else ""}


def _header_only(node: Node) -> HeaderOnly | None:
    """dev.header-only: true, or {names: {//pkg:name: NAME}, groups: {NAME: [MODULE, ...]}}: names for the targets
    upstream's CMake names otherwise than <prefix><target name> (abseil's //absl/algorithm:container is
    absl_algorithm_container), and modules of no target of their own that require others (absl_numeric)."""
    if isinstance(node.value, bool):
        return HeaderOnly(node.line) if node.value else None
    m = _mapping(node, "dev.header-only", {"names": False, "groups": False})
    names: dict[str, tuple[str, int]] = {}
    for label, value in _name_map(m, "names").items():
        if not isinstance(label, str) or not label.startswith("//") or ":" not in label or not LABEL.fullmatch(label):
            raise value.error(f"dev.header-only.names: '{label}' is not a target of the tree (//pkg:name)")
        name = _str(value, f"dev.header-only.names.{label}", LIB_NAME)
        other = next((lb for lb, (n, _) in names.items() if n == name), None)
        if other:
            raise value.error(f"dev.header-only.names: '{label}' and '{other}' are both named '{name}'")
        names[label] = (name, value.line)
    groups = {}
    for name, value in _name_map(m, "groups").items():
        _str(Node(name, value.line, value.file), "dev.header-only.groups name", LIB_NAME)
        members = tuple(_str(n, f"dev.header-only.groups.{name} entry", LIB_NAME)
                        for n in _list(value, f"dev.header-only.groups.{name}"))
        if not members:
            raise value.error(f"dev.header-only.groups.{name} is empty: list the modules it requires")
        groups[name] = (members, value.line)
    return HeaderOnly(node.line, names, groups)


def _name_map(m: dict[str, Node], key: str) -> dict:
    if key not in m:
        return {}
    if not isinstance(m[key].value, dict):
        what = "//pkg:name -> the module's name" if key == "names" else "a name -> the modules it requires"
        raise m[key].error(f"dev.header-only.{key} must be a mapping of {what}")
    return m[key].value


def _modules(node: Node, repo: str) -> dict[str, str]:
    """//pkg:name (a target of the repository) -> the pkg-config module that links it."""
    if not isinstance(node.value, dict):
        raise node.error(f"externals.{repo}.modules must be a mapping of //pkg:name -> pkg-config module")
    out = {}
    for label, value in node.value.items():
        if not isinstance(label, str) or not label.startswith("//") or not LABEL.fullmatch(label):
            raise value.error(f"externals.{repo}.modules: '{label}' is not a target of the repository (//pkg:name)")
        out[label if ":" in label else f"{label}:{label.rsplit('/', 1)[-1]}"] = _str(
            value, f"externals.{repo}.modules.{label}", PC_MODULE, "a pkg-config module name")
    return out


def _dependency(node: Node, what: str) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    """A Debian package, optionally with a version relation as in debian/control: libabsl-dev (>= 20240116)."""
    text = _str(node, what)
    relations = PkgRelation.parse_relations(text)
    rel = relations[0][0] if len(relations) == 1 and len(relations[0]) == 1 else None
    if not isinstance(rel, dict) or rel["arch"] or rel["archqual"] or rel["restrictions"] or \
            not PKG_NAME.fullmatch(rel["name"]) or rel["version"] and not VERSION.fullmatch(rel["version"][1]):
        raise node.error(f"{what} '{text}' is not valid: a Debian package name, optionally with a version "
                         f"relation such as libabsl-dev (>= 20240116)")
    return rel["name"], ((rel["name"], *rel["version"]),) if rel["version"] else ()


def _system_dir(node: Node, what: str) -> str:
    """An absolute directory under /usr where a Debian package installs headers or libraries (no '..', no '.')."""
    path = _str(node, what)
    if not confine.system_dir(path):
        raise node.error(f"{what} '{path}' is not valid: an absolute directory under /usr, such as "
                         f"/usr/lib/llvm-19/include (no '..' or '.')")
    return path


def _repo_files(node: Node) -> dict[str, RepoFile]:
    m = _mapping(node, "bazel", {"repositories": False})
    out: dict[str, RepoFile] = {}
    repos = m.get("repositories")
    if repos is None:
        return out
    if not isinstance(repos.value, dict):
        raise repos.error("bazel.repositories must be a mapping of repository name -> files")
    for repo, rnode in repos.value.items():
        if not REPO.fullmatch(repo):
            raise rnode.error(f"'{repo}' is not a bazel repository name")
        rm = _mapping(rnode, f"bazel.repositories.{repo}", {"files": True})
        if not isinstance(rm["files"].value, dict):
            raise rm["files"].error("files must be a mapping of path in the repository -> source in the tree")
        for name, fnode in rm["files"].value.items():
            _str(Node(name, fnode.line, node.file), "repository file name", LABEL_OR_NAME)
            if name.startswith("/") or ".." in Path(name).parts:
                raise fnode.error(f"'{name}' must be a relative path inside the repository")
            pkg, _, base = name.rpartition("/")
            label = f"@{repo.lstrip('@')}//{pkg}:{base}"
            if isinstance(fnode.value, str):
                out[label] = RepoFile(_relpath(fnode, name), {}, fnode.line)
                continue
            fm = _mapping(fnode, name, {"template": True, "substitutions": False})
            subs = fm.get("substitutions")
            if subs is not None and not isinstance(subs.value, dict):
                raise subs.error("substitutions must be a mapping")
            for key, value in (subs.value.items() if subs else ()):
                if not isinstance(value.value, str):   # may be empty: a template line can vanish
                    raise value.error(f"substitution for '{key}' must be a string")
            out[label] = RepoFile(_relpath(fm["template"], "template"),
                                  {k: v.value for k, v in subs.value.items()} if subs else {}, fnode.line)
    return out


def _config(node: Node) -> Config:
    m = _mapping(node, "config", {"flag-values": False, "define-values": False, "constraints": False,
                                  "copts": False, "cxxopts": False, "drop-copts": False, "compile-memory": False})

    def strmap(key):
        if key not in m:
            return {}
        if not isinstance(m[key].value, dict):
            raise m[key].error(f"config.{key} must be a mapping")
        return {_str(Node(k, v.line, node.file), f"config.{key} key", LABEL_OR_NAME):
                _str(v, f"config.{key}.{k}") for k, v in m[key].value.items()}

    constraints = tuple(_str(n, "constraint", LABEL) for n in _list(m["constraints"], "constraints")) \
        if "constraints" in m else ()
    opts = {k.replace("-", "_"): tuple(_str(n, f"config.{k} entry") for n in _list(m[k], f"config.{k}"))
            if k in m else () for k in ("copts", "cxxopts", "drop-copts")}
    for k in ("copts", "cxxopts"):
        problem = confine.option_problem(list(opts[k]), system=True)
        if problem:
            raise m[k].error(f"config.{k}: {problem[0]} {problem[1]}",
                             "options may name directories of the tree or, absolute, under /usr")
    return Config(strmap("flag-values"), strmap("define-values"), constraints, **opts,
                  compile_memory=_compile_memory(m["compile-memory"]) if "compile-memory" in m else {})


def _buildflags(node: Node) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """FLAG -> {strip, append, prepend: [option, ...]}: dpkg-buildflags' maintainer settings
    (DEB_<FLAG>_MAINT_<OP>), as (FLAG, OP, options) in the recipe's order."""
    if not isinstance(node.value, dict):
        raise node.error(f"buildflags must be a mapping of flag ({', '.join(BUILDFLAGS)}) -> strip/append/prepend, "
                         f"not {_type(node.value)}")
    out = []
    for flag, fnode in node.value.items():
        if flag not in BUILDFLAGS:
            raise fnode.error(f"buildflags: '{flag}' is not a flag debian/rules hands to the build",
                              f"one of {', '.join(BUILDFLAGS)}")
        ops = _mapping(fnode, f"buildflags.{flag}", dict.fromkeys(BUILDFLAG_OPS, False))
        for op, onode in ops.items():
            options = tuple(_str(n, f"buildflags.{flag}.{op} entry", BUILDFLAG, "one option such as -g1")
                            for n in _list(onode, f"buildflags.{flag}.{op}"))
            problem = confine.option_problem(list(options), system=True)
            if problem:
                raise onode.error(f"buildflags.{flag}.{op}: {problem[0]} {problem[1]}",
                                  "options may name directories of the tree or, absolute, under /usr")
            if options:
                out.append((flag, op.upper(), options))
    return tuple(out)


def _compile_memory(node: Node) -> dict[str, int]:
    """source glob -> the compiler's peak RSS on it, in MiB; "default" for every other source."""
    if not isinstance(node.value, dict):
        raise node.error(f"config.compile-memory must be a mapping of source glob -> memory (such as 6G), "
                         f"not {_type(node.value)}")
    out = {}
    for pattern, value in node.value.items():
        if pattern != "default":
            _glob(Node(pattern, value.line, node.file), "compile-memory glob")
        size = MEMORY.fullmatch(str(value.value))
        if not size or not 0 < float(size.group(1)) < 1 << 20:
            raise value.error(f"compile-memory '{pattern}': '{value.value}' is not a memory size",
                              "write the compiler's peak RSS as a number and M or G (MiB, GiB), such as 512M or 6G")
        out[pattern] = max(1, round(float(size.group(1)) * (1024 if size.group(2) == "G" else 1)))
    return out


def _flavors(node: Node, version: str, recipe_dir: Path) -> dict[str, FlavorSpec]:
    known = FLAVORS
    if not isinstance(node.value, dict):
        raise node.error(f"flavors must be a mapping of flavour name -> settings, not {_type(node.value)}")
    out = {}
    for name, fnode in node.value.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise fnode.error(f"unknown flavour '{name}'",
                              f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known))}")
        fl = known[name]
        m = _mapping(fnode, f"flavors.{name}", {fl.arch_key: True, "config": False, "packages": True,
                                                "externals": False, "patches": False})
        archs = [(_str(n, f"flavors.{name}.{fl.arch_key} entry"), n.line)
                 for n in _list(m[fl.arch_key], f"flavors.{name}.{fl.arch_key}")]
        if not archs:
            raise m[fl.arch_key].error(f"flavors.{name}.{fl.arch_key} is empty")
        fl.check_archs(archs, node.file)
        if "config" in m and isinstance(m["config"].value, dict) and "compile-memory" in m["config"].value:
            raise m["config"].value["compile-memory"].error(
                "compile-memory is set once, in the recipe's config: the flavour's compiles use it too")
        out[name] = FlavorSpec(
            name=name, archs=tuple(dict.fromkeys(a for a, _ in archs)),
            config=_config(m["config"]) if "config" in m else Config(),
            packages=tuple(replace(p, variants=False) for p in _packages(m["packages"], version, recipe_dir, name)),
            externals=_externals(m["externals"]) if "externals" in m else {},
            patches=_patches(m["patches"], f"flavors.{name}.patches", recipe_dir) if "patches" in m else (),
            line=fnode.line)
    return out


def _patches(node: Node, what: str, recipe_dir: Path) -> tuple[Path, ...]:
    """DEP-3 patch files, relative to the recipe's directory; one name once (they share one series)."""
    out: list[Path] = []
    for n in _list(node, what):
        path = _patch(n, recipe_dir)
        if path.name in {p.name for p in out}:
            raise n.error(f"two patches are named {path.name}")
        out.append(path)
    return tuple(out)


def _patch(node: Node, recipe_dir: Path) -> Path:
    """A patch file, relative to the recipe's directory."""
    rel = _relpath(node, "patch")
    path = recipe_dir / rel
    if not confine.in_tree(recipe_dir, rel):   # a symlink must not make the recipe read a file elsewhere
        raise node.error(f"patch {rel} leads out of the recipe's directory")
    if not path.is_file():
        raise node.error(f"patch {path} does not exist")
    return path


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    root = load_yaml(path)
    top = _mapping(root, "recipe", TOP_KEYS)
    version = _str(top["version"], "version", UPSTREAM_VERSION, "upstream versions start with a digit")

    arches = _architectures(top)
    levels = _isa_levels(top, arches)

    frontend = _str(top["frontend"], "frontend", FRONTEND, "a frontend's name")   # which exist: the pipeline's to say

    dev = _mapping(top["dev"], "dev", {"package": True, "headers": False, "cmake": False, "static": False,
                                       "header-only": False, "unlinked-headers": False})
    dev_package = _str(dev["package"], "dev.package", PKG_NAME)
    packages = _packages(top["packages"], version, path.parent)
    if dev_package in {p.name for p in packages}:
        raise dev["package"].error(f"dev package '{dev_package}' has the name of a library package")
    maintainer = _str(top["maintainer"], "maintainer", MAINTAINER, "expected 'Full Name <address@domain>'")
    revision = _str(top["debian-revision"], "debian-revision", REVISION) \
        if "debian-revision" in top else "1"
    patches = _patches(top["patches"], "patches", path.parent) if "patches" in top else ()
    sensitive, measured_for = _level_sensitive(top["level-sensitive"], path.parent) \
        if "level-sensitive" in top else (None, None)
    return Recipe(
        path=path, source=_str(top["source"], "source", PKG_NAME), version=version, debian_revision=revision,
        upstream=_upstream(top["upstream"], path.parent), maintainer=maintainer,
        section=_str(top["section"], "section", SECTION, "a Debian section such as libs or contrib/science")
        if "section" in top else "libs",
        homepage=_str(top["homepage"], "homepage", HOMEPAGE, "expected an http(s) URL"),
        license=_license(top["license"]),
        copyright=_str(top["copyright"], "copyright", lines=True),
        summary=_str(top["summary"], "summary"),
        description=_str(top["description"], "description", lines=True),
        frontend=frontend, architectures=arches, isa_levels=tuple(levels), packages=packages,
        dev_package=dev_package, headers=_headers(dev["headers"]) if "headers" in dev else (),
        externals=_externals(top["externals"]) if "externals" in top else {},
        config=_config(top["config"]) if "config" in top else Config(),
        repo_files=_repo_files(top["bazel"]) if "bazel" in top else {},
        distribution=_str(top["distribution"], "distribution", SUITE) if "distribution" in top else "unstable",
        closes=tuple(_bug(n) for n in _list(top["closes"], "closes")) if "closes" in top else (),
        lines={k: v.line for k, v in top.items()},
        flavors=_flavors(top["flavors"], version, path.parent) if "flavors" in top else {},
        tools=_tools(top["tools"]) if "tools" in top else {},
        python_requirements=_python_requirements(top["python-requirements"]) if "python-requirements" in top else {},
        patches=patches,
        leave_out=_leave_out(top["leave-out"], path.parent, patches) if "leave-out" in top else (),
        known_cuts=_known_cuts(top["known-cuts"], path.parent) if "known-cuts" in top else (),
        rule_outputs=_rule_outputs(top["rule-outputs"], path.parent) if "rule-outputs" in top else {},
        level_sensitive=sensitive, level_sensitive_for=measured_for,
        buildflags=_buildflags(top["buildflags"]) if "buildflags" in top else (),
        tests=_tests(top["tests"], levels, [lib.name for p in packages for lib in p.libraries])
        if "tests" in top else None,
        consumer_tests=_consumer_tests(top["consumer-tests"], path.parent,
                                       [lib.name for p in packages for lib in p.libraries])
        if "consumer-tests" in top else (),
        **_cmake(dev),
        static=_bool(dev["static"], "dev.static") if "static" in dev else True,
        header_only=_header_only(dev["header-only"]) if "header-only" in dev else None,
        unlinked_headers=_unlinked_headers(dev["unlinked-headers"]) if "unlinked-headers" in dev else (),
        lintian_overrides=_lintian_overrides(top["lintian-overrides"], packages, dev_package,
                                             _str(top["source"], "source", PKG_NAME), levels)
        if "lintian-overrides" in top else {},
    )


def _lintian_overrides(node: Node, packages: tuple[BinaryPackage, ...], dev: str, source: str,
                       levels: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """package -> {tag [context]: reason}: every package debforge makes (or `source`), every override with why."""
    suffixes = ["generic"] + [isa.all_levels()[lvl].suffix for lvl in levels]
    known = {"source", dev, f"{source}-src"} | {p.name for p in packages} | \
        {f"{p.name}-{s}" for p in packages for s in suffixes}
    if not isinstance(node.value, dict):
        raise node.error(f"lintian-overrides must be a mapping of package -> {{tag: reason}}, not {_type(node.value)}")
    out = {}
    for pkg, tags in node.value.items():
        if pkg not in known:
            close = difflib.get_close_matches(str(pkg), known, n=1)
            raise tags.error(f"lintian-overrides: '{pkg}' is not a package of this recipe",
                             f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known))}")
        if not isinstance(tags.value, dict) or not tags.value:
            raise tags.error(f"lintian-overrides.{pkg} must be a mapping of lintian tag -> the reason for "
                             f"overriding it")
        out[pkg] = tuple((_str(Node(tag, reason.line, node.file), "lintian tag", LINTIAN_TAG,
                               "a lintian tag, optionally followed by its context"),
                          _str(reason, f"the reason for overriding {tag}")) for tag, reason in tags.value.items())
    return out


MAX_RULE_OUTPUTS = 200_000


def _rule_outputs(node: Node, recipe_dir: Path) -> dict[str, tuple[str, ...]]:
    """rule label -> a file beside the recipe listing the rule's outputs, one relative path a line."""
    out = {}
    for label, value in _by_label(node, "rule-outputs", "rule labels to files"):
        rel, lines = _recipe_file(value, "rule-outputs", recipe_dir)
        if len(lines) > MAX_RULE_OUTPUTS:
            raise value.error(f"{rel} lists more than {MAX_RULE_OUTPUTS} outputs")
        for n, line in enumerate(lines, 1):
            if confine.inside(line) != line or CONTROL.search(line) or " " in line:
                raise DebforgeError(f"expected a relative path inside the output directory, not {line[:60]!r}",
                                    str(recipe_dir / rel), n)
        out[label] = tuple(lines)
    return out


def _recipe_file(value: Node, what: str, recipe_dir: Path) -> tuple[str, list[str]]:
    """A list file beside the recipe (confined to its directory): its path relative to it, and its lines."""
    rel = _relpath(value, f"{what} file")
    if not confine.in_tree(recipe_dir, rel) or not (recipe_dir / rel).is_file():
        raise value.error(f"{what} file {rel} is not a file in the recipe's directory")
    return rel, (recipe_dir / rel).read_bytes()[:64 << 20].decode("utf-8", "replace").splitlines()


MAX_LEVEL_GLOBS = 100_000
# the first line `debforge measure-levels` writes: "<MEASURED_HEADER><source> <version> (recipe ..."
MEASURED_HEADER = "# Level-sensitive translation units of "


def _level_sensitive(node: Node, recipe_dir: Path) -> tuple[tuple[LevelGlob, ...], tuple[str, int, str] | None]:
    """Source globs (from the tree root) of the translation units compiled once per ISA level: a list, or
    {file: PATH} naming a file beside the recipe with one glob a line (# starts a comment); and, for a file
    measure-levels wrote, (file, 1, the upstream version it measured)."""
    if isinstance(node.value, list):
        return tuple(LevelGlob(_glob(n, "level-sensitive glob"), node.file, n.line)
                     for n in _list(node, "level-sensitive")), None
    if not isinstance(node.value, dict):
        raise node.error(f"level-sensitive must be a list of source globs or {{file: PATH}}, not {_type(node.value)}")
    m = _mapping(node, "level-sensitive", {"file": True})
    rel, lines = _recipe_file(m["file"], "level-sensitive", recipe_dir)
    if len(lines) > MAX_LEVEL_GLOBS:
        raise m["file"].error(f"{rel} lists more than {MAX_LEVEL_GLOBS} globs")
    where = str(recipe_dir / rel)
    out = []
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(LevelGlob(_glob(Node(text, n, where), "level-sensitive glob"), where, n))
    head = lines[0].removeprefix(MEASURED_HEADER).split() if lines and lines[0].startswith(MEASURED_HEADER) else []
    return tuple(out), (where, 1, head[1]) if len(head) > 1 else None


def _architectures(top: dict[str, Node]) -> tuple[str, ...]:
    arches = tuple(_str(n, "architecture") for n in _list(top["architectures"], "architectures")) \
        if "architectures" in top else ("amd64", "arm64")
    if not arches:
        raise top["architectures"].error("architectures is empty", "name at least one, e.g. [amd64]")
    for i, (n, a) in enumerate(zip(top["architectures"].value if "architectures" in top else [], arches)):
        if a not in isa.ARCHES:
            raise n.error(f"unknown architecture '{a}'", f"known: {', '.join(sorted(isa.ARCHES))}")
        if a in arches[:i]:
            raise n.error(f"architecture '{a}' is listed twice")
    return arches


def _isa_levels(top: dict[str, Node], arches: tuple[str, ...]) -> list[str]:
    known_levels = isa.all_levels()
    if "isa-levels" not in top:
        return list(known_levels)
    levels: list[str] = []
    for n in _list(top["isa-levels"], "isa-levels"):
        name = _str(n, "ISA level")
        if name not in known_levels:
            close = difflib.get_close_matches(name, known_levels, n=1)
            raise n.error(f"unknown ISA level '{name}'",
                          f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known_levels)}")
        if name in levels:
            raise n.error(f"ISA level '{name}' is listed twice")
        if not set(isa.arches_with_level(name)) & set(arches):
            raise n.error(f"ISA level '{name}' exists on none of the recipe's architectures ({' '.join(arches)})",
                          f"it is a level of {', '.join(isa.arches_with_level(name))}")
        levels.append(name)
    return levels


LEAVE_OUT = re.compile(r"//(?:[A-Za-z0-9_./+-]*:[A-Za-z0-9_./+=,@~-]+|(?:[A-Za-z0-9_.+-]+/)*\.\.\.)")


def _leave_out(node: Node, recipe_dir: Path, patches: tuple[Path, ...]) -> tuple[LeaveOut, ...]:
    """label or //pkg/... -> the reason (what the libraries lose, and why), or {reason: ..., patch: FILE} where one
    of the recipe's patches takes out what kept code includes or calls of it."""
    if not isinstance(node.value, dict):
        raise node.error(f"leave-out must be a mapping of in-tree label (or //pkg/...) -> reason, "
                         f"not {_type(node.value)}")
    out = []
    for pattern, value in node.value.items():
        if not isinstance(pattern, str) or not LEAVE_OUT.fullmatch(pattern) or ".." in re.split(r"[/:]", pattern):
            raise value.error(f"leave-out key '{pattern}' is not an in-tree label such as //pkg:name or a package "
                              f"pattern such as //pkg/...")
        if not isinstance(value.value, dict):
            out.append(LeaveOut(pattern, _str(value, f"leave-out.{pattern}"), value.line))
            continue
        entry = _mapping(value, f"leave-out.{pattern}", {"reason": True, "patch": True})
        patch = _patch(entry["patch"], recipe_dir)
        if patch not in patches:
            raise entry["patch"].error(f"leave-out.{pattern}.patch {patch.name} is not one of the recipe's patches",
                                       hint="add it to patches: (it takes the kept code's uses out)")
        out.append(LeaveOut(pattern, _str(entry["reason"], f"leave-out.{pattern}.reason"), value.line, patch))
    return tuple(out)


MAX_TEST_SECONDS = 24 * 3600


def _tests(node: Node, levels: list[str], libraries: list[str]) -> Tests:
    """Which of upstream's cc_test targets run (label patterns), which selected ones do not and why, which fail at
    which ISA level and why, an optional timeout per test (default: bazel's for the test's size), which recipe
    libraries the tests link (default: every one) and which are flaky (run again when they fail) and why."""
    m = _mapping(node, "tests", {"select": True, "leave-out": False, "known-failures": False, "timeout": False,
                                 "libraries": False, "flaky": False})
    select = tuple(TestEntry(_test_pattern(n, "tests.select entry"), "", n.line, n.file)
                   for n in _list(m["select"], "tests.select"))
    if not select:
        raise m["select"].error("tests.select is empty", "name test labels such as //pkg:name, //pkg:all or //pkg/...")
    known = {}
    for level, value in (_test_mapping(m["known-failures"], "tests.known-failures", "ISA level -> {label: reason}")
                         if "known-failures" in m else {}).items():
        if level != isa.GENERIC and level not in levels:
            raise value.error(f"tests.known-failures: '{level}' is not a level this recipe builds",
                              f"levels: {', '.join([isa.GENERIC, *levels])}")
        known[level] = _test_reasons(value, f"tests.known-failures.{level}")
    timeout = m.get("timeout")
    if timeout is not None and (not isinstance(timeout.value, int) or isinstance(timeout.value, bool)
                                or not 0 < timeout.value <= MAX_TEST_SECONDS):
        raise timeout.error(f"tests.timeout must be a number of seconds from 1 to {MAX_TEST_SECONDS}")
    linked = None
    if "libraries" in m:
        linked = tuple(_str(n, "tests.libraries entry") for n in _list(m["libraries"], "tests.libraries"))
        for n in m["libraries"].value:
            if n.value not in libraries:
                raise n.error(f"tests.libraries entry '{n.value}' is not a library of this recipe",
                              f"libraries: {', '.join(libraries)}")
    return Tests(select, _test_reasons(m["leave-out"], "tests.leave-out") if "leave-out" in m else (), known,
                 timeout.value if timeout is not None else None, linked,
                 _test_reasons(m["flaky"], "tests.flaky") if "flaky" in m else ())


RESERVED_TESTS = (HWCAPS_TEST, UPSTREAM_TEST, HEADERS_TEST)
PROGRAM_SUFFIXES = (".c", ".cc", ".cpp", ".cxx")


def _consumer_tests(node: Node, recipe_dir: Path, libraries: list[str]) -> tuple[ConsumerTest, ...]:
    """Programs beside the recipe, each an autopkgtest built against the installed -dev package: its name (in
    debian/tests), its source file, the recipe libraries it links (default: every one) and whether it is built with
    their pkg-config flags (default) or with -l<library> alone, as a build system that does not read them links."""
    out: list[ConsumerTest] = []
    for item in _list(node, "consumer-tests"):
        m = _mapping(item, "consumer-tests entry", {"name": True, "source": True, "libraries": False,
                                                     "pkg-config": False})
        name = _str(m["name"], "consumer-tests name", PKG_NAME, "a debian/tests name: a-z, 0-9, +, -, .")
        if name in RESERVED_TESTS or name in {t.name for t in out}:
            raise m["name"].error(f"consumer-tests name '{name}' is taken (debforge's own tests: "
                                  f"{', '.join(RESERVED_TESTS)})")
        rel = _relpath(m["source"], "consumer-tests source")
        if not rel.endswith(PROGRAM_SUFFIXES) or not confine.in_tree(recipe_dir, rel) \
                or not (recipe_dir / rel).is_file():
            raise m["source"].error(f"consumer-tests source {rel} is not a C or C++ file in the recipe's directory",
                                    f"a file ending in {', '.join(PROGRAM_SUFFIXES)} beside the recipe")
        linked = tuple(_str(n, "consumer-tests libraries entry") for n in _list(m["libraries"], "libraries")) \
            if "libraries" in m else tuple(libraries)
        for n in m["libraries"].value if "libraries" in m else ():
            if n.value not in libraries:
                raise n.error(f"consumer-tests libraries entry '{n.value}' is not a library of this recipe",
                              f"libraries: {', '.join(libraries)}")
        out.append(ConsumerTest(name, recipe_dir / rel, linked, item.line,
                                _bool(m["pkg-config"], "pkg-config") if "pkg-config" in m else True))
    return tuple(out)


def _test_mapping(node: Node, what: str, shape: str) -> dict[str, Node]:
    if not isinstance(node.value, dict) or not node.value:
        raise node.error(f"{what} must be a non-empty mapping of {shape}, not {_type(node.value)}")
    return node.value


def _test_reasons(node: Node, what: str) -> tuple[TestEntry, ...]:
    """test label (or pattern) -> the reason, said in the recipe: why it is left out, or why it fails."""
    return tuple(TestEntry(_test_pattern(Node(label, value.line, node.file), f"{what} key"),
                           _str(value, f"{what}.{label}"), value.line, node.file)
                 for label, value in _test_mapping(node, what, "test label -> reason").items())


def _test_pattern(node: Node, what: str) -> str:
    value = _str(node, what)
    if not LEAVE_OUT.fullmatch(value) or ".." in re.split(r"[/:]", value.removesuffix("/...")):
        raise node.error(f"{what} '{value}' is not an in-tree test label such as //pkg:name, //pkg:all or //pkg/...")
    return value


EDGE = re.compile(rf"(?P<user>{LABEL.pattern}) -> (?P<dep>{LABEL.pattern})")
DEFINE = re.compile(rf"({LABEL_OR_NAME.pattern.replace('=', '')})=(.*)")


def _known_cuts(node: Node, recipe_dir: Path) -> tuple[KnownCut, ...]:
    """"//user -> //dep" -> {define: NAME=VALUE} or {patch: FILE}: what removes that dependency of upstream's."""
    if not isinstance(node.value, dict):
        raise node.error(f"known-cuts must be a mapping of \"//user -> //dep\" -> {{define: NAME=VALUE}} or "
                         f"{{patch: FILE}}, not {_type(node.value)}")
    out = []
    for edge, value in node.value.items():
        m = EDGE.fullmatch(edge) if isinstance(edge, str) else None
        if m is None or ".." in re.split(r"[/:]", edge):
            raise value.error(f"known-cuts key '{edge}' is not a dependency such as \"//pkg:user -> //pkg:dep\"")
        how = _mapping(value, f"known-cuts.{edge}", {"define": False, "patch": False})
        if len(how) != 1:
            raise value.error(f"known-cuts.{edge} needs exactly one of 'define' (NAME=VALUE) or 'patch' (a file)")
        define = DEFINE.fullmatch(_str(how["define"], f"known-cuts.{edge}.define")) if "define" in how else None
        if "define" in how and define is None:
            raise how["define"].error(f"known-cuts.{edge}.define is not NAME=VALUE (a --define of the build)")
        patch = _patch(how["patch"], recipe_dir) if "patch" in how else None
        out.append(KnownCut(m["user"], m["dep"], define.groups() if define else None, patch))
    return tuple(out)


def _python_requirements(node: Node) -> dict[str, str]:
    """requirement name as rules_python spells it in labels (@pip_deps//:pyyaml) -> Debian package."""
    if not isinstance(node.value, dict):
        raise node.error(f"python-requirements must be a mapping of requirement -> Debian package, "
                         f"not {_type(node.value)}")
    return {_str(Node(name, value.line, node.file), "python-requirements key", LABEL_OR_NAME):
            _str(value, f"python-requirements.{name}", PKG_NAME) for name, value in node.value.items()}


def _by_label(node: Node, key: str, shape: str) -> list[tuple[str, Node]]:
    """The entries of a mapping keyed by bazel labels (`tools`, `rule-outputs`)."""
    if not isinstance(node.value, dict):
        raise node.error(f"{key} must be a mapping of {shape}, not {_type(node.value)}")
    for label, value in node.value.items():
        if not LABEL.fullmatch(label):
            raise value.error(f"{key}: '{label}' is not a bazel label")
    return list(node.value.items())


def _tools(node: Node) -> dict[str, Tool]:
    out = {}
    for label, value in _by_label(node, "tools", "bazel label -> {command, package}"):
        tm = _mapping(value, f"tools.{label}", {"command": True, "package": True})
        out[label] = Tool(_str(tm["command"], f"tools.{label}.command", LIB_NAME,
                               "a program's name (found on PATH), not a shell command"),
                          _str(tm["package"], f"tools.{label}.package", PKG_NAME), value.line)
    return out


def _bug(node: Node) -> int:
    if not isinstance(node.value, int) or isinstance(node.value, bool) or not 0 < node.value < 10 ** BUG_DIGITS:
        raise node.error("closes lists Debian bug numbers, such as 1012345")
    return node.value
