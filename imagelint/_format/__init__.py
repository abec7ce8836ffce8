"""Output formats: an Enum of names, each mapped to one ``Reporter`` class.

``outputs`` turns ``--format``/``--output``/``--report``/``--template`` into the list of reports one run
writes; ``escape`` holds the escaping of untrusted text for each syntax.
"""

from __future__ import annotations

import enum

from imagelint._format.csv import CsvReporter
from imagelint._format.github import GithubReporter
from imagelint._format.html import HtmlReporter
from imagelint._format.interface import Reporter, ReportError
from imagelint._format.json import JsonReporter
from imagelint._format.junit import JunitReporter
from imagelint._format.markdown import MarkdownReporter
from imagelint._format.sarif import SarifReporter
from imagelint._format.text import TextReporter


class OutputFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    JUNIT = "junit"
    SARIF = "sarif"
    CSV = "csv"
    GITHUB = "github"

    def reporter(self, *, color: bool = False) -> Reporter:
        """The reporter for this format; every member maps (a test checks that)."""
        classes: dict[OutputFormat, type[Reporter]] = {
            OutputFormat.TEXT: TextReporter,
            OutputFormat.JSON: JsonReporter,
            OutputFormat.MARKDOWN: MarkdownReporter,
            OutputFormat.HTML: HtmlReporter,
            OutputFormat.JUNIT: JunitReporter,
            OutputFormat.SARIF: SarifReporter,
            OutputFormat.CSV: CsvReporter,
            OutputFormat.GITHUB: GithubReporter,
        }
        return classes[self](color=color)


FORMAT_CHOICES: tuple[str, ...] = ("auto", *(f.value for f in OutputFormat))
"""What ``--format`` and ``--report FORMAT=...`` accept: ``auto`` picks at run time (see ``outputs``)."""

__all__ = ["FORMAT_CHOICES", "OutputFormat", "ReportError", "Reporter"]
