"""The policy model: what a loaded, validated ``imagelint/v1`` policy document is.

Built only by ``imagelint.policy.loader``; engines compile it, the evaluator runs it, reporters see its
``info()``. Frozen, so a policy cannot change between compilation and evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lark

from imagelint.judgement.result import PolicyInfo, Remediation, Severity


@dataclass(frozen=True)
class Position:
    """A 1-based place in a file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, eq=False)
class Expr:
    """One CEL expression of a policy, with where it sits in its YAML file."""

    source: str
    """The expression as engines run it: standard CEL (image library calls expanded, see ``policy.library``)."""
    where: str
    """Its path inside the document, e.g. ``spec.validations[1].expression``."""
    position: Position
    """Where the expression's text starts in the file."""
    tree: lark.Tree
    attributes: frozenset[str]
    """Image attributes this expression reads (``image.X``, ``image["X"]``)."""
    whole_image: bool
    """True if it uses ``image`` as a whole (then engines must pass every attribute)."""
    variables: frozenset[str]
    """``variables.NAME`` references."""
    shape_only: frozenset[str] = frozenset()
    """Attributes only tested by ``has()``, ``type()`` or ``"X" in image``: their value does not matter."""
    matched: frozenset[str] = frozenset()
    """Attributes otherwise only matched against literal patterns: the results of ``image.X.matches("...")``
    are all that matters of their value."""
    offset_to_position: Any = field(repr=False, compare=False, default=None)
    """Callable mapping an offset in ``source`` to a ``Position`` in the file."""
    written: str = ""
    """The expression as written in the file (``source`` when it calls no library expansion)."""
    written_tree: lark.Tree | None = field(repr=False, compare=False, default=None)
    """The parse tree of ``written``."""
    written_to_position: Any = field(repr=False, compare=False, default=None)
    """Callable mapping an offset in ``written`` to a ``Position`` in the file."""

    @property
    def text(self) -> str:
        """What a reader wrote: for ``explain`` and messages."""
        return self.written or self.source

    def at(self, offset: int) -> Position:
        return self.offset_to_position(offset) if self.offset_to_position else self.position


@dataclass(frozen=True)
class Variable:
    name: str
    expression: Expr


@dataclass(frozen=True)
class Validation:
    expression: Expr
    message: str | None
    message_expression: Expr | None


@dataclass(frozen=True)
class Policy:
    """A validated policy document."""

    name: str
    title: str
    severity: Severity
    description: str
    references: tuple[str, ...]
    labels: Mapping[str, str]
    params: Mapping[str, Any]
    """Declared defaults merged with ``--param`` overrides."""
    match: Expr | None
    variables: tuple[Variable, ...]
    validations: tuple[Validation, ...]
    position: Position
    """Where the document starts (its first key)."""
    declared_params: frozenset[str] = frozenset()
    remediation: Remediation | None = None
    """How to fix a finding (``metadata.remediation``), if the policy says."""

    def expressions(self, *, messages: bool = True) -> list[Expr]:
        """Every expression of the policy, in evaluation order (``messages=False``: those that decide)."""
        out = [self.match] if self.match else []
        out += [v.expression for v in self.variables]
        for v in self.validations:
            out.append(v.expression)
            if v.message_expression and messages:
                out.append(v.message_expression)
        return out

    def attributes(self, *, messages: bool = True) -> frozenset[str] | None:
        """The image attributes the policy reads, or ``None`` when it needs the whole image.

        With ``messages=False``, only what decides the verdict (messages are evaluated for failures only).
        """
        exprs = self.expressions(messages=messages)
        if any(e.whole_image for e in exprs):
            return None
        return frozenset().union(*(e.attributes for e in exprs))

    def shape_only(self, *, messages: bool = True) -> frozenset[str]:
        """Attributes that no expression reads the value of (only presence or type), e.g. a ``has()`` guard."""
        exprs = self.expressions(messages=messages)
        valued = frozenset().union(*(e.attributes - e.shape_only for e in exprs))
        return frozenset().union(*(e.shape_only for e in exprs)) - valued

    def matched_only(self, *, messages: bool = True) -> frozenset[str]:
        """Attributes read only through ``matches("literal")`` (besides presence and type tests)."""
        exprs = self.expressions(messages=messages)
        valued = frozenset().union(*(e.attributes - e.shape_only - e.matched for e in exprs))
        return frozenset().union(*(e.matched for e in exprs)) - valued

    def info(self) -> PolicyInfo:
        return PolicyInfo(
            name=self.name,
            title=self.title,
            severity=self.severity,
            description=self.description,
            references=self.references,
            labels=dict(self.labels),
            file=self.position.file,
            line=self.position.line,
            match_line=self.match.position.line if self.match else None,
            validation_lines=tuple(v.expression.position.line for v in self.validations),
            remediation=self.remediation,
        )
