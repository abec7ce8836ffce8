"""The reporter interface: a ``Reporter`` turns one ``RunResult`` into the text of one report.

Structured formats (JSON, SARIF) build data and serialise it; human and XML formats render a Jinja
template from ``reports/`` (see ``imagelint.formats.templating``). Either way a reporter sees only the
result model, never the engine, the policies' CEL or the source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from imagelint.judgement.result import RunResult

BATCH = 1000
"""Findings per piece of a report written piece by piece (``Reporter.chunks``)."""


class ReportError(Exception):
    """A report could not be rendered or written (bad template, unwritable path)."""


class Reporter(ABC):
    """Renders a run result. ``color`` is decided by the caller (terminal and ``NO_COLOR``)."""

    def __init__(self, *, color: bool = False) -> None:
        self.color = color

    @abstractmethod
    def chunks(self, result: RunResult) -> Iterator[str]:
        """The report in pieces; the CLI writes them as they come, so a reporter that produces its text
        piece by piece never holds a large report in memory."""

    def render(self, result: RunResult) -> str:
        """The whole report as text."""
        return "".join(self.chunks(result))
