"""The reference engine: cel-python (pure Python, interpreted).

Slow (about 0.1 ms per expression) but independent of our rewriting: it evaluates each policy's own
expression text with celpy's interpreter (its ``&&``/``||`` made to short-circuit), with ``variables`` a
map that evaluates a variable when an expression first reads it and keeps a failure as a cel-python error
*value*. Errors are values in cel-python, so an unused failing variable never surfaces and
``false && variables.bad`` is false: the semantics the other engines get by inlining or binding.
"""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

import celpy
import celpy.evaluation
import lark
from celpy import celtypes
from celpy.evaluation import CELEvalError, Evaluator

from imagelint.engines.interface import Engine, EngineError, EvalFailure, NonBool
from imagelint.policy import library
from imagelint.policy.model import Expr, Policy

# celpy's interpreter writes `cast(Tuple[List[Result], Result], ...)` in its hot methods, and the subscript
# runs at every call: typing's cache hashes the `Result` union (a frozenset of its members) several times a
# node, about half of all the work of an evaluation (cProfile over the IMS pack). `cast` returns its value
# whatever the type, and celpy reads `Result` nowhere else at run time (no isinstance), so the name is
# pointed at a type that hashes by identity: the same values, a third less time.
celpy.evaluation.Result = typing.Any  # type: ignore[misc,assignment]


class CelPythonEngine(Engine):
    name = "cel-python"

    def __init__(self, policies: list[Policy], now: dt.datetime) -> None:
        self.env = environment()
        self.cel_now = celtypes.TimestampType(now)
        self.params = [_to_cel(p.params) for p in policies]
        super().__init__(policies, now)

    def compile(self, expr: Expr, policy: Policy) -> Any:
        try:
            return self.env.program(_collapsed(self.env.compile(expr.source)), functions=_LIBRARY)
        except celpy.CELParseError as exc:  # the loader parsed it already: only a cel-python change gets here
            raise EngineError(f"{expr.position}: cel-python cannot compile {expr.where}: {exc}") from None

    def bind(self, image: dict[str, Any], index: int, cache: dict[str, Any]) -> Any:
        if "image" not in cache:
            try:
                cache["image"] = _to_cel(image)
            except (ValueError, TypeError, OverflowError) as exc:
                cache["image"] = EvalFailure(f"cannot convert the image: {exc or type(exc).__name__}")
        if isinstance(cache["image"], EvalFailure):
            raise cache["image"]
        activation: dict[str, Any] = {"image": cache["image"], "params": self.params[index], "now": self.cel_now}
        pending = {var.name: self.programs[id(var.expression)] for var in self.policies[index].variables}
        activation["variables"] = _Variables(pending, activation)
        return activation

    def run(self, program: Any, activation: Any) -> Any:
        try:
            value = program.evaluate(activation)
        except celpy.CELEvalError as exc:
            raise EvalFailure(_describe(exc)) from None
        except Exception as exc:  # noqa: BLE001 - e.g. ValueError('overflow') escapes cel-python
            raise EvalFailure(f"{type(exc).__name__}: {exc}") from None
        if isinstance(value, celpy.CELEvalError):
            raise EvalFailure(_describe(value))
        if isinstance(value, celtypes.BoolType):
            return bool(value)
        if isinstance(value, str):  # StringType, or a plain str from some cel-python functions
            return str(value)
        return NonBool(_cel_type_name(value))


class _Variables(celtypes.MapType):
    """A policy's variables for one image, each evaluated when first read.

    Eager evaluation cost every image every variable, those only a failure's message reads included
    (image-max-age's message alone: about 1.6 ms an image). The loader admits only ``variables.NAME``
    with NAME defined earlier, so a read is a lookup of a key (``__missing__`` for the first) or a
    ``has()`` (``__contains__``); the map is never listed or sized, and a variable cannot read itself.
    """

    def __init__(self, pending: dict[str, Any], activation: dict[str, Any]) -> None:
        super().__init__()
        self._pending = pending
        # Without "variables": the map must not hold itself (a cycle per image that only gc frees).
        self._base = dict(activation)

    def __missing__(self, key: Any) -> Any:
        program = self._pending.pop(key, None)
        if program is None:
            raise KeyError(key)
        try:
            value = program.evaluate({**self._base, "variables": self})
        except celpy.CELEvalError as exc:
            value = exc
        except Exception as exc:  # noqa: BLE001 - cel-python raises plain Python errors too
            value = celpy.CELEvalError(str(exc), type(exc))
        self[celtypes.StringType(key)] = value
        return value

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._pending


