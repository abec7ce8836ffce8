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
from bisect import bisect_right
from collections import Counter
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
TIMESTAMP_ACCESSORS = frozenset(
    {
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
"""The timestamp methods (``t.getHours()``, optionally with a time zone)."""
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
    }
    | TIMESTAMP_ACCESSORS
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
    source: str = ""
    """The expression as the engines run it: the written text with the image library expanded."""
    written_tree: lark.Tree | None = None
    """The parse tree of the text as written (``tree`` is that of ``source``)."""
    origin: Any = None
    """Callable mapping an offset in ``source`` to one in the written text."""


def _positioned_literal(token: lark.Token) -> lark.Token:
    if token.value in ("true", "false"):
        return lark.Token.new_borrow_pos("BOOL_LIT", token.value, token)
    return token


def parse(source: str) -> lark.Tree:
    """Parse with cel-python's parser; raises ``CELParseError`` (with ``line``/``column``) on bad syntax."""
    global _parser
    if _parser is None:
        # celpy's lexer callback turns the IDENT tokens `true`/`false` into BOOL_LIT tokens without a position,
        # so every node above a bool literal had none: the library expansion and the problems' FILE:LINE:COL
        # need them. The callback is read when the (shared) lark parser is built, so it is built again.
        CELParser.ambiguous_literals = staticmethod(_positioned_literal)  # type: ignore[method-assign,assignment]
        CELParser.CEL_PARSER = None
        _parser = CELParser()
    tree: lark.Tree = _parser.parse(source)
    # lark names rules by Token, whose == is a Python method (~0.4 µs); every walk of ours compares node names
    # several times per node, and a library expansion makes trees of thousands of nodes: plain str compares
    # in C
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node.data) is lark.Token:
            node.data = node.data.value
        stack.extend(c for c in node.children if isinstance(c, lark.Tree))
    return tree


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


Bound = Mapping[str, "frozenset[str] | None"]
"""Names bound to the strings they can take (a macro variable over a literal list; a variable holding a
list known at load time), or to None when not known."""
_NO_VARIABLES: Bound = {}


def analyse(source: str, defined_variables: Bound = _NO_VARIABLES, *, library: bool = False) -> Analysis:
    """Parse and check one expression; never raises for a bad expression (problems go in ``issues``).

    With ``library``, calls of the image library are expanded first (``expand``): the analysis is that of
    the expanded text (``Analysis.source``), its issues at offsets into the text as written.
    """
    try:
        tree = parse(source)
    except CELParseError as exc:
        line, col = getattr(exc, "line", None), getattr(exc, "column", None)
        offset = offset_of(source, line, col) if line and col else 0
        return Analysis(tree=None, issues=[CelIssue(offset, f"CEL syntax error: {_syntax_message(exc)}")])
    written_tree, origin, expanded = tree, None, source
    if library:
        expansion = expand(source, tree)
        if expansion.issues:
            return Analysis(tree=None, issues=expansion.issues, source=source)
        if expansion.changed:
            try:
                tree, origin, expanded = parse(expansion.source), expansion.origin, expansion.source
            except CELParseError as exc:  # a defect of ours, reported at the expression rather than a traceback
                message = f"imagelint could not expand the image library here ({_syntax_message(exc)}); a defect"
                return Analysis(tree=None, issues=[CelIssue(0, message)], source=source)
    result = Analysis(tree=tree, source=expanded, written_tree=written_tree)
    result.origin = origin
    _walk(tree, {}, result, defined_variables, library)
    if origin is not None:
        # a library function that repeats its argument in its expansion (andMore's list) would report a
        # problem in that argument once per copy, all at the one place written
        result.issues = list(dict.fromkeys(CelIssue(origin(i.offset), i.message) for i in result.issues))
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


