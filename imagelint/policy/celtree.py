"""Static analysis and rewriting of CEL expressions on cel-python's parse tree.

imagelint writes no CEL parser of its own: cel-python's Lark parser (the reference implementation's) gives
a tree with character offsets. On it we

* check what both engines must agree on: only the standard CEL library, only the variables ``image``,
  ``params``, ``variables`` and ``now``, ``variables.NAME`` defined earlier, macros that do not shadow those;
* collect the image attributes an expression reads, so the fast engine converts only those per image;
* inline ``variables.NAME`` and ``params`` for the fast engine. Variables are lazy (as in Kubernetes'
  ValidatingAdmissionPolicy): a variable is evaluated only where it is used, so an error inside an unused
  variable does not make the policy error. CEL is free of side effects, so textual inlining of a
  parenthesised expression is exactly that semantics, and the differential tests hold the reference
  engine (which evaluates variables eagerly into error *values*, the same thing observably) to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import lark
from celpy.celparser import CELParseError, CELParser

ROOTS = frozenset({"image", "params", "variables", "now"})
TYPE_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"})
GLOBAL_FUNCTIONS = frozenset(
    {
        "has",
        "size",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "duration",
        "timestamp",
        "dyn",
        "type",
        "matches",
    }
)
METHODS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "all",
        "exists",
        "exists_one",
        "map",
        "filter",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getFullYear",
        "getHours",
        "getMilliseconds",
        "getMinutes",
        "getMonth",
        "getSeconds",
    }
)
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

_parser: CELParser | None = None


@dataclass(frozen=True)
class CelIssue:
    """A problem at ``offset`` (0-based, into the expression text)."""

    offset: int
    message: str


@dataclass
class Analysis:
    """What one expression reads and any problems found in it."""

    tree: lark.Tree | None
    issues: list[CelIssue] = field(default_factory=list)
    attributes: set[str] = field(default_factory=set)
    """Image attributes read by ``image.X`` or ``image["X"]``."""
    values: set[str] = field(default_factory=set)
    """The attributes whose value is read; the others are only tested by ``has()``, ``type()`` or ``in``, or
    matched against a literal pattern."""
    matched: set[str] = field(default_factory=set)
    """Attributes that are the subject of ``image.X.matches("literal")``: there the value matters only
    through the match's result."""
    whole_image: bool = False
    """True when ``image`` is used other than by selecting a literal key (``image.size()``, ``"k" in image``)."""
    variables: set[str] = field(default_factory=set)
    """``variables.NAME`` references."""


def parse(source: str) -> lark.Tree:
    """Parse with cel-python's parser; raises ``CELParseError`` (with ``line``/``column``) on bad syntax."""
    global _parser
    if _parser is None:
        _parser = CELParser()
    return _parser.parse(source)


def offset_of(source: str, line: int, column: int) -> int:
    """0-based offset of a 1-based (line, column) position in ``source``."""
    lines = source.split("\n")
    line = max(1, min(line, len(lines)))
    return sum(len(text) + 1 for text in lines[: line - 1]) + max(0, column - 1)


def _children(tree: lark.Tree) -> Iterator[lark.Tree]:
    return (c for c in tree.children if isinstance(c, lark.Tree))


def _token(tree: lark.Tree, index: int = 0) -> lark.Token:
    tokens = [c for c in tree.children if isinstance(c, lark.Token)]
    return tokens[index]


def _ident_name(tree: lark.Tree) -> str | None:
    """The identifier if ``tree`` is (a chain of single-child nodes down to) a bare ``ident``."""
    while isinstance(tree, lark.Tree):
        if tree.data == "ident":
            return str(_token(tree))
        kids = list(tree.children)
        if len(kids) != 1 or tree.data in ("paren_expr", "list_lit", "map_lit"):
            return None
        tree = kids[0]
    return None


def _string_literal(tree: lark.Tree) -> str | None:
    """The value if ``tree`` is a plain (non-raw, escape-free) string literal, else ``None``."""
    while isinstance(tree, lark.Tree):
        if tree.data == "literal":
            tok = _token(tree)
            text = str(tok)
            if tok.type == "STRING_LIT" and text[0] in "\"'" and "\\" not in text:
                return text[1:-1]
            return None
        kids = list(tree.children)
        if len(kids) != 1:
            return None
        tree = kids[0]
    return None


