"""The starlark-pyo3 session: the prelude every module starts from, bounded parsing and evaluation, and Starlark's
errors as file:line messages.

Starlark itself cannot read files or run commands: the only windows to the file system are load() and glob().
Each file's evaluation is bounded in time and call depth, and the process that runs it in memory and CPU time
(see debforge/core/bounded.py).
"""

from __future__ import annotations

import math
import re
import time
from importlib import resources

import starlark as sl

from ...core import bounded
from ...core.errors import DebforgeError

MAX_CALL_DEPTH = 400
_FRAME = re.compile(r"^\s*\* (.+?):(\d+)", re.M)
_GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.CallStack,
                                   sl.LibraryExtension.Json, sl.LibraryExtension.Print,
                                   sl.LibraryExtension.Map, sl.LibraryExtension.Filter,
                                   sl.LibraryExtension.Partial])
PRELUDE_NAME = "<debforge prelude>"
_PRELUDE_TEXT = resources.files(__package__).joinpath("prelude.star").read_text()
_PRELUDE = sl.parse(PRELUDE_NAME, _PRELUDE_TEXT, sl.Dialect.extended())
# Each upstream module starts with one load() of the prelude (evaluated once per workspace, then frozen): its
# public names, and the helpers that stand-ins and stubs call. Evaluating the prelude anew per module cost
# as much as a tenth of a TensorFlow scan.
_PUBLIC = {a or b for a, b in re.findall(r"^(?:def\s+([A-Za-z]\w*)|([A-Za-z]\w*)\s*=)", _PRELUDE_TEXT, re.M)}
_IMPORT = sl.parse("<debforge prelude import>", "load(%s)\n" % ", ".join(
    ['"prelude"', '__df_rule = "DEBFORGE_RULE"', '__df_stub = "DEBFORGE_STUB"'] +
    ['json = "DEBFORGE_JSON"'] +
    [f'"{name}"' for name in sorted(_PUBLIC) if not name.startswith("DEBFORGE_")]), sl.Dialect.extended())


def frames(stack: str) -> list[tuple[str, str]]:
    """The (file, line) frames of a starlark call stack, outermost first."""
    return _FRAME.findall(stack)


def caller(stack: str) -> str:
    """The outermost file:line of a starlark call stack: the BUILD line that declared the target."""
    m = _FRAME.search(stack)
    return f"{m.group(1)}:{m.group(2)}" if m else "?"


def _innermost(message: str) -> tuple[str, tuple[str, str] | None]:
    """Errors raised through nested evaluations arrive wrapped several times: the message without its prefixes
    (a DebforgeError's own "<file>: error: " goes too: the message names the file, the location is the caller),
    and the first location with a line among them (a loaded file's parse error), the innermost one."""
    inner = None
    while (m := re.match(r"(error: |ValueError: |DebforgeError: |StarlarkError: |([^\s:]+)(?::(\d+))?: error: )",
                         message)):
        if m.group(3) and inner is None:
            inner = (m.group(2), m.group(3))
        message = message[m.end():]
    return message, inner


def starlark_error(exc: Exception) -> DebforgeError:
    """A StarlarkError as file:line + message (the innermost location; the BUILD call site when they differ)."""
    text = str(exc)
    # Nested evaluations (loads, macros) wrap the error: the last "error:" line is the innermost cause,
    # the first "-->" after it its location, the last "-->" the BUILD file that started it all.
    lines = text.splitlines()
    last = max((i for i, ln in enumerate(lines) if ln.startswith("error: ")), default=None)
    message = lines[last][len("error: "):] if last is not None else (lines[-1] if lines else "evaluation failed")
    after = "\n".join(lines[last:]) if last is not None else text
    message, inner = _innermost(message)
    locs = re.findall(r"-->\s*(.+?):(\d+)(?::\d+)?", after)
    stack = _FRAME.findall(text)
    if inner:
        locs = [inner, *(locs or stack[-1:])]
    file, line = locs[0] if locs else (stack[-1] if stack else (None, None))
    origin = locs[-1] if len(locs) > 1 else (stack[0] if stack else None)
    if origin and (origin[0], int(origin[1])) != (file, int(line)):
        message += f" (called from {origin[0]}:{origin[1]})"
    if file == PRELUDE_NAME:   # raised in one of debforge's helpers: the upstream line that called it is to blame
        callers = [f for f in stack if f[0] != PRELUDE_NAME]
        if callers:
            file, line = callers[-1]
            message = message.removesuffix(f" (called from {file}:{line})")
    return DebforgeError(message, file, int(line) if line else None)


class Host:
    """One workspace's Starlark session: new modules start from the prelude, whose native callbacks
    (`callbacks`, name -> function, set before the first module) record into the graph; evaluation stops past
    the file's deadline or the process's limits."""

    def __init__(self):
        self.callbacks: dict = {}
        self.deadline = math.inf   # no file under evaluation: nothing to stop
        self._prelude: sl.FrozenModule | None = None
        self._prelude_loader = sl.FileLoader(lambda _: self._prelude)

    def expired(self) -> bool:
        """Starlark's periodic check (and glob()'s): past the file's deadline, or the process past its limits."""
        return time.monotonic() > self.deadline or bounded.exceeded() is not None

    def new_module(self) -> sl.Module:
        if self._prelude is None:
            m = sl.Module()
            for name, function in self.callbacks.items():
                m.add_callable(f"__df_{name}", function)
            sl.eval(m, _PRELUDE, _GLOBALS)
            self._prelude = m.freeze()
        m = sl.Module()
        self.eval(m, _IMPORT, self._prelude_loader)
        return m

    def eval(self, module: sl.Module, ast, loader) -> None:
        options = sl.EvalOptions(check_cancelled=self.expired, max_callstack_size=MAX_CALL_DEPTH)
        sl.eval_with(options, module, ast, _GLOBALS, loader)

    @staticmethod
    def parse(shown: str, text: str):
        try:
            return sl.parse(shown, text, sl.Dialect.extended())
        except sl.StarlarkError as exc:
            raise starlark_error(exc) from None
