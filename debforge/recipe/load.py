"""YAML loading that remembers the line of every mapping key and list item, for errors that name the line."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import DebforgeError


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


class _Loader(yaml.SafeLoader):
    pass


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
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise DebforgeError(f"mapping key {key!r} must be a string", file, key_node.start_mark.line + 1)
            if key in out:
                raise DebforgeError(f"duplicate key '{key}'", file, key_node.start_mark.line + 1)
            out[key] = _to_node(loader, value_node, file, active, count)
            out[key].line = key_node.start_mark.line + 1
        return Node(out, line, file)
    if isinstance(node, yaml.SequenceNode):
        return Node([_to_node(loader, item, file, active, count) for item in node.value], line, file)
    return Node(loader.construct_object(node, deep=True), line, file)


def load_yaml(path: Path) -> Node:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DebforgeError("recipe not found", file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DebforgeError(f"cannot read recipe: {exc}", file) from None
    loader = _Loader(text)
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
