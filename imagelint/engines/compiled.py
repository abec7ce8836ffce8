"""The compiled engine: each policy's CEL becomes one Python function over the image dict.

Why: with cel-cpp most of the per-image cost is the boundary (turning attributes into CEL values, calling
into C++), not the evaluation. Here the expression is translated, once, from the parse tree the loader
already built (``imagelint.policy.celtree``) into a Python ``ast`` — every literal an ``ast.Constant``
(or a value bound by a name the compiler made up), every identifier the compiler's own — and compiled with
``compile()``; no policy text ever becomes source code, so no policy can inject any.

Semantics are cel-cpp's (``imagelint.engines.celvalues`` holds the values and functions):

* an error is a raised ``CelError``; where CEL treats errors as values the generated code catches it:
  ``&&`` / ``||`` absorb an error on either side commutatively (``error && false`` is false), ``all`` /
  ``exists`` absorb errors of one element when another decides, ``?:`` and the rest propagate;
* ``params`` and ``now`` are constants bound at compile time; a variable that does not read the image is
  computed once at compile time (value or error), the others are functions called where they are used:
  lazy, as with the other engines, so an unused failing variable never counts;
* per policy one function returns ``-1`` (skip), ``0`` (pass) or a bitmask of false validations; when it
  raises, the policy goes through ``Engine.judge_policy`` expression by expression, which is where error
  findings and messages come from.

Images the fast path cannot judge exactly as cel-cpp does — strings with NUL or a lone surrogate (cel-cpp
hands those to cel-python), integers outside int64/uint64 (cel-cpp's conversion error poisons every read
of the map) — are passed to the cel-cpp engine (cel-python where the wheel is missing), whose answer is
by definition the one to match. Anything outside the compiled subset (an unknown function, message types)
raises ``Unsupported`` at compile time: ``--engine auto`` then judges that policy with cel-cpp.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import lark
import re2

from imagelint.engines import celvalues as cv
from imagelint.engines import peephole
from imagelint.engines.celvalues import CelError
from imagelint.engines.interface import ERROR, FAIL, PASS, SKIP, Engine, EngineError, EvalFailure, NonBool, Outcome
from imagelint.engines.regex import Matcher
from imagelint.policy import library
from imagelint.policy.celtree import TIMESTAMP_ACCESSORS
from imagelint.policy.model import Expr, Policy

MAX_BITS = 62  # validations per policy the code's bitmask holds; more: judged expression by expression
MAX_UNROLLED = 32  # a filter()/map() over at most this many string literals is compiled element by element


class Unsupported(Exception):
    """The expression uses something outside the compiled subset (the message says what)."""


# --- linear-time matches() ------------------------------------------------------------------------------
# RE2 through regex.Matcher (the binding's compiled program, or plain Python for the library's own patterns),
# never a backtracking ``re`` on a pattern it could not bound: subjects come from other tenants.


def _matcher(pattern: str) -> Callable[[Any], bool]:
    test = Matcher(pattern).test  # raises re2.error for a pattern RE2 refuses

    def matches(text: Any) -> bool:
        if type(text) is not str:
            raise cv.no_overload("matches", text, "")
        try:
            return test(text)
        except UnicodeEncodeError:
            raise CelError("invalid UTF-8 in matches() subject") from None

    return matches


_PATTERNS: dict[str, Callable[[Any], bool] | CelError] = {}


def _regex(pattern: str) -> Callable[[Any], bool]:
    found = _PATTERNS.get(pattern)
    if found is None:
        try:
            found = _matcher(pattern)
        except re2.error as exc:
            found = CelError(f"invalid regular expression: {exc}")
        if len(_PATTERNS) < 4096:  # patterns computed at run time must not grow this without bound
            _PATTERNS[pattern] = found
    if isinstance(found, CelError):
        raise found
    return found


def _matches(text: Any, pattern: Any) -> bool:
    if type(text) is not str or type(pattern) is not str:
        raise cv.no_overload("matches", text, pattern)
    return _regex(pattern)(text)


def _raise(error: CelError) -> Any:
    raise error


def _fail(what: str) -> Any:
    raise CelError(what)


_MISSING = object()

_HELPERS = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "index",
    "select",
    "has",
    "contains_in",
    "iterate",
    "make_map",
    "size",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "neg",
    "logical_not",
    "and_rest",
    "or_rest",
    "truth",
    "contains",
    "starts_with",
    "ends_with",
    "to_int",
    "to_uint",
    "to_double",
    "to_string",
    "to_bytes",
    "to_bool",
    "to_timestamp",
    "to_duration",
    "typeof",
    "accessor",
]
_RUNTIME: dict[str, Any] = {
    "CelError": CelError,
    "Uint": cv.Uint,
    "NoneType": type(None),
    "CelType": cv.CelType,
    "_M": _MISSING,
    "_raise": _raise,
    "_ONCE": (None,),
    "_fail": _fail,
    "_matches": _matches,
    "_regex": _regex,
    **{name: getattr(cv, name) for name in _HELPERS},
    **{f"T_{name}": value for name, value in cv.TYPE_IDENTS.items()},
}

_OPS = {
    "relation_lt": "lt",
    "relation_le": "le",
    "relation_gt": "gt",
    "relation_ge": "ge",
    "relation_eq": "eq",
    "relation_ne": "ne",
    "addition_add": "add",
    "addition_sub": "sub",
    "multiplication_mul": "mul",
    "multiplication_div": "div",
    "multiplication_mod": "mod",
}
_CONVERSIONS = {
    "int": "to_int",
    "uint": "to_uint",
    "double": "to_double",
    "string": "to_string",
    "bytes": "to_bytes",
    "bool": "to_bool",
    "timestamp": "to_timestamp",
    "duration": "to_duration",
}
_STRING_METHODS = {"contains": "contains", "startsWith": "starts_with", "endsWith": "ends_with"}


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}


def decode_literal(text: str, *, as_bytes: bool) -> Any:
    """A CEL string (or, after its ``b``, bytes) literal's value, escapes as the CEL spec lists them."""
    raw = text[:1] in "rR"
    if raw:
        text = text[1:]
    quote = 3 if text[:3] in ('"""', "'''") else 1
    body = text[quote:-quote]
    if raw:
        return body.encode("utf-8") if as_bytes else body
    out: list[Any] = []  # str pieces, or ints (bytes) for \x and octal escapes in bytes
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1] if i + 1 < len(body) else ""
        if n in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[n])
            i += 2
        elif n in "xX":
            code = int(body[i + 2 : i + 4], 16)
            out.append(code if as_bytes else chr(code))
            i += 4
        elif n in "01234567":
            code = int(body[i + 1 : i + 4], 8)
            out.append(code if as_bytes else chr(code))
            i += 4
        elif n in "uU" and not as_bytes:
            width = 4 if n == "u" else 8
            code = int(body[i + 2 : i + 2 + width], 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise Unsupported("a string literal with an invalid code point escape")
            out.append(chr(code))
            i += 2 + width
        else:
            raise Unsupported(f"unknown escape \\{n} in a literal")
    if not as_bytes:
        return "".join(out)
    data = bytearray()
    for piece in out:
        if isinstance(piece, int):
            data.append(piece)
        else:
            data += piece.encode("utf-8")
    return bytes(data)


# a CEL type identifier to the one Python class whose values have that type (JSON gives no tuple, and
# Uint is its own class); list and map are absent: a list may be a list or a tuple
_PYTHON_TYPES = {
    "T_int": "int",
    "T_uint": "Uint",
    "T_double": "float",
    "T_bool": "bool",
    "T_string": "str",
    "T_bytes": "bytes",
    "T_map": "dict",
    "T_null_type": "NoneType",
    "T_type": "CelType",
}


def _name(text: str) -> ast.Name:
    return ast.Name(id=text, ctx=ast.Load())


def _store(text: str) -> ast.Name:
    return ast.Name(id=text, ctx=ast.Store())


_NATIVE_TYPES: dict[str, type] = {"string": str, "bool": bool, "int": int, "double": float, "list": list, "map": dict}


def _native_call(function: library.Function) -> Callable[..., Any]:
    """The image library's native ``function`` (``policy.library.NATIVES``) as compiled code calls it: the
    declared argument types checked as cel-cpp's overload resolution does, ``ValueError`` as a CEL error, a
    ``datetime`` result as a CEL timestamp."""
    kinds = tuple(_NATIVE_TYPES.get(p) for p in function.params)
    implementation = function.native
    assert implementation is not None

    def call(*args: Any) -> Any:
        for value, kind in zip(args, kinds, strict=True):
            if kind is not None and type(value) is not kind:
                raise CelError(f"no matching overload for '{function.name}'")
        try:
            out = implementation(*args)
        except ValueError as exc:
            raise CelError(str(exc)) from None
        return cv.from_datetime(out) if isinstance(out, dt.datetime) else out

    return call


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=[])


