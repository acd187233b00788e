"""debian/copyright in DEP-5 form, with python-debian."""

from __future__ import annotations

import time
from pathlib import Path

from debian.copyright import Copyright, FilesParagraph, Header, License, LicenseParagraph

from ...core.confine import in_tree
from ...core.escape import deb822_text
from ...recipe.model import Recipe

COMMON_LICENSES = Path("/usr/share/common-licenses")
LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "COPYING.txt")


def _license(recipe: Recipe, root: Path) -> License:
    if (COMMON_LICENSES / recipe.license).is_file() or recipe.license in {"Apache-2.0", "GPL-2", "GPL-3",
                                                                           "LGPL-2.1", "LGPL-3", "MPL-2.0"}:
        return License(recipe.license, f"On Debian systems, the complete text of this license can be found in\n"
                                       f"/usr/share/common-licenses/{recipe.license}.")
    for name in LICENSE_FILES:
        path = root / name
        if path.is_file() and in_tree(root, name):   # a symlink out of the tree would quote a file of this machine
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            return License(recipe.license, "\n".join(ln.rstrip() or "." for ln in text.splitlines()))
    raise recipe.error("license", f"license '{recipe.license}' is not in /usr/share/common-licenses and the "
                                  f"upstream tree has no {' or '.join(LICENSE_FILES)} to quote in full")


def render(recipe: Recipe, root: Path, timestamp: int) -> str:
    c = Copyright()
    c.header = Header()
    c.header.upstream_name = recipe.source
    c.header.source = recipe.homepage
    short = License(recipe.license)
    c.add_files_paragraph(FilesParagraph.create(["*"], deb822_text(recipe.copyright), short))
    year = time.gmtime(timestamp).tm_year
    c.add_files_paragraph(FilesParagraph.create(["debian/*"], f"{year} {recipe.maintainer}", short))
    c.add_license_paragraph(LicenseParagraph.create(_license(recipe, root)))
    return c.dump()
