"""The recipe's export globs as ld version-script patterns. A C glob (no ::) is a pattern of its own. A C++ glob is
a demangled qualified name (`ns::*`, `ns::Parse*`, `ns::operator<<*`): ld's extern "C++" matches it against the
whole demangled name, which misses function templates (their demangled names start with the return type: `bool
ns::Parse<int>(char const*)`), vtables and typeinfo (`vtable for ns::X`), and cannot hold an operator's `<`. So the
qualified prefix is also matched mangled, where every symbol under it starts the same way (_ZN2ns...)."""

from __future__ import annotations

import re

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Itanium C++ ABI operator codes, longest spelling first
OPERATORS = {"<<=": "lS", ">>=": "rS", "<=>": "ss", "<<": "ls", ">>": "rs", "==": "eq", "!=": "ne", "<=": "le",
             ">=": "ge", "&&": "aa", "||": "oo", "++": "pp", "--": "mm", "->*": "pm", "->": "pt", "()": "cl",
             "[]": "ix", "+=": "pL", "-=": "mI", "*=": "mL", "/=": "dV", "%=": "rM", "&=": "aN", "|=": "oR",
             "^=": "eO", "<": "lt", ">": "gt", "+": "pl", "-": "mi", "*": "ml", "/": "dv", "%": "rm", "&": "an",
             "|": "or", "^": "eo", "~": "co", "!": "nt", "=": "aS", ",": "cm"}
# what a nested name is prefixed with: functions (K: const member), vtables, VTTs, typeinfo and its name, guard
# variables; thunks name the target after their offsets
PREFIXES = ("_ZN", "_ZNK", "_ZTVN", "_ZTTN", "_ZTIN", "_ZTSN", "_ZGVN", "_ZTh*_N", "_ZTv*_N")


def problem(glob: str) -> str | None:
    """Why a C++ export glob cannot be written as version-script patterns, or None."""
    if "::" not in glob:
        return None if re.fullmatch(r"[A-Za-z_*?\[][A-Za-z0-9_*?\[\]]*", glob) else \
            "a C symbol glob holds letters, digits, _ and the glob characters * ? [ ]"
    *scopes, last = glob.split("::")
    if not scopes or not all(IDENT.fullmatch(s) for s in scopes):
        return ("a C++ glob is a qualified name whose scopes are plain names (ns::inner::*): templates or wildcards "
                "before the last :: cannot be matched in the mangled name")
    if _last(last) is None:
        return ("after the last :: comes a name with an optional trailing * (Parse*), an operator "
                "(operator<<*) or *")
    return None


def _last(last: str) -> list[str] | None:
    """The mangled globs of the last component (after the enclosing scopes' encodings)."""
    if last == "*":
        return ["*"]
    if last.startswith("operator"):
        op = last[len("operator"):].rstrip("*")
        return [OPERATORS[op] + "*"] if op in OPERATORS and last.endswith("*") else None
    name = last.rstrip("*")
    if not IDENT.fullmatch(name):
        return None
    if not last.endswith("*"):
        return [f"{len(name)}{name}E*", f"{len(name)}{name}I*"]   # the name exactly: its end, or its template args
    return [f"[0-9]{name}*", f"[0-9][0-9]{name}*", f"[0-9][0-9][0-9]{name}*"]   # its length is unknown


def patterns(glob: str) -> tuple[list[str], list[str]]:
    """(plain patterns, extern "C++" patterns) of a valid export glob."""
    if "::" not in glob:
        return [glob], []
    *scopes, last = glob.split("::")
    nested = "".join(f"{len(s)}{s}" for s in scopes)
    mangled = [f"{p}{nested}{tail}" for p in PREFIXES for tail in _last(last)]
    plain_cxx = [glob] if re.fullmatch(r"[A-Za-z0-9_:*?\[\]]+", glob) else []   # ld's unquoted pattern characters
    return mangled, plain_cxx
