"""The fast engine: Google's C++ CEL runtime (package ``cel-expr-python``).

Where its speed comes from, each step measured in ``tests/benchmarks/bench_engines.py``:

1. ``variables`` and ``params`` are inlined into each expression's text (``celtree.inline``), so an
   activation holds just ``image``, ``now`` and ``rx``;
   ``image.X.matches("literal")`` becomes ``(has(rx.kN) ? rx.kN : image.X.matches("literal"))``, where
   ``rx`` holds the match results computed once per image with the pattern compiled once
   (``imagelint._engine.regex``: RE2 semantics, at Python ``re`` speed where the two provably agree):
   this binding recompiles a pattern at every evaluation, 10-25 µs each. Values that are not strings get
   no ``rx`` entry and take the original call, so errors stay exactly CEL's;
2. only the attributes the policies read are converted per image (a policy that uses ``image`` as a whole
   turns that off), because converting a 30-key dict costs more than evaluating most policies;
3. every policy becomes one integer-valued expression — ``-1`` skip, ``0`` pass, else a bitmask of false
   validations — and all policies are joined into one list expression, evaluated once per image.

Any error or non-bool anywhere makes the list an error value; then the image is judged again policy by
policy, and a policy whose code errors goes through ``Engine.judge_policy``, expression by expression,
which is where error findings and messages come from. So the fast path only ever answers the cases that
need no explanation.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from imagelint._engine.interface import ERROR, FAIL, PASS, SKIP, Engine, EngineError, EvalFailure, NonBool, Outcome
from imagelint._engine.regex import Matcher
from imagelint._policy import celtree
from imagelint._policy.loader import Problem
from imagelint._policy.model import Expr, Policy

try:
    from cel_expr_python import cel
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    cel = None

MAX_BITS = 62  # validations per policy that fit the int64 bitmask of the fast path
_CPP_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")


def available() -> bool:
    return cel is not None


def _checker_env() -> Any:
    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    return cel.NewEnv(variables={"image": dyn_map, "params": dyn_map, "variables": dyn_map,
                                 "now": cel.Type.TIMESTAMP})


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


def _has_nul(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return "\x00" in value
    if kind is dict:
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if kind is list:
        return any(map(_has_nul, value))
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


class CelCppEngine(Engine):
    name = "cel-cpp"

    def __init__(self, policies: list[Policy], now: dt.datetime) -> None:
        if cel is None:
            raise EngineError("the cel-cpp engine needs the cel-expr-python package (pip install cel-expr-python)")
        self.env = cel.NewEnv(variables={"image": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
                                         "now": cel.Type.TIMESTAMP,
                                         "rx": cel.Type.Map(cel.Type.STRING, cel.Type.BOOL)})
        self.inlined: dict[int, str] = {}
        self.reference: Engine | None = None
        self.regexes: list[tuple[str, str, Any]] = []  # (rx key, attribute, compiled pattern)
        self._regex_keys: dict[tuple[str, str], str] = {}
        for policy in policies:
            self._inline_policy(policy)
        super().__init__(policies, now)
        # One activation per image serves the combined fast path and then the messages of its failures
        # (messages are evaluated for failures only), so it holds what any expression of the pack reads;
        # a policy that reads the image as a whole gets its own activation, so that one such
        # messageExpression does not make every image convert all its attributes.
        attributes = [p.attributes() for p in policies]
        self.whole = [a is None for a in attributes]
        decisive = _union([p.attributes(messages=False) for p in policies])
        messages = _union([a for a in attributes if a is not None])
        self.keys = None if decisive is None else tuple(sorted({*decisive, *(messages or ())}))
        self.codes = [self._policy_code(p) for p in policies]
        self.code_programs = [self.env.compile(c, True) if c else None for c in self.codes]
        # a policy without a code (too many validations for the bitmask) keeps the whole pack off the
        # combined path: its list positions must match the policies'
        every = self.codes and all(self.codes)
        self.combined = self.env.compile("[" + ", ".join(self.codes) + "]", True) if every else None  # type: ignore[arg-type]

    def _inline_policy(self, policy: Policy) -> None:
        params = celtree.cel_literal(dict(policy.params))
        variables: dict[str, str] = {}
        for var in policy.variables:
            text = celtree.inline(var.expression.source, var.expression.tree, variables, params,
                                  self._regex_edits(var.expression))
            variables[var.name] = text
            self.inlined[id(var.expression)] = text
        for expr in policy.expressions():
            self.inlined[id(expr)] = celtree.inline(expr.source, expr.tree, variables, params,
                                                    self._regex_edits(expr))

    def _regex_edits(self, expr: Expr) -> dict[tuple[int, int], str]:
        edits = {}
        for start, end, attr, literal in celtree.regex_sites(expr.tree):
            key = self._regex_keys.get((attr, literal))
            if key is None:
                try:
                    pattern = self.env.compile(literal, True).eval().value()
                    compiled = Matcher(pattern)
                except Exception:  # noqa: BLE001 - a bad pattern keeps the original call and its CEL error
                    continue
                key = f"k{len(self.regexes)}"
                self._regex_keys[(attr, literal)] = key
                self.regexes.append((key, attr, compiled))
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
            line, col, message = _first_error(str(exc))
            raise EngineError(f"{expr.position}: cel-cpp cannot compile {expr.where}: {message}") from None

    def _data(self, image: dict[str, Any], *, whole: bool = False) -> dict[str, Any]:
        keys = None if whole else self.keys
        rx = {}
        for key, attr, matcher in self.regexes:
            value = image.get(attr)
            if type(value) is str:
                # Matcher.__call__ inlined: this loop runs for every regex of every image
                fast = matcher.fast
                if fast is not None and value.isascii() and value.isprintable():
                    rx[key] = fast(value) is not None
                else:
                    rx[key] = matcher.re2.search(value) is not None
        if keys is None:
            return {"image": image, "now": self.now, "rx": rx}
        return {"image": {k: image[k] for k in keys if k in image}, "now": self.now, "rx": rx}

    def bind(self, image: dict[str, Any], index: int, cache: dict[str, Any]) -> Any:
        slot = "whole" if index >= 0 and self.whole[index] else "activation"  # -1: the image's shared one
        if slot not in cache:
            try:
                data = self._data(image, whole=True) if slot == "whole" else cache.get("data") or self._data(image)
                cache[slot] = self.env.Activation(data)
            except Exception as exc:  # noqa: BLE001 - pybind raises plain exceptions for unconvertible values
                cache[slot] = EvalFailure(f"cannot convert the image: {exc}")
        if isinstance(cache[slot], EvalFailure):
            raise cache[slot]
        return cache[slot]

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

    def evaluate(self, image: dict[str, Any], *, nul_free: bool = False
                 ) -> tuple[list[int], dict[int, list[Outcome]]]:
        cache: dict[str, Any] = {"data": self._data(image)}
        if not nul_free and _has_nul(cache["data"]["image"]):
            # cel-expr-python cuts strings at NUL ("a\x00b" has size 1 there): a name like
            # "ok-approved\x00..." would pass for what it is not. Such images go to the reference engine.
            return self._reference().evaluate(image)
        if self.combined is not None:
            try:
                activation = self.bind(image, -1, cache)
                value = self.combined.eval(activation)
            except EvalFailure:  # unconvertible image: judge_policy reports it per policy
                value = None
            if value is not None and value.type() != cel.Type.ERROR:
                raw = value.plain_value()
                if max(raw) <= 0:  # nothing failed: -1 and 0 are already SKIP and PASS
                    return raw, {}
                return self._decode(raw, image, cache)
        return self._per_policy(image, cache)

    def _reference(self) -> Engine:
        if self.reference is None:
            from imagelint._engine.celpython import CelPythonEngine

            self.reference = CelPythonEngine(self.policies, self.now)
        return self.reference

    def _decode(self, raw: list[int], image: dict[str, Any],
                cache: dict[str, Any]) -> tuple[list[int], dict[int, list[Outcome]]]:
        details = {index: self._failures(index, bits, image, cache) for index, bits in enumerate(raw) if bits > 0}
        return [FAIL if bits > 0 else bits for bits in raw], details

    def _failures(self, index: int, bits: int, image: dict[str, Any], cache: dict[str, Any]) -> list[Outcome]:
        """One FAIL finding per set bit of a policy's code (bit n: validation n was false)."""
        activation = self.bind(image, index, cache)
        return [(FAIL, n, self.message(index, n, activation)) for n in range(bits.bit_length()) if bits >> n & 1]

    def _per_policy(self, image: dict[str, Any],
                    cache: dict[str, Any]) -> tuple[list[int], dict[int, list[Outcome]]]:
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
