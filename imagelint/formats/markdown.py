"""The Markdown reporter: a verdict, summary tables and the top failing policies, for pull requests and
``$GITHUB_STEP_SUMMARY`` (which holds at most 1 MiB, hence the caps).

Rendered from ``reports/markdown.md.j2``; untrusted values are code spans (see ``escape.md_code``).
"""

from __future__ import annotations

from typing import Any

from imagelint.formats.templating import BuiltinTemplateReporter
from imagelint.formats.view import context_with_view
from imagelint.judgement.result import RunResult

TOP_POLICIES = 10
"""Failing policies listed with their images; the rest are counted."""
IMAGES_PER_POLICY = 10
"""Findings listed per policy; the rest are counted ("and N more")."""
TARGETS = 50
"""Targets (and rows of the comparison's tables) listed; incomplete and failing ones first."""


class MarkdownReporter(BuiltinTemplateReporter):
    template = "markdown.md.j2"

    def context(self, result: RunResult) -> dict[str, Any]:
        context = context_with_view(result)
        context["caps"] = {"policies": TOP_POLICIES, "images": IMAGES_PER_POLICY, "targets": TARGETS}
        return context
