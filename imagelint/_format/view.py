"""Derived data that several reports share: the verdict, findings grouped by policy, the failing policies.

Computed once in Python rather than in each template: grouping 100,000 findings by policy with a Jinja
``for ... if`` per policy is quadratic, and the verdict must agree with ``_gate.exit_code`` (the only judge
of a run), never with a template's own reading of the counters.
"""

from __future__ import annotations

from typing import Any

from imagelint._gate import ExitCode, exit_code
from imagelint._result import RunResult, Severity, as_dict

SEVERITIES: tuple[str, ...] = tuple(s.label for s in sorted(Severity, reverse=True))
"""Severity labels, most severe first."""

VERDICT_TEXT = {
    "pass": "PASS",
    "fail": "FAIL",
    "incomplete": "INCOMPLETE",
}


def verdict(result: RunResult) -> str:
    """``pass``, ``fail`` or ``incomplete``: the exit code's judgement in words. An incomplete run never
    passes, whatever was seen."""
    code = exit_code(result, result.fail_on)
    if code == ExitCode.SOURCE or not result.source.complete:
        return "incomplete"
    return "fail" if code == ExitCode.FINDINGS else "pass"


def build_view(result: RunResult, context: dict[str, Any]) -> dict[str, Any]:
    """The ``view`` key of our own templates' context, built from ``context = as_dict(result)``.

    ``groups[policy]`` has ``open`` (findings that count), ``waived`` and ``baselined`` lists of the
    finding dicts of ``context``; ``failing`` lists the policy dicts with open findings, most severe and
    most frequent first; ``gating`` counts the open findings at or above ``--fail-on``.
    """
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {
        p["name"]: {"open": [], "waived": [], "baselined": []} for p in context["policies"]}
    waived: list[dict[str, Any]] = []
    baselined: list[dict[str, Any]] = []
    threshold = None if result.fail_on == "never" else Severity.parse(result.fail_on)
    gating = 0
    for finding in context["findings"]:
        group = groups.setdefault(finding["policy"], {"open": [], "waived": [], "baselined": []})
        if finding["waived"]:
            group["waived"].append(finding)
            waived.append(finding)
        elif finding["baselined"]:
            group["baselined"].append(finding)
            baselined.append(finding)
        else:
            group["open"].append(finding)
            if threshold is not None and Severity.parse(finding["severity"]) >= threshold:
                gating += 1
    rank = {label: i for i, label in enumerate(SEVERITIES)}
    failing = sorted((p for p in context["policies"] if groups[p["name"]]["open"]),
                     key=lambda p: (rank[p["severity"]], -len(groups[p["name"]]["open"]), p["name"]))
    state = verdict(result)
    return {
        "verdict": state,
        "verdict_text": VERDICT_TEXT[state],
        "severities": list(SEVERITIES),
        "groups": groups,
        "failing": failing,
        "open": sum(len(g["open"]) for g in groups.values()),
        "gating": gating,
        "waived": waived,
        "baselined": baselined,
        "details": context["source"].get("details", {}),
    }


def context_with_view(result: RunResult) -> dict[str, Any]:
    """``as_dict(result)`` plus ``view``: the context of every built-in template."""
    context = as_dict(result)
    context["view"] = build_view(result, context)
    return context