def _absorb(step: str, decisive: bool, result: str, error: str) -> ast.If:
    """One operand's step of ``&&``/``||`` (and of ``all``/``exists``): the decisive boolean ends the loop as
    the result; anything but the other boolean (an error, a non-bool) is kept in ``error`` in case nothing is
    decisive, which is how CEL's commutative absorption of errors works."""
    return ast.If(
        test=_is(_name(step), ast.Constant(decisive)),
        body=[_assign(result, ast.Constant(decisive)), ast.Break()],
        orelse=[
            ast.If(
                test=_is(_name(step), ast.Constant(not decisive), negate=True),
                body=[_assign(error, _name(step))],
                orelse=[],
            )
        ],
    )


def _assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[_store(target)], value=value)


def _is(left: ast.expr, right: ast.expr, negate: bool = False) -> ast.Compare:
    return ast.Compare(left=left, ops=[ast.IsNot() if negate else ast.Is()], comparators=[right])


_WRAPPERS = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary", "member"}
    | {"primary", "paren_expr"}
)
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_BINDERS = _MACROS | {"bind"}
"""Methods that bind a variable of their own (``cel.bind`` too): no part of them is folded."""
_LEAVES = frozenset({"literal", "ident", "list_lit", "map_lit"})
"""Nodes not worth folding on their own: a literal is a constant already."""
_COMPARABLE = (int, float, str, bool)
_COMPARE = {
    "relation_lt": ast.Lt(),
    "relation_le": ast.LtE(),
    "relation_gt": ast.Gt(),
    "relation_ge": ast.GtE(),
    "relation_eq": ast.Eq(),
    "relation_ne": ast.NotEq(),
}
_FACT_TYPES = {"T_int": int, "T_double": float, "T_bool": bool, "T_string": str, "T_null_type": type(None)}


def _unwrap(node: lark.Tree) -> lark.Tree:
    """The node under one-child wrappers (a relation without an operator, parentheses...)."""
    while node.data in _WRAPPERS and len(node.children) == 1 and isinstance(node.children[0], lark.Tree):
        node = node.children[0]
    while node.data in _WRAPPERS and len(_trees(node)) == 1:
        node = _trees(node)[0]
    return node


def _operands(node: lark.Tree) -> list[lark.Tree]:
    """The operands of an ``a && b && c`` (or ``||``) chain, left to right."""
    operands: list[lark.Tree] = []
    while len(_trees(node)) == 2:
        left, right = _trees(node)
        operands.append(right)
        node = left
    operands.append(_trees(node)[0])
    operands.reverse()
    return operands


def _has_target(node: lark.Tree) -> lark.Tree | None:
    """The argument of a one-argument ``has(...)`` call node."""
    args = _args(_trees(node)[0]) if _trees(node) else []
    return args[0] if len(args) == 1 else None


def _trees(node: lark.Tree) -> list[lark.Tree]:
    return [c for c in node.children if isinstance(c, lark.Tree)]


def _tokens(node: lark.Tree) -> list[lark.Token]:
    return [c for c in node.children if isinstance(c, lark.Token)]


def _args(node: lark.Tree | None) -> list[lark.Tree]:
    return [] if node is None else _trees(node)


class _Scope:
    """What identifiers mean while compiling one expression: macro variables and the policy's variables."""

    def __init__(self, variables: dict[str, tuple[str, Any]]) -> None:
        self.bound: dict[str, str] = {}  # macro variable -> the Python name that holds it
        self.constants: dict[str, str] = {}  # macro variable -> its string, in a macro unrolled over literals
        self.variables = variables  # NAME -> ("const", value) | ("error", CelError) | ("call", function)