class _ShortCircuit(Evaluator):
    """cel-python's interpreter, but ``&&`` and ``||`` skip their right side when the left one decides.

    celpy visits both operands before combining them, so every guard cost its guarded side as well:
    ``has(image.x) && type(image.x) == string && ...`` built an error for each absent attribute, and the
    library's expansions are such chains. ``false && x`` is false and ``true || x`` true whatever ``x`` is,
    an error included (celpy's own ``logical_and(False, x)`` and ``logical_or(True, x)`` return the left
    operand for every ``x``), so skipping ``x`` there changes no value, except where ``x`` raised a Python
    exception that escaped celpy (a macro over a non-list): that was an error and is now false, as on
    cel-cpp. In every other case both sides are combined as celpy combines them, commutatively over errors.
    """

    def conditionaland(self, tree: lark.Tree) -> Any:
        return self._logical(tree, "_&&_", absorbing=False) if len(tree.children) == 2 else super().conditionaland(tree)

    def conditionalor(self, tree: lark.Tree) -> Any:
        return self._logical(tree, "_||_", absorbing=True) if len(tree.children) == 2 else super().conditionalor(tree)

    def _logical(self, tree: lark.Tree, name: str, absorbing: bool) -> Any:
        left = self.visit(tree.children[0])
        if isinstance(left, celtypes.BoolType) and bool(left) is absorbing:
            return left
        right = self.visit(tree.children[1])
        try:
            return self.activation.resolve_function(name)(left, right)
        except TypeError as exc:  # as celpy words it: two operands that are not bools
            value = CELEvalError(
                f"found no matching overload for {name} applied to '({type(left)}, {type(right)})'",
                exc.__class__,
                exc.args,
                tree=tree,
            )
            value.__cause__ = exc
            return value

    def sub_evaluator(self, ast: lark.Tree) -> Evaluator:
        return _ShortCircuit(ast, activation=self.activation)


class _ShortCircuitRunner(celpy.InterpretedRunner):
    def evaluate(self, context: Any) -> Any:
        return _ShortCircuit(ast=self.ast, activation=self.new_activation()).evaluate(context)


def environment() -> celpy.Environment:
    """A cel-python environment whose programs evaluate as this engine's do (``&&``/``||`` short-circuit)."""
    return celpy.Environment(runner_class=_ShortCircuitRunner)


# Grammar rules that, with one child, evaluate to that child: lark keeps the whole precedence ladder
# (expr, conditionalor, ... member) above every operand, and a parenthesis climbs it again.
_PASS_THROUGH = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary", "member"}
)

_AS_PARSED = frozenset({"member_object", "fieldinits"})


def _collapsed(tree: Any) -> Any:
    """``tree`` with every pass-through node replaced by the node it passes to, parentheses included.

    cel-python's interpreter visits each node through a traced method call, so each rung of the ladder
    costs a few µs: ``true`` 41 µs, ``((true))`` 79; the library's expansions are parenthesised and guarded.
    The rules evaluate their operands by visiting them, whatever their rule, so the values are the same;
    the macros find their variables with ``find_data("ident")``, which the collapse keeps. Message
    construction (``member_object``, ``fieldinits``) looks at its operands' rules: those are left as parsed.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        keep = node.data in _AS_PARSED
        for index, child in enumerate(node.children):
            if isinstance(child, lark.Tree):
                if not keep:
                    child = node.children[index] = _bottom(child)
                stack.append(child)
    return tree


def _bottom(node: lark.Tree) -> lark.Tree:
    while len(node.children) == 1 and isinstance(node.children[0], lark.Tree):
        child = node.children[0]
        if node.data in _PASS_THROUGH:
            node = child
        elif node.data == "primary" and child.data == "paren_expr" and isinstance(child.children[0], lark.Tree):
            node = child.children[0]
        else:
            break
    return node


def _native(function: Any) -> Any:
    """A library native (plain Python on plain values) as a cel-python function; errors become CEL errors."""
    to_python: dict[str, tuple[type, Any]] = {
        "string": (celtypes.StringType, str),
        "timestamp": (celtypes.TimestampType, lambda v: v),
    }
    to_cel: dict[str, Any] = {
        "timestamp": celtypes.TimestampType,
        "string": celtypes.StringType,
        "bool": celtypes.BoolType,
    }

    def call(*args: Any) -> Any:
        if len(args) != len(function.params):
            raise TypeError(f"no such overload: {function.name} with {len(args)} argument(s)")
        plain = []
        for value, kind in zip(args, function.params, strict=True):
            cls, convert = to_python.get(kind, (object, lambda v: v))
            if not isinstance(value, cls):
                raise TypeError(f"no such overload: {function.name}({type(value).__name__})")
            plain.append(convert(value))
        return to_cel[function.result](function.native(*plain))

    return call


_LIBRARY = {name: _native(function) for name, function in library.NATIVES.items()}


def _to_cel(value: Any) -> Any:
    return celpy.json_to_cel(value)


def _describe(exc: Exception) -> str:
    args = exc.args
    return str(args[0]) if args else type(exc).__name__


def _cel_type_name(value: Any) -> str:
    names = {
        celtypes.IntType: "int",
        celtypes.UintType: "uint",
        celtypes.DoubleType: "double",
        celtypes.StringType: "string",
        celtypes.BytesType: "bytes",
        celtypes.ListType: "list",
        celtypes.MapType: "map",
        celtypes.TimestampType: "timestamp",
        celtypes.DurationType: "duration",
    }
    if value is None:
        return "null"
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return type(value).__name__