def _walk(tree: lark.Tree, bound: Bound, out: Analysis, defined: Bound, library: bool = False) -> None:
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
            _walk(left, bound, out, defined, library)  # type: ignore[arg-type]
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
                    _walk(sub, bound, out, defined, library)
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
            _walk(sub, bound, out, defined, library)
        return

    site = _regex_site(tree)
    if site is not None:  # image.X.matches("literal"): only the match's result is read
        out.attributes.add(site[0])
        out.matched.add(site[0])
        return

    if kind == "ident_arg":
        name = str(_token(tree))
        args = [e for c in _children(tree) for e in _children(c)]
        if name not in GLOBAL_FUNCTIONS and not (library and name in _natives()):
            out.issues.append(CelIssue(start, _unknown_function(name, library)))
        if name == "has" and (len(args) != 1 or not _is_select(args[0])):
            out.issues.append(CelIssue(start, "has() takes one field selection, e.g. has(image.name)"))
        elif name == "has" and "variables" not in bound and _select_root(args[0]) == "variables":
            # Every variable has a value (or an error) for every image; has() of one is true or, on an engine
            # that writes the variable in, not a selection at all: the engines would disagree.
            out.issues.append(CelIssue(start, "has() of a variable is always true: read variables.NAME itself"))
        shape = _image_select(args[0], bound) if name in ("has", "type") and len(args) == 1 else None
        if shape is not None:  # has(image.X), type(image.X): the attribute's presence or type, not its value
            out.attributes.update(shape)
            return
        for sub in _children(tree):
            _walk(sub, bound, out, defined, library)
        return

    if kind == "member_dot_arg":
        target, *rest = list(_children(tree))
        name = str(_token(tree))
        args = [e for c in rest for e in _children(c)]
        if name not in METHODS:
            out.issues.append(CelIssue(start, f"unknown method .{name}() (only the standard CEL library is available)"))
        _walk(target, bound, out, defined, library)
        if name in MACROS and args:
            var = _ident_name(args[0])
            if var is None:
                out.issues.append(CelIssue(start, f".{name}() needs a variable name as its first argument"))
            elif var in ROOTS:
                out.issues.append(
                    CelIssue(start, f".{name}({var}, ...) would hide the variable {var!r}; pick another name")
                )
            inner = {**bound, var: list_keys(target, defined)} if var else bound
            for arg in args[1:]:
                _walk(arg, inner, out, defined, library)
            return
        for sub in rest:
            _walk(sub, bound, out, defined, library)
        return

    if kind in ("dot_ident", "dot_ident_arg", "member_object"):
        out.issues.append(CelIssue(start, "message types and leading-dot names are not supported"))
        return

    for sub in _children(tree):
        _walk(sub, bound, out, defined, library)


def _natives() -> frozenset[str]:
    from imagelint.policy.library import NATIVES

    return frozenset(NATIVES)


def _unknown_function(name: str, library: bool) -> str:
    if not library:
        return (
            f"unknown function {name}() (only the standard CEL library is available, so that both engines "
            "mean the same thing)"
        )
    from difflib import get_close_matches

    from imagelint.policy.library import FUNCTIONS

    close = get_close_matches(name, sorted(FUNCTIONS) + sorted(GLOBAL_FUNCTIONS), n=1)
    hint = f"; did you mean {close[0]}()?" if close else ""
    return (
        f"unknown function {name}() (only the standard CEL library and the image library of "
        f"docs/cel-library.md are available, so that every engine means the same thing){hint}"
    )


def _literal_keys(tree: lark.Tree, bound: Bound) -> frozenset[str] | None:
    """The strings a key expression can take: a string literal, or a macro variable over a list known at
    load time (``list_keys``). ``None`` when not statically known."""
    literal = _string_literal(tree)
    if literal is not None:
        return frozenset({literal})
    name = _ident_name(tree)
    return bound.get(name) if name is not None else None


def list_keys(tree: lark.Tree, variables: Bound = _NO_VARIABLES) -> frozenset[str] | None:
    """The strings of a list known at load time: a list literal of string literals, a variable that holds
    one (``variables`` maps each name to its strings, or None), or a ``+`` of such lists. ``None`` otherwise.

    A variable's list lets ``variables.names.filter(k, present(image[k]))`` read the attributes it names,
    rather than the whole image (which cel-cpp would convert at every evaluation)."""
    while isinstance(tree, lark.Tree) and tree.data not in ("list_lit", "member_dot") and len(tree.children) == 1:
        tree = tree.children[0]  # type: ignore[assignment]
    if not isinstance(tree, lark.Tree):
        return None
    if tree.data == "list_lit":
        items = [e for c in _children(tree) for e in _children(c)]
        values = [_string_literal(e) for e in items]
        return frozenset(values) if values and all(v is not None for v in values) else None  # type: ignore[arg-type]
    if tree.data == "addition" and len(tree.children) == 2:
        left, right = tree.children
        if isinstance(left, lark.Tree) and left.data == "addition_add" and isinstance(right, lark.Tree):
            first, second = list_keys(left.children[0], variables), list_keys(right, variables)  # type: ignore[arg-type]
            return first | second if first is not None and second is not None else None
        return None
    if tree.data == "member_dot":
        target = tree.children[0]
        if isinstance(target, lark.Tree) and _ident_name(target) == "variables":
            return variables.get(str(_token(tree)))
    return None


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