class Compiler:
    """Turns expressions into Python functions sharing one namespace (runtime helpers and constants)."""

    def __init__(self, *, optimise: bool = True) -> None:
        """``optimise``: apply ``peephole`` to every function (off only to test the rewrites against)."""
        self.optimise = optimise
        self.namespace: dict[str, Any] = dict(_RUNTIME)
        self._counter = itertools.count()
        self.block: list[ast.stmt] = []
        self.scope = _Scope({})
        self.params_name = "_params"  # the current policy's (compile_policy binds a fresh name)
        # image fields known to be there where the code being built runs: field -> Python type, or None
        # when only its presence is known (see "short-circuit chains")
        self.facts: dict[str, type | None] = {}
        self.bool_names: set[str] = {"_matches"}  # namespace callables that return a bool or raise (peephole)
        self._constant_nodes: dict[int, tuple[lark.Tree, bool]] = {}  # id -> (node, reads neither image nor loop)
        self._folding = False

    # --- plumbing -----------------------------------------------------------------------------------

    def fresh(self, prefix: str = "_t") -> str:
        return f"{prefix}{next(self._counter)}"

    def bind(self, value: Any) -> ast.expr:
        """A constant: an ``ast.Constant`` where Python has the literal, else a name bound to the value."""
        if value is None or type(value) in (bool, int, float, str, bytes):
            return ast.Constant(value=value)
        name = self.fresh("_k")
        self.namespace[name] = value
        return _name(name)

    def function(self, tree: lark.Tree, scope: _Scope, body: Callable[[ast.expr], list[ast.stmt]]) -> Callable:
        """Compile ``tree`` into ``def f(image): ...`` whose tail ``body(result)`` writes."""
        saved_block, saved_scope, saved_facts = self.block, self.scope, self.facts
        self.block, self.scope, self.facts = [], scope, {}  # a function may be called from anywhere
        try:
            result = self.expr(tree)
            statements = self.block + body(result)
        finally:
            self.block, self.scope, self.facts = saved_block, saved_scope, saved_facts
        return self._define(statements)

    def _define(self, statements: list[ast.stmt], *, optimise: bool = True) -> Callable:
        """``def _fN(image): statements``, compiled; ``optimise=False`` for statements rewritten already."""
        name = self.fresh("_f")
        definition = peephole.image_function(name, statements)
        if optimise and self.optimise:
            peephole.optimise(definition, self.bool_names)
        module = ast.Module(body=[definition], type_ignores=[])
        ast.fix_missing_locations(module)
        try:
            code = compile(module, "<cel>", "exec")
        except SyntaxError as exc:  # "too many statically nested blocks": macros and logic nested past 20
            raise Unsupported(f"nested too deeply to compile ({exc.msg})") from None
        exec(code, self.namespace)  # noqa: S102 - an AST we built, no policy text
        function: Callable = self.namespace[name]
        return function

    def value_function(self, tree: lark.Tree, scope: _Scope) -> Callable:
        return self.function(tree, scope, lambda result: [ast.Return(value=result)])

    # --- expressions ----------------------------------------------------------------------------------

    def expr(self, node: lark.Tree) -> ast.expr:
        if self.optimise and not self._folding and _unwrap(node).data not in _LEAVES and self._constant(node):
            folded = self._fold(node)
            if folded is not None:
                return folded
        handler = getattr(self, "_" + node.data, None)
        if handler is None:
            raise Unsupported(f"{node.data.replace('_', ' ')} is not in the compiled subset")
        result: ast.expr = handler(node)
        return result

    # --- constant folding ---------------------------------------------------------------------------------
    # A part of an expression that reads neither the image nor a macro's variable (only literals, params, now
    # and variables computed at compile time) has one value for the whole run: it is computed once, here, and
    # the code holds the value. image-max-age's message writes its limit with imsText(now - days) that way.
    # A part that raises is left to raise where it runs, so that CEL's error semantics stay those of the code.

    def _constant(self, node: lark.Tree) -> bool:
        known = self._constant_nodes.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        result = self._reads_nothing(node)
        self._constant_nodes[id(node)] = (node, result)
        return result

    def _reads_nothing(self, node: lark.Tree) -> bool:
        kind = node.data
        if kind == "ident":
            name = str(_tokens(node)[0])
            return name in ("now", "params") or (name in cv.TYPE_IDENTS and name not in self.scope.bound)
        if kind in ("member_dot", "member_index"):
            variable = self._variable_ref(node)
            if variable is not None:
                return self.scope.variables.get(variable, ("call",))[0] == "const"
        if kind == "member_dot_arg" and str(_tokens(node)[0]) in _BINDERS:
            return False  # a macro binds a variable of its own
        return all(self._constant(child) for child in _trees(node))

    def _fold(self, node: lark.Tree) -> ast.expr | None:
        self._folding = True
        try:
            value = self.value_function(node, self.scope)(None)
        except (CelError, Unsupported, RecursionError):
            return None
        finally:
            self._folding = False
        return self.bind(value)

    def _single(self, node: lark.Tree) -> ast.expr:
        return self.expr(_trees(node)[0])

    _member = _primary = _paren_expr = _single

    def _temp(self, value: ast.expr) -> str:
        name = self.fresh()
        self.block.append(_assign(name, value))
        return name

    def _guarded(self, node: lark.Tree, target: str) -> list[ast.stmt]:
        """``try: target = <node> except CelError as e: target = e``: an error kept as a value."""
        saved = self.block
        self.block = []
        value = self.expr(node)
        body = self.block + [_assign(target, value)]
        self.block = saved
        error = self.fresh("_e")
        return [
            ast.Try(
                body=body,
                handlers=[ast.ExceptHandler(type=_name("CelError"), name=error, body=[_assign(target, _name(error))])],
                orelse=[],
                finalbody=[],
            )
        ]

    def _sub_block(self, node: lark.Tree, target: str) -> list[ast.stmt]:
        saved = self.block
        self.block = []
        value = self.expr(node)
        body = self.block + [_assign(target, value)]
        self.block = saved
        return body

    def _expr(self, node: lark.Tree) -> ast.expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        condition, yes, no = parts
        test = self.fresh()
        self.block.append(_assign(test, self.expr(condition)))
        result = self.fresh()
        self.block.append(
            ast.If(
                test=_is(_name(test), ast.Constant(True)),
                body=self._sub_block(yes, result),
                orelse=[
                    ast.If(
                        test=_is(_name(test), ast.Constant(False)),
                        body=self._sub_block(no, result),
                        orelse=[
                            ast.Expr(_call("_raise", _call("CelError", ast.Constant("no matching overload for _?_:_"))))
                        ],
                    )
                ],
            )
        )
        return _name(result)

    def _logic(self, node: lark.Tree, absorbing: bool, rest: str) -> ast.expr:
        """A whole ``a && b && c`` chain at one nesting level (Python allows 20 nested blocks): each operand
        in its own ``try``, inside a one-pass loop that the absorbing value ``break``s out of."""
        operands = _operands(node)
        if len(operands) == 1:
            return self.expr(operands[0])
        fast = self._short_circuit(operands, absorbing, rest)
        if fast is not None:
            return fast
        result, pending, step = self.fresh(), self.fresh(), self.fresh()
        body: list[ast.stmt] = []
        for operand in operands:
            body += self._guarded(operand, step)
            body.append(_absorb(step, absorbing, result, pending))
        self.block += [
            _assign(result, ast.Constant(not absorbing)),
            _assign(pending, ast.Constant(None)),
            ast.For(target=_store(self.fresh()), iter=_name("_ONCE"), body=body, orelse=[]),
            # nothing absorbed: an error (or a non-bool operand) among the operands is the result
            ast.If(
                test=ast.BoolOp(
                    op=ast.And(),
                    values=[
                        _is(_name(result), ast.Constant(not absorbing)),
                        _is(_name(pending), ast.Constant(None), negate=True),
                    ],
                ),
                body=[_assign(result, _call(rest, _name(pending)))],
                orelse=[],
            ),
        ]
        return _name(result)

    def _conditionalor(self, node: lark.Tree) -> ast.expr:
        return self._logic(node, True, "or_rest")

    def _conditionaland(self, node: lark.Tree) -> ast.expr:
        return self._logic(node, False, "and_rest")

    def _binary(self, node: lark.Tree) -> ast.expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        operator, right_node = parts
        left_node = _trees(operator)[0]
        if operator.data == "relation_in":
            return self._in(left_node, right_node)
        if operator.data in ("relation_eq", "relation_ne"):
            special = self._type_test(left_node, right_node, operator.data == "relation_ne")
            if special is not None:
                return special
        if operator.data in _COMPARE and type(self._literal_of(right_node)) is int:
            argument = self._size_call(left_node)
            if argument is not None:  # size(x) == 0: size() gives an int, so Python compares as CEL does
                return ast.Compare(
                    left=_call("size", self.expr(argument)),
                    ops=[_COMPARE[operator.data]],
                    comparators=[ast.Constant(self._literal_of(right_node))],
                )
        left = self.expr(left_node)
        right = self.expr(right_node)
        return _call(_OPS[operator.data], left, right)

    def _size_call(self, node: lark.Tree) -> lark.Tree | None:
        """X if ``node`` is ``size(X)``."""
        node = _unwrap(node)
        if node.data == "ident_arg" and str(_tokens(node)[0]) == "size":  # a call, as _ident_arg reads it
            args = _args(_trees(node)[0]) if _trees(node) else []
            if len(args) == 1:
                return args[0]
        return None

    _relation = _addition = _multiplication = _binary

    def _type_test(self, left: lark.Tree, right: lark.Tree, negate: bool) -> ast.expr | None:
        """``type(x) == string``: a type value against a type identifier is an identity test."""
        for a, b in ((left, right), (right, left)):
            name = self._type_ident(b)
            if name is None:
                continue
            inner = self._type_call(a)
            python = _PYTHON_TYPES.get(name)
            if inner is not None and python is not None:  # type(x) == string: type(x) is str, no CelType
                test: ast.expr = _is(_call("type", self.expr(inner)), _name(python))
                return ast.UnaryOp(op=ast.Not(), operand=test) if negate else test
            # no other value equals a type, and type values are unique objects
            return _is(self.expr(a), _name(name), negate)
        return None

    def _type_call(self, node: lark.Tree) -> lark.Tree | None:
        """X if ``node`` is ``type(X)``."""
        while isinstance(node, lark.Tree) and node.data != "ident_arg" and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        if isinstance(node, lark.Tree) and node.data == "ident_arg" and str(_tokens(node)[0]) == "type":
            args = _args(_trees(node)[0]) if _trees(node) else []
            if len(args) == 1:
                return args[0]
        return None

    def _type_ident(self, node: lark.Tree) -> str | None:
        while isinstance(node, lark.Tree) and node.data != "ident" and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        if isinstance(node, lark.Tree) and node.data == "ident":
            text = str(_tokens(node)[0])
            if text in cv.TYPE_IDENTS and text not in self.scope.bound:
                return f"T_{text}"
        return None

    def _in(self, left_node: lark.Tree, right_node: lark.Tree) -> ast.expr:
        strings = self._string_list(right_node)
        left = self.expr(left_node)
        if strings is not None:  # x in ["a", "b"]: only a string can equal a string
            temp = self.fresh()
            return ast.BoolOp(
                op=ast.And(),
                values=[
                    _is(_call("type", ast.NamedExpr(target=_store(temp), value=left)), _name("str")),
                    ast.Compare(left=_name(temp), ops=[ast.In()], comparators=[self.bind(frozenset(strings))]),
                ],
            )
        if self._image_key(right_node):  # k in image: the image's keys are strings
            temp = self.fresh()
            return ast.IfExp(
                test=_is(_call("type", ast.NamedExpr(target=_store(temp), value=left)), _name("str")),
                body=ast.Compare(left=_name(temp), ops=[ast.In()], comparators=[_name("image")]),
                orelse=_call("contains_in", _name(temp), _name("image")),
            )
        return _call("contains_in", left, self.expr(right_node))

    def _string_list(self, node: lark.Tree) -> list[str] | None:
        """The strings of a list known at compile time, in order: a list literal of string literals, a
        variable computed once at load that holds one, or a ``+`` of such lists; else None."""
        while isinstance(node, lark.Tree) and node.data not in ("list_lit", "member_dot") and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        if isinstance(node, lark.Tree) and node.data == "addition" and len(node.children) == 2:
            left, right = node.children
            if not (isinstance(left, lark.Tree) and left.data == "addition_add" and isinstance(right, lark.Tree)):
                return None
            first, second = self._string_list(left.children[0]), self._string_list(right)  # type: ignore[arg-type]
            return first + second if first is not None and second is not None else None
        if isinstance(node, lark.Tree) and node.data == "member_dot":
            name = self._variable_ref(node)
            if name is None:
                return None
            kind, value = self.scope.variables.get(name, ("", None))
            if kind != "const" or type(value) is not list or not all(type(v) is str for v in value):
                return None
            return list(value)
        if not isinstance(node, lark.Tree) or node.data != "list_lit" or not node.children:
            return None
        values = []
        for item in _args(_trees(node)[0]):
            literal = self._literal_of(item)
            if type(literal) is not str:
                return None
            values.append(literal)
        return values

    def _literal_of(self, node: lark.Tree) -> Any:
        """The value of a literal, or of a macro variable unrolled over literals (else ``_MISSING``)."""
        while isinstance(node, lark.Tree) and node.data not in ("literal", "ident") and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        if isinstance(node, lark.Tree) and node.data == "literal":
            return self._literal_value(node)
        if isinstance(node, lark.Tree) and node.data == "ident":
            return self.scope.constants.get(str(_tokens(node)[0]), _MISSING)
        return _MISSING

    def _unary(self, node: lark.Tree) -> ast.expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        operator, operand = parts
        if operator.data == "unary_neg":
            literal = self._literal_of(operand)
            # -9223372036854775808 is a literal (9223372036854775808 alone is out of range)
            if type(literal) is int and cv.INT_MIN <= -literal <= cv.INT_MAX:
                return ast.Constant(-literal)
            return _call("neg", self.expr(operand))
        pure = self._pure(operand)
        if pure is not None:  # a bool that cannot fail: Python's own not
            return ast.UnaryOp(op=ast.Not(), operand=pure)
        return _call("logical_not", self.expr(operand))

    def _literal_value(self, node: lark.Tree) -> Any:
        token = _tokens(node)[0]
        text = str(token)
        kind = token.type
        if kind == "INT_LIT":
            value = int(text, 0) if "x" not in text.lower() else int(text, 16)
            if not cv.INT_MIN <= value <= cv.INT_MAX:
                raise Unsupported(f"integer literal {text} out of range")
            return value
        if kind == "UINT_LIT":
            digits = text[:-1]
            value = int(digits, 16) if "x" in digits.lower() else int(digits)
            if not 0 <= value <= cv.UINT_MAX:
                raise Unsupported(f"unsigned literal {text} out of range")
            return cv.Uint(value)
        if kind == "FLOAT_LIT":
            return float(text)
        if kind in ("STRING_LIT", "MLSTRING_LIT"):
            return decode_literal(text, as_bytes=False)
        if kind == "BYTES_LIT":
            return decode_literal(text[1:], as_bytes=True)
        if kind == "BOOL_LIT":
            return text == "true"
        if kind == "NULL_LIT":
            return None
        raise Unsupported(f"literal {kind}")

    def _literal(self, node: lark.Tree) -> ast.expr:
        value = self._literal_value(node)
        if type(value) is cv.Uint:
            return _call("Uint", ast.Constant(int(value)))
        return self.bind(value)

    def _list_lit(self, node: lark.Tree) -> ast.expr:
        items = _args(_trees(node)[0]) if node.children else []
        return ast.List(elts=[self.expr(i) for i in items], ctx=ast.Load())

    def _map_lit(self, node: lark.Tree) -> ast.expr:
        items = _trees(_trees(node)[0]) if node.children else []
        pairs = [
            ast.Tuple(elts=[self.expr(k), self.expr(v)], ctx=ast.Load())
            for k, v in zip(items[::2], items[1::2], strict=True)
        ]
        return _call("make_map", ast.List(elts=pairs, ctx=ast.Load()))  # type: ignore[arg-type]

    def _ident(self, node: lark.Tree) -> ast.expr:
        text = str(_tokens(node)[0])
        if text in self.scope.constants:
            return ast.Constant(self.scope.constants[text])
        if text in self.scope.bound:
            return _name(self.scope.bound[text])
        if text == "image":
            return _name("image")
        if text in ("now", "params"):
            return _name("_now" if text == "now" else self.params_name)
        if text in cv.TYPE_IDENTS:
            return _name(f"T_{text}")
        raise Unsupported(f"identifier {text!r}")

    def _image_key(self, node: lark.Tree) -> bool:
        """``node`` is the image itself (not a macro variable that shadows it: the loader forbids that)."""
        while isinstance(node, lark.Tree) and node.data != "ident" and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        return (
            isinstance(node, lark.Tree)
            and node.data == "ident"
            and str(_tokens(node)[0]) == "image"
            and "image" not in self.scope.bound
        )

    def _variable_ref(self, node: lark.Tree) -> str | None:
        target = _trees(node)[0]
        while isinstance(target, lark.Tree) and target.data != "ident" and len(target.children) == 1:
            target = target.children[0]  # type: ignore[assignment]
        if isinstance(target, lark.Tree) and target.data == "ident" and str(_tokens(target)[0]) == "variables":
            if node.data == "member_dot":
                return str(_tokens(node)[0])
            literal = self._literal_of(_trees(node)[1])
            return literal if type(literal) is str else None
        return None

    def _member_dot(self, node: lark.Tree) -> ast.expr:
        variable = self._variable_ref(node)
        if variable is not None:
            return self._variable(variable)
        target = _trees(node)[0]
        field = str(_tokens(node)[0])
        if self._image_key(target):
            return self._image_get(field)
        return _call("select", self.expr(target), ast.Constant(field))

    def _image_get(self, field: str) -> ast.expr:
        if field in self.facts:  # an operand before this one showed it is there
            return ast.Subscript(value=_name("image"), slice=ast.Constant(field), ctx=ast.Load())
        # (_t if (_t := image.get("f", _M)) is not _M else _fail(...)): a dict lookup, no call
        temp = self.fresh()
        return ast.IfExp(
            test=_is(
                ast.NamedExpr(
                    target=_store(temp),
                    value=ast.Call(
                        func=ast.Attribute(value=_name("image"), attr="get", ctx=ast.Load()),
                        args=[ast.Constant(field), _name("_M")],
                        keywords=[],
                    ),
                ),
                _name("_M"),
                negate=True,
            ),
            body=_name(temp),
            orelse=_call("_fail", ast.Constant(f"no such key: {field!r}")),
        )

    def _member_index(self, node: lark.Tree) -> ast.expr:
        variable = self._variable_ref(node)
        if variable is not None:
            return self._variable(variable)
        target, key = _trees(node)
        literal = self._literal_of(key)
        if type(literal) is str and self._image_key(target):
            return self._image_get(literal)
        if self._image_key(target):  # image[k]: a dict lookup when k is a string the image has
            k, found = self.fresh(), self.fresh()
            return ast.IfExp(
                test=ast.BoolOp(
                    op=ast.And(),
                    values=[
                        _is(_call("type", ast.NamedExpr(target=_store(k), value=self.expr(key))), _name("str")),
                        _is(
                            ast.NamedExpr(
                                target=_store(found),
                                value=ast.Call(
                                    func=ast.Attribute(value=_name("image"), attr="get", ctx=ast.Load()),
                                    args=[_name(k), _name("_M")],
                                    keywords=[],
                                ),
                            ),
                            _name("_M"),
                            negate=True,
                        ),
                    ],
                ),
                body=_name(found),
                orelse=_call("index", _name("image"), _name(k)),
            )
        return _call("index", self.expr(target), self.expr(key))

    def _variable(self, name: str) -> ast.expr:
        found = self.scope.variables.get(name)
        if found is None:
            raise Unsupported(f"variables.{name} is not defined earlier")
        kind, value = found
        if kind == "const":
            return self.bind(value)
        if kind == "error":
            return _call("_raise", self.bind(value))
        return _call(self._bound_name(value), _name("image"))

    def _bound_name(self, value: Any) -> str:
        name = self.fresh("_v")
        self.namespace[name] = value
        return name

    def _ident_arg(self, node: lark.Tree) -> ast.expr:
        name = str(_tokens(node)[0])
        args = _args(_trees(node)[0]) if _trees(node) else []
        if name == "has":
            return self._has(args)
        if name == "dyn" and len(args) == 1:
            return self.expr(args[0])
        if name == "type" and len(args) == 1:
            return _call("typeof", self.expr(args[0]))
        if name == "size" and len(args) == 1:
            return _call("size", self.expr(args[0]))
        if name == "matches" and len(args) == 2:
            return self._match(args[0], args[1])
        if name in _CONVERSIONS and len(args) == 1:
            return _call(_CONVERSIONS[name], self.expr(args[0]))
        native = library.NATIVES.get(name)
        if native is not None and len(args) == len(native.params):
            return _call(self._bound_name(_native_call(native)), *(self.expr(a) for a in args))
        raise Unsupported(f"function {name}() with {len(args)} argument(s)")

    def _has(self, args: list[lark.Tree]) -> ast.expr:
        node = args[0] if len(args) == 1 else None
        while isinstance(node, lark.Tree) and node.data != "member_dot" and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        if not isinstance(node, lark.Tree) or node.data != "member_dot":
            raise Unsupported("has() of something other than a field selection")
        target = _trees(node)[0]
        field = ast.Constant(str(_tokens(node)[0]))
        if self._image_key(target):
            return ast.Compare(left=field, ops=[ast.In()], comparators=[_name("image")])
        return _call("has", self.expr(target), field)

    def _match(self, subject: lark.Tree, pattern_node: lark.Tree) -> ast.expr:
        pattern = self._literal_of(pattern_node)
        if type(pattern) is str:
            try:
                matcher = _regex(pattern)
            except CelError as exc:  # a bad literal pattern is an error at run time, as in cel-cpp
                return _call("_raise", self.bind(exc))
            function = self.bind(matcher)
            if isinstance(function, ast.Name):
                self.bool_names.add(function.id)
            return ast.Call(func=function, args=[self.expr(subject)], keywords=[])
        return _call("_matches", self.expr(subject), self.expr(pattern_node))

    def _member_dot_arg(self, node: lark.Tree) -> ast.expr:
        trees = _trees(node)
        target = trees[0]
        name = str(_tokens(node)[0])
        args = _args(trees[1]) if len(trees) > 1 else []
        if name in _MACROS:
            return self._macro(name, target, args)
        if name == "size" and not args:
            return _call("size", self.expr(target))
        if name in _STRING_METHODS and len(args) == 1:
            return _call(_STRING_METHODS[name], self.expr(target), self.expr(args[0]))
        if name == "matches" and len(args) == 1:
            return self._match(target, args[0])
        if name in TIMESTAMP_ACCESSORS and len(args) <= 1:
            return _call("accessor", ast.Constant(name), self.expr(target), *(self.expr(a) for a in args))
        raise Unsupported(f"method .{name}() with {len(args)} argument(s)")

    # --- short-circuit chains ----------------------------------------------------------------------------
    # Most operands of the packs' && chains cannot fail: has(image.f); type(image.f) == T once f is known to
    # be there; a comparison of values whose types an earlier operand showed. Such an operand compiles to a
    # plain Python expression (``_pure``), and a chain of them to Python's own ``and`` / ``or``: without
    # errors CEL's commutative && is Python's short-circuit ``and``. One operand that may fail goes last,
    # evaluated only when the others did not decide, which is what CEL's absorption of its error gives.
    # What an operand shows when true (``facts``) holds for the operands after it, and the match's for the
    # validations. A chain with two operands that may fail keeps the general form (``_logic``).

    def _short_circuit(self, operands: list[lark.Tree], absorbing: bool, rest: str) -> ast.expr | None:
        saved = dict(self.facts)
        try:
            split = self._split_pure(operands, absorbing, failing_allowed=1)
            if split is None or not split[0]:
                return None
            pure, failing = split
            result = self.fresh()
            op: ast.boolop = ast.Or() if absorbing else ast.And()
            self.block.append(_assign(result, pure[0] if len(pure) == 1 else ast.BoolOp(op=op, values=pure)))
            if failing:
                body = self._sub_block(failing[0], result)
                body.append(
                    ast.If(
                        test=ast.BoolOp(
                            op=ast.And(),
                            values=[
                                _is(_name(result), ast.Constant(True), negate=True),
                                _is(_name(result), ast.Constant(False), negate=True),
                            ],
                        ),
                        body=[_assign(result, _call(rest, _name(result)))],
                        orelse=[],
                    )
                )
                self.block.append(ast.If(test=_is(_name(result), ast.Constant(not absorbing)), body=body, orelse=[]))
            return _name(result)
        finally:
            self.facts = saved

    def _split_pure(
        self, operands: list[lark.Tree], absorbing: bool, failing_allowed: int
    ) -> tuple[list[ast.expr], list[lark.Tree]] | None:
        """The chain's operands that cannot fail (as ``_pure`` expressions) and those that may, in order, or
        None past ``failing_allowed`` of the latter. In an && chain each pure operand's facts are learned
        for the ones after it (the caller restores ``facts``)."""
        pure: list[ast.expr] = []
        failing: list[lark.Tree] = []
        for operand in operands:
            expr = self._pure(operand)
            if expr is None:
                failing.append(operand)
                if len(failing) > failing_allowed:
                    return None
                continue
            pure.append(expr)
            if not absorbing:
                self._learn(operand)
        return pure, failing

    def _pure(self, node: lark.Tree) -> ast.expr | None:
        """``node`` as a Python expression that cannot raise and gives a bool, or None."""
        node = _unwrap(node)
        kind = node.data
        parts = _trees(node)
        if kind in ("conditionaland", "conditionalor") and len(parts) == 2:
            absorbing = kind == "conditionalor"
            saved = dict(self.facts)
            try:
                split = self._split_pure(_operands(node), absorbing, failing_allowed=0)
            finally:
                self.facts = saved
            return None if split is None else ast.BoolOp(op=ast.Or() if absorbing else ast.And(), values=split[0])
        if kind == "unary" and len(parts) == 2 and parts[0].data == "unary_not":
            inner = self._pure(parts[1])
            return None if inner is None else ast.UnaryOp(op=ast.Not(), operand=inner)
        if kind == "ident_arg" and str(_tokens(node)[0]) == "has" and self._image_field(_has_target(node)):
            return self._has(_args(parts[0]))
        if kind == "relation" and len(parts) == 2:
            return self._pure_relation(_trees(parts[0])[0], parts[0].data, parts[1])
        value = self._pure_value(node)
        if value is not None and value[1] is bool:
            return value[0]
        return None

    def _pure_relation(self, left: lark.Tree, operator: str, right: lark.Tree) -> ast.expr | None:
        if operator in ("relation_eq", "relation_ne"):
            pair = self._type_pair(left, right)
            python = None if pair is None else _PYTHON_TYPES.get(pair[1])
            value = None if pair is None else self._pure_value(pair[0])
            if python is not None and value is not None:
                test: ast.expr = _is(_call("type", value[0]), _name(python))
                return ast.UnaryOp(op=ast.Not(), operand=test) if operator == "relation_ne" else test
        if operator == "relation_in":
            value = self._pure_value(left)
            if value is not None and value[1] is str and self._image_key(right):  # "x" in image: a key test
                return ast.Compare(left=value[0], ops=[ast.In()], comparators=[_name("image")])
            strings = self._string_list(right)
            if strings is None or value is None:
                return None
            return self._in(left, right)  # type(x) is str and x in {...}: x is a pure value
        lhs, rhs = self._pure_value(left), self._pure_value(right)
        if lhs is None or rhs is None or lhs[1] is not rhs[1] or lhs[1] not in _COMPARABLE:
            return None
        if lhs[1] is bool and operator not in ("relation_eq", "relation_ne"):
            return None
        return ast.Compare(left=lhs[0], ops=[_COMPARE[operator]], comparators=[rhs[0]])

    def _type_pair(self, left: lark.Tree, right: lark.Tree) -> tuple[lark.Tree, str] | None:
        """``(X, "T_name")`` when one side is ``type(X)`` and the other a type identifier, in either order."""
        for a, b in ((left, right), (right, left)):
            inner, name = self._type_call(a), self._type_ident(b)
            if inner is not None and name is not None:
                return inner, name
        return None

    def _pure_value(self, node: lark.Tree) -> tuple[ast.expr, type | None] | None:
        """``node`` as a Python expression that cannot raise, with its Python type where known, or None."""
        node = _unwrap(node)
        if node.data in ("literal", "ident"):
            value = self._literal_of(node)
            if value is None or type(value) in (bool, int, float, str):
                return ast.Constant(value), type(value)
            return None
        field = self._image_field(node)
        if field is not None and field in self.facts:
            return self._image_get(field), self.facts[field]
        return None

    def _image_field(self, node: lark.Tree | None) -> str | None:
        """F if ``node`` is ``image.F`` or ``image["F"]``."""
        node = None if node is None else _unwrap(node)
        if node is None or node.data not in ("member_dot", "member_index") or self._variable_ref(node) is not None:
            return None
        target = _trees(node)[0]
        if not self._image_key(target):
            return None
        if node.data == "member_dot":
            return str(_tokens(node)[0])
        literal = self._literal_of(_trees(node)[1])
        return literal if type(literal) is str else None

    def _learn(self, node: lark.Tree) -> None:
        """Record what ``node`` being true shows about the image's fields."""
        node = _unwrap(node)
        parts = _trees(node)
        if node.data == "conditionaland" and len(parts) == 2:
            for operand in _operands(node):
                self._learn(operand)
        elif node.data == "ident_arg" and str(_tokens(node)[0]) == "has":
            field = self._image_field(_has_target(node))
            if field is not None:
                self.facts.setdefault(field, None)
        elif node.data == "relation" and len(parts) == 2:
            left, operator, right = _trees(parts[0])[0], parts[0].data, parts[1]
            if operator == "relation_eq":
                pair = self._type_pair(left, right)
                python = None if pair is None else _FACT_TYPES.get(pair[1])
                field = None if pair is None else self._image_field(pair[0])
                if field is not None and python is not None:
                    self.facts[field] = python
            elif operator == "relation_in" and self._string_list(right) is not None:
                field = self._image_field(left)
                if field is not None:
                    self.facts[field] = str
            elif operator == "relation_in" and self._image_key(right) and type(self._literal_of(left)) is str:
                self.facts.setdefault(self._literal_of(left), None)

    # --- macros ------------------------------------------------------------------------------------------

    def _macro_var(self, node: lark.Tree) -> str:
        while isinstance(node, lark.Tree) and node.data != "ident" and len(node.children) == 1:
            node = node.children[0]  # type: ignore[assignment]
        if not isinstance(node, lark.Tree) or node.data != "ident":
            raise Unsupported("a macro needs a variable name")
        return str(_tokens(node)[0])

    def _in_scope(self, var: str, node: lark.Tree, target: str, guarded: bool) -> list[ast.stmt]:
        saved, saved_constants = dict(self.scope.bound), dict(self.scope.constants)
        self.scope.bound[var] = self._loop_names[-1]
        self.scope.constants.pop(var, None)  # an unrolled outer macro's variable of the same name is shadowed
        try:
            return self._guarded(node, target) if guarded else self._sub_block(node, target)
        finally:
            self.scope.bound, self.scope.constants = saved, saved_constants

    _loop_names: list[str] = []

    def _macro(self, name: str, target_node: lark.Tree, args: list[lark.Tree]) -> ast.expr:
        if len(args) not in ((2, 3) if name == "map" else (2,)):
            raise Unsupported(f".{name}() with {len(args)} argument(s)")
        var = self._macro_var(args[0])
        strings = self._string_list(target_node)
        if name in ("filter", "map") and strings is not None and len(strings) <= MAX_UNROLLED:
            return self._unrolled(name, var, strings, args)
        items = self._temp(_call("iterate", self.expr(target_node), ast.Constant(name)))
        loop_var = self.fresh("_m")
        self._loop_names = [*self._loop_names, loop_var]
        try:
            return self._macro_body(name, var, items, loop_var, args)
        finally:
            self._loop_names = self._loop_names[:-1]

    def _unrolled(self, name: str, var: str, strings: list[str], args: list[lark.Tree]) -> ast.expr:
        """``["a", "b"].filter(k, P(k))`` as ``P("a")``, then ``P("b")``, in order: each ``k`` a constant, so
        that ``image[k]`` is a field the facts of a short-circuit chain can know (``present(image[k])``)."""
        result = self.fresh()
        self.block.append(_assign(result, ast.List(elts=[], ctx=ast.Load())))
        append = ast.Attribute(value=_name(result), attr="append", ctx=ast.Load())
        saved_bound, saved_constants = dict(self.scope.bound), dict(self.scope.constants)
        self.scope.bound.pop(var, None)  # an outer macro's variable of the same name is shadowed
        try:
            for text in strings:
                self.scope.constants[var] = text
                if name == "filter" or len(args) == 3:
                    value: ast.expr = ast.Constant(text)
                    if name == "map":
                        value = _name(self.fresh())
                    pure = self._pure(args[1])
                    keep: list[ast.stmt] = []
                    if pure is None:
                        test = self.fresh()
                        keep = self._sub_block(args[1], test)
                        pure = _is(_call("truth", _name(test), ast.Constant(name)), ast.Constant(True))
                    mapped = [] if name == "filter" else self._sub_block(args[2], value.id)  # type: ignore[attr-defined]
                    keep_it = ast.Expr(ast.Call(func=append, args=[value], keywords=[]))
                    self.block += [*keep, ast.If(test=pure, body=[*mapped, keep_it], orelse=[])]
                else:
                    value = _name(self.fresh())
                    self.block += self._sub_block(args[1], value.id)  # type: ignore[attr-defined]
                    self.block.append(ast.Expr(ast.Call(func=append, args=[value], keywords=[])))
        finally:
            self.scope.bound, self.scope.constants = saved_bound, saved_constants
        return _name(result)

    def _macro_body(self, name: str, var: str, items: str, loop_var: str, args: list[lark.Tree]) -> ast.expr:
        result, step = self.fresh(), self.fresh()
        if name in ("all", "exists"):
            decisive = name == "exists"  # the value that ends the loop
            error = self.fresh()
            body = [
                *self._in_scope(var, args[1], step, guarded=True),
                _absorb(step, decisive, result, error),
            ]
            self.block += [_assign(result, ast.Constant(not decisive)), _assign(error, ast.Constant(None))]
            self.block.append(ast.For(target=_store(loop_var), iter=_name(items), body=body, orelse=[]))
            # no element decided: an error (or a non-bool) among them is the result
            self.block.append(
                ast.If(
                    test=ast.BoolOp(
                        op=ast.And(),
                        values=[
                            _is(_name(result), ast.Constant(not decisive)),
                            _is(_name(error), ast.Constant(None), negate=True),
                        ],
                    ),
                    body=[_assign(result, _call("truth", _name(error), ast.Constant(name)))],
                    orelse=[],
                )
            )
            return _name(result)
        if name == "exists_one":
            self.block.append(_assign(result, ast.Constant(0)))
            body = [
                *self._in_scope(var, args[1], step, guarded=False),
                ast.If(
                    test=_is(_call("truth", _name(step), ast.Constant(name)), ast.Constant(True)),
                    body=[ast.AugAssign(target=_store(result), op=ast.Add(), value=ast.Constant(1))],
                    orelse=[],
                ),
            ]
            self.block.append(ast.For(target=_store(loop_var), iter=_name(items), body=body, orelse=[]))
            return ast.Compare(left=_name(result), ops=[ast.Eq()], comparators=[ast.Constant(1)])
        self.block.append(_assign(result, ast.List(elts=[], ctx=ast.Load())))
        append = ast.Attribute(value=_name(result), attr="append", ctx=ast.Load())
        if name == "filter" or len(args) == 3:
            keep = self.fresh()
            mapped: list[ast.stmt] = [ast.Expr(ast.Call(func=append, args=[_name(loop_var)], keywords=[]))]
            if name == "map":
                value = self.fresh()
                mapped = [
                    *self._in_scope(var, args[2], value, guarded=False),
                    ast.Expr(ast.Call(func=append, args=[_name(value)], keywords=[])),
                ]
            body = [
                *self._in_scope(var, args[1], keep, guarded=False),
                ast.If(
                    test=_is(_call("truth", _name(keep), ast.Constant(name)), ast.Constant(True)),
                    body=mapped,
                    orelse=[],
                ),
            ]
        else:
            value = self.fresh()
            body = [
                *self._in_scope(var, args[1], value, guarded=False),
                ast.Expr(ast.Call(func=append, args=[_name(value)], keywords=[])),
            ]
        self.block.append(ast.For(target=_store(loop_var), iter=_name(items), body=body, orelse=[]))
        return _name(result)


