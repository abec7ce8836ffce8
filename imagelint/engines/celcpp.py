"""The fast engine: Google's C++ CEL runtime (package ``cel-expr-python``).

Where its speed comes from, each step measured in ``tests/benchmarks/bench_engines.py``:

1. ``variables`` and ``params`` are inlined into each expression's text (``celtree.inline``; a param by
   its value's literal, not a map literal rebuilt at each evaluation), so an activation holds just
   ``image``, ``now`` and ``rx``. A variable an expression reads more than once is bound once instead
   (``cel.bind``, the bindings extension): inlined at each read, it was evaluated at each read, and the
   library's ``cel.bind`` expansion repeats its argument (boolean-attributes-valid's message read its
   three filters five times). cel-cpp's binding evaluates its value even where no branch reads it, but
   CEL errors are values: a value that errors and is never read raises nothing, so only the cost moves;
   ``image.X.matches("literal")`` becomes ``(has(rx.kN) ? rx.kN : image.X.matches("literal"))``, where
   ``rx`` holds the match results computed once per image with the pattern compiled once
   (``imagelint.engines.regex``: RE2 semantics, at Python ``re`` speed where the two provably agree):
   this binding recompiles a pattern at every evaluation, 10-25 µs each. Values that are not strings get
   no ``rx`` entry and take the original call, so errors stay exactly CEL's;
2. an activation holds only the attributes its expressions read — the list expression's, or one
   policy's (for a memo miss and the messages of its failures) — because cel-expr-python converts a whole
   Python map at its first access in every evaluation (37 keys: ~8 µs, more than most policies cost); a
   policy that uses ``image`` as a whole gets all of it. The messages of a policy whose attributes the
   list expression's activation holds reuse that activation (building one costs more than converting a
   few more keys), once the list has converted it without error;
3. every policy becomes one integer-valued expression — ``-1`` skip, ``0`` pass, else a bitmask of false
   validations — and the policies are joined into one list expression, evaluated once per image;
4. a policy's code is a pure function of the attributes it reads (``now`` and the params are fixed for the
   run, the standard library has no side effects), so it is memoized on those values: most policies read
   a few low-cardinality attributes (``disk_format``, ``__os_type``...) and are answered by a dict lookup.
   The key keeps CEL's distinctions that Python's equality drops (``true``/``1``/``1.0``, ``0.0``/``-0.0``,
   null/absent); an attribute only tested by ``has()``, ``type()`` or ``in`` is keyed on its shape, and one
   otherwise only matched against literal patterns on its shape and those patterns' results (the ``rx``
   entries are all its expressions see of a string): ``id``, ``name`` and timestamps, unique per image,
   then take two or three keys in policies that only check their format.
   A policy whose keys keep missing the memo (it computes with a timestamp, reads a list of tags) is
   moved, after a review every ``REVIEW`` images, into the list expression evaluated for every image.
   Messages of failures are memoized the same way, on everything the policy reads.

Any error or non-bool anywhere makes the list an error value; then the image is judged again policy by
policy, and a policy whose code errors goes through ``Engine.judge_policy``, expression by expression,
which is where error findings and messages come from. So the fast path only ever answers the cases that
need no explanation.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from typing import Any

from imagelint.engines.interface import (
    ERROR,
    FAIL,
    PASS,
    SKIP,
    Engine,
    EngineError,
    EvalFailure,
    NonBool,
    Outcome,
)
from imagelint.engines.regex import Matcher
from imagelint.policy import celtree, library
from imagelint.policy.loader import Problem
from imagelint.policy.model import Expr, Policy

try:
    from cel_expr_python import cel
    from cel_expr_python.ext.ext_bindings import ExtBindings
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    cel = None

MAX_BITS = 62  # validations per policy that fit the int64 bitmask of the fast path
# Memo tuning (see bench_engines.py): a miss costs a separate evaluation (~4 µs), a hit ~0.2 µs, a
# policy's share of the list expression 1-3 µs; past about one miss in four the list expression is cheaper.
REVIEW = 1024  # images between reviews of the memos
MAX_MISS_RATE = 0.25
MEMO_MAX = 8192  # keys per policy; a policy that needs more is not worth memoizing
_CPP_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")


def available() -> bool:
    return cel is not None


_CEL_TYPES = {"string": "STRING", "timestamp": "TIMESTAMP", "int": "INT", "bool": "BOOL", "dyn": "DYN"}


def _library() -> dict[str, Any]:
    """The image library's native functions (``policy.library.NATIVES``) as cel-expr-python declarations."""
    decls, impls = [], {}
    for name, function in library.NATIVES.items():
        overload = f"{name}_{'_'.join(function.params)}"
        params = [getattr(cel.Type, _CEL_TYPES[p]) for p in function.params]
        decls.append(
            cel.FunctionDecl(name, [cel.Overload(overload, getattr(cel.Type, _CEL_TYPES[function.result]), params)])
        )
        impls[overload] = function.native
    return {"functions": decls, "function_impls": impls}