def _select_root(tree: lark.Tree) -> str | None:
    """The identifier a field selection selects from, e.g. ``variables`` for ``variables.x``."""
    select = _select_in(tree)
    return _ident_name(select.children[0]) if select is not None else None  # type: ignore[arg-type]


def _select_in(tree: lark.Tree) -> lark.Tree | None:
    """The ``member_dot`` node that ``tree`` is (through single-child nodes), if it is one."""
    while isinstance(tree, lark.Tree) and len(tree.children) == 1:
        tree = tree.children[0]  # type: ignore[assignment]
    return tree if isinstance(tree, lark.Tree) and tree.data == "member_dot" else None


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


def regex_sites(tree: lark.Tree, source: str | None = None) -> list[tuple[int, int, str, str]]:
    """``image.ATTR.matches(LITERAL)`` and ``matches(image.ATTR, LITERAL)`` calls: (start, end, ATTR, LITERAL).

    LITERAL is the string literal's CEL source text. ``analyse`` rejects macros that rebind ``image``, so
    every ``image`` here is the image. With ``source`` (the text ``tree`` was parsed from), subtrees whose
    text does not say ``matches`` are not searched.
    """
    sites = []
    stack = [tree]  # not iter_subtrees(): it dedupes and orders every node, twice the cost of the search
    while stack:
        node = stack.pop()
        site = _regex_site(node)
        if site is not None:
            sites.append((node.meta.start_pos, node.meta.end_pos, *site))
        stack.extend(
            c
            for c in reversed(node.children)
            if isinstance(c, lark.Tree) and (source is None or _mentions(source, c, ("matches",)))
        )
    return sorted(sites)


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
    params: Mapping[str, Any] | None = None,
) -> str:
    """Return ``source`` with ``variables.NAME`` replaced by ``(variables[NAME])`` and ``params`` by a literal.

    With ``params`` (the values ``params_literal`` writes), ``params.NAME`` and ``params["NAME"]`` of a
    param that is there become the literal of its value alone: cel-cpp builds a map literal afresh at each
    evaluation (about 0.5 µs), and a library expansion may repeat its argument several times. An absent
    name and ``has(params.NAME)`` keep the map, and with it CEL's own answer.
    ``regexes`` maps (start, end) spans of ``regex_sites`` to replacement text. ``tree`` must be
    ``parse(source)`` and must have passed ``analyse`` without issues.
    """
    edits: list[tuple[int, int, str]] = [(start, end, text) for (start, end), text in (regexes or {}).items()]
    _collect_edits(tree, frozenset(), variables, _Params(params_literal, params or {}, source), edits)
    out = source
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    return out


def variable_uses(source: str, tree: lark.Tree) -> Counter[str]:
    """How many times ``tree`` reads each ``variables.NAME``: the reads ``inline`` writes the variable's text
    into (a comprehension variable named ``variables`` shadows, as there)."""
    uses: Counter[str] = Counter()
    _collect_edits(tree, frozenset(), _Uses(uses), _Params("", {}, source), [])
    return uses


class _Uses(Mapping[str, str]):
    """A stand-in for ``inline``'s variable texts that counts the reads instead."""

    def __init__(self, uses: Counter[str]) -> None:
        self.uses = uses

    def __getitem__(self, key: str) -> str:
        self.uses[key] += 1
        return ""

    def __iter__(self) -> Iterator[str]:
        return iter(self.uses)

    def __len__(self) -> int:
        return len(self.uses)


@dataclass(frozen=True)
class _Params:
    literal: str
    values: Mapping[str, Any]
    source: str
    """The text the tree was parsed from: a subtree whose text names neither root has nothing to edit."""


def _mentions(source: str, tree: lark.Tree, words: tuple[str, ...]) -> bool:
    """Whether ``tree``'s text may hold one of ``words`` (the walks skip the subtrees that cannot: an
    expanded expression has thousands of nodes, most of them in guards and patterns)."""
    start = getattr(tree.meta, "start_pos", None)
    if start is None:
        return True
    text = source[start : tree.meta.end_pos]
    return any(word in text for word in words)


