"""Rewrites of the compiled engine's generated Python that give the same values in fewer steps.

The compiler (``imagelint.engines.compiled``) emits code that is correct for any operand: every CEL ``&&``
chain checks that its operands are bools, every test of a field looks the field up twice. Where the operands
are known, most of that is dead weight, and it is cheaper to remove it from the finished function than to
teach every emitting method about every context. Each rewrite here is exact for the code the compiler
emits, with two facts about it: ``image`` is the image dict and is never rebound, and the runtime helpers
named in ``BOOL_HELPERS`` return a bool or raise.

Expressions:

* ``type(X) is NoneType`` -> ``X is None``; ``not (A is B)`` -> ``A is not B``; ``not (A in B)`` ->
  ``A not in B`` (``in`` always gives a bool); nested ``and`` / ``or`` flattened;
* in an ``and`` chain, ``"k" in image and image["k"] is not None`` -> ``image.get("k") is not None``;
  ``"k" in image and type(image["k"]) is T`` -> ``type(image.get("k")) is T`` (T not NoneType); a
  repeated ``type(image["k"]) is T`` after ``type(image.get("k")) is T`` is dropped (or takes its walrus).

The pack (``hoist_reads``): every field it reads twice or more is read once, into a local, before the
policies' code.

Statements, for the temporaries that can only ever hold a bool (every assignment to the name is an
identity or membership test, ``size(x)`` against an int, a ``not``, a bool constant, a call of a bool helper or
another such name):

* ``X is True`` -> ``X``, ``X is False`` -> ``not X``, ``truth(X, ...)`` -> ``X``, ``logical_not(X)`` ->
  ``not X``;
* ``if X is not True and X is not False: ...`` (the compiler's "an operand was not a bool") is dropped;
* an ``if`` nested first in an ``if`` with the same test is replaced by its body.

tests/test_compiled.py runs every rewritten function against cel-cpp (conformance cases, chosen cases,
property-generated expressions and images) and tests/test_engines.py the whole pack.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable

BOOL_HELPERS = frozenset({"logical_not", "and_rest", "or_rest", "truth", "has"})
"""Runtime helpers (``imagelint.engines.celvalues``) that return a bool or raise."""

_FLIP: dict[type, type] = {ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def optimise(function: ast.FunctionDef, bool_names: Iterable[str] = ()) -> ast.FunctionDef:
    """``function`` rewritten in place (and returned); ``bool_names``: more callables that return bools."""
    _Expressions().visit(function)
    calls = BOOL_HELPERS | frozenset(bool_names)
    stores = _stores(function)  # before the statements' rewrites: a superset of the stores after them
    strings = _typed_names(stores, _is_str)
    _Statements(_typed_names(stores, lambda v, known: _is_bool(v, known, calls)), calls, strings).visit(function)
    _fill(function)
    return function


def image_function(name: str, body: list[ast.stmt]) -> ast.FunctionDef:
    """``def name(image): body`` as an AST (the shape of every function the compiled engine makes)."""
    definition = ast.FunctionDef(
        name=name,
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg="image")],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        ),
        body=body or [ast.Pass()],
        decorator_list=[],
        returns=None,
    )
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        setattr(definition, "type_params", [])  # noqa: B010 - the attribute is unknown to 3.11's stubs
    return definition


def optimise_block(statements: list[ast.stmt], bool_names: Iterable[str] = ()) -> list[ast.stmt]:
    """``statements`` (a function body without its ``def``) rewritten."""
    holder = image_function("_", list(statements))
    return optimise(holder, bool_names).body


# --- expressions -----------------------------------------------------------------------------------------------


def _is_image(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "image"


def _image_item(node: ast.expr) -> ast.Constant | None:
    """K when ``node`` is ``image[K]`` with K a constant."""
    if isinstance(node, ast.Subscript) and _is_image(node.value) and isinstance(node.slice, ast.Constant):
        return node.slice
    return None


def _image_get_of(node: ast.expr, *, sentinel: bool = False) -> ast.Constant | None:
    """K when ``node`` is ``image.get(K)``, or with ``sentinel`` ``image.get(K, _M)``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and _is_image(node.func.value)
        and node.func.attr == "get"
        and len(node.args) == 1 + sentinel
        and not node.keywords
        and isinstance(node.args[0], ast.Constant)
        and (not sentinel or (isinstance(node.args[1], ast.Name) and node.args[1].id == "_M"))
    ):
        return node.args[0]
    return None


