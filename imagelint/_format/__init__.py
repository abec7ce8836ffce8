"""Output formats: an Enum of names, each mapped to one ``Reporter`` class."""

from __future__ import annotations

import enum

from imagelint._format.interface import Reporter, ReportError
from imagelint._format.json import JsonReporter
from imagelint._format.text import TextReporter


class OutputFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"

    def reporter(self, *, color: bool = False) -> Reporter:
        """The reporter for this format; every member maps (a test checks that)."""
        classes: dict[OutputFormat, type[Reporter]] = {
            OutputFormat.TEXT: TextReporter,
            OutputFormat.JSON: JsonReporter,
        }
        return classes[self](color=color)


__all__ = ["OutputFormat", "ReportError", "Reporter"]
