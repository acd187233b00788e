"""select() resolution against one fixed Debian configuration (no bazel flags: the build is decided here): the
configuration, the conditions a select() names, and the config_settings and build settings they read."""

from __future__ import annotations

import ast as pyast
import json
from dataclasses import dataclass, field

import starlark as sl

from ...core import isa
from ...core.errors import DebforgeError
from ...graph import Target
from ...recipe.model import Config
from .cache import Inputs
from .loader import statements

DEFAULT = "//conditions:default"
# bazel's legacy --cpu values, still used by many config_settings as values = {"cpu": ...}
LEGACY_CPU = {"amd64": "k8", "arm64": "aarch64", "armhf": "armeabi-v7a", "i386": "piii",
              "ppc64el": "ppc", "riscv64": "riscv64", "s390x": "s390x"}
COMPILER = "gcc"
# config_settings of external repositories that upstreams select() on, as those repositories declare them:
# rules_cc's compiler settings (abseil 2026's ABSL_DEFAULT_COPTS choose GCC's warnings with :gcc)
EXTERNAL_SETTINGS = {f"@rules_cc//cc/compiler:{c}": {"flag_values": {"@bazel_tools//tools/cpp:compiler": c}}
                     for c in ("clang", "clang-cl", "gcc", "mingw-gcc", "msvc-cl", "emscripten")}
# Rules read on their own to resolve select() conditions (see Conditions.setting)
SETTING_RULES = frozenset({"config_setting", "config_setting_group", "alias", "constraint_value", "bool_flag",
                           "bool_setting", "string_flag", "string_setting", "int_flag", "int_setting",
                           "string_list_flag", "string_list_setting"})


@dataclass
class DebianConfig:
    """What select() sees: the platform constraints, --cpu/-c values, flag values and --define values."""
    arch: str
    constraints: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    flag_values: dict[str, str] = field(default_factory=dict)
    define_values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_arch(cls, arch: str, overrides: Config) -> "DebianConfig":
        cpu = isa.ARCHES[arch].bazel_cpu
        return cls(
            arch=arch,
            constraints={"@platforms//os:linux", f"@platforms//cpu:{cpu}", *overrides.constraints},
            values={"cpu": LEGACY_CPU[arch], "compilation_mode": "opt", "compiler": COMPILER},
            flag_values={"@bazel_tools//tools/cpp:compiler": COMPILER, **overrides.flag_values},
            define_values=dict(overrides.define_values),
        )

    def to_dict(self) -> dict:
        return {"arch": self.arch, "constraints": sorted(self.constraints), "values": self.values,
                "flag_values": self.flag_values, "define_values": self.define_values}

    def is_constraint(self, label: str) -> bool:
        """Constraint values of @platforms are matched directly; all other keys name config_settings."""
        return label.startswith(("@platforms//os:", "@platforms//cpu:")) or label in self.constraints

    def matches_setting(self, attrs: dict, flag) -> tuple[bool, int]:
        """Does a config_setting's attributes hold here? Returns (match, number of conditions) for specialisation.
        flag(label) gives a build setting's value (see Workspace.flag)."""
        n = 0
        for key, want in (attrs.get("values") or {}).items():
            n += 1
            if key == "define":
                k, _, v = want.partition("=")
                if self.define_values.get(k) != v:
                    return False, n
            elif self.values.get(key) != want:
                return False, n
        for key, want in (attrs.get("define_values") or {}).items():
            n += 1
            if self.define_values.get(key) != want:
                return False, n
        for key, want in (attrs.get("flag_values") or {}).items():
            n += 1
            if flag(key) != flag_text(want):
                return False, n
        for label in attrs.get("constraint_values") or []:
            n += 1
            if label not in self.constraints:
                return False, n
        return True, n


def flag_text(value) -> str | None:
    """A build setting's value as bazel reads it: booleans' true/True/1 as "true", false/False/0 as "false",
    anything else as text; None stays None (unknown)."""
    if value is None:
        return None
    text = str(value)
    return {"true": "true", "1": "true", "false": "false", "0": "false"}.get(text.lower(), text)


def _call_name(node) -> str:
    """The function a top-level statement calls, if it is a call."""
    call = node.value if isinstance(node, pyast.Expr) and isinstance(node.value, pyast.Call) else None
    func = call.func if call else None
    return func.id if isinstance(func, pyast.Name) else func.attr if isinstance(func, pyast.Attribute) else ""