def _checker_env() -> Any:
    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    return cel.NewEnv(
        variables={"image": dyn_map, "params": dyn_map, "variables": dyn_map, "now": cel.Type.TIMESTAMP},
        **_library(),
    )


def type_check(policies: list[Policy]) -> list[Problem]:
    """cel-cpp's type checker over every expression as written (e.g. ``1 + "a"``, ``size(1)``).

    Run whichever engine evaluates, so that both engines accept exactly the same policy files.
    """
    if cel is None:
        return []
    env = _checker_env()
    problems = []
    for policy in policies:
        for expr in policy.expressions():
            try:
                env.compile(expr.source)
            except RuntimeError as exc:
                line, col, message = _first_error(str(exc))
                pos = expr.at(celtree.offset_of(expr.source, line, col))
                problems.append(Problem(pos.file, pos.line, pos.column, f"{expr.where}: {message}"))
    return problems


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_odd_string(value: Any) -> bool:
    """A string (key or value, at any depth) with a NUL or a lone surrogate: see ``evaluate``."""
    kind = type(value)
    if kind is str:
        return "\x00" in value or (not value.isascii() and _SURROGATE.search(value) is not None)
    if kind is dict:
        return any(_has_odd_string(k) or _has_odd_string(v) for k, v in value.items())
    if kind is list:
        return any(map(_has_odd_string, value))
    return False


def _union(attributes: list[frozenset[str] | None]) -> tuple[str, ...] | None:
    if any(a is None for a in attributes):
        return None
    return tuple(sorted(frozenset().union(*attributes)))  # type: ignore[arg-type]


def _first_error(text: str) -> tuple[int, int, str]:
    found = _CPP_ERROR.search(text)
    if not found:
        return 1, 1, text.strip().splitlines()[0] if text.strip() else "cannot compile"
    return int(found.group(1)), int(found.group(2)), found.group(3).strip()


class _Unkeyable(Exception):
    """A value of a type JSON does not produce; such an image is judged without the memos."""


_MISSING = object()  # an absent attribute: has() tells it from null
_UNSET = object()
_RX = "rx"  # the per-image cache's entry for pattern results (the other entries' keys are scopes)
_CONVERTED = "converted"  # the per-image cache's mark: the list expression's activation converted
_BOOL, _INT, _DOUBLE, _LIST, _MAP = ("\x00bool", "\x00int", "\x00double", "\x00list", "\x00map")
_SHAPE, _MATCHED = "\x00shape", "\x00matched"


def _canon(value: Any) -> Any:
    """A hashable key that is equal for two values exactly when CEL cannot tell them apart.

    Python's ``True == 1 == 1.0`` and ``0.0 == -0.0``; CEL's ``type()``, ``string()`` and division do
    tell them apart. A list or map keeps its order (a map's iteration order is the JSON's).
    """
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is bool:
        return (_BOOL, value)
    if kind is int:
        return (_INT, value)
    if kind is float:
        return (_DOUBLE, value.hex())
    if kind is list:
        return (_LIST, *map(_canon, value))
    if kind is dict:
        return (_MAP, *((_canon(k), _canon(v)) for k, v in value.items()))
    raise _Unkeyable(kind.__name__)