def analyse(source: str, defined_variables: frozenset[str] = frozenset()) -> Analysis:
    """Parse and check one expression; never raises for a bad expression (problems go in ``issues``)."""
    try:
        tree = parse(source)
    except CELParseError as exc:
        line, col = getattr(exc, "line", None), getattr(exc, "column", None)
        offset = offset_of(source, line, col) if line and col else 0
        return Analysis(tree=None, issues=[CelIssue(offset, f"CEL syntax error: {_syntax_message(exc)}")])
    result = Analysis(tree=tree)
    _walk(tree, {}, result, defined_variables)
    return result


def _syntax_message(exc: CELParseError) -> str:
    """A one-line description from the Lark error behind cel-python's (whose text is only a caret)."""
    cause = exc.__context__
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        if cause.token.type == "$END":
            return "unexpected end of expression"
        return f"unexpected {str(cause.token)!r}"
    if isinstance(cause, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {cause.char!r}"
    if isinstance(cause, lark.exceptions.UnexpectedEOF):
        return "unexpected end of expression"
    return "invalid expression"


Bound = Mapping[str, "frozenset[str] | None"]
"""Macro variables in scope; a variable that ranges over a list literal of strings maps to those strings."""


def _walk(tree: lark.Tree, bound: Bound, out: Analysis, defined: frozenset[str]) -> None:
    kind = tree.data
    start = tree.meta.start_pos if not tree.meta.empty else 0

    if (
        kind == "relation"
        and len(tree.children) == 2
        and isinstance(tree.children[0], lark.Tree)
        and tree.children[0].data == "relation_in"
        and _ident_name(tree.children[1]) == "image"
        and "image" not in bound
    ):
        # `"key" in image` / `k in image` (k over a list of literal keys) reads known attributes only
        left = tree.children[0].children[0]
        keys = _literal_keys(left, bound)  # type: ignore[arg-type]
        if keys is not None:
            out.attributes.update(keys)
            _walk(left, bound, out, defined)  # type: ignore[arg-type]
            return

    if kind == "ident":
        name = str(_token(tree))
        if name in bound or name in TYPE_NAMES:
            return
        if name == "image":
            out.whole_image = True
        elif name == "variables":
            out.issues.append(CelIssue(start, "use variables.NAME to read a variable"))
        elif name not in ROOTS:
            out.issues.append(
                CelIssue(start, f"undeclared reference to {name!r} (expressions see image, params, variables and now)")
            )
        return

    if kind in ("member_dot", "member_index"):
        target, *rest = list(_children(tree))
        root = _ident_name(target)
        if root is not None and root not in bound:
            key = str(_token(tree)) if kind == "member_dot" else _string_literal(rest[0])
            if root == "image":
                keys = frozenset({key}) if key is not None else _literal_keys(rest[0], bound)
                if keys is None:
                    out.whole_image = True
                else:
                    out.attributes.update(keys)
                    out.values.update(keys)
                for sub in rest:
                    _walk(sub, bound, out, defined)
                return
            if root == "variables":
                if key is None:
                    out.issues.append(CelIssue(start, "variables must be read by a literal name"))
                elif key not in defined:
                    known = ", ".join(sorted(defined)) or "none"
                    out.issues.append(
                        CelIssue(start, f"variables.{key} is not defined earlier in spec.variables (defined: {known})")
                    )
                else:
                    out.variables.add(key)
                return
        for sub in _children(tree):
            _walk(sub, bound, out, defined)
        return

    site = _regex_site(tree)
    if site is not None:  # image.X.matches("literal"): only the match's result is read
        out.attributes.add(site[0])
        out.matched.add(site[0])
        return

    if kind == "ident_arg":
        name = str(_token(tree))
        args = [e for c in _children(tree) for e in _children(c)]
        if name not in GLOBAL_FUNCTIONS:
            out.issues.append(
                CelIssue(
                    start,
                    f"unknown function {name}() (only the standard CEL library is "
                    "available, so that both engines mean the same thing)",
                )
            )
        if name == "has" and (len(args) != 1 or not _is_select(args[0])):
            out.issues.append(CelIssue(start, "has() takes one field selection, e.g. has(image.name)"))
        shape = _image_select(args[0], bound) if name in ("has", "type") and len(args) == 1 else None
        if shape is not None:  # has(image.X), type(image.X): the attribute's presence or type, not its value
            out.attributes.update(shape)
            return
        for sub in _children(tree):
            _walk(sub, bound, out, defined)
        return

    if kind == "member_dot_arg":
        target, *rest = list(_children(tree))
        name = str(_token(tree))
        args = [e for c in rest for e in _children(c)]
        if name not in METHODS:
            out.issues.append(CelIssue(start, f"unknown method .{name}() (only the standard CEL library is available)"))
        _walk(target, bound, out, defined)
        if name in MACROS and args:
            var = _ident_name(args[0])
            if var is None:
                out.issues.append(CelIssue(start, f".{name}() needs a variable name as its first argument"))
            elif var in ROOTS:
                out.issues.append(
                    CelIssue(start, f".{name}({var}, ...) would hide the variable {var!r}; pick another name")
                )
            inner = {**bound, var: _literal_keys(target, bound, list_of=True)} if var else bound
            for arg in args[1:]:
                _walk(arg, inner, out, defined)
            return
        for sub in rest:
            _walk(sub, bound, out, defined)
        return

    if kind in ("dot_ident", "dot_ident_arg", "member_object"):
        out.issues.append(CelIssue(start, "message types and leading-dot names are not supported"))
        return

    for sub in _children(tree):
        _walk(sub, bound, out, defined)


def _literal_keys(tree: lark.Tree, bound: Bound, *, list_of: bool = False) -> frozenset[str] | None:
    """The strings a key expression can take: a string literal, or a macro variable over a list literal of
    strings; with ``list_of``, the strings of a list literal itself. ``None`` when not statically known."""
    if list_of:
        while isinstance(tree, lark.Tree) and tree.data != "list_lit" and len(tree.children) == 1:
            tree = tree.children[0]  # type: ignore[assignment]
        if not isinstance(tree, lark.Tree) or tree.data != "list_lit":
            return None
        items = [e for c in _children(tree) for e in _children(c)]
        values = [_string_literal(e) for e in items]
        return frozenset(values) if values and all(v is not None for v in values) else None  # type: ignore[arg-type]
    literal = _string_literal(tree)
    if literal is not None:
        return frozenset({literal})
    name = _ident_name(tree)
    return bound.get(name) if name is not None else None


def _image_select(tree: lark.Tree, bound: Bound) -> frozenset[str] | None:
    """The attributes ``image.X`` / ``image["X"]`` / ``image[k]`` (k over literal keys) selects, else None."""
    while isinstance(tree, lark.Tree) and tree.data not in ("member_dot", "member_index") and len(tree.children) == 1:
        tree = tree.children[0]  # type: ignore[assignment]
    if not isinstance(tree, lark.Tree) or tree.data not in ("member_dot", "member_index"):
        return None
    target, *rest = list(_children(tree))
    if _ident_name(target) != "image" or "image" in bound:
        return None
    if tree.data == "member_dot":
        return frozenset({str(_token(tree))})
    return _literal_keys(rest[0], bound) if rest else None


def _is_select(tree: lark.Tree) -> bool:
    while isinstance(tree, lark.Tree) and len(tree.children) == 1:
        tree = tree.children[0]  # type: ignore[assignment]
    return isinstance(tree, lark.Tree) and tree.data == "member_dot"


def cel_literal(value: Any) -> str:
    """Render a YAML/JSON value as a CEL literal (for inlining params into expressions)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f'double("{value}")'
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, str):
        # JSON's escapes are CEL's, but not its \ud83d\ude00 for a character beyond U+FFFF (cel-cpp refuses
        # escaped surrogates): such characters stay as they are (params hold no lone surrogate: the loader)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{cel_literal(str(k))}: {cel_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot express {type(value).__name__} as a CEL literal")


def regex_sites(tree: lark.Tree) -> list[tuple[int, int, str, str]]:
    """``image.ATTR.matches(LITERAL)`` and ``matches(image.ATTR, LITERAL)`` calls: (start, end, ATTR, LITERAL).

    LITERAL is the string literal's CEL source text. ``analyse`` rejects macros that rebind ``image``, so
    every ``image`` here is the image.
    """
    sites = []
    for node in tree.iter_subtrees():
        site = _regex_site(node)
        if site is not None:
            sites.append((node.meta.start_pos, node.meta.end_pos, *site))
    return sites


def _regex_site(node: lark.Tree) -> tuple[str, str] | None:
    """(ATTR, LITERAL) if ``node`` is ``image.ATTR.matches(LITERAL)`` or ``matches(image.ATTR, LITERAL)``."""
    if node.data not in ("member_dot_arg", "ident_arg") or str(_token(node)) != "matches":
        return None
    if node.data == "member_dot_arg":
        target, *rest = list(_children(node))
        args = [e for c in rest for e in _children(c)]
    else:
        args = [e for c in _children(node) for e in _children(c)]
        if len(args) != 2:
            return None
        target, args = args[0], args[1:]
    attr = _image_attribute(target)
    pattern = _literal_token(args[0]) if len(args) == 1 else None
    if attr is None or pattern is None or pattern.type != "STRING_LIT":
        return None
    return attr, str(pattern)


def _image_attribute(tree: lark.Tree) -> str | None:
    while isinstance(tree, lark.Tree) and tree.data != "member_dot" and len(tree.children) == 1:
        tree = tree.children[0]  # type: ignore[assignment]
    if isinstance(tree, lark.Tree) and tree.data == "member_dot" and _ident_name(tree.children[0]) == "image":
        return str(_token(tree))
    return None


def _literal_token(tree: lark.Tree) -> lark.Token | None:
    while isinstance(tree, lark.Tree):
        if tree.data == "literal":
            return _token(tree)
        if len(tree.children) != 1:
            return None
        tree = tree.children[0]  # type: ignore[assignment]
    return None


def inline(
    source: str,
    tree: lark.Tree,
    variables: Mapping[str, str],
    params_literal: str,
    regexes: Mapping[tuple[int, int], str] | None = None,
) -> str:
    """Return ``source`` with ``variables.NAME`` replaced by ``(variables[NAME])`` and ``params`` by a literal.

    ``regexes`` maps (start, end) spans of ``regex_sites`` to replacement text. ``tree`` must be
    ``parse(source)`` and must have passed ``analyse`` without issues.
    """
    edits: list[tuple[int, int, str]] = [(start, end, text) for (start, end), text in (regexes or {}).items()]
    _collect_edits(tree, frozenset(), variables, params_literal, edits)
    out = source
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    return out


def _collect_edits(
    tree: lark.Tree, bound: frozenset[str], variables: Mapping[str, str], params: str, edits: list[tuple[int, int, str]]
) -> None:
    kind = tree.data
    if kind == "ident":
        if str(_token(tree)) == "params" and "params" not in bound:
            edits.append((tree.meta.start_pos, tree.meta.end_pos, f"({params})"))
        return
    if kind in ("member_dot", "member_index"):
        target, *rest = list(_children(tree))
        if _ident_name(target) == "variables" and "variables" not in bound:
            key = str(_token(tree)) if kind == "member_dot" else _string_literal(rest[0])
            edits.append((tree.meta.start_pos, tree.meta.end_pos, f"({variables[key or '']})"))
            return
    if kind == "member_dot_arg" and str(_token(tree)) in MACROS:
        target, *rest = list(_children(tree))
        args = [e for c in rest for e in _children(c)]
        _collect_edits(target, bound, variables, params, edits)
        var = _ident_name(args[0]) if args else None
        for arg in args[1:]:
            _collect_edits(arg, bound | {var} if var else bound, variables, params, edits)
        return
    for sub in _children(tree):
        _collect_edits(sub, bound, variables, params, edits)
