"""debian/control, written with python-debian's deb822."""

from __future__ import annotations

import io
import textwrap

from debian.deb822 import Deb822

from ...core import escape
from ...core.errors import DebforgeError
from ...recipe.model import BinaryPackage, Recipe
from . import ldscript
from .packages import generic_name, safe, src_name, variants

STANDARDS_VERSION = "4.6.2"
STANDARDS_DATE = 1671244904   # its release (2022-12-17 02:41:44 UTC): packaging that follows it cannot be older
SYNOPSIS_MAX = 80   # lintian's synopsis-too-long


def _long(text: str) -> str:
    """A long description: paragraphs wrapped to 79 columns, continuation lines indented, blank lines ' .'."""
    out = []
    for para in text.strip().split("\n\n"):
        lines = para.splitlines()
        if out:
            out.append(" .")
        if any(len(ln) > 78 for ln in lines):
            lines = textwrap.wrap(" ".join(ln.strip() for ln in lines), 78)
        out += [" " + ln.rstrip() if ln.strip() else " ." for ln in lines]
    return "\n".join(out)


def description(summary: str, *paragraphs: str) -> str:
    return summary + "\n" + "\n .\n".join(_long(p) for p in paragraphs if p)


def render(recipe: Recipe, build_depends: list[str], dev_depends: list[str] = ()) -> str:
    """`dev_depends`: the externals' -dev packages whose headers the -dev package's headers include."""
    paragraphs = [_source(recipe, build_depends)]
    for pkg in recipe.packages:
        paragraphs += _library_packages(recipe, pkg)
    paragraphs += [_dev(recipe, dev_depends), _src(recipe)]
    _check_synopses(recipe, paragraphs)
    return dump(paragraphs, recipe)


def _check_synopses(recipe: Recipe, paragraphs: list[Deb822]) -> None:
    """Each package's synopsis (the recipe's summary, or its package's, with what debforge appends) within lintian's
    limit: an error at the summary's line, before any build."""
    for synopsis, p in sorted(((p["Description"].split("\n", 1)[0], p) for p in paragraphs[1:]),
                              key=lambda x: -len(x[0])):   # the longest first: its bound fits every package
        if len(synopsis) > SYNOPSIS_MAX:
            own = next((x for x in recipe.packages if x.summary and synopsis.startswith(x.summary + " (")), None)
            summary = own.summary if own else recipe.summary
            raise DebforgeError(
                f"the summary makes {p['Package']}'s synopsis '{synopsis}' {len(synopsis)} characters long: lintian "
                f"warns above {SYNOPSIS_MAX} (synopsis-too-long)", str(recipe.path),
                own.line if own else recipe.lines.get("summary"),
                f"keep it within {SYNOPSIS_MAX - len(synopsis) + len(summary)} characters: debforge appends "
                f"'{synopsis[len(summary):]}'")


def _source(recipe: Recipe, build_depends: list[str]) -> Deb822:
    return Deb822({
        "Source": recipe.source,
        "Section": recipe.section,
        "Priority": "optional",
        "Maintainer": recipe.maintainer,
        "Build-Depends": ",\n ".join(["debhelper-compat (= 13)", "ninja-build"]
                                      + ["dh-exec"] * bool(profiled(recipe) or ldscript.needed(recipe))
                                      + sorted(set(build_depends))),
        "Build-Depends-Indep": "xz-utils",
        "Standards-Version": STANDARDS_VERSION,
        "Homepage": recipe.homepage,
        "Rules-Requires-Root": "no",
    })


