"""What the writers of debian/ share: file modes, the Jinja templates of each format, the skeleton."""

from __future__ import annotations

import jinja2

from ... import data
from ...core import escape

EXECUTABLE = 0o755
REGULAR = 0o644


def _environment(finalize) -> jinja2.Environment:
    """Templates of one format: `finalize` escapes every {{ }} value for it, so no template or caller has to."""
    return jinja2.Environment(loader=jinja2.PackageLoader(data.__name__, "templates"), keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                              finalize=finalize)


RULES = _environment(escape.make)              # debian/rules
SCRIPTS = _environment(escape.shell_word)      # shell scripts and debian/watch: plain words only
CMAKE = _environment(escape.cmake)             # CMake package configuration files


def skeleton() -> dict[str, tuple[str, int]]:
    """The files copied as they are into every debian/ (each run through its interpreter: no mode bits)."""
    return {rel: (text, REGULAR) for rel, text in data.skeleton().items()}