def _image_get(key: ast.Constant) -> ast.Call:
    return ast.Call(
        func=ast.Attribute(value=ast.Name(id="image", ctx=ast.Load()), attr="get", ctx=ast.Load()),
        args=[ast.Constant(key.value)],
        keywords=[],
    )


def _type_of(node: ast.expr) -> ast.expr | None:
    """X when ``node`` is ``type(X)``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "type"
        and len(node.args) == 1
        and not node.keywords
    ):
        return node.args[0]
    return None


def _type_test(node: ast.expr) -> tuple[ast.expr, str] | None:
    """``(X, T)`` when ``node`` is ``type(X) is T`` with T a name."""
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Is)
        and isinstance(node.comparators[0], ast.Name)
    ):
        of = _type_of(node.left)
        return None if of is None else (of, node.comparators[0].id)
    return None


def _type_is(value: ast.expr, name: str) -> ast.Compare:
    return ast.Compare(
        left=ast.Call(func=ast.Name(id="type", ctx=ast.Load()), args=[value], keywords=[]),
        ops=[ast.Is()],
        comparators=[ast.Name(id=name, ctx=ast.Load())],
    )


def _same_key(a: ast.Constant | None, b: ast.Constant | None) -> bool:
    return a is not None and b is not None and type(a.value) is type(b.value) and a.value == b.value


def _merged(previous: ast.expr, test: ast.expr) -> ast.expr | None:
    """``previous and test`` as one test, or None."""
    # "k" in image and ...
    if (
        isinstance(previous, ast.Compare)
        and len(previous.ops) == 1
        and isinstance(previous.ops[0], ast.In)
        and _is_image(previous.comparators[0])
        and isinstance(previous.left, ast.Constant)
    ):
        key = previous.left
        if (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.IsNot)
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None
            and _same_key(_image_item(test.left), key)
        ):
            return ast.Compare(left=_image_get(key), ops=[ast.IsNot()], comparators=[ast.Constant(None)])
        typed = _type_test(test)
        if typed is not None and typed[1] != "NoneType" and _same_key(_image_item(typed[0]), key):
            return _type_is(_image_get(key), typed[1])
        return None
    # type(image.get("k")) is T and type(image["k"]) is T / type((t := image["k"])) is T
    first, second = _type_test(previous), _type_test(test)
    if first is None or second is None or first[1] != second[1] or first[1] == "NoneType":
        return None
    got = _image_get_of(first[0])
    if got is None:
        return None
    if _same_key(_image_item(second[0]), got):
        return previous
    walrus = second[0]
    if isinstance(walrus, ast.NamedExpr) and _same_key(_image_item(walrus.value), got):
        return _type_is(ast.NamedExpr(target=walrus.target, value=_image_get(got)), first[1])
    return None


class _Expressions(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        of = _type_of(node.left)
        right = node.comparators[0]
        if (
            of is not None
            and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Is, ast.IsNot))
            and isinstance(right, ast.Name)
            and right.id == "NoneType"
        ):
            return ast.Compare(left=of, ops=node.ops, comparators=[ast.Constant(None)])
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        inner = node.operand
        if isinstance(node.op, ast.Not) and isinstance(inner, ast.Compare) and len(inner.ops) == 1:
            flipped = _FLIP.get(type(inner.ops[0]))
            if flipped is not None:
                return ast.Compare(left=inner.left, ops=[flipped()], comparators=inner.comparators)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        flat: list[ast.expr] = []
        for value in node.values:  # a and (b and c) is a and b and c, values included
            if isinstance(value, ast.BoolOp) and type(value.op) is type(node.op):
                flat += value.values
            else:
                flat.append(value)
        values: list[ast.expr] = []
        for value in flat:
            merged = _merged(values[-1], value) if values and isinstance(node.op, ast.And) else None
            if merged is not None:
                values[-1] = merged
            else:
                values.append(value)
        if len(values) == 1:
            return values[0]
        node.values = values
        return node


# --- statements over bool temporaries ------------------------------------------------------------------------


def _not_a_bool_guard(test: ast.expr) -> str | None:
    """X when ``test`` is ``X is not True and X is not False`` (the compiler's "not a bool" branch)."""
    if not (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) and len(test.values) == 2):
        return None
    names = []
    for value, constant in zip(test.values, (True, False), strict=True):
        if not (
            isinstance(value, ast.Compare)
            and len(value.ops) == 1
            and isinstance(value.ops[0], ast.IsNot)
            and isinstance(value.left, ast.Name)
            and isinstance(value.comparators[0], ast.Constant)
            and value.comparators[0].value is constant
        ):
            return None
        names.append(value.left.id)
    return names[0] if names[0] == names[1] else None


