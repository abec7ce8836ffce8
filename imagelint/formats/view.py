"""Derived data that several reports share: the verdict, findings grouped by policy, the failing policies.

Computed once in Python rather than in each template: grouping 100,000 findings by policy with a Jinja
``for ... if`` per policy is quadratic, and the verdict must agree with ``judgement.gate.exit_code`` (the
only judge of a run), never with a template's own reading of the counters.

The findings in the context are ``FindingDicts``: each finding becomes its JSON dict only when a template
reaches it. A Markdown report shows ten findings per policy and a text report writes one line per finding;
neither needs 200,000 dicts at once (with them, at 100,000 images, the markdown and text reports
peaked 140 and 180 MB above the JSON report). The groups hold the findings' indexes (``Picked``), not the
findings: an audit's findings are spilled to disk (``judgement.spill``) and are read back only when a
template reaches them, so grouping an estate's million findings by policy costs 8 bytes each.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Any, overload

from imagelint.formats.estate import estate_view
from imagelint.judgement.gate import ExitCode, exit_code
from imagelint.judgement.result import Finding, RunResult, Severity, as_dict, finding_dict

SEVERITIES: tuple[str, ...] = tuple(s.label for s in sorted(Severity, reverse=True))
"""Severity labels, most severe first."""

VERDICT_TEXT = {
    "pass": "PASS",
    "fail": "FAIL",
    "incomplete": "INCOMPLETE",
}


GATE_OFF = "GATE OFF"


def verdict(result: RunResult) -> str:
    """``pass``, ``fail`` or ``incomplete``: the exit code's judgement in words. An incomplete run never
    passes, whatever was seen."""
    code = exit_code(result, result.fail_on)
    if code == ExitCode.SOURCE or not result.source.complete:
        return "incomplete"
    return "fail" if code == ExitCode.FINDINGS else "pass"


class FindingDicts(Sequence[dict[str, Any]]):
    """A read-only sequence of findings that yields each one's JSON dict (``finding_dict``) when reached.

    Templates use it like the list it stands for (``for``, ``| length``, ``[:10]``, truth); the dicts are
    made afresh at each access and dropped after, so memory holds only the ``Finding`` objects.
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = findings

    def __len__(self) -> int:
        return len(self.findings)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [finding_dict(f) for f in self.findings[index]]
        return finding_dict(self.findings[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(finding_dict, self.findings)


class Picked(Sequence[Finding]):
    """Some of a run's findings, by their indexes into ``findings``: read from it when reached, so that the
    findings of a spilled run stay on disk while the reports group them."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._findings = findings
        self._indexes = array("q")

    def append(self, index: int) -> None:
        self._indexes.append(index)

    def __len__(self) -> int:
        return len(self._indexes)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            return list(self._each(self._indexes[index]))
        return self._findings[self._indexes[index]]

    def __iter__(self) -> Iterator[Finding]:
        return self._each(self._indexes)

    def _each(self, indexes: array[int]) -> Iterator[Finding]:
        # runs of consecutive indexes are one slice: a spilled sequence reads a slice a block at a time
        i, n = 0, len(indexes)
        while i < n:
            j = i
            while j + 1 < n and indexes[j + 1] == indexes[j] + 1 and j - i < 255:
                j += 1
            if i == j:
                yield self._findings[indexes[i]]
            else:
                yield from self._findings[indexes[i] : indexes[j] + 1]
            i = j + 1


def build_view(result: RunResult, context: dict[str, Any]) -> dict[str, Any]:
    """The ``view`` key of our own templates' context (``context`` as ``context_with_view`` makes it).

    ``groups[policy]`` has ``open`` (findings that count), ``waived`` and ``baselined`` sequences of
    finding dicts (``FindingDicts``); ``failing`` lists the policy dicts with open findings, most severe and
    most frequent first; ``gating`` counts the open findings at or above ``--fail-on``.
    """
    every = result.findings

    def fresh() -> dict[str, Picked]:
        return {"open": Picked(every), "waived": Picked(every), "baselined": Picked(every)}

    kinds: dict[str, dict[str, Picked]] = {p["name"]: fresh() for p in context["policies"]}
    waived, baselined = Picked(every), Picked(every)
    threshold = None if result.fail_on == "never" else Severity.parse(result.fail_on)
    gating = 0
    for index, finding in enumerate(every):  # one pass, in order: a spilled run reads its file once here
        group = kinds.get(finding.policy) or kinds.setdefault(finding.policy, fresh())
        if finding.waiver is not None:
            group["waived"].append(index)
            waived.append(index)
        elif finding.baselined:
            group["baselined"].append(index)
            baselined.append(index)
        else:
            group["open"].append(index)
            if threshold is not None and finding.severity >= threshold:
                gating += 1
    groups = {name: {kind: FindingDicts(items) for kind, items in group.items()} for name, group in kinds.items()}
    rank = {label: i for i, label in enumerate(SEVERITIES)}
    failing = sorted(
        (p for p in context["policies"] if groups[p["name"]]["open"]),
        key=lambda p: (rank[p["severity"]], -len(groups[p["name"]]["open"]), p["name"]),
    )
    state = verdict(result)
    return {
        "verdict": state,
        # a pass with --fail-on never is no verdict at all: every format's headline says the gate is off
        "verdict_text": GATE_OFF if state == "pass" and result.fail_on == "never" else VERDICT_TEXT[state],
        "severities": list(SEVERITIES),
        "groups": groups,
        "failing": failing,
        "open": sum(len(g["open"]) for g in groups.values()),
        "gating": gating,
        "waived": FindingDicts(waived),
        "baselined": FindingDicts(baselined),
        "details": context["source"].get("details", {}),
        **estate_view(result),  # targets, repeats, compare: empty for check
    }


def context_with_view(result: RunResult) -> dict[str, Any]:
    """``as_dict(result)`` plus ``view``: the context of every built-in template (its ``findings`` a
    ``FindingDicts``)."""
    context = as_dict(result, findings=False)
    context["findings"] = FindingDicts(result.findings)
    context["view"] = build_view(result, context)
    return context
