"""Static checks of policies against the image attribute catalogue, on cel-python's parse tree.

Run by ``imagelint validate`` and before every ``check``/``test`` (``load_checked``). Errors stop the run
(exit 2); warnings are printed and never change an exit code. Every problem is ``FILE:LINE:COL``.

Errors (certain mistakes):

* ``image.X`` / ``image["X"]`` / ``has(image.X)`` / ``"X" in image`` with an ``X`` that is not in the
  catalogue (with a did-you-mean);
* type misuse that is certain from the catalogue: ``==``/``!=``/``in`` of an attribute against a value of
  another type (``image.__os_bit == 64``: never true), ordering or arithmetic across types (``image.min_disk >
  "1"``: no such overload at run time), string methods on non-strings (``image.tags.contains("x")``), and
  int attributes against doubles or uints (``image.min_disk > 1.5``), where the engines disagree;
* comparing an attribute that has a documented set of values with a string outside that set
  (``image.visibility == "Public"``). In an ``in`` list, a letter-case variant of a value that the same
  list also holds (``["true", "True"]``) is a deliberate tolerance, not a mistake, and passes;
* a ``match``/validation that can only be non-bool, a ``messageExpression`` that can only be non-string.

Warning: reading an attribute that is not always present without a ``has()`` guard that dominates the read
(the first cause of ``no such key`` errors at run time).

"Dominates" follows CEL's evaluation rules, not the text order: ``&&``/``||`` absorb an error on one side
when the other side decides the result, so in ``A && B`` the guards of either side protect the other;
``C ? A : B`` protects ``A`` by ``C`` and ``B`` by ``!C``; a validation is protected by ``spec.match``, a
``messageExpression`` also by its validation being false, and a variable by every place it is used
(variables are lazy). A ``type(image.X) == T`` test refines what the type checks assume about ``X`` (so
``type(image.min_disk) == string ? image.min_disk + "x" : ...`` is fine), but is itself a read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lark

from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint.policy.library import FUNCTIONS
from imagelint.policy.loader import PolicyError, Problem, load_policies
from imagelint.policy.model import Expr, Policy, Position

# --- a small view of cel-python's Lark tree -----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Node:
    """One CEL node: the Lark tree with the grammar's precedence layers folded away."""

    kind: str
    """and, or, not, neg, cond, rel, arith, lit, ident, call, method, select, index, list, map."""
    start: int
    op: str = ""
    """rel/arith: the operator; lit: the CEL type; ident/call/method/select: the name."""
    value: Any = None
    """lit: the Python value (``None`` for null or an undecodable string)."""
    kids: tuple[Node, ...] = ()


_REL = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
}
_ARITH = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
_LIT_TYPES = {
    "INT_LIT": "int",
    "UINT_LIT": "uint",
    "FLOAT_LIT": "double",
    "STRING_LIT": "string",
    "BYTES_LIT": "bytes",
    "BOOL_LIT": "bool",
    "NULL_LIT": "null",
}


def view(tree: lark.Tree, source: str) -> Node:
    """Fold a cel-python parse tree of ``source`` into ``Node``s (one-child precedence layers disappear)."""
    return _Viewer(tree, source).view(tree)


