"""The HTML reporter: one self-contained page for people (managers, auditors) and CI artefact stores.

Rendered from ``reports/html.html.j2`` with autoescaping. The page's CSS and script come from
``reports/html-report.css.j2`` and ``reports/html-report.js.j2``; their SHA-256 hashes go into a
Content-Security-Policy that allows nothing else: no external load, no other inline script. Should an
image name ever get past escaping, the browser would still refuse to run it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from markupsafe import Markup

from imagelint.formats.templating import BuiltinTemplateReporter, environment
from imagelint.formats.view import SEVERITIES, context_with_view
from imagelint.judgement.result import RunResult

ROWS_PER_POLICY = 100
"""Finding rows per policy (and per waived/baselined list); the rest are counted, keeping the DOM small."""
CHART_POLICIES = 12
"""Policies in the by-policy chart, most findings first."""
CHART_WIDTH = 300
"""Width in SVG units of the longest bar."""


def _asset(name: str) -> str:
    # rendered through Jinja (not read as a file) so an installed package finds it like any template
    return environment().get_template(name).render().strip()


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


class HtmlReporter(BuiltinTemplateReporter):
    template = "html.html.j2"

    def context(self, result: RunResult) -> dict[str, Any]:
        context = context_with_view(result)
        css, js = _asset("html-report.css.j2"), _asset("html-report.js.j2")
        context.update(
            {
                "css": Markup(css),
                "js": Markup(js),
                "csp": (
                    f"default-src 'none'; script-src {_hash(js)}; style-src {_hash(css)}; img-src 'none'; "
                    "base-uri 'none'; form-action 'none'"
                ),
                "caps": {"rows": ROWS_PER_POLICY},
                "ranks": {label: len(SEVERITIES) - i for i, label in enumerate(SEVERITIES)},
                # anchors by position: a policy name never ends up inside an id or a URL fragment
                "anchors": {p["name"]: i for i, p in enumerate(context["policies"], 1)},
                "charts": _charts(context),
            }
        )
        return context


def _charts(context: dict[str, Any]) -> dict[str, Any]:
    by_severity = context["summary"]["by_severity"]
    groups = context["view"]["groups"]
    totals = sorted(
        ((sum(len(v) for v in groups[p["name"]].values()), p) for p in context["policies"]),
        key=lambda t: (-t[0], t[1]["name"]),
    )
    totals = [t for t in totals if t[0]]

    def bars(items: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
        top = max([count for _, count, _ in items] + [1])
        return [
            {"label": label, "count": count, "severity": severity, "width": round(count / top * CHART_WIDTH)}
            for label, count, severity in items
        ]

    return {
        "severity": bars([(s, by_severity.get(s, 0), s) for s in SEVERITIES]),
        "policy": bars([(p["name"], count, p["severity"]) for count, p in totals[:CHART_POLICIES]]),
        "more_policies": len(totals) > CHART_POLICIES,
    }
