"""bazel's glob patterns as regular expressions: '*' never crosses '/', '**' spans whole path segments. The
frontend's glob(), the recipe's header and compile-memory globs, and the planner all match with these.

Patterns become regular expressions that can't backtrack more than linearly: in "*a*b*c", each literal piece
between two stars is matched at its first occurrence inside an atomic group (placing it any later can't make a
match that fails succeed), and only the last piece is searched for at every position; "**" works the same way over
whole path segments. A naive translation needs time exponential in the number of stars over a long name, in C
code that no deadline interrupts."""

from __future__ import annotations

import re
from functools import lru_cache


def _stars(pieces: list[str], any_: str) -> str:
    """The regex for pieces[0] * pieces[1] * ... * pieces[-1], where `any_` is what a star repeats: the middle
    pieces at their first occurrence, atomically; the last one wherever it ends the match."""
    middle = "".join(f"(?>(?:{any_})*?{p})" for p in pieces[1:-1])
    return pieces[0] + (f"{middle}(?:{any_})*{pieces[-1]}" if len(pieces) > 1 else "")


def _segment_regex(seg: str) -> str:
    return _stars(["".join("[^/]" if ch == "?" else re.escape(ch) for ch in piece) for piece in seg.split("*")],
                  "[^/]")


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern:
    if not pattern or pattern.startswith("/") or ".." in pattern.split("/") or "//" in pattern:
        raise ValueError(f"glob pattern '{pattern}' must be relative to the package (no leading /, no ..)")
    segs = pattern.split("/")
    if any("**" in seg and seg != "**" for seg in segs):
        raise ValueError(f"glob pattern '{pattern}': '**' must be a whole path segment")
    # runs of segments between "**"s, each segment followed by its "/"; a trailing "**" spans at least one
    runs: list[list[str]] = [[]]
    for seg in segs:
        if seg == "**":
            runs.append([])
        else:
            runs[-1].append(seg)
    pieces = ["".join(_segment_regex(seg) + "/" for seg in run) for run in runs]
    if pattern.endswith("**"):
        pieces[-1] = "[^/]+/"
    return re.compile(_stars(pieces, "[^/]+/")[:-1] + "$")


@lru_cache(maxsize=4096)
def union(patterns: tuple[str, ...]) -> re.Pattern | None:
    """One regex for any of the patterns (None for none): a package's candidates are matched once, not per pattern."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{compile_pattern(p).pattern})" for p in patterns))
