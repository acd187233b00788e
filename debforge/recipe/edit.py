"""Edits of a recipe's text that keep everything else byte for byte: comments, quoting, indentation and key order.
ruamel.yaml's round-trip composer finds where each value starts and ends; only those characters change, and the
result is read back to check that it says what was meant."""

from __future__ import annotations

import json

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from ..core.errors import DebforgeError

STR = "tag:yaml.org,2002:str"


def _compose(text: str, file: str):
    try:
        return YAML(typ="rt").compose(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DebforgeError(f"YAML syntax: {getattr(exc, 'problem', exc)}", file, mark.line + 1 if mark else None) \
            from None


def _find(node, path: tuple):
    """(the mapping or list holding the last key, the value node or None); a key is a mapping key or a list
    index."""
    parent = None
    for key in path:
        if isinstance(key, int) and isinstance(node, SequenceNode) and key < len(node.value):
            parent, node = node, node.value[key]
        elif isinstance(key, str) and isinstance(node, MappingNode):
            parent, node = node, next((v for k, v in node.value if k.value == key), None)
        else:
            return None, None
    return parent, node


def _name(path: tuple) -> str:
    return ".".join(str(k) for k in path)


def _scalar(value: str, style: str | None) -> str:
    """value as a YAML scalar in the style the old one had; quoted where a plain one would not read back as this
    string (1.30 is a float to YAML), except an integer, which the schema reads as its digits (soversion: 2)."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    read = yaml.safe_load(f"v: {value}")["v"] if value.strip() == value and value else None
    plain_ok = read == value and VersionedResolver().resolve(ScalarNode, value, (True, False)) == STR or \
        type(read) is int and str(read) == value
    return value if style is None and plain_ok else json.dumps(value)


def set_value(text: str, path: tuple, value: str, file: str) -> str:
    """text with the scalar at path (mapping keys from the top) set to value; a key missing from a mapping that
    exists is added as its last entry."""
    parent, node = _find(_compose(text, file), path)
    if node is not None:
        if not isinstance(node, ScalarNode):
            raise DebforgeError(f"'{_name(path)}' is not a single value", file, node.start_mark.line + 1)
        new = text[:node.start_mark.index] + _scalar(value, node.style) + text[node.end_mark.index:]
    elif isinstance(parent, MappingNode) and parent.value and isinstance(path[-1], str):
        entry = f"{path[-1]}: {_scalar(value, None)}"
        if parent.flow_style:   # {a: 1} -> {a: 1, key: value}
            at = parent.end_mark.index - 1
            new = text[:at].rstrip() + f", {entry}" + text[at:]
        else:                   # a line after the mapping's last entry, indented as its keys
            at = text.find("\n", parent.value[-1][1].end_mark.index - 1)
            at = len(text) if at < 0 else at + 1
            new = text[:at] + " " * parent.value[0][0].start_mark.column + entry + "\n" + text[at:]
    else:
        raise DebforgeError(f"the recipe has no mapping '{_name(path[:-1])}' to add '{path[-1]}' to", file)
    _check(new, path, value, file)
    return new


def rename_key(text: str, path: tuple, new_key: str, file: str) -> str:
    """text with the mapping key at path (its last element the key) renamed, its value and layout as they were."""
    _, node = _find(_compose(text, file), path[:-1])
    keys = {k.value: k for k, _ in node.value} if isinstance(node, MappingNode) else {}
    key = keys.get(path[-1])
    if key is None or new_key in keys:
        raise DebforgeError(f"the recipe has no key '{_name(path)}' to rename" if key is None else
                            f"'{_name(path[:-1])}' has a key '{new_key}' already", file)
    new = text[:key.start_mark.index] + _scalar(new_key, key.style) + text[key.end_mark.index:]
    _check(new, (*path[:-1], new_key), _lookup(yaml.safe_load(text), path), file)
    return new


def drop_items(text: str, path: tuple, values: set[str], file: str) -> str:
    """text without the items of the list at path whose value is in values; the key goes when none is left."""
    parent, node = _find(_compose(text, file), path)
    if not isinstance(node, SequenceNode):
        raise DebforgeError(f"'{_name(path)}' is not a list", file)
    kept = [item for item in node.value if not (isinstance(item, ScalarNode) and item.value in values)]
    if not kept:   # the whole entry, from its key's line to the end of the list's last line
        key = next(k for k, v in parent.value if v is node)
        start = text.rfind("\n", 0, key.start_mark.index) + 1
        end = text.find("\n", node.end_mark.index - 1)
        new = text[:start] + text[(len(text) if end < 0 else end + 1):]
    elif node.flow_style:
        new = (text[:node.start_mark.index] + "[" + ", ".join(text[i.start_mark.index:i.end_mark.index] for i in kept)
               + "]" + text[node.end_mark.index:])
    else:          # block items: each dropped item's line goes
        lines = text.splitlines(keepends=True)
        gone = {item.start_mark.line for item in node.value if item not in kept}
        new = "".join(ln for i, ln in enumerate(lines) if i not in gone)
    _check(new, path, None, file, dropped=values)
    return new


def _check(text: str, path: tuple, value: object, file: str, dropped: set[str] = frozenset()) -> None:
    """The edited text reads back with the value set (or the items dropped): a layout this module cannot edit
    is an error, never a silently wrong recipe."""
    try:
        data = _lookup(yaml.safe_load(text), path)
    except yaml.YAMLError:
        data = None
    if type(data) is int and type(value) is str:   # the schema reads a plain integer as its digits
        data = str(data)
    ok = data == value if value is not None else not (set(data or []) & dropped)
    if not ok:
        raise DebforgeError(f"could not rewrite '{_name(path)}' keeping the recipe's layout", file,
                            hint="edit the recipe by hand")


def _lookup(data, path: tuple):
    """The value at path in loaded YAML data; None where there is none."""
    for key in path:
        data = data.get(key) if isinstance(data, dict) else \
            data[key] if isinstance(data, list) and isinstance(key, int) and key < len(data) else None
    return data
