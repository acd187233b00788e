"""YAML loading that remembers the line of every mapping key and list item, for errors that name the line."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..core.errors import DebforgeError


class Node:
    """A loaded YAML value with its line; `value` holds plain Python for scalars, dict/list of Node otherwise."""

    __slots__ = ("value", "line", "file")

    def __init__(self, value, line: int, file: str):
        self.value = value
        self.line = line
        self.file = file

    def error(self, message: str, hint: str | None = None) -> DebforgeError:
        return DebforgeError(message, self.file, self.line, hint)

    def plain(self):
        """The value with all line marks removed."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


MAX_VALUES = 100_000   # aliases can make a small file expand exponentially ("billion laughs")
MAX_BYTES = 1 << 20    # recipes are a few KiB; parsing is slow and memory-hungry (60 MB: 90 s, 1.8 GB)
MAX_DEPTH = 100        # recipes nest ~5 deep; PyYAML's composer recurses once per level
MAX_DIGITS = 30        # int() of thousands of digits is refused by Python itself, with a traceback
_INT = "tag:yaml.org,2002:int"


class _Loader(yaml.SafeLoader):
    depth, file = 0, ""

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise DebforgeError(f"recipe nests deeper than {MAX_DEPTH} levels", self.file,
                                    self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _construct(loader: _Loader, node: yaml.Node, file: str):
    if isinstance(node, yaml.ScalarNode) and node.tag == _INT and len(node.value) > MAX_DIGITS:
        raise DebforgeError(f"integer of {len(node.value)} digits: at most {MAX_DIGITS} are allowed", file,
                            node.start_mark.line + 1)
    return loader.construct_object(node, deep=True)


def _to_node(loader: _Loader, node: yaml.Node, file: str, active: tuple = (), count: list | None = None) -> Node:
    line = node.start_mark.line + 1
    if any(node is a for a in active):
        raise DebforgeError("a YAML alias refers to a value that contains it", file, line)
    count = count if count is not None else [0]
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise DebforgeError(f"recipe expands to more than {MAX_VALUES} values (through YAML aliases)", file, line)
    active += (node,)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # merge keys (<<)
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node, file)
            if not isinstance(key, str):
                raise DebforgeError(f"mapping key {key!r} must be a string", file, key_node.start_mark.line + 1)
            if key in out:
                raise DebforgeError(f"duplicate key '{key}'", file, key_node.start_mark.line + 1)
            out[key] = _to_node(loader, value_node, file, active, count)
            out[key].line = key_node.start_mark.line + 1
        return Node(out, line, file)
    if isinstance(node, yaml.SequenceNode):
        return Node([_to_node(loader, item, file, active, count) for item in node.value], line, file)
    return Node(_construct(loader, node, file), line, file)


def load_yaml(path: Path) -> Node:
    file = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise DebforgeError(f"recipe is larger than {MAX_BYTES} bytes: not a recipe?", file)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise DebforgeError("recipe not found", file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DebforgeError(f"cannot read recipe: {exc}", file) from None
    loader = _Loader(text)
    loader.file = file
    try:
        root = loader.get_single_node()
        if root is None:
            raise DebforgeError("recipe is empty", file, 1)
        return _to_node(loader, root, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DebforgeError(f"YAML syntax: {exc.problem or exc.context}", file,
                            mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise DebforgeError(f"YAML: {exc}", file) from None
    finally:
        loader.dispose()