class _Viewer:
    """Builds ``Node``s, with an offset for every node.

    cel-python rebuilds some tokens (``true``, ``false``, ``null``) without positions, so every token
    gets one first: its own, or the next occurrence of its text after the previous token.
    """

    def __init__(self, tree: lark.Tree, source: str) -> None:
        self.pos: dict[int, int] = {}
        cursor = 0
        for token in tree.scan_values(lambda v: isinstance(v, lark.Token)):
            text = str(token)
            at = token.start_pos
            if at is None:
                found = source.find(text, cursor)
                at = found if found >= 0 else cursor
            self.pos[id(token)] = at
            cursor = at + len(text)

    def start(self, tree: lark.Tree) -> int:
        for token in tree.scan_values(lambda v: isinstance(v, lark.Token)):
            return self.pos.get(id(token), 0)
        return 0 if tree.meta.empty or tree.meta.start_pos is None else tree.meta.start_pos

    def exprs(self, tree: lark.Tree | None) -> tuple[Node, ...]:
        """The expressions of an optional ``exprlist``/``mapinits`` child."""
        if tree is None:
            return ()
        return tuple(self.view(c) for c in tree.children if isinstance(c, lark.Tree))

    def view(self, tree: lark.Tree) -> Node:
        view = self.view
        kind, kids = tree.data, tree.children
        trees = [c for c in kids if isinstance(c, lark.Tree)]
        tokens = [c for c in kids if isinstance(c, lark.Token)]
        if (
            kind
            in (
                "expr",
                "conditionalor",
                "conditionaland",
                "relation",
                "addition",
                "multiplication",
                "unary",
                "member",
                "primary",
                "paren_expr",
            )
            and len(kids) == 1
        ):
            return view(kids[0])  # type: ignore[arg-type]
        start = self.start(tree)
        if kind == "expr":
            return Node("cond", start, kids=tuple(view(t) for t in trees))
        if kind == "conditionalor":
            return Node("or", start, kids=(view(trees[0]), view(trees[1])))
        if kind == "conditionaland":
            return Node("and", start, kids=(view(trees[0]), view(trees[1])))
        if kind == "relation":
            op, right = trees
            return Node("rel", start, op=_REL[op.data], kids=(view(op.children[0]), view(right)))  # type: ignore[arg-type]
        if kind in ("addition", "multiplication"):
            op, right = trees
            return Node("arith", start, op=_ARITH[op.data], kids=(view(op.children[0]), view(right)))  # type: ignore[arg-type]
        if kind == "unary":
            op, operand = trees
            node = view(operand)
            depth, inner = 1, op
            while inner.children and isinstance(inner.children[0], lark.Tree):
                depth, inner = depth + 1, inner.children[0]
            for _ in range(depth):
                node = Node("not" if op.data == "unary_not" else "neg", start, kids=(node,))
            return node
        if kind == "member_dot":
            return Node("select", start, op=str(tokens[0]), kids=(view(trees[0]),))
        if kind == "member_dot_arg":
            return Node(
                "method",
                start,
                op=str(tokens[0]),
                kids=(view(trees[0]), *self.exprs(trees[1] if len(trees) > 1 else None)),
            )
        if kind == "member_index":
            return Node("index", start, kids=(view(trees[0]), view(trees[1])))
        if kind == "ident":
            return Node("ident", start, op=str(tokens[0]))
        if kind == "ident_arg":
            return Node("call", start, op=str(tokens[0]), kids=self.exprs(trees[0] if trees else None))
        if kind == "list_lit":
            return Node("list", start, kids=self.exprs(trees[0] if trees else None))
        if kind == "map_lit":
            return Node("map", start, kids=self.exprs(trees[0] if trees else None))
        if kind == "literal":
            token = tokens[0]
            return Node("lit", start, op=_LIT_TYPES.get(token.type, "dyn"), value=_literal_value(token))
        # Anything else was rejected by celtree.analyse; keep walking its children.
        return Node(kind, start, kids=tuple(view(t) for t in trees))


def _literal_value(token: lark.Token) -> Any:
    text = str(token)
    try:
        if token.type == "STRING_LIT":
            raw = text[0] in "rR"
            body = text[1:] if raw else text
            quote = body[:3] if body[:3] in ('"""', "'''") else body[0]
            inner = body[len(quote) : -len(quote)]
            return inner if raw or "\\" not in inner else ast.literal_eval(quote + inner + quote)
        if token.type == "INT_LIT":
            return int(text, 0)
        if token.type == "UINT_LIT":
            return int(text.rstrip("uU"), 0)
        if token.type == "FLOAT_LIT":
            return float(text)
        if token.type == "BOOL_LIT":
            return text == "true"
    except (ValueError, SyntaxError):
        return None
    return None


# --- facts: what a guard establishes ---------------------------------------------------------------

Fact = tuple[str, ...]
"""``("has", X)``: attribute X is present; ``("type", X, T)``: ``type(image.X) == T``."""
Facts = frozenset[Fact]
_TYPE_IDENTS = {
    "int": "int",
    "uint": "uint",
    "double": "double",
    "string": "string",
    "bool": "bool",
    "bytes": "bytes",
    "list": "list",
    "map": "map",
    "null_type": "null",
}


def _attr_name(node: Node) -> str | None:
    """``X`` if ``node`` is ``image.X`` or ``image["X"]``."""
    if node.kind == "select" and _is_image(node.kids[0]):
        return node.op
    if node.kind == "index" and _is_image(node.kids[0]) and node.kids[1].kind == "lit" and node.kids[1].op == "string":
        return node.kids[1].value if isinstance(node.kids[1].value, str) else None
    return None


def _is_image(node: Node) -> bool:
    return node.kind == "ident" and node.op == "image"


