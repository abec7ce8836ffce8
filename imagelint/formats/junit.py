"""The JUnit XML reporter, for the test tabs of Jenkins, GitLab and friends.

One ``testsuite`` per audit target (read whole? which policies does it fail?), then one per policy;
 one ``testcase`` per failing or erroring image (its findings for that policy
joined), waived/baselined images as skipped testcases, and one aggregate testcase each for the passing
and the skipped images, so a test tab stays readable at 100,000 images. Rendered from
``reports/junit.xml.j2``; valid against the Ant JUnit schema (``tests/data/JUnit.xsd``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from imagelint.formats.templating import BuiltinTemplateReporter
from imagelint.formats.view import FindingDicts, context_with_view
from imagelint.judgement.result import Finding, RunResult, Status


class JunitReporter(BuiltinTemplateReporter):
    template = "junit.xml.j2"

    def context(self, result: RunResult) -> dict[str, Any]:
        context = context_with_view(result)
        s = context["summary"]
        context["summary_line"] = (
            f"{s['images']} images, {s['policies']} policies: {s['pass']} pass, "
            f"{s['fail']} fail, {s['skip']} skip, {s['error']} error; "
            f"verdict {context['view']['verdict_text']}"
        )
        # the schema wants a local time without zone: ``now`` is UTC, its first 19 characters fit
        context["timestamp"] = result.now[:19]
        context["hostname"] = _hostname(result)
        context["suites"] = _Suites(context["policies"], context["view"]["groups"])
        context["target_suites"] = target_suites(result)
        return context


def target_suites(result: RunResult) -> list[dict[str, Any]]:
    """An audit's suite per target: whether it was read whole, and a testcase per policy it fails."""
    if not result.targets:
        return []
    open_findings: dict[tuple[str | None, str], int] = {}
    for f in result.findings:
        if not f.suppressed:
            open_findings[(f.target, f.policy)] = open_findings.get((f.target, f.policy), 0) + 1
    suites = []
    for target in result.targets:
        cases: list[dict[str, Any]] = [
            {
                "name": "read completely",
                "kind": "pass" if target.complete else "error",
                "type": "incomplete",
                "message": f"INCOMPLETE: {target.error}",
                "text": f"the target was not read completely, so this run cannot pass: {target.error}",
            }
        ]
        for p in result.policies:
            n = open_findings.get((target.name, p.name), 0)
            case = {"name": p.name, "kind": "failure" if n else "pass", "type": "fail"}
            case["message"] = case["text"] = _count(n, "image fails", "images fail")
            cases.append(case)
        suites.append(
            {
                "name": target.name,
                "target": target,
                "cases": cases,
                "tests": len(cases),
                "failures": sum(c["kind"] == "failure" for c in cases),
                "errors": sum(c["kind"] == "error" for c in cases),
            }
        )
    return suites


