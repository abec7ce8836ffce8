"""Output formats: an Enum of names, each mapped to one ``Reporter`` class.

``outputs`` turns ``--format``/``--output``/``--report``/``--template`` into the list of reports one run
writes; ``escape`` holds the escaping of untrusted text for each syntax.
"""

from __future__ import annotations

import enum

from imagelint.formats.csv import CsvReporter
from imagelint.formats.github import GithubReporter
from imagelint.formats.html import HtmlReporter
from imagelint.formats.interface import Reporter, ReportError
from imagelint.formats.json import JsonReporter
from imagelint.formats.junit import JunitReporter
from imagelint.formats.markdown import MarkdownReporter
from imagelint.formats.sarif import SarifReporter
from imagelint.formats.text import TextReporter


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