def _shape(value: Any) -> Any:
    """What ``has()`` and ``type()`` can tell of a value (an int's range decides int, uint or no conversion)."""
    kind = type(value)
    if kind is str or kind is bool or kind is float:
        return kind
    if kind is int:
        return _INT if -(1 << 63) <= value < 1 << 63 else _canon(value)
    if kind is list or kind is dict:
        return _canon(value)  # whether it converts depends on what it holds
    raise _Unkeyable(kind.__name__)


def _key_parts(
    attributes: frozenset[str] | None, shape_only: frozenset[str], matched: dict[str, tuple[str, ...]]
) -> list[Any]:
    """A key's parts: an attribute's name (keyed on its value), ``(_SHAPE, name)`` (on its shape), or
    ``(_MATCHED, name, rx keys)`` (on its shape and, for a string, the results of those patterns)."""
    return [
        (_SHAPE, a) if a in shape_only else (_MATCHED, a, matched[a]) if a in matched else a
        for a in sorted(attributes or ())
    ]


class _Keys:
    """Reads the key ``parts`` of one image: ``keys(image, known)`` is a tuple, one entry per part, or None
    when a value has no key. ``known`` holds the image's pattern results (rx key -> bool), shared with its
    activations."""

    def __init__(self, parts: list[Any], matchers: dict[str, Matcher]) -> None:
        self.parts = parts
        self.matchers = matchers

    def getter(self, parts: list[Any]) -> Callable[[tuple[Any, ...]], Any]:
        """Picks the entries of ``parts`` (a subset of this plan's) out of a key tuple."""
        if not parts:
            return lambda key: ()
        return operator.itemgetter(*(self.parts.index(p) for p in parts))

    def __call__(self, image: dict[str, Any], known: dict[str, bool]) -> tuple[Any, ...] | None:
        get = image.get
        key = []
        try:
            for part in self.parts:
                if type(part) is str:
                    value = get(part, _MISSING)
                    if type(value) is not str and value is not None and value is not _MISSING:
                        value = _canon(value)
                else:
                    value = get(part[1], _MISSING)
                    if type(value) is str and part[0] == _MATCHED:
                        # the match results are all the expressions see of the string (rx.kN): key on them
                        found: list[Any] = [_MATCHED]
                        for rx in part[2]:
                            result = known.get(rx)
                            if result is None:
                                result = known[rx] = self.matchers[rx].test(value)
                            found.append(result)
                        value = tuple(found)
                    elif value is not None and value is not _MISSING:
                        value = _shape(value)
                key.append(value)
        except _Unkeyable:
            return None
        return tuple(key)


