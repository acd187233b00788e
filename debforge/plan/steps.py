"""Generate steps: a target's sources and headers as paths (tree files, or outputs of generating rules, each
planned once as a build step by its rule kind), and what the rule kinds ask the planner (rules.common.Context):
inputs, tools, rules and build settings."""

from __future__ import annotations

import os

from ..core import isa
from ..core.confine import in_tree
from ..core.errors import DebforgeError
from ..core.layout import BUILDDIR, GENDIR
from ..graph import Target, file_path, split_label
from .closure import Dependencies
from .flags import CompileFlags
from .hosttools import HostTools
from .rules import KINDS, pytools
from .rules.common import Generate, Tool, output_path
from .scope import Scope
from .targets import HEADER_EXT, HEADER_ONLY_KINDS, checked, where


class Steps:
    def __init__(self, scope: Scope, deps: Dependencies, flags: CompileFlags):
        self.scope = scope
        self.deps = deps
        self.steps: dict[str, Generate] = {}   # rule label -> its step
        self.host_tools = HostTools(scope, deps, flags, self)
        self.undefined = scope.undefined       # macros of dropped externals: generated headers turn them off

    def sources(self, t: Target, attr: str = "srcs") -> list[str]:
        """Paths of the files a label list names: tree files, or outputs of generating rules (planned as steps)."""
        return self.paths(t, t.attrs.get(attr, []))

    def generated(self, t: Target) -> list[str]:
        """Generated files among a target's sources and headers (compiles wait for them)."""
        gen = [p for attr in ("srcs", "hdrs", "textual_hdrs") for p in self.sources(t, attr)]
        return [p for p in gen if p.startswith(GENDIR + "/")]

    def paths(self, t: Target, labels: list[str], via: tuple[str, ...] = ()) -> list[str]:
        out = []
        for label in labels:
            if label.startswith("@"):
                ext = self.scope.externals.get(split_label(label)[0])
                if ext is not None and not ext.drop and label.endswith(HEADER_EXT):
                    self.deps.use(ext.package)   # a header of the Debian -dev package (MLIR's, named by TF's hdrs)
                    continue
                raise DebforgeError(f"source '{label}' of '{t.label}' is in an external repository",
                                    *where(t.location))
            rule = self.scope.ws.target(label)
            if rule is not None:
                out.extend(self.rule_paths(t, rule, label, via))
                continue
            maker = self.scope.maker(label)
            if maker is not None:
                step = self.step(maker, label, t)
                out.append(output_path(label))
                if out[-1] not in step.outputs:
                    raise DebforgeError(f"'{label}' is declared by '{maker.label}' ({maker.location}), but its "
                                        f"{maker.kind} step does not write it", *where(t.location))
                continue
            out.append(self.tree_path(t, label))
        return out

    def rule_paths(self, t: Target, rule: Target, label: str, via: tuple[str, ...]) -> list[str]:
        """The paths of a rule that t's label list names: a filegroup's files, an alias's, a step's outputs."""
        if rule.kind in HEADER_ONLY_KINDS:
            return []
        if rule.kind == "filegroup":
            return self.sources(checked(rule))
        if rule.kind == "alias":   # a file or rule under another name
            actual = rule.attrs.get("actual")
            if not isinstance(actual, str) or actual in via + (label,):
                raise DebforgeError(f"alias '{rule.label}' has no 'actual' label or is a cycle",
                                    *where(rule.location))
            return self.paths(t, [actual], via + (label,))
        return self.step(rule, label, t).outputs

    def tree_path(self, t: Target, label: str) -> str:
        """The path of the tree file `label` names, which must be in the tree."""
        path = file_path(label)
        root = self.scope.ws.root
        if not os.path.isfile(os.path.join(root, path)):
            raise DebforgeError(f"'{t.label}' lists source '{path}', which is not in the tree", *where(t.location))
        if not in_tree(root, path):
            raise DebforgeError(f"source '{path}' of '{t.label}' is a symlink that leads out of the tree",
                                *where(t.location))
        return path

    def step(self, rule: Target, label: str, user: Target) -> Generate:
        """The build step of a generating rule (once), its inputs resolved like sources; `user` names `label`."""
        if rule.label not in self.steps:
            if rule.kind not in KINDS:
                raise DebforgeError(f"source '{label}' of '{user.label}' is made by a {rule.kind} "
                                    f"({rule.location}), which debforge cannot generate yet",
                                    *where(user.location),
                                    hint=f"generator kinds: {', '.join(sorted(KINDS))} "
                                         f"(debforge/plan/rules/)")
            self.steps[rule.label] = KINDS[rule.kind](rule, self)
            self.deps.externals_used.update(self.steps[rule.label].build_depends)
        return self.steps[rule.label]

    # what generator kinds ask (rules.common.Context)
    @property
    def root(self) -> str:
        return str(self.scope.ws.root)

    def inputs(self, t: Target, labels: list[str]) -> list[str]:
        return self.paths(t, labels)

    def rule(self, label: str) -> Target | None:
        return self.scope.ws.target(label)

    def flag(self, label: str) -> str | None:
        """A build setting's value, as the scan reads it (booleans "true" or "false")."""
        return self.scope.ws.flag(label)

    def recorded_outputs(self, label: str) -> tuple[str, ...] | None:
        return self.scope.recipe.rule_outputs.get(label)

    def tool(self, t: Target, label: str) -> Tool:
        recipe = self.scope.recipe
        if label in recipe.tools:   # a program the recipe takes from Debian, on PATH
            debian = recipe.tools[label]
            return Tool([debian.command], [], [debian.package])
        shared = self.scope.recipe_library(label)
        if shared is not None:   # a recipe library's shared object a tool loads (bazel's runfiles): its generic copy
            lib = self.scope.lib_by_label[shared]
            if lib.name not in self.deps.compiled:
                raise DebforgeError(f"'{t.label}' needs the recipe library '{lib.name}' at run time, which is "
                                    f"planned after the library that runs the tool", *where(t.location),
                                    hint=f"list {lib.name} earlier in {recipe.path}")
            path = f"{BUILDDIR}/{isa.GENERIC}/lib{lib.name}.so"
            return Tool([path], [path], [])
        tool = self.scope.ws.target(label)
        if tool is not None and tool.kind == "cc_binary":
            return self.host_tools.tool(t, tool)
        return pytools.python_tool(self.scope.ws, recipe.python_requirements, str(recipe.path), t, label)