# --- the engine ----------------------------------------------------------------------------------------------


def _to_value(value: Any) -> Any:
    """A params value (YAML/JSON) as a CEL value: as the image's, except that nothing needs checking."""
    return value


def _odd(value: Any) -> bool:
    """A value the fast path cannot judge as cel-cpp does: a string with NUL or a lone surrogate, an
    integer outside int64 and uint64, at any depth."""
    kind = type(value)
    if kind is str:
        return "\x00" in value or (not value.isascii() and not _encodable(value))
    if kind is int:
        return not cv.INT_MIN <= value <= cv.UINT_MAX
    if kind is dict:
        return any(_odd(k) or _odd(v) for k, v in value.items())
    if kind is list:
        return any(map(_odd, value))
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


RAISED = -2
"""A policy's slot in the pack's result when its code raised (or cannot be a bitmask): judge it apart."""


class _Policy:
    """One policy's compiled code: statements that set ``slot`` to its code, ready to join the pack."""

    def __init__(self, block: list[ast.stmt] | None, slot: str, fixed: list[str | None]) -> None:
        self.block = block  # None: more validations than the bitmask holds
        self.slot = slot
        self.fixed = fixed  # per validation: its message when it needs no evaluation, else None


def compile_policy(policy: Policy, now: Any, compiler: Compiler) -> tuple[_Policy, dict[int, Callable]]:
    """The policy's code block and one function per expression (for the exact path); raises Unsupported."""
    compiler.params_name = compiler.fresh("_p")
    compiler.namespace[compiler.params_name] = _to_value(dict(policy.params))
    compiler.namespace["_now"] = now
    variables: dict[str, tuple[str, Any]] = {}
    functions: dict[int, Callable] = {}
    for var in policy.variables:
        reads = _reads_image(var.expression, variables)
        compiler._folding = not reads  # run once, here: nothing in it to fold
        try:
            function = compiler.value_function(var.expression.tree, _Scope(dict(variables)))
        finally:
            compiler._folding = False
        functions[id(var.expression)] = function
        if reads:
            variables[var.name] = ("call", function)
        else:  # params and now only: one value (or one error) for the whole run
            try:
                variables[var.name] = ("const", function(None))
            except CelError as exc:
                variables[var.name] = ("error", exc)
    for expr in policy.expressions():
        if id(expr) not in functions:
            functions[id(expr)] = compiler.value_function(expr.tree, _Scope(dict(variables)))
    fixed = [
        None if v.message_expression is not None else (v.message or v.expression.source.strip())
        for v in policy.validations
    ]
    slot = compiler.fresh("_c")
    if len(policy.validations) > MAX_BITS:
        return _Policy(None, slot, fixed), functions
    block = _code_block(policy, compiler, variables, slot)
    if compiler.optimise:  # once here: the pack's function is made of these blocks as they are
        block = peephole.optimise_block(block, compiler.bool_names)
    compiler._define([*block, ast.Return(value=_name(slot))], optimise=False)  # alone: does it compile?
    return _Policy(block, slot, fixed), functions


