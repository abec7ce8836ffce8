"""The text reporter: failing (policy, image) lines grouped by policy, then a per-policy table.

Rendered from ``reports/text.j2``; image names pass through the ``tsafe`` filter because a terminal
interprets escape sequences that a hostile image name could carry.
"""

from __future__ import annotations

from imagelint._format.interface import Reporter
from imagelint._format.templating import render
from imagelint._result import RunResult, as_dict


class TextReporter(Reporter):
    def render(self, result: RunResult) -> str:
        context = as_dict(result)
        width = max([len(p["name"]) for p in context["policies"]] + [6])
        context["name_width"] = width
        return render("text.j2", context, color=self.color)
