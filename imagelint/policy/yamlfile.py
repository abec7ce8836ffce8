"""Reading small YAML files (config, waivers, policy tests) with a ``FILE:LINE:COL`` for every problem.

The policy loader has its own, richer reader; these files only need: compose the node tree, check keys and
value types of mappings, and build plain Python values. Problems are collected, not raised one by one, so
a user sees every mistake of a file at once. JSON files (baselines) get the same node tree from
``compose_json``, so that one ``Reader`` checks both.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from imagelint.policy.loader import NESTED, Problem, _Loader, reader_problem, syntax_problem
from imagelint.policy.loader import describe_node as kind


class FileProblems(Exception):
    """A file could not be used; ``problems`` says where and why (``FILE:LINE:COL: message`` each)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def compose(path: Path, what: str, error: type[FileProblems]) -> tuple[yaml.Node | None, str, str]:
    """The node tree of a one-document YAML file (``None`` if empty), its display name and its text."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error([Problem(file, 1, 1, f"no such {what}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error([Problem(file, 1, 1, f"cannot read {what}: {exc}")]) from None
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # raised while constructing: the reader checks the whole text first
        raise error([reader_problem(file, text, exc)]) from None
    try:
        return loader.get_single_node(), file, text
    except yaml.MarkedYAMLError as exc:
        raise error([syntax_problem(file, exc)]) from None
    except yaml.YAMLError as exc:
        raise error([Problem(file, 1, 1, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise error([Problem(file, loader.line + 1, loader.column + 1, NESTED)]) from None
    finally:
        loader.dispose()


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_TAG = "tag:yaml.org,2002:"


def compose_json(text: str, file: str) -> yaml.Node:
    """The node tree of a JSON text that ``json.loads`` accepted, each node marked with its line and column.

    JSON is not quite YAML: PyYAML refuses a tab between tokens and characters (U+0080...) that JSON strings
    may hold raw, and takes U+2028 in a string for a line break. So JSON is composed here, strings decoded
    by the json module itself.
    ``RecursionError`` when nested deeper than this parser's recursion can go.
    """
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def mark(index: int) -> yaml.Mark:
        line = bisect.bisect_right(line_starts, index) - 1
        return yaml.Mark(file, index, line, index - line_starts[line], None, None)  # type: ignore[arg-type]

    def skip(i: int) -> int:
        return _JSON_SPACE.match(text, i).end()  # type: ignore[union-attr]  # matches the empty string too

    def node(i: int) -> tuple[yaml.Node, int]:
        i = skip(i)
        start, char = mark(i), text[i]
        if char in "{[":
            close = "}]"["{[".index(char)]
            items: list[Any] = []
            i = skip(i + 1)
            while text[i] != close:
                item, i = node(i)
                if char == "{":
                    value_node, i = node(skip(i) + 1)  # past the ':'
                    item = (item, value_node)  # type: ignore[assignment]  # a mapping's items are pairs
                items.append(item)
                i = skip(i)
                i = skip(i + 1) if text[i] == "," else i
            kind_ = yaml.MappingNode if char == "{" else yaml.SequenceNode
            return kind_(_TAG + ("map" if char == "{" else "seq"), items, start, mark(i + 1), flow_style=True), i + 1
        if char == '"':
            decoded, end = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            return yaml.ScalarNode(_TAG + "str", decoded, start, mark(end), style='"'), end
        for word, tag in (("true", "bool"), ("false", "bool"), ("null", "null")):
            if text.startswith(word, i):
                return yaml.ScalarNode(_TAG + tag, word, start, mark(i + len(word))), i + len(word)
        number = _JSON_NUMBER.match(text, i)
        if number is None:
            raise ValueError(f"{file}: not JSON at offset {i}")  # callers run json.loads first
        tag = "float" if number.group(1) or number.group(2) else "int"
        return yaml.ScalarNode(_TAG + tag, number.group(), start, mark(number.end())), number.end()

    return node(0)[0]


def value(node: yaml.Node) -> Any:
    """The plain Python value of a node (timestamps stay strings, as in policy files)."""
    loader = _Loader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


class Reader:
    """Checks nodes of one file, collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, node.start_mark.column + 1, message))

    def mapping(
        self, node: yaml.Node, where: str, keys: Mapping[str, bool] | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key -> (key node, value node). ``keys``: allowed key -> required (``None``: any string key)."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{where}: expected a mapping, got {kind(node)}")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else None
            if key is None:
                self.problem(knode, f"{where}: keys must be strings")
            elif key in out:
                self.problem(knode, f"{where}: duplicate key {key!r}")
            elif keys is not None and key not in keys:
                self.problem(knode, f"{where}: unknown key {key!r} (allowed: {', '.join(keys)})")
            else:
                out[key] = (knode, vnode)
        for key, required in (keys or {}).items():
            if required and key not in out:
                self.problem(node, f"{where}: missing required key {key!r}")
        return out

    def string(self, node: yaml.Node, where: str) -> str | None:
        """A non-empty string scalar (numbers and dates written plainly are accepted as their text)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":bool")) or not node.value.strip():
            self.problem(node, f"{where}: expected a non-empty string, got {kind(node)}")
            return None
        return str(node.value)

    def strings(self, node: yaml.Node, where: str) -> list[str]:
        """A list of strings, or one string."""
        if isinstance(node, yaml.SequenceNode):
            items = [self.string(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
            return [i for i in items if i is not None]
        one = self.string(node, where)
        return [one] if one is not None else []

    def integer(self, node: yaml.Node, where: str) -> int | None:
        if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith(":int"):
            self.problem(node, f"{where}: expected an integer, got {kind(node)}")
            return None
        return int(value(node))

    def boolean(self, node: yaml.Node, where: str) -> bool | None:
        if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith(":bool"):
            self.problem(node, f"{where}: expected true or false, got {kind(node)}")
            return None
        return bool(value(node))

    def raise_if_any(self, error: type[FileProblems]) -> None:
        if self.problems:
            raise error(self.problems)