def _type_test(node: Node) -> tuple[str, str, bool] | None:
    """(X, T, positive) for ``type(image.X) == T`` (positive) or ``!=`` (negative)."""
    if node.kind != "rel" or node.op not in ("==", "!="):
        return None
    for call, other in (node.kids, node.kids[::-1]):
        if call.kind == "call" and call.op == "type" and len(call.kids) == 1 and other.kind == "ident":
            name = _attr_name(call.kids[0])
            if name is not None and other.op in _TYPE_IDENTS:
                return name, _TYPE_IDENTS[other.op], node.op == "=="
    return None


# --- the checker --------------------------------------------------------------------------------------


@dataclass
class _Context:
    """The expression being walked: where its problems go."""

    expr: Expr


class Checker:
    """Checks the expressions of one policy (or one standalone expression, e.g. a waiver's ``match``)."""

    def __init__(self, catalogue: Catalogue, report: Callable[[Position, str, str], None]) -> None:
        self.catalogue = catalogue
        self.report = report
        self.variables: dict[str, tuple[Expr, Node]] = {}
        self.warned: set[tuple[int, str]] = set()

    # facts ------------------------------------------------------------------------------------------

    def true_facts(self, node: Node) -> Facts:
        """What holds whenever ``node`` evaluates to true."""
        k = node.kind
        if k == "and":
            return self.true_facts(node.kids[0]) | self.true_facts(node.kids[1])
        if k == "or":
            return self.true_facts(node.kids[0]) & self.true_facts(node.kids[1])
        if k == "not":
            return self.false_facts(node.kids[0])
        if k == "cond":
            c, a, b = node.kids
            return (self.true_facts(c) | self.true_facts(a)) & (self.false_facts(c) | self.true_facts(b))
        if k == "call" and node.op == "has" and len(node.kids) == 1:
            name = _attr_name(node.kids[0])
            return frozenset({("has", name)}) if name else frozenset()
        if k == "rel" and node.op == "in" and _is_image(node.kids[1]):
            left = node.kids[0]
            if left.kind == "lit" and isinstance(left.value, str):
                return frozenset({("has", left.value)})
        if k == "select" and node.kids[0].kind == "ident" and node.kids[0].op == "variables":
            var = self.variables.get(node.op)
            return self.true_facts(var[1]) if var else frozenset()
        test = _type_test(node)
        if test and test[2]:
            return frozenset({("type", test[0], test[1])})
        return frozenset()

    def false_facts(self, node: Node) -> Facts:
        """What holds whenever ``node`` evaluates to false."""
        k = node.kind
        if k == "and":
            return self.false_facts(node.kids[0]) & self.false_facts(node.kids[1])
        if k == "or":
            return self.false_facts(node.kids[0]) | self.false_facts(node.kids[1])
        if k == "not":
            return self.true_facts(node.kids[0])
        if k == "cond":
            c, a, b = node.kids
            return (self.true_facts(c) | self.false_facts(a)) & (self.false_facts(c) | self.false_facts(b))
        if k == "select" and node.kids[0].kind == "ident" and node.kids[0].op == "variables":
            var = self.variables.get(node.op)
            return self.false_facts(var[1]) if var else frozenset()
        test = _type_test(node)
        if test and not test[2]:
            return frozenset({("type", test[0], test[1])})
        return frozenset()

    # types ------------------------------------------------------------------------------------------

    def attr_type(self, name: str, facts: Facts) -> str | None:
        known = {f[2] for f in facts if f[0] == "type" and f[1] == name}
        if known:
            return known.pop() if len(known) == 1 else None
        attr = self.catalogue.get(name)
        return attr.type if attr is not None and attr.type != "dyn" else None

    def type_of(self, node: Node, facts: Facts) -> str | None:
        """The CEL type ``node`` certainly has (when it does not raise), else ``None``."""
        k = node.kind
        if k == "lit":
            return node.op if node.op != "dyn" else None
        if k in ("and", "or", "not", "rel"):
            return "bool"
        if k in ("list", "map"):
            return k
        name = _attr_name(node)
        if name is not None:
            return self.attr_type(name, facts)
        if k == "select" and node.kids[0].kind == "ident" and node.kids[0].op == "variables":
            var = self.variables.get(node.op)
            return self.type_of(var[1], facts) if var else None
        if k == "ident":
            return "timestamp" if node.op == "now" else None
        if k == "call":
            return {
                "size": "int",
                "int": "int",
                "uint": "uint",
                "double": "double",
                "string": "string",
                "bool": "bool",
                "has": "bool",
                "matches": "bool",
                "bytes": "bytes",
                "timestamp": "timestamp",
                "duration": "duration",
                "type": "type",
            }.get(node.op) or (FUNCTIONS[node.op].result if node.op in FUNCTIONS else None)
        if k == "method":
            if node.op in ("contains", "startsWith", "endsWith", "matches", "all", "exists", "exists_one"):
                return "bool"
            if node.op in ("map", "filter"):
                return "list"
            return "int" if node.op == "size" or node.op.startswith("get") else None
        if k == "neg":
            t = self.type_of(node.kids[0], facts)
            return t if t in ("int", "double", "duration") else None
        if k == "cond":
            a, b = self.type_of(node.kids[1], facts), self.type_of(node.kids[2], facts)
            return a if a == b else None
        if k == "arith":
            a, b = self.type_of(node.kids[0], facts), self.type_of(node.kids[1], facts)
            if (
                a == b
                and a in ("int", "uint", "double")
                or (a == b and node.op == "+" and a in ("string", "list", "bytes", "duration"))
            ):
                return a
            if (a, b) == ("timestamp", "timestamp") and node.op == "-":
                return "duration"
            if a == "timestamp" and b == "duration" and node.op in "+-":
                return "timestamp"
        return None

    # the walk ---------------------------------------------------------------------------------------

    def check(self, ctx: _Context, node: Node, facts: Facts) -> None:
        k = node.kind
        if k == "and":
            a, b = node.kids
            self.check(ctx, a, facts | self.true_facts(b))
            self.check(ctx, b, facts | self.true_facts(a))
            return
        if k == "or":
            a, b = node.kids
            self.check(ctx, a, facts | self.false_facts(b))
            self.check(ctx, b, facts | self.false_facts(a))
            return
        if k == "cond":
            c, a, b = node.kids
            self.check(ctx, c, facts)
            self.check(ctx, a, facts | self.true_facts(c))
            self.check(ctx, b, facts | self.false_facts(c))
            return
        if k == "call" and node.op == "has" and len(node.kids) == 1:
            arg = node.kids[0]
            name = _attr_name(arg)
            if name is not None:
                self.known(ctx, arg.start, name)  # a presence test, not a read
            elif arg.kind == "select":
                self.check(ctx, arg.kids[0], facts)
            return
        name = _attr_name(node)
        if name is not None:
            if self.known(ctx, node.start, name):
                self.guarded(ctx, node.start, name, facts)
            return
        if k == "select" and node.kids[0].kind == "ident" and node.kids[0].op == "variables":
            var = self.variables.get(node.op)
            if var is not None:  # lazy: the variable's reads happen here, under these facts
                self.check(_Context(var[0]), var[1], facts)
            return
        if k == "rel" and node.op == "in" and _is_image(node.kids[1]):
            key = node.kids[0]
            if key.kind == "lit" and isinstance(key.value, str):
                self.known(ctx, key.start, key.value)  # "X" in image: a presence test, not a read
                return
        if k == "rel":
            self.relation(ctx, node, facts)
        elif k == "arith":
            self.arithmetic(ctx, node, facts)
        elif k == "method" and node.op in ("contains", "startsWith", "endsWith", "matches"):
            self.string_method(ctx, node, facts)
        for kid in node.kids:
            self.check(ctx, kid, facts)

    def known(self, ctx: _Context, offset: int, name: str) -> bool:
        if name in self.catalogue:
            return True
        hint = self.catalogue.suggest(name)
        tail = (
            f"did you mean '{hint}'?"
            if hint
            else "declare attributes your cloud adds under 'attributes:' in imagelint.yaml"
        )
        self.error(ctx, offset, f"unknown image attribute '{name}' ({tail})")
        return False

    def guarded(self, ctx: _Context, offset: int, name: str, facts: Facts) -> None:
        attr = self.catalogue[name]
        if attr.always or ("has", name) in facts:
            return
        key = (id(ctx.expr), name)  # one warning per attribute and expression is enough to act on
        if key in self.warned:
            return
        self.warned.add(key)
        self.report(
            ctx.expr.at(offset),
            f"{ctx.expr.where}: image.{name} is not always present: guard the read "
            f"with has(image.{name}), or images without it make this policy error "
            "(no such key)",
            "warning",
        )

    def relation(self, ctx: _Context, node: Node, facts: Facts) -> None:
        left, right = node.kids
        if node.op == "in":
            name = _attr_name(left)
            if name is not None and right.kind == "list":
                listed = {i.value for i in right.kids if i.kind == "lit" and isinstance(i.value, str)}
                for item in right.kids:
                    self.compare(ctx, name, item, facts, "in", listed)
            return
        for attr, other in ((left, right), (right, left)):
            name = _attr_name(attr)
            if name is not None and name in self.catalogue:
                self.compare(ctx, name, other, facts, node.op)
                return

    def compare(
        self,
        ctx: _Context,
        name: str,
        other: Node,
        facts: Facts,
        op: str,
        listed: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Check ``image.NAME OP other``; ``listed``: the strings of the list when ``op`` is ``in``."""
        mine, theirs = self.attr_type(name, facts), self.type_of(other, facts)
        if mine is None or theirs is None or theirs == "null":
            return
        if not _compatible(mine, theirs):
            fix = _rewrite(other, mine)
            if mine in _NUMBERS and theirs in _NUMBERS:
                # CEL's heterogeneous numeric comparison: cel-cpp has it, cel-python raises no-overload
                what = "the engines disagree on mixed numbers (cel-cpp compares them, cel-python errors)"
            elif op in ("==", "!=", "in"):
                what = "this comparison is never true"
            else:
                what = f"'{op}' on them fails at run time (no such overload)"
            self.error(
                ctx,
                other.start,
                f"image.{name} is {_a(mine)}, not {_a(theirs)}: {what}" + (f" (compare with {fix})" if fix else ""),
            )
            return
        attr = self.catalogue[name]
        if (
            op in ("==", "!=", "in")
            and mine == "string"
            and attr.values
            and other.kind == "lit"
            and isinstance(other.value, str)
            and other.value not in attr.values
        ):
            close = [v for v in attr.values if v.lower() == other.value.lower()]
            if close and close[0] in listed:
                return  # ["true", "True"]: a deliberate tolerance of letter case, not a dead comparison
            expected = ", ".join(f'"{v}"' for v in attr.values)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            self.error(
                ctx,
                other.start,
                f'"{other.value}" is not a documented value of image.{name} (expected one of {expected}{hint})',
            )

    def arithmetic(self, ctx: _Context, node: Node, facts: Facts) -> None:
        for attr, other in (node.kids, node.kids[::-1]):
            name = _attr_name(attr)
            if name is None or name not in self.catalogue:
                continue
            mine, theirs = self.attr_type(name, facts), self.type_of(other, facts)
            if mine and theirs and theirs != "null" and not _compatible(mine, theirs):
                self.error(
                    ctx,
                    other.start,
                    f"image.{name} is {_a(mine)}, not {_a(theirs)}: '{node.op}' on them "
                    "fails at run time (no such overload)",
                )
                return

    def string_method(self, ctx: _Context, node: Node, facts: Facts) -> None:
        name = _attr_name(node.kids[0])
        if name is None or name not in self.catalogue:
            return
        mine = self.attr_type(name, facts)
        if mine is not None and mine != "string":
            hint = f" (to test membership write VALUE in image.{name})" if mine == "list" else ""
            self.error(ctx, node.start, f"image.{name} is {_a(mine)}: .{node.op}() needs a string{hint}")

    def error(self, ctx: _Context, offset: int, message: str) -> None:
        self.report(ctx.expr.at(offset), f"{ctx.expr.where}: {message}", "error")


_NUMBERS = ("int", "uint", "double")


def _compatible(a: str, b: str) -> bool:
    return a == b or "dyn" in (a, b)


def _a(type_name: str) -> str:
    return f"{'an' if type_name == 'int' else 'a'} {type_name}"  # "a uint": say it, not spell it


def _rewrite(other: Node, wanted: str) -> str | None:
    """The literal ``other`` rewritten to the attribute's type, when that is obvious."""
    if other.kind != "lit" or other.value is None:
        return None
    value = other.value
    if wanted == "string" and other.op in ("int", "uint", "bool"):
        return f'"{str(value).lower() if other.op == "bool" else value}"'
    if wanted == "int" and other.op == "string" and isinstance(value, str) and value.lstrip("-").isdigit():
        return value
    if wanted == "bool" and other.op == "string" and value in ("true", "false"):
        return value
    if wanted == "int" and other.op in ("uint", "double") and float(value).is_integer():
        return str(int(value))
    return None


# --- policies -------------------------------------------------------------------------------------------


def check_policy(policy: Policy, catalogue: Catalogue = IMAGE_ATTRIBUTES) -> list[Problem]:
    """Every static problem of one loaded policy (errors and warnings), in file order."""
    found: dict[tuple[str, int, int, str], Problem] = {}

    def report(pos: Position, message: str, level: str) -> None:
        found.setdefault(
            (pos.file, pos.line, pos.column, message), Problem(pos.file, pos.line, pos.column, message, level)
        )

    checker = Checker(catalogue, report)
    for var in policy.variables:
        checker.variables[var.name] = (var.expression, view(var.expression.tree, var.expression.source))
    match = view(policy.match.tree, policy.match.source) if policy.match else None
    base = checker.true_facts(match) if match else frozenset()
    if match is not None and policy.match is not None:
        checker.check(_Context(policy.match), match, frozenset())
        _must_be(checker, policy.match, match, frozenset(), "bool")
    used: set[str] = set()
    for validation in policy.validations:
        node = view(validation.expression.tree, validation.expression.source)
        used |= _variables_used(validation.expression, checker)
        checker.check(_Context(validation.expression), node, base)
        _must_be(checker, validation.expression, node, base, "bool")
        if validation.message_expression is not None:
            mnode = view(validation.message_expression.tree, validation.message_expression.source)
            used |= _variables_used(validation.message_expression, checker)
            facts = base | checker.false_facts(node)
            checker.check(_Context(validation.message_expression), mnode, facts)
            _must_be(checker, validation.message_expression, mnode, facts, "string")
    for var in policy.variables:
        if var.name not in used:  # never evaluated, but check it as if used right after match
            checker.check(_Context(var.expression), checker.variables[var.name][1], base)
    for expr in policy.expressions():
        _library_arguments(checker, expr)
    return sorted(found.values(), key=lambda p: (p.file, p.line, p.column))


def _library_arguments(checker: Checker, expr: Expr) -> None:
    """A library call whose argument certainly has another type than its signature's is an error."""
    if expr.written_tree is None or expr.written_to_position is None:
        return
    root = view(expr.written_tree, expr.written)
    todo = [root]
    while todo:
        node = todo.pop()
        todo.extend(node.kids)
        function = FUNCTIONS.get(node.op) if node.kind == "call" else None
        if function is None:
            continue
        for number, (arg, wanted) in enumerate(zip(node.kids, function.params, strict=False), 1):
            if wanted in ("dyn", "image"):
                continue
            got = checker.type_of(arg, frozenset())
            if got is not None and got != wanted:
                checker.report(
                    expr.written_to_position(arg.start),
                    f"{expr.where}: {function.name}() argument {number} must be {_a(wanted)}, but it is always "
                    f"{_a(got)} ({function.signature})",
                    "error",
                )


def _variables_used(expr: Expr, checker: Checker) -> set[str]:
    out, todo = set(), list(expr.variables)
    while todo:
        name = todo.pop()
        if name not in out and name in checker.variables:
            out.add(name)
            todo.extend(checker.variables[name][0].variables)
    return out


def _must_be(checker: Checker, expr: Expr, node: Node, facts: Facts, wanted: str) -> None:
    got = checker.type_of(node, facts)
    if got is not None and got != wanted:
        checker.report(
            expr.at(node.start), f"{expr.where}: must be {_a(wanted)}, but this expression is always {_a(got)}", "error"
        )


def check_policies(policies: Iterable[Policy], catalogue: Catalogue = IMAGE_ATTRIBUTES) -> list[Problem]:
    out: list[Problem] = []
    for policy in policies:
        out += check_policy(policy, catalogue)
    return out


def check_expression(expr: Expr, catalogue: Catalogue = IMAGE_ATTRIBUTES, *, want: str = "bool") -> list[Problem]:
    """Static problems of one standalone expression over ``image`` (a waiver's ``match``)."""
    found: list[Problem] = []

    def report(pos: Position, message: str, level: str) -> None:
        found.append(Problem(pos.file, pos.line, pos.column, message, level))

    checker = Checker(catalogue, report)
    node = view(expr.tree, expr.source)
    checker.check(_Context(expr), node, frozenset())
    _must_be(checker, expr, node, frozenset(), want)
    return found


def load_checked(
    paths: Iterable[str | Path],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    catalogue: Catalogue = IMAGE_ATTRIBUTES,
) -> tuple[list[Policy], list[Problem]]:
    """Load policies and run the static checks: (policies, warnings); ``PolicyError`` if any error.

    The error carries the warnings too, so a user fixing errors sees everything at once.
    """
    policies = load_policies(paths, overrides)
    problems = check_policies(policies, catalogue)
    if any(p.level == "error" for p in problems):
        raise PolicyError(problems)
    return policies, problems
