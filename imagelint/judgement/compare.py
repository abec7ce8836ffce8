"""``--compare PREVIOUS.json``: what changed since the last run (last night's audit, the last main build).

Findings are matched by ``result.key_of``, the identity baselines use too: (target, image id, policy,
validation), never the image's name. Each finding of this run is ``new`` or ``unchanged``. A previous
finding that is gone is ``resolved`` only when its target was read whole in both runs; where the target was
incomplete (now or then) or is not part of this run, it is ``unknown``: a region that failed tonight
must not read as "everything fixed".

A comparison only reports: it never changes the exit code. To gate on new findings only, write a baseline
(``--write-baseline``) and pass it (``--baseline``): the same identity, but accepted rather than compared.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from imagelint.judgement.reading import read_json, result_of
from imagelint.judgement.result import BaselineKey, Comparison, Finding, RunResult, key_of

STATES = ("new", "unchanged", "resolved", "unknown")


def complete_targets(result: RunResult) -> set[str | None]:
    """The targets read whole: named targets of an audit, or ``None`` for a complete ``check``."""
    if result.targets or result.audit is not None:
        return {t.name for t in result.targets if t.complete}
    return {None} if result.source.complete else set()


@dataclass(frozen=True)
class Previous:
    """The previous run, read and checked before this run reads any image."""

    file: str
    result: RunResult

    def apply(self, result: RunResult) -> RunResult:
        """``result`` with every finding's ``state`` and the ``comparison``."""
        before: dict[BaselineKey, Finding] = {}
        for f in self.result.findings:
            before.setdefault(key_of(f), f)
        now_keys: set[BaselineKey] = set()
        counts: dict[str, dict[str, dict[str, int]]] = {"policy": defaultdict(dict), "target": defaultdict(dict)}

        def count(f: Finding, state: str) -> None:
            for by, name in (("policy", f.policy), ("target", f.target or "")):
                row = counts[by][name]
                row[state] = row.get(state, 0) + 1

        findings = []
        for f in result.findings:
            key = key_of(f)
            now_keys.add(key)
            state = "unchanged" if key in before else "new"
            count(f, state)
            findings.append(replace(f, state=state))
        whole = complete_targets(self.result) & complete_targets(result)
        resolved: list[Finding] = []
        unknown: list[Finding] = []
        for key, f in before.items():
            if key in now_keys:
                continue
            state = "resolved" if key.target in whole else "unknown"
            (resolved if state == "resolved" else unknown).append(replace(f, state=state))
            count(f, state)

        def full(rows: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
            return {name: {s: row.get(s, 0) for s in STATES} for name, row in sorted(rows.items())}

        comparison = Comparison(
            previous=self.file,
            new=sum(1 for f in findings if f.state == "new"),
            unchanged=sum(1 for f in findings if f.state == "unchanged"),
            resolved=tuple(resolved),
            unknown=tuple(unknown),
            by_policy=full(counts["policy"]),
            by_target=full(counts["target"]),
        )
        return replace(result, findings=tuple(findings), comparison=comparison)


def compare_with(path: str) -> Previous:
    """Read the previous JSON result (``ResultFileError``, exit 2, when it is not one)."""
    return Previous(path, result_of(read_json(path), path))


def notes(result: RunResult) -> list[str]:
    """The stderr line of a comparison."""
    c = result.comparison
    if c is None:
        return []
    line = (
        f"imagelint: compared with {c.previous}: {c.new} new, {c.unchanged} unchanged, {len(c.resolved)} resolved, "
        f"{len(c.unknown)} unknown (their target was not read whole in both runs)"
    )
    return [line]