class Conditions:
    """select() in one workspace (`ws`: its config, graph, scope, files, recorder, host and loader): each
    condition's verdict is computed once, with the inputs it read."""

    def __init__(self, ws):
        self.ws = ws
        self._verdicts: dict[str, tuple[bool, int]] = {}    # select() condition -> (matches, specialisation)
        self._verdict_inputs: dict[str, Inputs] = {}
        self._settings: dict[str, dict[str, Target]] = {}   # package -> its literal config_settings
        self._settings_inputs: dict[str, Inputs] = {}

    def select(self, keys, no_match_error):
        """Indices of the select() keys that win here; the values stay in Starlark (they may hold anything)."""
        keys = json.loads(keys)
        if not keys:
            raise ValueError("select() needs a non-empty dict of conditions")
        best: list[tuple[int, int]] = []
        for i, key in enumerate(keys):
            if key == DEFAULT:
                continue
            if not isinstance(key, str):
                raise ValueError(f"select() condition {key!r} is not a label")
            try:
                ok, weight = self._verdict(self.ws.natives.absolute(key))
            except ValueError:
                if not self.ws.scope.literal and not self._bzl_relative(key):
                    raise
                # literal pass (see setting()): function defaults, not what we look for
                ok, weight = False, 0
            if ok:
                best.append((weight, i))
        if best:
            top = max(w for w, _ in best)
            return [i for w, i in best if w == top]
        if DEFAULT in keys:
            return [keys.index(DEFAULT)]
        raise ValueError(no_match_error or f"select(): no condition matches the Debian configuration "
                                           f"(arch {self.ws.config.arch}) and there is no //conditions:default")

    def _bzl_relative(self, key: str) -> bool:
        """A relative condition of a select() at a .bzl file's top level that the loading package lacks: bazel's
        select() is lazy and resolves it in the package of the rule that uses the value (abseil's
        ABSL_RANDOM_RANDEN_COPTS names :cpu_k8, which only //absl/random/internal declares); resolved eagerly, in
        the package that loads the file first, it describes no configuration here and matches nothing."""
        if key.startswith(":") and self.ws.loader.loading:
            self.ws.recorder.met(unknown=self.ws.natives.absolute(key))
            return True
        return False

    def _verdict(self, label: str) -> tuple[bool, int]:
        recorder = self.ws.recorder
        if label in self._verdicts:
            top = recorder.top
            if top is not None and label not in top.conditions:
                top.conditions.add(label)
                top.merge(self._verdict_inputs[label])
            return self._verdicts[label]
        with recorder.recording() as inputs:
            verdict = self.condition(label)
        if not self.ws.scope.literal:   # a literal pass may not know every setting yet
            self._verdicts[label] = verdict
            self._verdict_inputs[label] = inputs
        return verdict

    def condition(self, label: str) -> tuple[bool, int]:
        config = self.ws.config
        if config.is_constraint(label):
            return label in config.constraints, 1
        if label in EXTERNAL_SETTINGS:
            return config.matches_setting(EXTERNAL_SETTINGS[label], self.ws.flag)
        if label.startswith("@"):
            return False, 0   # a config_setting of a repository outside the tree: not this configuration
        target = self.setting(label)
        if target is None and self.ws.files.build_file(label[2:].partition(":")[0]) is None:
            # upstream's BUILD files name packages its published tree lacks (copybara leftovers such as
            # //tools/cpp): such a condition can't describe this build
            self.ws.recorder.met(unknown=label)
            return False, 0
        if target is None:
            raise ValueError(f"select() condition '{label}' names no config_setting")
        if target.kind == "alias":
            return self.condition(target.attrs["actual"])
        if target.kind == "config_setting_group":  # bazel-skylib: any or all of other conditions
            any_of = [self.condition(c) for c in target.attrs.get("match_any", [])]
            all_of = [self.condition(c) for c in target.attrs.get("match_all", [])]
            if any_of:
                return any(ok for ok, _ in any_of), max(n for _, n in any_of)
            return all(ok for ok, _ in all_of), sum(n for _, n in all_of)
        if target.kind != "config_setting":
            raise ValueError(f"select() condition '{label}' is a {target.kind}, not a config_setting")
        return config.matches_setting(target.attrs, self.ws.flag)

    def setting(self, label: str) -> Target | None:
        """The target a select() condition names. Conditions are resolved eagerly, so a .bzl file whose
        top-level code calls select() may need a package whose BUILD loads that very .bzl: bazel never meets
        this cycle (its select() is lazy). The package's literal config_setting calls are read first."""
        ws = self.ws
        pkg = label[2:].partition(":")[0]
        if label in ws.graph.targets or pkg in ws.graph.packages and pkg not in ws.evaluating:
            ws.recorder.depend(ws.recorder.packages.get(pkg))
            return ws.graph.targets.get(label)
        if pkg not in self._settings:
            self._settings[pkg] = {}   # while reading them, a condition of the same package can't be known
            with ws.recorder.recording() as inputs:
                self._settings[pkg] = self._literal_settings(pkg)
            self._settings_inputs[pkg] = inputs
        else:
            ws.recorder.depend(self._settings_inputs.get(pkg))
        found = self._settings[pkg].get(label)
        if found is None and ws.scope.literal:
            return None   # no full evaluation inside the literal pass: that is where the cycle came from
        return found or ws.target(label)

    def literal_target(self, label: str) -> Target | None:
        """What a literal pass knows of a label: no full evaluation may happen inside one."""
        pkg = label[2:].partition(":")[0]
        self.ws.recorder.depend(self.ws.recorder.packages.get(pkg))
        self.ws.recorder.depend(self._settings_inputs.get(pkg))
        return self.ws.graph.targets.get(label) or self._settings.get(pkg, {}).get(label)

    def _literal_settings(self, pkg: str) -> dict[str, Target]:
        """config_setting / config_setting_group calls at the top level of a BUILD file, evaluated on their own.
        Python's ast module only parses the text (Starlark's call syntax is Python's); nothing is executed."""
        ws = self.ws
        rel = ws.files.build_file(pkg)
        if rel is None:
            return {}
        text = ws.files.read(rel)
        try:
            tree = pyast.parse(text)
        except (SyntaxError, ValueError):
            return {}
        settings = [n for n in tree.body if _call_name(n) in SETTING_RULES]
        if not settings:
            return {}
        sink: dict[str, Target] = {}
        shown, host = ws.files.shown(rel), ws.host
        with ws.scope.entered(pkg, sink, literal=True):
            try:
                module = host.new_module()
                loads = host.parse(shown, statements(text, tree, lambda n: _call_name(n) == "load"))
                host.eval(module, loads, ws.loader.for_module("", pkg, loads))
                for node in settings:  # one by one: a setting that is not literal after all is left to the full pass
                    try:
                        host.eval(module, host.parse(shown, statements(text, tree, lambda n: n is node)), None)
                    except (sl.StarlarkError, ValueError):
                        pass
            except (sl.StarlarkError, DebforgeError, ValueError):
                pass
        return sink