def _is_bool(node: ast.expr, known: set[str], calls: frozenset[str]) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is True or node.value is False
    if isinstance(node, ast.Compare):
        if all(isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn)) for op in node.ops):
            return True
        # size(x) == 0: the compiler compares size()'s int with an int constant only
        return (
            len(node.ops) == 1
            and isinstance(node.left, ast.Call)
            and isinstance(node.left.func, ast.Name)
            and node.left.func.id == "size"
            and isinstance(node.comparators[0], ast.Constant)
            and type(node.comparators[0].value) is int
        )
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.Not)
    if isinstance(node, ast.BoolOp):
        return all(_is_bool(v, known, calls) for v in node.values)
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in calls
    return False


def _stores(function: ast.FunctionDef) -> dict[str, list[ast.expr | None]]:
    """Every name the function stores -> the values assigned to it (None: a store of another kind), leaving
    out the stores inside a "not a bool" guard on that same name (they run only if it held a non-bool)."""
    out: dict[str, list[ast.expr | None]] = {}

    def walk(node: ast.AST, guarded: frozenset[str]) -> None:
        if isinstance(node, ast.If):
            name = _not_a_bool_guard(node.test)
            walk(node.test, guarded)
            inner = guarded | {name} if name else guarded
            for child in node.body:
                walk(child, inner)
            for child in node.orelse:
                walk(child, guarded)
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id not in guarded:
                out.setdefault(node.targets[0].id, []).append(node.value)
            walk(node.value, guarded)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.setdefault(node.id, []).append(None)
        if isinstance(node, ast.ExceptHandler) and node.name:
            out.setdefault(node.name, []).append(None)
        for part in ast.iter_child_nodes(node):
            walk(part, guarded)

    walk(function, frozenset())
    for arg in function.args.args:
        out.setdefault(arg.arg, []).append(None)
    return out


def _typed_names(stores: dict[str, list[ast.expr | None]], typed: Callable[[ast.expr, set[str]], bool]) -> set[str]:
    """The names that hold only values of one kind: the greatest set whose every assignment is ``typed``
    given the set (a bool, a str)."""
    known = {name for name, values in stores.items() if all(v is not None for v in values)}
    changed = True
    while changed:
        changed = False
        for name in list(known):
            if not all(typed(v, known) for v in stores[name] if v is not None):
                known.discard(name)
                changed = True
    return known


def _is_str(node: ast.expr, known: set[str]) -> bool:
    """``node`` gives a str or raises: a str constant, ``string()``, a ``+`` of strs, an ``add()`` with a str
    operand (CEL's ``+`` of a string and anything else raises), a ``?:`` of strs, such a name."""
    if isinstance(node, ast.Constant):
        return type(node.value) is str
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.Add) and _is_str(node.left, known) and _is_str(node.right, known)
    if isinstance(node, ast.IfExp):
        return _is_str(node.body, known) and _is_str(node.orelse, known)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id == "to_string" and len(node.args) == 1:
            return True
        if node.func.id == "add" and len(node.args) == 2:
            return _is_str(node.args[0], known) or _is_str(node.args[1], known)
    return False


def _string_call(node: ast.Call, known: set[str]) -> ast.expr:
    """``add(a, b)`` of two strs -> ``a + b``; ``string()`` of a constant -> its text (CEL's own format)."""
    if not isinstance(node.func, ast.Name) or node.keywords:
        return node
    if node.func.id == "add" and len(node.args) == 2 and all(_is_str(a, known) for a in node.args):
        return ast.BinOp(left=node.args[0], op=ast.Add(), right=node.args[1])
    if node.func.id == "to_string" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        if type(value) is bool:
            return ast.Constant("true" if value else "false")
        if type(value) in (str, int):
            return ast.Constant(str(value))
    return node


