"""What one plan is of: the recipe's packages and externals (or a GPU flavour's), the scan it reads, and the
lookups on the scan's targets every part of the planner shares."""

from __future__ import annotations

from ..core.devpackage import DevPackage
from ..core.errors import DebforgeError
from ..graph import ScanView, Target, split_label
from ..recipe.model import Library, Recipe
from .model import FlavorBuild
from .rules import tblgen
from .rules.common import declared_outputs
from .targets import CC_KINDS, where


class Scope:
    def __init__(self, recipe: Recipe, ws: ScanView, flavor: FlavorBuild | None = None,
                 contents: dict[str, DevPackage] | None = None):
        self.recipe = recipe
        self.ws = ws
        self.contents = contents or {}   # Debian package -> what it holds (its pkg-config modules' libraries)
        self.flavor = flavor.flavor if flavor else None
        spec = recipe.flavor(self.flavor.name) if flavor else None
        self.packages = spec.packages if spec else recipe.packages
        self.externals = {**recipe.externals, **spec.externals} if spec else recipe.externals
        self.kinds = CC_KINDS + (self.flavor.rule_kinds if flavor else ())
        self.lib_by_label = self._libraries_by_label()
        self.provided = flavor.provided({lib.name for lib in self.lib_by_label.values()}) if flavor else {}
        # macros of the features the recipe drops: gone from every compile, however upstream spells them
        self.undefined = {m for ext in self.externals.values() for m in ext.undefine}
        self.made_by: dict[str, Target] = {}    # output label -> the rule declaring it
        self.indexed: set[str] = set()           # packages whose rules are in made_by

    def _libraries_by_label(self) -> dict[str, Library]:
        """The recipe's libraries by the label of their target, and by the shared object that a
        tf_cc_shared_object's filegroup (the library's target) names: dynamic_deps name that one."""
        by_label = {lib.target: lib for p in self.packages for lib in p.libraries}
        for label, lib in list(by_label.items()):
            group = self.ws.target(label)
            if group is not None and group.kind == "filegroup" and len(group.attrs.get("srcs", [])) == 1:
                by_label.setdefault(group.attrs["srcs"][0], lib)
        return by_label

    def resolve(self, label: str, referrer: str, chain: tuple[str, ...] = ()) -> Target:
        """The target `label` names (through aliases), which the target at `referrer` depends on."""
        t = self.ws.target(label)
        if t is None:
            pkg = split_label(label)[1]
            hint = None if self.ws.build_file(pkg) else (
                f"the tree has no package //{pkg}; if the Debian source removed it, map it in "
                f"{self.recipe.path} under externals: //{pkg}: lib...-dev")
            raise DebforgeError(f"'{label}' names no target", *where(referrer), hint=hint)
        if t.kind == "alias":
            actual = t.attrs.get("actual")
            if not isinstance(actual, str):
                raise DebforgeError(f"alias '{t.label}' has no 'actual' label", *where(t.location))
            if actual in chain + (label,):
                raise DebforgeError(f"alias cycle: {' -> '.join(chain + (label, actual))}", *where(t.location))
            t = self.resolve(actual, t.location, chain + (label,))
        return t

    def mapped_package(self, label: str) -> str | None:
        """The externals key of an in-tree label whose package the recipe maps to a Debian package instead
        (e.g. a third_party directory that the dfsg tarball removed)."""
        pkg = split_label(label)[1]
        return f"//{pkg}" if f"//{pkg}" in self.externals else None

    def maker(self, label: str) -> Target | None:
        """The rule of the label's package that declares the file `label` as an output, if any."""
        pkg = split_label(label)[1]
        if pkg not in self.indexed:   # the label was looked up first, so its package is evaluated
            self.indexed.add(pkg)
            for rule in self.ws.graph.targets.values():
                if split_label(rule.label)[1] == pkg:
                    for out in tblgen.outputs(rule) if rule.kind == tblgen.KIND else declared_outputs(rule):
                        other = self.made_by.setdefault(out, rule)
                        if other is not rule:   # as bazel refuses it: which rule makes the file is ambiguous
                            raise DebforgeError(f"generated file '{out}' of rule '{rule.label}' conflicts with the "
                                                f"same file of rule '{other.label}'", *where(rule.location),
                                                hint="one file, one rule: a patch takes it out of one rule's outputs")
        return self.made_by.get(label)

    def imported_library(self, label: str) -> str | None:
        """The recipe library whose shared object the cc_import `label` imports (TF's
        libtensorflow_framework_import_lib), if it is one."""
        if label.startswith("@"):
            return None
        rule = self.ws.target(label)
        if rule is None or rule.kind != "cc_import" or not isinstance(rule.attrs.get("shared_library"), str):
            return None
        lib = self.recipe_library(rule.attrs["shared_library"])
        return self.lib_by_label[lib].name if lib else None

    def recipe_library(self, label: str, via: tuple[str, ...] = ()) -> str | None:
        """The recipe library (its label in lib_by_label) that a label leads to through filegroups and
        one-source genrules (symlinks), if any."""
        if label in self.lib_by_label:
            return label
        if label.startswith("@") or label in via:
            return None
        rule = self.ws.target(label) or self.maker(label)
        srcs = rule.attrs.get("srcs", []) if rule is not None and rule.kind in ("filegroup", "genrule") else []
        return self.recipe_library(srcs[0], via + (label,)) if len(srcs) == 1 else None