def _reads_image(expr: Expr, variables: dict[str, tuple[str, Any]]) -> bool:
    return bool(
        expr.attributes or expr.whole_image or any(variables.get(v, ("call",))[0] == "call" for v in expr.variables)
    )


def _code_block(policy: Policy, compiler: Compiler, variables: dict[str, tuple[str, Any]], slot: str) -> list[ast.stmt]:
    """Statements that set ``slot``: -1 skip, 0 pass, else the bitmask of false validations; ``RAISED``
    when anything raised or was not a bool (then the policy is judged expression by expression)."""
    scope = _Scope(dict(variables))
    saved_block, saved_scope, saved_facts = compiler.block, compiler.scope, compiler.facts
    compiler.block, compiler.scope, compiler.facts = [], scope, {}
    not_bool = ast.Expr(_call("_fail", ast.Constant("not a bool")))
    try:
        if policy.match is not None:
            value = compiler._temp(compiler.expr(policy.match.tree))
            compiler._learn(policy.match.tree)  # the validations run only where the match is true
            compiler.block.append(
                ast.If(
                    test=_is(_name(value), ast.Constant(True), negate=True),
                    body=[
                        ast.If(
                            test=_is(_name(value), ast.Constant(False)),
                            body=[_assign(slot, ast.Constant(-1)), ast.Break()],
                            orelse=[not_bool],
                        )
                    ],
                    orelse=[],
                )
            )
        code = compiler.fresh()
        compiler.block.append(_assign(code, ast.Constant(0)))
        for number, validation in enumerate(policy.validations):
            value = compiler._temp(compiler.expr(validation.expression.tree))
            compiler.block.append(
                ast.If(
                    test=_is(_name(value), ast.Constant(True), negate=True),
                    body=[
                        ast.If(
                            test=_is(_name(value), ast.Constant(False)),
                            body=[ast.AugAssign(target=_store(code), op=ast.BitOr(), value=ast.Constant(1 << number))],
                            orelse=[not_bool],
                        )
                    ],
                    orelse=[],
                )
            )
        compiler.block.append(_assign(slot, _name(code)))
        body = compiler.block
    finally:
        compiler.block, compiler.scope, compiler.facts = saved_block, saved_scope, saved_facts
    # for _ in _ONCE: the match's `break` ends the policy; the try keeps one policy's error its own
    loop = ast.For(target=_store(compiler.fresh()), iter=_name("_ONCE"), body=body, orelse=[])
    return [
        ast.Try(
            body=[loop],
            handlers=[
                ast.ExceptHandler(
                    type=ast.Tuple(elts=[_name("CelError"), _name("RecursionError")], ctx=ast.Load()),
                    name=None,
                    body=[_assign(slot, ast.Constant(RAISED))],
                )
            ],
            orelse=[],
            finalbody=[],
        )
    ]


