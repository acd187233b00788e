"""select() resolution against one fixed Debian configuration (no bazel flags: the build is decided here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core import isa
from ...recipe.model import Config

DEFAULT = "//conditions:default"
# bazel's legacy --cpu values, still used by many config_settings as values = {"cpu": ...}
LEGACY_CPU = {"amd64": "k8", "arm64": "aarch64", "armhf": "armeabi-v7a", "i386": "piii",
              "ppc64el": "ppc", "riscv64": "riscv64", "s390x": "s390x"}
COMPILER = "gcc"


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

    def matches_setting(self, attrs: dict, flag_default=lambda label: None) -> tuple[bool, int]:
        """Does a config_setting's attributes hold here? Returns (match, number of conditions) for specialisation.
        flag_default(label) gives a build setting's own default where the recipe does not set the flag."""
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
            value = self.flag_values[key] if key in self.flag_values else flag_default(key)
            if _flag_text(value) != _flag_text(want):
                return False, n
        for label in attrs.get("constraint_values") or []:
            n += 1
            if label not in self.constraints:
                return False, n
        return True, n


def _flag_text(value) -> str | None:
    """bazel reads boolean flags as true/True/1 alike."""
    if value is None:
        return None
    text = str(value)
    return {"true": "true", "1": "true", "false": "false", "0": "false"}.get(text.lower(), text)