class CelCppEngine(Engine):
    name = "cel-cpp"

    def __init__(self, policies: list[Policy], now: dt.datetime, *, memoize: bool = True) -> None:
        if cel is None:
            raise EngineError("the cel-cpp engine needs the cel-expr-python package (pip install cel-expr-python)")
        self.env = cel.NewEnv(
            variables={
                "image": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
                "now": cel.Type.TIMESTAMP,
                "rx": cel.Type.Map(cel.Type.STRING, cel.Type.BOOL),
            },
            extensions=[ExtBindings()],
            **_library(),
        )
        self.inlined: dict[int, str] = {}
        self.reference: Engine | None = None
        self.regexes: list[tuple[str, str, Any]] = []  # (rx key, attribute, compiled pattern)
        self._regex_keys: dict[tuple[str, str], str] = {}
        self._sites: dict[int, list[tuple[str, str | None]]] = {}  # id(expr) -> (attribute, rx key or None)
        for policy in policies:
            self._inline_policy(policy, now)
        self.matchers = {key: matcher for key, _, matcher in self.regexes}
        super().__init__(policies, now)
        # A policy's own scope (everything its expressions read, messages included) serves its memo misses,
        # its messages and its policy-by-policy judgement; None: it reads the image as a whole.
        attributes = [p.attributes() for p in policies]
        self.scopes = [_union([a]) for a in attributes]
        self.decisive = [p.attributes(messages=False) for p in policies]
        self.keys = _union(attributes)  # what the odd-string check must look at
        self._scope_regexes: dict[tuple[str, ...] | None, list[tuple[str, str, Any]]] = {}
        self.codes = [self._policy_code(p) for p in policies]
        self.code_programs = [self.env.compile(c, True) if c else None for c in self.codes]
        # a policy without a code (too many validations for the bitmask) keeps the whole pack off the
        # fast path: list positions must match the policies'
        self.fast = bool(self.codes) and all(self.codes)
        self.memos: list[dict[Any, int] | None] = [
            {} if memoize and self.fast and attrs is not None else None for attrs in self.decisive
        ]
        # messages too are a function of what the policy reads; a message that names the image (its id,
        # its name) misses every time and loses its memo at the next review
        self.message_memos: list[dict[Any, tuple[Outcome, ...]] | None] = [
            {} if memoize and self.fast and scope is not None else None for scope in self.scopes
        ]
        # what each memo's key is made of; message keys are read from the image only when it fails
        self.key_parts = [
            _key_parts(a, p.shape_only(messages=False), self._matched(p, messages=False))
            for a, p in zip(self.decisive, policies, strict=True)
        ]
        self.message_keys = [
            _Keys(_key_parts(a, p.shape_only(), self._matched(p)), self.matchers)
            for a, p in zip(attributes, policies, strict=True)
        ]
        self._plan()
        self._start_window()

    def _plan(self) -> None:
        """Split the pack into memoized policies and the list expression of the rest."""
        memoized = [i for i, memo in enumerate(self.memos) if memo is not None]
        self.memo_keys = _Keys(
            list(dict.fromkeys(p for i in memoized for p in self.key_parts[i])),  # each read once
            self.matchers,
        )
        self.memo_plan = [(i, self.memo_keys.getter(self.key_parts[i]), self.memos[i]) for i in memoized]
        self.rest = [i for i, memo in enumerate(self.memos) if memo is None]
        self.rest_scope = _union([self.decisive[i] for i in self.rest])
        # a policy whose attributes the list expression's activation holds can use it (for its messages)
        # rather than build its own: the extra attributes cost less to convert than an activation
        self.covered = [
            self.rest_scope is None or (scope is not None and set(scope) <= set(self.rest_scope))
            for scope in self.scopes
        ]
        self.rest_program = None
        if self.fast and self.rest:
            # size(image) first: cel-expr-python converts the whole map at the first access, so once this
            # list is a value, every attribute of its activation is known to convert (see bind())
            self.rest_program = self.env.compile(
                "[size(image), " + ", ".join(self.codes[i] for i in self.rest) + "]",  # type: ignore[misc]
                True,
            )

    def _matched(self, policy: Policy, *, messages: bool = True) -> dict[str, tuple[str, ...]]:
        """The attributes a memo may key on pattern results: each one to the rx keys of its patterns.

        Only where every ``matches`` on the attribute was given an rx key: a call left as it was (a pattern
        the ``Matcher`` refused) sees the whole string.
        """
        sites = [site for e in policy.expressions(messages=messages) for site in self._sites[id(e)]]
        out = {}
        for attr in policy.matched_only(messages=messages):
            keys = [key for a, key in sites if a == attr]
            if keys and None not in keys:
                out[attr] = tuple(sorted({key for key in keys if key is not None}))
        return out

    def _start_window(self) -> None:
        """Count memo misses afresh until the next review."""
        self._misses = [0] * len(self.policies)
        self._message_lookups = [0] * len(self.policies)
        self._message_misses = [0] * len(self.policies)
        self._unreviewed = REVIEW

    def _inline_policy(self, policy: Policy, now: dt.datetime) -> None:
        values = dict(policy.params)
        params = celtree.cel_literal(values)
        variables: dict[str, str] = {}
        literals: set[str] = set()  # variables folded to a literal that costs nothing to evaluate again
        for var in policy.variables:
            text = self._inline(var.expression, variables, literals, params, values)
            folded = self._constant(text, now)
            variables[var.name] = folded or text
            if folded is not None and not folded.startswith(("timestamp(", "duration(")):
                literals.add(var.name)
            self.inlined[id(var.expression)] = text
        for expr in policy.expressions():
            self.inlined[id(expr)] = self._inline(expr, variables, literals, params, values)

    def _inline(
        self, expr: Expr, variables: dict[str, str], literals: set[str], params: str, values: dict[str, Any]
    ) -> str:
        """``expr``'s text with its variables and params written in, a variable read twice or more bound once."""
        uses = celtree.variable_uses(expr.source, expr.tree)
        shared = [n for n, count in uses.items() if count > 1 and n in variables and n not in literals]
        taken = expr.source + "".join(variables[n] for n in shared)
        names: dict[str, str] = {}
        for name in shared:
            ident = f"_v{len(names)}"
            while ident in taken:  # a name the texts hold somewhere (a comprehension's variable, a string)
                ident += "_"
            names[name] = ident
        text = celtree.inline(expr.source, expr.tree, {**variables, **names}, params, self._regex_edits(expr), values)
        for name, ident in names.items():
            text = f"cel.bind({ident}, {variables[name]}, {text})"
        return text

    def _constant(self, text: str, now: dt.datetime) -> str | None:
        """A literal for a variable that reads no image (only params and ``now``, both fixed for the run).

        Inlined, such a variable is recomputed wherever it is used, at every evaluation: ``now -
        days(params.max_age_days)`` builds its duration from a string each time, and a library expansion
        may repeat its argument (``imsText`` reads a time twelve times). Its value is the same for every
        image, so it is computed here once. Only values whose literal means exactly the same value: an
        error (kept for CEL to raise where it is used) or a map, a uint, a list of anything but strings
        keeps the text.
        """
        if "image" in text or "rx." in text:  # a string literal that says "image" only costs the fold
            return None
        try:
            value = self.env.compile(text, True).eval(self.env.Activation({"now": now}))
        except RuntimeError:
            return None
        kind = value.type()
        if kind in (cel.Type.TIMESTAMP, cel.Type.DURATION):
            # string() of either is exact to the nanosecond; the Python value holds microseconds
            name = "timestamp" if kind == cel.Type.TIMESTAMP else "duration"
            written = self.env.compile(f"string({text})", True).eval(self.env.Activation({"now": now}))
            return f"{name}({celtree.cel_literal(written.value())})" if written.type() == cel.Type.STRING else None
        if kind in (cel.Type.BOOL, cel.Type.INT, cel.Type.DOUBLE, cel.Type.STRING, cel.Type.NULL):
            return celtree.cel_literal(value.plain_value())
        if kind.name().startswith("LIST"):
            items = value.plain_value()
            if all(type(item) is str for item in items):
                return celtree.cel_literal(items)
        return None

    def _regex_edits(self, expr: Expr) -> dict[tuple[int, int], str]:
        edits = {}
        sites: list[tuple[str, str | None]] = []
        self._sites[id(expr)] = sites
        for start, end, attr, literal in celtree.regex_sites(expr.tree, expr.source):
            key = self._regex_keys.get((attr, literal))
            if key is None:
                try:
                    pattern = self.env.compile(literal, True).eval().value()
                    compiled = Matcher(pattern)
                except Exception:  # noqa: BLE001 - a bad pattern keeps the original call and its CEL error
                    sites.append((attr, None))
                    continue
                key = f"k{len(self.regexes)}"
                self._regex_keys[(attr, literal)] = key
                self.regexes.append((key, attr, compiled))
            sites.append((attr, key))
            edits[(start, end)] = f"(has(rx.{key}) ? rx.{key} : {expr.source[start:end]})"
        return edits

    def _policy_code(self, policy: Policy) -> str | None:
        if len(policy.validations) > MAX_BITS:
            return None
        terms = [f"(({self.inlined[id(v.expression)]}) ? 0 : {1 << i})" for i, v in enumerate(policy.validations)]
        body = " + ".join(terms)
        if policy.match is None:
            return f"({body})"
        return f"(({self.inlined[id(policy.match)]}) ? ({body}) : -1)"

    # --- primitives -------------------------------------------------------------------------------

    def compile(self, expr: Expr, policy: Policy) -> Any:
        try:
            # disable_check: the image is a map of dyn, so the checker has nothing to add at this point
            # (type_check() ran on the text as written), and checking costs at start-up.
            return self.env.compile(self.inlined[id(expr)], True)
        except RuntimeError as exc:
            _, _, message = _first_error(str(exc))
            raise EngineError(f"{expr.position}: cel-cpp cannot compile {expr.where}: {message}") from None

    def _data(self, image: dict[str, Any], scope: tuple[str, ...] | None, cache: dict[Any, Any]) -> dict[str, Any]:
        rx = {}
        known = cache.setdefault(_RX, {})  # a pattern's result, shared by every scope of this image
        for key, attr, matcher in self._regexes_in(scope):
            if key in known:
                rx[key] = known[key]
                continue
            value = image.get(attr)
            if type(value) is str:
                rx[key] = known[key] = matcher.test(value)  # not matcher(): one call less
        if scope is None:
            return {"image": image, "now": self.now, "rx": rx}
        return {"image": {k: image[k] for k in scope if k in image}, "now": self.now, "rx": rx}

    def _regexes_in(self, scope: tuple[str, ...] | None) -> list[tuple[str, str, Any]]:
        # an rx entry the scope lacks only sends its expression back to matches(): slower, never different
        found = self._scope_regexes.get(scope)
        if found is None:
            found = self._scope_regexes[scope] = [r for r in self.regexes if scope is None or r[1] in scope]
        return found

    def bind(self, image: dict[str, Any], index: int, cache: dict[Any, Any]) -> Any:
        scope = self.rest_scope  # -1: the list expression's
        if index >= 0 and not (self.covered[index] and _CONVERTED in cache):
            # its own: one that failed to convert may hold what this policy does not read
            scope = self.scopes[index]
        activation = cache.get(scope, _UNSET)
        if activation is _UNSET:
            try:
                activation = self.env.Activation(self._data(image, scope, cache))
            except Exception as exc:  # noqa: BLE001 - pybind raises plain exceptions for unconvertible values
                activation = EvalFailure(f"cannot convert the image: {exc}")
            cache[scope] = activation
        if isinstance(activation, EvalFailure):
            raise activation
        return activation

    def run(self, program: Any, activation: Any) -> Any:
        value = program.eval(activation)
        kind = value.type()
        if kind == cel.Type.BOOL:
            return bool(value.value())
        if kind == cel.Type.ERROR:
            raise EvalFailure(str(value.value()))
        if kind == cel.Type.STRING:
            return value.value()
        return NonBool(kind.name().lower())

    # --- the fast path ----------------------------------------------------------------------------

    def evaluate(self, image: dict[str, Any], *, plain: bool = False) -> tuple[list[int], dict[int, list[Outcome]]]:
        if not plain and _has_odd_string(image if self.keys is None else {k: image.get(k) for k in self.keys}):
            # cel-expr-python cuts strings at NUL ("a\x00b" has size 1 there): a name like
            # "ok-approved\x00..." would pass for what it is not. A lone surrogate (JSON "\ud800") cannot be
            # made UTF-8: the conversion fails part way through an evaluation ("basic_string: construction
            # from null"), and RE2 refuses it too. Such images go to the reference engine.
            return self._reference().evaluate(image)
        cache: dict[Any, Any] = {}
        raw = self._codes(image, cache) if self.fast else None
        if raw is None:
            return self._per_policy(image, cache)
        if max(raw, default=0) <= 0:  # nothing failed: -1 and 0 are already SKIP and PASS
            return raw, {}
        return self._decode(raw, image, cache)

    def _codes(self, image: dict[str, Any], cache: dict[Any, Any]) -> list[int] | None:
        """Every policy's code from the memos and the list expression; None if anything raised."""
        raw = [0] * len(self.policies)
        if self.memo_plan:
            self._unreviewed -= 1
            if self._unreviewed < 0:
                self._review()  # first: it may change the plan, and with it the key's layout
            values = self.memo_keys(image, cache.setdefault(_RX, {}))
            if values is None:
                return None
            for index, getter, memo in self.memo_plan:
                key = getter(values)
                code = memo.get(key)  # type: ignore[union-attr]
                if code is None:
                    code = self._miss(index, key, image, cache)
                    if code is None:
                        return None
                raw[index] = code
        if self.rest_program is not None:
            try:
                value = self.rest_program.eval(self.bind(image, -1, cache))
            except EvalFailure:  # unconvertible image: judge_policy reports it per policy
                return None
            if value.type() == cel.Type.ERROR:
                return None
            for index, code in zip(self.rest, value.plain_value()[1:], strict=True):
                raw[index] = code
            cache[_CONVERTED] = True
        return raw

    def _miss(self, index: int, key: Any, image: dict[str, Any], cache: dict[Any, Any]) -> int | None:
        self._misses[index] += 1
        try:
            value = self.code_programs[index].eval(self.bind(image, index, cache))  # type: ignore[union-attr]
        except EvalFailure:
            return None
        if value.type() != cel.Type.INT:
            return None  # errors are not memoized: judge_policy explains them, image by image
        code: int = value.value()
        memo = self.memos[index]
        if memo is not None and len(memo) < MEMO_MAX:
            memo[key] = code
        return code

    def _review(self) -> None:
        """Drop the memos that missed too often (or grew too big); their policies join the list expression."""
        limit = REVIEW * MAX_MISS_RATE
        worse = [
            i
            for i, memo in enumerate(self.memos)
            if memo is not None and (self._misses[i] > limit or len(memo) >= MEMO_MAX)
        ]
        for index in worse:
            self.memos[index] = None
        if worse:
            self._plan()
        for index, memo in enumerate(self.message_memos):  # no plan to change: messages are judged apart
            lookups, misses = self._message_lookups[index], self._message_misses[index]
            if memo is not None and ((lookups >= 64 and misses > lookups * MAX_MISS_RATE) or len(memo) >= MEMO_MAX):
                self.message_memos[index] = None
        self._start_window()

    def _reference(self) -> Engine:
        if self.reference is None:
            from imagelint.engines.celpython import CelPythonEngine

            self.reference = CelPythonEngine(self.policies, self.now)
        return self.reference

    def _decode(
        self, raw: list[int], image: dict[str, Any], cache: dict[Any, Any]
    ) -> tuple[list[int], dict[int, list[Outcome]]]:
        details = {}
        for index, bits in enumerate(raw):
            if bits <= 0:
                continue
            memo = self.message_memos[index]
            values = None if memo is None else self.message_keys[index](image, cache.setdefault(_RX, {}))
            if memo is None or values is None:
                details[index] = self._failures(index, bits, image, cache)
                continue
            key = (bits, values)
            self._message_lookups[index] += 1
            outcomes = memo.get(key)
            if outcomes is None:
                self._message_misses[index] += 1
                outcomes = tuple(self._failures(index, bits, image, cache))
                if len(memo) < MEMO_MAX:
                    memo[key] = outcomes
            details[index] = list(outcomes)
        return [FAIL if bits > 0 else bits for bits in raw], details

    def _failures(self, index: int, bits: int, image: dict[str, Any], cache: dict[Any, Any]) -> list[Outcome]:
        """One FAIL finding per set bit of a policy's code (bit n: validation n was false)."""
        failed = [n for n in range(bits.bit_length()) if bits >> n & 1]
        validations = self.policies[index].validations
        if all(validations[n].message_expression is None for n in failed):  # fixed texts need no activation
            return [(FAIL, n, self.message(index, n, None)) for n in failed]
        activation = self.bind(image, index, cache)
        return [(FAIL, n, self.message(index, n, activation)) for n in failed]

    def _per_policy(self, image: dict[str, Any], cache: dict[Any, Any]) -> tuple[list[int], dict[int, list[Outcome]]]:
        codes: list[int] = []
        details: dict[int, list[Outcome]] = {}
        for index, program in enumerate(self.code_programs):
            bits = None
            if program is not None:
                try:
                    value = program.eval(self.bind(image, index, cache))
                    if value.type() == cel.Type.INT:
                        bits = value.value()
                except EvalFailure:
                    bits = None
            if bits is None:
                code, outcomes = self.judge_policy(index, image, cache)
            elif bits <= 0:
                code, outcomes = (SKIP if bits < 0 else PASS), []
            else:
                code, outcomes = FAIL, self._failures(index, bits, image, cache)
            codes.append(code)
            if outcomes:
                details[index] = outcomes
        return codes, details


__all__ = ["ERROR", "CelCppEngine", "available", "type_check"]
