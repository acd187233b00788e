"""debforge's own debian/ agrees with pyproject.toml: every runtime dependency is a Depends with the same minimum
version, and the changelog's version is the project's (a native package)."""

import re
import tomllib
from pathlib import Path

from debian.changelog import Changelog
from debian.deb822 import Deb822, PkgRelation

ROOT = Path(__file__).resolve().parent.parent
# PyPI name -> Debian package (python3-starlark-pyo3 and python3-ninja: tools/pypi-debs, until Debian has them).
DEBIAN_NAME = {"python-debian": "python3-debian", "jinja2": "python3-jinja2", "pyyaml": "python3-yaml",
               "ninja": "python3-ninja", "starlark-pyo3": "python3-starlark-pyo3",
               "license-expression": "python3-license-expression",
               "ruamel.yaml": "python3-ruamel.yaml"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _binary() -> Deb822:
    paras = list(Deb822.iter_paragraphs((ROOT / "debian/control").read_text()))
    return next(p for p in paras if p.get("Package") == "debforge")


def test_runtime_dependencies_are_depends():
    depends = {alt[0]["name"]: alt[0]["version"] for alt in PkgRelation.parse_relations(_binary()["Depends"])
               if not alt[0]["name"].startswith("${")}
    for req in _project()["dependencies"]:
        name, op, version = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(>=)\s*([0-9.]+)", req).groups()
        package = DEBIAN_NAME[name.lower()]
        assert package in depends, f"{req}: debian/control lacks Depends: {package}"
        assert depends[package] == (op, version), f"{req}: debian/control has {package} {depends[package]}"


def test_changelog_version_is_the_project_version():
    version = Changelog((ROOT / "debian/changelog").read_text()).version
    assert str(version) == _project()["version"]
    assert (ROOT / "debian/source/format").read_text().strip() == "3.0 (native)"


def test_recipes_are_installed():
    assert "recipes usr/share/debforge/" in (ROOT / "debian/debforge.install").read_text().splitlines()
    assert (ROOT / "recipes/nsync.yaml").is_file()