def _collect_edits(
    tree: lark.Tree,
    bound: frozenset[str],
    variables: Mapping[str, str],
    params: _Params,
    edits: list[tuple[int, int, str]],
) -> None:
    if not _mentions(params.source, tree, ("params", "variables")):
        return
    kind = tree.data
    if kind == "ident":
        if str(_token(tree)) == "params" and "params" not in bound:
            edits.append((tree.meta.start_pos, tree.meta.end_pos, f"({params.literal})"))
        return
    if kind == "ident_arg" and str(_token(tree)) == "has":
        # has() needs a selection: only what it selects from may become a literal
        for arg in (e for c in _children(tree) for e in _children(c)):
            select = _select_in(arg)
            for sub in _children(select if select is not None else arg):
                _collect_edits(sub, bound, variables, params, edits)
        return
    if kind in ("member_dot", "member_index"):
        target, *rest = list(_children(tree))
        root = _ident_name(target)
        if root in ("variables", "params") and root not in bound:
            key = str(_token(tree)) if kind == "member_dot" else _string_literal(rest[0])
            if root == "variables":
                edits.append((tree.meta.start_pos, tree.meta.end_pos, f"({variables[key or '']})"))
                return
            if key is not None and key in params.values:
                edits.append((tree.meta.start_pos, tree.meta.end_pos, f"({cel_literal(params.values[key])})"))
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


# --- the image library: load-time expansion ------------------------------------------------------------

Segment = tuple[str, int, bool]
"""A piece of expanded text: (text, offset in the written text, copied verbatim from there)."""


@dataclass(frozen=True)
class Expansion:
    """An expression with its library calls replaced by standard CEL."""

    source: str
    origin: Any
    """Callable mapping an offset in ``source`` to the offset in the written text it came from."""
    issues: list[CelIssue]
    changed: bool


def expand(source: str, tree: lark.Tree) -> Expansion:
    """Replace every library expansion (``imagelint.policy.library``) and ``cel.bind`` in ``source``.

    Offsets inside copied text (arguments included) map back to where they were written; offsets inside
    a function's own text map to the call.
    """
    if not any(_library_site(node) for node in tree.iter_subtrees()):
        return Expansion(source, lambda offset: offset, [], False)
    issues: list[CelIssue] = []
    segments = _Expander(source, issues).render(tree, {})
    text = "".join(s[0] for s in segments)
    starts, pos = [], 0
    for seg in segments:
        starts.append(pos)
        pos += len(seg[0])

    def origin(offset: int) -> int:
        index = max(0, bisect_right(starts, offset) - 1)
        if not segments:
            return 0
        piece, at, verbatim = segments[index]
        return at + min(offset - starts[index], max(len(piece) - 1, 0)) if verbatim else at

    return Expansion(text, origin, issues, True)


def _library_site(node: lark.Tree) -> bool:
    from imagelint.policy.library import FUNCTIONS

    if node.data == "ident_arg":
        function = FUNCTIONS.get(str(_token(node)))
        return function is not None and function.expand is not None
    return _is_bind(node)


def _is_bind(node: lark.Tree) -> bool:
    if node.data != "member_dot_arg" or str(_token(node)) != "bind":
        return False
    target = next(_children(node), None)
    return target is not None and _ident_name(target) == "cel"


def _call_args(node: lark.Tree) -> list[lark.Tree]:
    kids = list(_children(node))
    if node.data == "member_dot_arg":
        kids = kids[1:]
    return [e for c in kids for e in _children(c)]


_SIMPLE = frozenset({"member_dot", "member_index", "ident", "literal", "paren_expr", "ident_arg", "member_dot_arg"})


def _bare(tree: lark.Tree) -> lark.Tree:
    while isinstance(tree, lark.Tree) and len(tree.children) == 1 and tree.data not in _SIMPLE:
        child = tree.children[0]
        if not isinstance(child, lark.Tree):
            break
        tree = child
    return tree


