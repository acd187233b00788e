"""debian/copyright in DEP-5 form, with python-debian."""

from __future__ import annotations

import time
from pathlib import Path

from debian.copyright import Copyright, FilesParagraph, Header, License, LicenseParagraph

from ...core.confine import in_tree
from ...core.errors import DebforgeError
from ...core.escape import deb822_text
from ...recipe.model import Recipe

COMMON_LICENSES = Path("/usr/share/common-licenses")
LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "COPYING.txt")


def _license(name: str, root: Path, top: str, error) -> License:
    """License `name`'s paragraph: common-licenses' file named, or the text of top's LICENSE file (top: a directory
    of the tree, "" its root) quoted in full."""
    if (COMMON_LICENSES / name).is_file() or name in {"Apache-2.0", "GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3", "MPL-2.0"}:
        return License(name, f"On Debian systems, the complete text of this license can be found in\n"
                             f"/usr/share/common-licenses/{name}.")
    for file in LICENSE_FILES:
        rel = f"{top}/{file}" if top else file
        path = root / rel
        if path.is_file() and in_tree(root, rel):   # a symlink out of the tree would quote a file of this machine
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            return License(name, "\n".join(ln.rstrip() or "." for ln in text.splitlines()))
    raise error(f"license '{name}' is not in /usr/share/common-licenses and {top or 'the upstream tree'}/ has no "
                f"{' or '.join(LICENSE_FILES)} to quote in full")


def render(recipe: Recipe, root: Path, timestamp: int) -> str:
    c = Copyright()
    c.header = Header()
    c.header.upstream_name = recipe.source
    c.header.source = recipe.homepage
    short = License(recipe.license)
    c.add_files_paragraph(FilesParagraph.create(["*"], deb822_text(recipe.copyright), short))
    licenses = {recipe.license: _license(recipe.license, root, "", lambda m: recipe.error("license", m))}
    for comp in recipe.upstream.components:   # code of the orig-<name> tarballs
        name = comp.license or recipe.license
        c.add_files_paragraph(FilesParagraph.create([f"{comp.name}/*"], deb822_text(comp.copyright), License(name)))
        if name not in licenses:
            licenses[name] = _license(name, root, comp.name,
                                      lambda m, line=comp.line: DebforgeError(m, str(recipe.path), line))
    year = time.gmtime(timestamp).tm_year
    c.add_files_paragraph(FilesParagraph.create(["debian/*"], f"{year} {recipe.maintainer}", short))
    for paragraph in licenses.values():
        c.add_license_paragraph(LicenseParagraph.create(paragraph))
    return c.dump()