class _Suites(Mapping[str, dict[str, Any]]):
    """Each policy's suite, made when the template reaches it: one policy's testcases at a time."""

    def __init__(self, policies: list[dict[str, Any]], groups: dict[str, dict[str, FindingDicts]]) -> None:
        self.policies = {p["name"]: p for p in policies}
        self.groups = groups

    def __getitem__(self, name: str) -> dict[str, Any]:
        return _suite(self.policies[name], self.groups[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)


def _hostname(result: RunResult) -> str:
    """The host the images came from (the API endpoint's host), ``localhost`` for snapshots: the machine
    that ran imagelint is noise in a report and would make outputs differ between CI runners."""
    if result.source.kind == "api":
        host = urlsplit(result.source.location).hostname
        if host:
            return host
    return "localhost"


def _suite(policy: dict[str, Any], group: dict[str, FindingDicts]) -> dict[str, Any]:
    """One policy's suite: its counts from a first pass that keeps only the failing images' keys, then its
    testcases made as the template reaches them (a second pass), so that no policy's findings are held at
    once: an estate's policy can fail hundreds of thousands of images."""
    open_findings, suppressed = group["open"].findings, [group["waived"].findings, group["baselined"].findings]
    failing: set[tuple[str | None, str]] = set()  # an audit's image is one per target
    failures = errors = skipped = 0
    for key, errored in _runs(open_findings):
        failing.add(key)
        errors += errored
        failures += not errored
    listed = set(failing)
    for findings in suppressed:
        for finding in findings:
            key = (finding.target, finding.image.id)
            if key not in listed:
                listed.add(key)
                skipped += 1
    del listed
    aggregates: list[dict[str, Any]] = []
    if policy["pass"] or not (failures or errors or skipped):
        aggregates.append({"name": _count(policy["pass"], "image passes", "images pass"), "kind": "pass"})
    if policy["skip"]:
        aggregates.append(
            {
                "name": _count(policy["skip"], "image not matched", "images not matched"),
                "kind": "skipped",
                "message": "spec.match is false for these images",
                "text": "",
            }
        )
    return {
        "cases": _Cases(open_findings, suppressed, failing, aggregates),
        "tests": failures + errors + skipped + len(aggregates),
        "failures": failures,
        "errors": errors,
        "skipped": skipped + sum(c["kind"] == "skipped" for c in aggregates),
    }


def _runs(findings: Sequence[Finding]) -> Iterator[tuple[tuple[str | None, str], bool]]:
    """``(key, errored)`` per testcase of the open findings: one image's findings for a policy are judged
    together, so they are consecutive (any later run of the same image is a testcase of its own, counted
    alike by both passes)."""
    for key, run in _grouped(findings):
        yield key, any(f.status is Status.ERROR for f in run)


def _grouped(findings: Sequence[Finding]) -> Iterator[tuple[tuple[str | None, str], list[Finding]]]:
    run: list[Finding] = []
    key: tuple[str | None, str] | None = None
    for finding in findings:
        this = (finding.target, finding.image.id)
        if run and this != key:
            yield cast(tuple[str | None, str], key), run
            run = []
        key = this
        run.append(finding)
    if run:
        yield cast(tuple[str | None, str], key), run


class _Cases:
    """A suite's testcases, made afresh each time the template iterates them."""

    def __init__(
        self,
        open_findings: Sequence[Finding],
        suppressed: list[Sequence[Finding]],
        failing: set[tuple[str | None, str]],
        aggregates: list[dict[str, Any]],
    ) -> None:
        self.open, self.suppressed, self.failing, self.aggregates = open_findings, suppressed, failing, aggregates

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _, findings in _grouped(self.open):
            errored = any(f.status is Status.ERROR for f in findings)
            yield {
                "name": _case_name(findings[0]),
                "kind": "error" if errored else "failure",
                "type": "error" if errored else "fail",
                "message": findings[0].message,
                "text": "\n".join(f"{f.status.value}: {f.message}" for f in findings) + _fix(findings[0]),
            }
        listed: set[tuple[str | None, str]] = set()
        for group in self.suppressed:
            for finding in group:
                key = (finding.target, finding.image.id)
                if key in self.failing or key in listed:
                    continue  # the image already fails this policy; its suppressed findings add nothing to the tab
                listed.add(key)
                reason = (
                    f"waived: {finding.waiver.reason}"
                    if finding.waiver is not None
                    else "baselined: recorded in the baseline"
                )
                yield {"name": _case_name(finding), "kind": "skipped", "message": reason, "text": finding.message}
        yield from self.aggregates


def _fix(finding: Finding) -> str:
    """The remediation under a failure's text (the template escapes it for XML like the rest)."""
    fix = finding.remediation
    if fix is None:
        return ""
    commands = "".join(f"\n  {cloud}: {command}" for cloud, command in fix.filled(finding.image).items())
    return f"\n\nHow to fix: {fix.text}{commands}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _case_name(finding: Finding) -> str:
    name = finding.image.name
    shown = f"{name if name is not None else '(no name)'} ({finding.image.id})"
    return shown if finding.target is None else f"{finding.target}: {shown}"
