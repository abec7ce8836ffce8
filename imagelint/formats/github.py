"""The GitHub Actions reporter: ``::error``/``::warning`` workflow commands that become annotations.

critical, high and medium findings are errors, low and info warnings. Annotations sit on the line of the
validation that failed, in the policy file, when that file is in the repository; the image is named in the
message. Rendered from ``reports/github.j2``.

GitHub shows at most 10 error, 10 warning and 10 notice annotations per step and 50 per job; the rest are
only log lines. So each policy gets at most ``PER_POLICY`` lines, most severe policies first, then one
notice counting the images left out: a fleet of 100,000 images would otherwise write 200,000 commands
into the job log (49 MB) for nobody to read. Every finding is in the other formats.
"""

from __future__ import annotations

from typing import Any

from imagelint.formats.locations import relative_path, repository_root
from imagelint.formats.templating import BuiltinTemplateReporter
from imagelint.formats.view import context_with_view
from imagelint.judgement.result import RunResult

PER_POLICY = 50
"""Annotations per policy (GitHub's limit per job); the rest of the policy's findings are counted."""


class GithubReporter(BuiltinTemplateReporter):
    template = "github.j2"

    def context(self, result: RunResult) -> dict[str, Any]:
        context = context_with_view(result)
        root = repository_root()
        context["paths"] = {p["name"]: relative_path(p["file"], root) for p in context["policies"]}
        # a finding's annotation sits on its validation's expression (spec.match's when the match errored)
        context["line_of"] = {p.name: p.line_of for p in result.policies}
        waivers = [*context["waivers"]["expired"], *context["waivers"]["stale"]]
        context["waiver_paths"] = {w["file"]: relative_path(w["file"], root) for w in waivers}
        context["caps"] = {"per_policy": PER_POLICY}
        return context
