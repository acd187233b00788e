"""How text from recipes and upstream trees is written into generated files: one function per format.

Each function returns the text to write, escaped for its format, or refuses what the format cannot hold (a newline
where no line break is possible) with a DebforgeError naming `where`, the input's (file, line). The recipe's schema
and the planner refuse such text first, with the exact line; these are the writers' own guarantee that no value
ends up as a line, field or command of its own.
"""

from __future__ import annotations

import re
import shlex

from .errors import DebforgeError

Where = tuple[str | None, int | None]
NOWHERE: Where = (None, None)

# C0 and C1 controls and the Unicode line separators (str.splitlines() breaks lines at those too)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NOT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def refuse_control(value: str, what: str, where: Where = NOWHERE, allow_tab: bool = False) -> str:
    """value, if it holds no control character (no newline)."""
    bad = (_CONTROL_NOT_TAB if allow_tab else CONTROL).search(value)
    if bad:
        raise DebforgeError(f"{what} {value[:60]!r} holds the control character {bad.group()!r}, which a generated "
                            f"file cannot hold", *where)
    return value


class Make(str):
    """Text debforge composes in make syntax itself (a $(VARIABLE) reference): written as it is."""


def make(value, where: Where = NOWHERE) -> str:
    """A value in debian/rules (every {{ }} of a rules template): one line, `$` doubled so make expands nothing."""
    if isinstance(value, Make):
        return value
    return refuse_control(str(value), "a value of debian/rules", where, allow_tab=True).replace("$", "$$")


def shell(value: str) -> str:
    """One shell word (an argument of a command line)."""
    return shlex.quote(value)


def shell_word(value, where: Where = NOWHERE) -> str:
    """A value in a shell script template (every {{ }}), which may stand inside double quotes: only words that
    need no quoting at all."""
    value = str(value)
    if shell(value) != value:
        raise DebforgeError(f"{value[:60]!r} cannot be written into a shell script: only letters, digits and "
                            f"@%+=:,./- are safe there", *where)
    return value


def deb822(name: str, value: str, where: Where = NOWHERE) -> str:
    """A field of a deb822 file (control, tests/control): one line, or continuation lines that each start with
    whitespace and hold text (a blank one would end the paragraph). Free text becomes continuation lines through
    deb822_text."""
    first, *more = value.split("\n")
    refuse_control(first, f"field {name}", where, allow_tab=True)
    for line in more:
        refuse_control(line, f"field {name}", where, allow_tab=True)
        if not line[:1].isspace() or not line.strip():
            raise DebforgeError(f"field {name}: line {line[:60]!r} would start a new field or paragraph", *where)
    return value


def deb822_text(text: str) -> str:
    """Free text (a recipe field that may span lines) as a deb822 value: its first line, then each further line
    indented, an empty one written ' .' (the deb822 blank line, so a line of only '.' reads back as one too)."""
    first, *more = text.split("\n")
    return "\n".join([first] + [f" {line}" if line.strip() else " ." for line in more])


def ninja(value: str, where: Where = NOWHERE) -> str:
    """A variable's value or a command in build.ninja: `$` doubled; a newline cannot be escaped in ninja."""
    return refuse_control(value, "a value of build.ninja", where, allow_tab=True).replace("$", "$$")


def ninja_path(path: str, where: Where = NOWHERE) -> str:
    """A path of a build statement: `$`, space and colon escaped (ninja_syntax.escape_path leaves a lone `$`)."""
    return ninja(path, where).replace(" ", "$ ").replace(":", "$:")


def pkgconfig(value: str, where: Where = NOWHERE) -> str:
    """A value of a .pc file: one line (a newline would start a field of its own), `$` doubled (${var} expands)."""
    return refuse_control(value, "a value of a .pc file", where, allow_tab=True).replace("$", "$$")


def cmake(value, where: Where = NOWHERE) -> str:
    """A value inside a quoted CMake argument (every {{ }} of a CMake template): one line, no quote, backslash,
    $ or ; (which would end the argument, escape, expand or split it). debforge's values are names and versions."""
    value = refuse_control(str(value), "a value of a CMake file", where)
    if re.search(r'["\\$;]', value):
        raise DebforgeError(f"{value[:60]!r} holds a character a CMake argument cannot hold as written", *where)
    return value


def dh_path(path: str, where: Where = NOWHERE) -> str:
    """A path of a debhelper .install/.links line: those are whitespace-separated, so it may hold none."""
    if re.search(r"\s", path) or CONTROL.search(path):
        raise DebforgeError(f"path {path[:60]!r} holds whitespace or a control character, which a debhelper "
                            f".install or .links line cannot hold", *where)
    return path
