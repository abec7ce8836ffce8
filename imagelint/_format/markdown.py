"""The Markdown reporter: a verdict, summary tables and the top failing policies, for pull requests and
``$GITHUB_STEP_SUMMARY`` (which holds at most 1 MiB, hence the caps).

Rendered from ``reports/markdown.md.j2``; untrusted values are code spans (see ``escape.md_code``).
"""

from __future__ import annotations

from imagelint._format.interface import Reporter
from imagelint._format.templating import render
from imagelint._format.view import context_with_view
from imagelint._result import RunResult

TOP_POLICIES = 10
"""Failing policies listed with their images; the rest are counted."""
IMAGES_PER_POLICY = 10
"""Findings listed per policy; the rest are counted ("and N more")."""


class MarkdownReporter(Reporter):
    def render(self, result: RunResult) -> str:
        context = context_with_view(result)
        context["caps"] = {"policies": TOP_POLICIES, "images": IMAGES_PER_POLICY}
        return render("markdown.md.j2", context)