def _library_packages(recipe: Recipe, pkg: BinaryPackage) -> list[Deb822]:
    """A recipe package: its metapackage, the -generic package and one package per ISA level."""
    arches = " ".join(recipe.architectures)
    summary = pkg.summary or recipe.summary
    libs = ", ".join(f"lib{lib.name}.so.{lib.soversion}" for lib in pkg.libraries)
    vs = variants(recipe, pkg)
    # each package of the recipe package: its build profiles, and the libs section
    common = ({"Build-Profiles": pkg.build_profiles} if pkg.build_profiles else {}) | section(recipe.section, "libs")
    out = [Deb822({
        "Package": pkg.name,
        **common,
        "Architecture": arches,
        "Multi-Arch": "same",
        "Depends": f"{generic_name(pkg)} (= ${{binary:Version}}), ${{misc:Depends}}",
        **({"Recommends": f"${{debforge:Variants-{safe(pkg.name)}}}"} if vs else {}),
        "Description": description(
            f"{summary} (metapackage)", recipe.description,
            f"This metapackage installs {libs} built for the architecture's baseline"
            + (" and the builds for newer instruction set levels, of which the dynamic loader picks the best "
               "one the CPU supports at run time." if vs else ".")),
    }), Deb822({
        "Package": generic_name(pkg),
        **common,
        "Architecture": arches,
        "Multi-Arch": "same",
        "Depends": "${shlibs:Depends}, ${misc:Depends}",
        "Description": description(
            f"{summary} (baseline build)", recipe.description,
            f"This package holds {libs} built for the architecture's baseline instruction set; it works on "
            f"every CPU of the architecture."),
    })]
    for v in vs:
        out.append(Deb822({
            "Package": v.name,
            **common,
            "Architecture": " ".join(v.arches),
            "Multi-Arch": "same",
            "Depends": f"{generic_name(pkg)} (= ${{binary:Version}}), ${{shlibs:Depends}}, ${{misc:Depends}}",
            "Description": description(
                f"{summary} ({v.level.name} build)", recipe.description,
                f"This package holds {libs} built for {v.level.summary}, installed in "
                f"glibc-hwcaps/{v.level.name}/. The dynamic loader uses it instead of the baseline build on "
                f"CPUs that support the level, and ignores it on others."),
        }))
    return out


def section(source: str, name: str) -> dict[str, str]:
    """The Section field of a binary package of section `name` (libs, libdevel, devel: Debian sorts library
    packages so whatever the source's section, as lintian's name_section_mappings say) in the archive area of the
    source's section `source`; none where that is the source's own."""
    area = source.rpartition("/")[0]
    full = f"{area}/{name}" if area else name
    return {} if full == source else {"Section": full}


def _dev(recipe: Recipe, dev_depends: list[str]) -> Deb822:
    # a package a build profile leaves out is not depended on: debian/rules names the built ones in a substvar
    meta_deps = ", ".join([f"{p.name} (= ${{binary:Version}})" for p in recipe.packages if not p.build_profiles]
                          + ["${debforge:Profiled-Depends}"] * bool(profiled(recipe)) + list(dev_depends))
    return Deb822({
        "Package": recipe.dev_package,
        **section(recipe.section, "libdevel"),
        "Architecture": " ".join(recipe.architectures),
        "Multi-Arch": "same",
        "Depends": f"{meta_deps}, ${{misc:Depends}}",
        "Description": description(f"{recipe.summary} (development files)", recipe.description,
                                   "This package holds the headers, the link-time symlinks"
                                   + (", the static libraries" if recipe.static else "")
                                   + " and the pkg-config files."),
    })


def _src(recipe: Recipe) -> Deb822:
    return Deb822({
        "Package": src_name(recipe),
        "Architecture": "all",
        "Multi-Arch": "foreign",
        **section(recipe.section, "devel"),
        "Depends": "${misc:Depends}",
        "Description": description(
            f"{recipe.summary} (source code)", recipe.description,
            f"This package holds the source of {recipe.source} as built for Debian (upstream with Debian's "
            f"patches applied, and the debforge recipe) as one tarball under /usr/src/{recipe.source}/, for "
            f"source packages that build other flavours of it."),
    })


def dump(paragraphs: list[Deb822], recipe: Recipe) -> str:
    """A control file: deb822 paragraphs separated by blank lines, each field checked to stay one field
    (escape.deb822; the recipe's schema has refused what would not, with its line, before)."""
    out = io.StringIO()
    for i, p in enumerate(paragraphs):
        for name, value in p.items():
            escape.deb822(name, value, (str(recipe.path), None))
        if i:
            out.write("\n")
        p.dump(out, text_mode=True)
    return out.getvalue()


def profiled(recipe: Recipe) -> list[BinaryPackage]:
    """Recipe packages built only under some build profiles."""
    return [p for p in recipe.packages if p.build_profiles]

