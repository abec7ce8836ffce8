"""The engine interface: compile a set of policies once, then judge images one by one.

An engine supplies three primitives — compile an expression, bind one image (and a policy's params) into
an activation, run a program on an activation — and inherits the one definition of a verdict from
``Engine.judge_policy``, so both engines share the semantics and differ only in how fast they get there:

* skip when ``match`` is false; pass when every validation is true;
* fail, with one finding per false validation (message from ``messageExpression``, else ``message``, else
  the expression text; a failing ``messageExpression`` falls back and says so);
* error when an expression raises or returns a non-bool: one error finding per such expression. An error
  in ``match`` is one finding with ``validation = None``.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from imagelint.policy.model import Expr, Policy

SKIP, PASS, FAIL, ERROR = -1, 0, 1, 2
"""Verdict codes per (policy, image); small ints because the evaluator counts millions of them."""

Outcome = tuple[int, "int | None", str]
"""One finding: (FAIL or ERROR, validation index or None for match, message)."""


class EngineError(Exception):
    """An engine is unavailable or could not compile a policy set."""


class EvalFailure(Exception):
    """An expression raised at run time (missing key, no matching overload, bad conversion)."""


class NonBool:
    """A result that is not a bool, kept only for its type name in the error message."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


class Engine(ABC):
    """A CEL engine bound to one policy set and one ``now``."""

    name: ClassVar[str]

    def __init__(self, policies: Sequence[Policy], now: dt.datetime) -> None:
        self.policies = list(policies)
        self.now = now
        self.programs: dict[int, Any] = {}
        for policy in self.policies:
            for expr in policy.expressions():
                self.programs[id(expr)] = self.compile(expr, policy)

    # --- primitives -------------------------------------------------------------------------------

    @abstractmethod
    def compile(self, expr: Expr, policy: Policy) -> Any:
        """Compile one expression of ``policy`` (raise ``EngineError`` if it cannot)."""

    @abstractmethod
    def bind(self, image: dict[str, Any], index: int, cache: dict[str, Any]) -> Any:
        """The activation for ``image`` under policy ``index``; ``cache`` lives for one image."""

    @abstractmethod
    def run(self, program: Any, activation: Any) -> Any:
        """Evaluate: a Python ``bool``/``str``, a ``NonBool``, or raise ``EvalFailure``."""

    # --- the shared semantics ---------------------------------------------------------------------

    def evaluate(self, image: dict[str, Any], *, plain: bool = False) -> tuple[list[int], dict[int, list[Outcome]]]:
        """Judge ``image`` under every policy: verdict codes, and findings for the failing ones.

        ``plain``: the source vouches that no string in the image holds a NUL or a lone surrogate and no
        integer lies outside int64/uint64 (``imagelint.sources.jsontext``).
        """
        codes: list[int] = []
        details: dict[int, list[Outcome]] = {}
        cache: dict[str, Any] = {}
        for index in range(len(self.policies)):
            code, outcomes = self.judge_policy(index, image, cache)
            codes.append(code)
            if outcomes:
                details[index] = outcomes
        return codes, details

    def judge_policy(self, index: int, image: dict[str, Any], cache: dict[str, Any]) -> tuple[int, list[Outcome]]:
        policy = self.policies[index]
        try:
            activation = self.bind(image, index, cache)
        except EvalFailure as exc:
            return ERROR, [(ERROR, None, f"image could not be passed to CEL: {exc}")]
        if policy.match is not None:
            value = self._value(policy.match, activation)
            if not isinstance(value, bool):
                return ERROR, [(ERROR, None, _problem(policy.match, value))]
            if not value:
                return SKIP, []
        outcomes: list[Outcome] = []
        errored = False
        for number, validation in enumerate(policy.validations):
            value = self._value(validation.expression, activation)
            if value is True:
                continue
            if value is False:
                outcomes.append((FAIL, number, self.message(index, number, activation)))
            else:
                errored = True
                outcomes.append((ERROR, number, _problem(validation.expression, value)))
        return (ERROR if errored else FAIL if outcomes else PASS), outcomes

    def message(self, index: int, number: int, activation: Any) -> str:
        validation = self.policies[index].validations[number]
        fallback = validation.message or validation.expression.text.strip()
        if validation.message_expression is None:
            return fallback
        value = self._value(validation.message_expression, activation)
        if isinstance(value, str) and not isinstance(value, bool):
            return value
        why = value if isinstance(value, EvalFailure) else f"returned {_type_name(value)}, expected string"
        return f"{fallback} (messageExpression failed: {why})"

    def _value(self, expr: Expr, activation: Any) -> Any:
        try:
            return self.run(self.programs[id(expr)], activation)
        except EvalFailure as exc:
            return exc


def _type_name(value: Any) -> str:
    if isinstance(value, NonBool):
        return value.type_name
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else type(value).__name__


def _problem(expr: Expr, value: Any) -> str:
    if isinstance(value, EvalFailure):
        return f"{expr.where} raised: {value}"
    return f"{expr.where} returned {_type_name(value)}, expected bool"
