"""What a Debian -dev package of an external holds, as plain data (drivers/archive.py reads it from the .deb): the
files it installs, and per pkg-config module its include directories and libraries, as pkgconf answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DevPackage:
    name: str
    files: tuple[str, ...]                                        # absolute paths the package installs
    include_dirs: dict[str, list[str]] = field(default_factory=dict)   # .pc module -> its -I directories
    libs: dict[str, list[str]] = field(default_factory=dict)           # .pc module -> its -l names, transitive

    def headers(self, root: str) -> dict[str, str]:
        """Include path -> absolute file, for the files under the include directory `root` (absolute)."""
        prefix = root.rstrip("/") + "/"
        return {f[len(prefix):]: f for f in self.files if f.startswith(prefix)}

    def modules_for(self, labels: list[str]) -> list[str]:
        """The pkg-config modules of the targets `labels` of its bazel repository: its only module, or per label
        the module named as the target (the longest tail of its package path and name joined with _ that a
        module's name ends with, the shortest such module: abseil's @com_google_absl//absl/log:check is
        absl_check, //absl/log/internal:check_op absl_log_internal_check_op)."""
        modules = sorted(self.libs)
        if len(modules) <= 1:
            return modules
        out = []
        for label in labels:
            package, _, name = label.partition("//")[2].partition(":")
            parts = [p for p in package.split("/") if p] + ([name] if name else [])
            for i in range(len(parts)):   # the longest tail first: the most specific name
                tail = "_".join(parts[i:])
                found = sorted((m for m in modules if m == tail or m.endswith("_" + tail)), key=len)
                if found:
                    out.append(found[0])
                    break
        return list(dict.fromkeys(out))

    def libs_for(self, modules: list[str]) -> list[str]:
        """The -l names that linking `modules` takes, as its .pc files give them (their requirements' too)."""
        return list(dict.fromkeys(lib for m in modules for lib in self.libs.get(m, [])))

    def roots(self) -> list[str]:
        """The include directories its headers are found under: /usr/include and what its .pc files add."""
        return list(dict.fromkeys(["/usr/include", *(d for dirs in self.include_dirs.values() for d in dirs)]))