def compile_reason(policy: Policy) -> str | None:
    """Why ``policy`` is outside the compiled subset, or None when it compiles."""
    try:
        compile_policy(policy, cv.from_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)), Compiler())
    except Unsupported as exc:
        return str(exc)
    except RecursionError:
        return "expression nested too deeply"
    return None


class CompiledEngine(Engine):
    name = "compiled"

    def __init__(
        self,
        policies: Sequence[Policy],
        now: dt.datetime,
        *,
        fallback: Callable[[list[Policy], dt.datetime], Engine] | None = None,
        optimise: bool = True,
    ) -> None:
        """``fallback`` builds the engine for the policies outside the compiled subset (``--engine auto``);
        without it such a policy is an ``EngineError``. ``optimise=False`` leaves out the peephole rewrites."""
        self.cel_now = cv.from_datetime(now)
        self.compiled: list[_Policy | None] = []
        self._functions: dict[int, Callable] = {}
        self.reasons: dict[int, str] = {}  # policy index -> why another engine judges it
        compiler = Compiler(optimise=optimise)  # one namespace; every name in it is fresh, so policies keep their own
        for index, policy in enumerate(policies):
            try:
                compiled, functions = compile_policy(policy, self.cel_now, compiler)
            except (Unsupported, RecursionError) as exc:
                reason = str(exc) if isinstance(exc, Unsupported) else "expression nested too deeply"
                if fallback is None:
                    raise EngineError(
                        f"{policy.position}: policy {policy.name} cannot be compiled: {reason} (use --engine auto)"
                    ) from None
                self.reasons[index] = reason
                self.compiled.append(None)
                continue
            self.compiled.append(compiled)
            self._functions.update(functions)
        self.pack = self._pack(compiler)
        self._exact_engine: Engine | None = None
        self.delegated = sorted(self.reasons)
        self.delegate: Engine | None = None
        if self.delegated and fallback is not None:
            self.delegate = fallback([policies[i] for i in self.delegated], now)
            self.name = f"compiled, {self.delegate.name} for {len(self.delegated)} of {len(policies)} policies"  # type: ignore[misc]
        super().__init__(policies, now)
        self.judges = [
            self.delegate.name if self.delegate and i in self.reasons else "compiled" for i in range(len(policies))
        ]
        """Which engine judges each policy."""
        # per policy, per validation: the function of its messageExpression (None: a fixed message), called
        # straight from _failures; any result but a string goes the long way, through Engine.message
        self._messages: list[list[Callable | None]] = [
            [
                self._functions.get(id(v.message_expression)) if v.message_expression is not None else None
                for v in p.validations
            ]
            for p in self.policies
        ]
        attributes = [p.attributes() for p in self.policies]
        self.keys: tuple[str, ...] | None = (
            None if any(a is None for a in attributes) else tuple(sorted(frozenset().union(*attributes)))  # type: ignore[arg-type]
        )

    def _pack(self, compiler: Compiler) -> Callable[[dict[str, Any]], list[int]]:
        """``pack(image)``: every policy's code in one call (a delegated policy's slot is RAISED)."""
        statements: list[ast.stmt] = []
        slots: list[ast.expr] = []
        for compiled in self.compiled:
            if compiled is None or compiled.block is None:
                slots.append(ast.Constant(RAISED))
                continue
            statements += compiled.block
            slots.append(_name(compiled.slot))
        statements.append(ast.Return(value=ast.List(elts=slots, ctx=ast.Load())))
        if compiler.optimise:
            statements = peephole.hoist_reads(statements, compiler.fresh("_h") + "_")
        return compiler._define(statements, optimise=False)  # each block was rewritten by compile_policy

    # --- primitives --------------------------------------------------------------------------------------

    def compile(self, expr: Expr, policy: Policy) -> Any:
        return self._functions.get(id(expr))  # None: a delegated policy's, never run here

    def bind(self, image: dict[str, Any], index: int, cache: dict[str, Any]) -> Any:
        return image

    def run(self, program: Any, activation: Any) -> Any:
        try:
            value = program(activation)
        except CelError as exc:
            raise EvalFailure(str(exc)) from None
        except RecursionError:
            raise EvalFailure("expression nested too deeply") from None
        if value is True or value is False:
            return value
        if type(value) is str:
            return value
        return NonBool(cv.type_name(value))

    # --- the fast path -----------------------------------------------------------------------------------

    def _exact(self) -> Engine:
        if self._exact_engine is None:
            from imagelint.engines import celcpp

            if celcpp.available():
                self._exact_engine = celcpp.CelCppEngine(self.policies, self.now)
            else:
                from imagelint.engines.celpython import CelPythonEngine

                self._exact_engine = CelPythonEngine(self.policies, self.now)
        return self._exact_engine

    def is_exotic(self, image: dict[str, Any]) -> bool:
        """True for an image only the exact path judges as cel-cpp does (see the module docstring)."""
        keys = self.keys
        if keys is None:
            return _odd(image)
        get = image.get
        return any(_odd(get(k)) for k in keys)

    def evaluate(self, image: dict[str, Any], *, plain: bool = False) -> tuple[list[int], dict[int, list[Outcome]]]:
        if not plain and self.is_exotic(image):
            return self._exact().evaluate(image)
        codes = self.pack(image)
        details: dict[int, list[Outcome]] = {}
        if self.delegate is None:  # the common case: one pass, and only a failure costs more than a compare
            for index, code in enumerate(codes):
                if code > 0:
                    codes[index] = FAIL
                    details[index] = self._failures(index, code, image)
                elif code == RAISED:
                    codes[index], outcomes = self.judge_policy(index, image, {})
                    if outcomes:
                        details[index] = outcomes
            return codes, details
        delegated = self.delegate.evaluate(image, plain=plain)
        for position, index in enumerate(self.delegated):
            codes[index] = delegated[0][position]
            if position in delegated[1]:
                details[index] = delegated[1][position]
        for index, code in enumerate(codes):
            if index in details or code in (SKIP, PASS) or index in self.reasons:
                continue
            if code == RAISED:
                codes[index], outcomes = self.judge_policy(index, image, {})
                if outcomes:
                    details[index] = outcomes
            else:
                codes[index] = FAIL
                details[index] = self._failures(index, code, image)
        return codes, details

    def _failures(self, index: int, bits: int, image: dict[str, Any]) -> list[Outcome]:
        fixed = self.compiled[index].fixed  # type: ignore[union-attr]
        functions = self._messages[index]
        out: list[Outcome] = []
        while bits:
            low = bits & -bits
            number = low.bit_length() - 1
            bits ^= low
            message = fixed[number]
            if message is None:
                try:
                    message = functions[number](image)  # type: ignore[misc]
                except (CelError, RecursionError):
                    message = None
                if type(message) is not str:  # an error or another type: the fallback text says which
                    message = self.message(index, number, image)
            out.append((FAIL, number, message))
        return out


__all__ = ["ERROR", "PASS", "SKIP", "CompiledEngine", "Compiler", "Unsupported", "compile_reason"]