class _Expander:
    def __init__(self, source: str, issues: list[CelIssue]) -> None:
        self.source = source
        self.issues = issues

    def span(self, tree: lark.Tree) -> tuple[int, int]:
        return tree.meta.start_pos, tree.meta.end_pos

    def render(self, tree: lark.Tree, subst: Mapping[str, list[Segment]]) -> list[Segment]:
        from imagelint.policy.library import FUNCTIONS

        start, end = self.span(tree)
        if tree.data == "ident_arg" and _library_site(tree):
            return self.call(tree, FUNCTIONS[str(_token(tree))], subst)
        if _is_bind(tree):
            return self.bind(tree, subst)
        if tree.data == "ident" and str(_token(tree)) in subst:
            return [("(", start, False), *subst[str(_token(tree))], (")", start, False)]
        inner = subst
        macro_var = None
        if tree.data == "member_dot_arg" and str(_token(tree)) in MACROS and subst:
            args = _call_args(tree)
            macro_var = _ident_name(args[0]) if args else None
            if macro_var in subst:
                inner = {k: v for k, v in subst.items() if k != macro_var}
        out: list[Segment] = []
        pos = start
        for index, child in enumerate(c for c in tree.children if isinstance(c, lark.Tree)):
            if child.meta.empty:
                continue
            c_start, c_end = self.span(child)
            out.append((self.source[pos:c_start], pos, True))
            # the target of a macro keeps the outer bindings; its variable and body see the inner ones
            out += self.render(child, subst if (macro_var is not None and index == 0) else inner)
            pos = c_end
        out.append((self.source[pos:end], pos, True))
        return [s for s in out if s[0]]

    def call(self, tree: lark.Tree, function: Any, subst: Mapping[str, list[Segment]]) -> list[Segment]:
        from imagelint.policy.library import Arg, ExpansionError

        start, _ = self.span(tree)
        args = _call_args(tree)
        if len(args) != len(function.params):
            self.issues.append(
                CelIssue(start, f"{function.name}() takes {len(function.params)} argument(s): {function.signature}")
            )
            return [(self.source[slice(*self.span(tree))], start, True)]
        rendered, values = [], []
        known = len(self.issues)
        for index, (arg, kind) in enumerate(zip(args, function.params, strict=True)):
            bare = _bare(arg)
            literal = _string_literal(arg)
            if kind == "image" and (_ident_name(arg) != "image"):
                self.issues.append(
                    CelIssue(
                        arg.meta.start_pos,
                        f"{function.name}(): the first argument is image itself: {function.signature}",
                    )
                )
            if index in function.literal_params and literal is None:
                self.issues.append(
                    CelIssue(
                        arg.meta.start_pos,
                        f"{function.name}(): argument {index + 1} must be a string literal (an attribute name)",
                    )
                )
            segs = self.render(arg, subst)
            if bare.data not in _SIMPLE:
                a_start = arg.meta.start_pos
                segs = [("(", a_start, False), *segs, (")", a_start, False)]
            rendered.append(segs)
            guard = None
            if bare.data == "member_dot" and _ident_name(bare.children[0]) == "image":  # type: ignore[arg-type]
                guard = f"has(\x00{index}\x00)"
            elif bare.data == "member_index" and _ident_name(bare.children[0]) == "image":  # type: ignore[arg-type]
                key_node = bare.children[1]
                key = _string_literal(key_node)  # type: ignore[arg-type]
                key_text = "".join(s[0] for s in self.render(key_node, subst))  # type: ignore[arg-type]
                if _bare(key_node).data not in _SIMPLE:  # type: ignore[arg-type]
                    key_text = f"({key_text})"
                guard = f"{cel_literal(key)} in image" if key is not None else f"{key_text} in image"
            attribute = None
            if guard is not None:
                attribute = str(_token(bare)) if bare.data == "member_dot" else _string_literal(bare.children[1])  # type: ignore[arg-type]
            values.append(Arg(text=f"\x00{index}\x00", guard=guard, literal=literal, attribute=attribute))
        if len(self.issues) > known:
            return [(self.source[slice(*self.span(tree))], start, True)]
        try:
            text = function.expand(values)
        except ExpansionError as exc:
            self.issues.append(CelIssue(start, f"{function.name}(): {exc}"))
            return [(self.source[slice(*self.span(tree))], start, True)]
        out: list[Segment] = []
        for n, piece in enumerate(text.split("\x00")):
            if n % 2:
                out += rendered[int(piece)]
            elif piece:
                out.append((piece, start, False))
        return out

    def bind(self, tree: lark.Tree, subst: Mapping[str, list[Segment]]) -> list[Segment]:
        start, _ = self.span(tree)
        args = _call_args(tree)
        name = _ident_name(args[0]) if len(args) == 3 else None
        if name is None or name in ROOTS:
            problem = (
                "cel.bind(name, value, expression) takes a name, a value and an expression"
                if name is None
                else f"cel.bind({name}, ...) would hide the variable {name!r}; pick another name"
            )
            self.issues.append(CelIssue(start, problem))
            return [(self.source[slice(*self.span(tree))], start, True)]
        value = self.render(args[1], subst)
        return [("(", start, False), *self.render(args[2], {**subst, name: value}), (")", start, False)]
