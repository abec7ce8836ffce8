"""The reporter interface: a ``Reporter`` turns one ``RunResult`` into the text of one report.

Structured formats (JSON, SARIF) build data and serialise it; human and XML formats render a Jinja
template from ``reports/`` (see ``imagelint._format.templating``). Either way a reporter sees only the
result model, never the engine, the policies' CEL or the source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from imagelint._result import RunResult


class ReportError(Exception):
    """A report could not be rendered or written (bad template, unwritable path)."""


class Reporter(ABC):
    """Renders a run result. ``color`` is decided by the caller (terminal and ``NO_COLOR``)."""

    def __init__(self, *, color: bool = False) -> None:
        self.color = color

    @abstractmethod
    def render(self, result: RunResult) -> str:
        """Return the whole report as text (the CLI writes it to stdout or ``--output``)."""