class _Statements(ast.NodeTransformer):
    def __init__(self, known: set[str], calls: frozenset[str], strings: set[str]) -> None:
        self.known = known  # bool names
        self.calls = calls
        self.strings = strings  # str names

    def _bool(self, node: ast.expr) -> bool:
        return _is_bool(node, self.known, self.calls)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if (
            len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Is, ast.IsNot))
            and isinstance(node.comparators[0], ast.Constant)
            and type(node.comparators[0].value) is bool
            and self._bool(node.left)
        ):
            positive = (node.comparators[0].value is True) == isinstance(node.ops[0], ast.Is)
            return node.left if positive else _not(node.left)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.args and self._bool(node.args[0]):
            if node.func.id == "truth" and len(node.args) == 2:
                return node.args[0]
            if node.func.id == "logical_not" and len(node.args) == 1:
                return _not(node.args[0])
        return _string_call(node, self.strings)

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt]:
        name = _not_a_bool_guard(node.test)
        if name is not None and name in self.known:  # never taken: X only ever holds a bool
            out: list[ast.stmt] = []
            for statement in node.orelse:
                done = self.visit(statement)
                out += done if isinstance(done, list) else [done] if done is not None else []
            return out
        self.generic_visit(node)
        if (
            isinstance(node.test, ast.Name)
            and node.test.id in self.known
            and len(node.orelse) == 1
            and isinstance(node.orelse[0], ast.If)
            and ast.dump(node.orelse[0].test) == ast.dump(_not(node.test))
        ):
            node.orelse = node.orelse[0].body  # if X: ... elif not X: B else: C, X a bool: C cannot run
        first = node.body[0] if node.body else None
        if isinstance(first, ast.If) and _rereadable(node.test) and ast.dump(first.test) == ast.dump(node.test):
            node.body = first.body + node.body[1:]  # the same test, just passed: its else cannot run
        return node


def _not(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return node.operand
    return ast.UnaryOp(op=ast.Not(), operand=node)


def _rereadable(node: ast.expr) -> bool:
    """A test of names only (no call, no store): read again at once, it gives the same answer."""
    allowed = (ast.Name, ast.Load, ast.UnaryOp, ast.Not, ast.BoolOp, ast.And, ast.Or, ast.Constant)
    return all(isinstance(n, allowed) for n in ast.walk(node))


def _fill(function: ast.FunctionDef) -> None:
    """A block the rewrites emptied gets a ``pass`` (Python has no empty blocks)."""
    for node in ast.walk(function):
        blocks = (ast.If, ast.For, ast.While, ast.Try, ast.ExceptHandler, ast.FunctionDef)
        if isinstance(node, blocks) and not node.body:
            node.body = [ast.Pass()]


# --- reads hoisted out of the pack ---------------------------------------------------------------------------
# The pack's function reads most fields several times, in several policies (``visibility`` seven times):
# each read is a call of ``image.get``, where a local variable costs a fraction of one. So every field read
# twice or more is read once, first, into a local; the dict does not change while the pack runs, and its
# reads never raise, so the value is the same wherever the code would have read it. ``image[K]`` is
# emitted only where K is known to be there, so it reads the same as either form of get.


def hoist_reads(statements: list[ast.stmt], prefix: str) -> list[ast.stmt]:
    """``statements`` with every field read twice or more read once into a local first (names ``prefix``N)."""
    plain: dict[object, int] = {}
    sentinel: dict[object, int] = {}
    item: dict[object, int] = {}
    for node in ast.walk(ast.Module(body=statements, type_ignores=[])):
        if not isinstance(node, ast.expr):
            continue
        for reads, key in (
            (plain, _image_get_of(node)),
            (sentinel, _image_get_of(node, sentinel=True)),
            (item, _image_item(node)),
        ):
            if key is not None:
                reads[key.value] = reads.get(key.value, 0) + 1
    names: dict[tuple[str, object], str] = {}  # (form, key) -> local
    first: list[ast.stmt] = []
    for field in sorted({*plain, *sentinel, *item}, key=repr):
        # subscripts are served by the plain form's local if there is one, else by the sentinel form's
        forms = [("plain", plain.get(field, 0) + item.get(field, 0))] if field in plain else []
        forms.append(("sentinel", sentinel.get(field, 0) + (0 if field in plain else item.get(field, 0))))
        for form, count in forms:
            if count < 2:
                continue
            name = names[(form, field)] = f"{prefix}{len(names)}"
            read = _image_get(ast.Constant(field))  # type: ignore[arg-type]  # a key the code holds as a constant
            if form == "sentinel":
                read.args.append(ast.Name(id="_M", ctx=ast.Load()))
            first.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=read))

    class _Hoist(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            if isinstance(node, ast.expr):
                local = None
                if (key := _image_get_of(node)) is not None:
                    local = names.get(("plain", key.value))
                elif (key := _image_get_of(node, sentinel=True)) is not None:
                    local = names.get(("sentinel", key.value))
                elif (key := _image_item(node)) is not None and isinstance(getattr(node, "ctx", None), ast.Load):
                    local = names.get(("plain", key.value)) or names.get(("sentinel", key.value))
                if local is not None:
                    return ast.Name(id=local, ctx=ast.Load())
            return super().visit(node)

    hoisted: list[ast.stmt] = [_Hoist().visit(s) for s in statements]  # type: ignore[misc]
    return first + hoisted
