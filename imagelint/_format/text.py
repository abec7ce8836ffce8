"""The text reporter: failing (policy, image) lines grouped by policy, then a per-policy table and the verdict.

Rendered from ``reports/text.j2``; image names pass through the ``tsafe`` filter because a terminal
interprets escape sequences that a hostile image name could carry.
"""

from __future__ import annotations

from imagelint._format.interface import Reporter
from imagelint._format.templating import render
from imagelint._format.view import context_with_view
from imagelint._result import RunResult


class TextReporter(Reporter):
    def render(self, result: RunResult) -> str:
        context = context_with_view(result)
        context["name_width"] = max([len(p["name"]) for p in context["policies"]] + [6])
        return render("text.j2", context, color=self.color)
