"""The text reporter: failing (policy, image) lines grouped by policy, then a per-policy table and the verdict.

Rendered from ``reports/text.j2``; image names pass through the ``tsafe`` filter because a terminal
interprets escape sequences that a hostile image name could carry.
"""

from __future__ import annotations

from typing import Any

from imagelint.formats.templating import BuiltinTemplateReporter
from imagelint.formats.view import context_with_view
from imagelint.judgement.result import RunResult


class TextReporter(BuiltinTemplateReporter):
    template = "text.j2"

    def context(self, result: RunResult) -> dict[str, Any]:
        context = context_with_view(result)
        context["name_width"] = max([len(p["name"]) for p in context["policies"]] + [6])
        return context
