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

    def roots(self) -> list[str]:
        """The include directories its headers are found under: /usr/include and what its .pc files add."""
        return list(dict.fromkeys(["/usr/include", *(d for dirs in self.include_dirs.values() for d in dirs)]))
