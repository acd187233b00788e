"""Limits a user sets through the environment (DEBFORGE_EVAL_MEMORY, DEBFORGE_UNPACK_MAX_BYTES, ...): one parser,
so that each reads and fails alike."""

from __future__ import annotations

import os
import re

from .errors import DebforgeError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_SIZE = re.compile(r"([0-9]+)([KMG]?)(?:I?B)?", re.IGNORECASE)


def size(env: str, default: int) -> int:
    """Bytes: 4G, 512M, 4GiB or a plain number of bytes."""
    value = os.environ.get(env, "").strip()
    if not value:
        return default
    m = _SIZE.fullmatch(value)
    if not m:
        raise DebforgeError(f"{env}={value!r} is not a size (e.g. 4G, 512M)")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def count(env: str, default: int, what: str = "a number") -> int:
    value = os.environ.get(env, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise DebforgeError(f"{env}={value!r} is not {what}")
    return int(value)
