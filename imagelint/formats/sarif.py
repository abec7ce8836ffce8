"""The SARIF 2.1.0 reporter, shaped for GitHub code scanning.

Built as data and serialised (no template). Each policy is a rule (``tool.driver.rules``) with its title,
description, references, a ``defaultConfiguration.level`` and a ``security-severity`` from its severity;
each finding is a result whose physical location is the policy file, on the line where the failing
validation's expression starts (``spec.match``'s when the match errored; GitHub rejects results without a
physical location), and whose logical location is the image. ``partialFingerprints`` hash policy, image id and
validation, so the same finding keeps its alert across runs however the policy file's lines move.
Waived and baselined findings carry a SARIF ``suppressions`` entry instead of being dropped.

The log is indented for people except ``results``: one compact line per result, written in batches
(``chunks``). At 200,000 findings, serialising the whole log with ``indent`` took 35 s and 2.5 GB here
(``indent`` forces the pure-Python encoder, and the log was one string).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imagelint.formats.escape import md_code, md_text, sarif_text
from imagelint.formats.interface import Reporter
from imagelint.formats.json import json_lines
from imagelint.formats.locations import relative_path, repository_root
from imagelint.formats.view import verdict
from imagelint.judgement.result import Finding, PolicyInfo, RunResult, Severity, as_dict, remediation_dict

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

# GitHub buckets security-severity as critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9; the
# values sit inside those ranges so the alert shows the policy's own severity (info: 0.0, below "low").
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}
# Same split as the github format: critical to medium are errors, low a warning, info a note.
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "error",
    Severity.LOW: "warning",
    Severity.INFO: "note",
}


def fingerprint(finding: Finding) -> str:
    """Stable identity of a finding across runs: policy, image id and validation, never its message
    (which may carry an age or a timestamp that changes every run) nor the policy file's line."""
    parts = (finding.policy, finding.image.id, "match" if finding.validation is None else str(finding.validation))
    # an audit's finding is also keyed by its target (one public image is seen from many projects);
    # without a target the key is what it always was, so check's alerts keep their identity
    key = "\0".join(parts if finding.target is None else (*parts, "target", finding.target))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SarifReporter(Reporter):
    def chunks(self, result: RunResult) -> Iterator[str]:
        head = json.dumps(sarif_log(result, results=False), indent=2, ensure_ascii=False)
        marker = '"results": []'
        # the first one is ours: tool.driver and invocations, which come before it, have no such key
        before, after = head.split(marker, 1)
        # with --compare, the previous run's resolved findings follow as "absent" results
        findings = result.findings  # a spilled audit's findings are read a batch at a time
        if result.comparison is not None and result.comparison.resolved:
            findings = [*findings, *result.comparison.resolved]
        if not findings:
            yield head + "\n"
            return
        yield before + '"results": ['
        yield from json_lines(findings, _results(result), "\n" + " " * 8)  # at $.runs[0].results[n]
        yield "\n      ]" + after + "\n"


def sarif_log(result: RunResult, *, results: bool = True) -> dict[str, Any]:
    """The whole SARIF log of one run, as data (``results=False``: with an empty ``results``)."""
    invocation: dict[str, Any] = {"executionSuccessful": result.source.complete, "endTimeUtc": result.now}
    if not result.source.complete:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "error",
                "message": {
                    "text": sarif_text(
                        f"INCOMPLETE: the fleet was not read completely, so this run cannot pass: {result.source.error}"
                    )
                },
            }
        ]
    model = as_dict(result, findings=False)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "imagelint",
                "version": result.tool_version,
                "semanticVersion": result.tool_version,
                "rules": [_rule(p) for p in result.policies],
            }
        },
        "invocations": [invocation],
        "results": list(map(_results(result), _with_resolved(result))) if results else [],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "verdict": verdict(result),
            "engine": result.engine,
            "failOn": result.fail_on,
            # the JSON result's own objects, so SARIF consumers read the same fields as JSON ones
            "source": model["source"],
            "summary": model["summary"],
            **{k: model[k] for k in ("audit", "targets") if k in model},
            **(
                {"comparison": {k: v for k, v in model["comparison"].items() if not k.endswith("_findings")}}
                if "comparison" in model
                else {}
            ),
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _with_resolved(result: RunResult) -> list[Finding]:
    return [*result.findings, *(result.comparison.resolved if result.comparison else ())]


BASELINE_STATE = {"new": "new", "unchanged": "unchanged", "resolved": "absent"}
"""``--compare``'s states as SARIF's ``baselineState`` (``unknown`` findings are not reported as results)."""


def _results(result: RunResult) -> Callable[[Finding], dict[str, Any]]:
    """Turns a finding of ``result`` into its SARIF result."""
    root = repository_root()
    index = {p.name: i for i, p in enumerate(result.policies)}
    policies = {p.name: p for p in result.policies}
    locations: dict[tuple[str, int | None], dict[str, Any]] = {}

    def location(policy: str, validation: int | None) -> dict[str, Any]:
        """On the line of the expression that failed (spec.match's for a match error), made once each."""
        key = (policy, validation)
        if key not in locations:
            info = policies[policy]
            locations[key] = _physical_location(info.file, info.line_of(validation), root)
        return locations[key]

    return lambda finding: _result(finding, index, location, root)


def _physical_location(file: str, line: int, root: Path) -> dict[str, Any]:
    relative = relative_path(file, root)
    if relative is not None:
        artifact = {"uri": quote(relative), "uriBaseId": "%SRCROOT%"}
    else:  # the bundled pack, outside the repository: an absolute file URI is the honest location
        artifact = {"uri": Path(file).resolve().as_uri()}
    return {"artifactLocation": artifact, "region": {"startLine": max(line, 1)}}


def _rule(policy: PolicyInfo) -> dict[str, Any]:
    description = policy.description or policy.title
    references = "".join(f"\n- {r}" for r in policy.references)
    help_text = description + (f"\n\nReferences:{references}" if references else "")
    help_markdown = help_text
    fix = policy.remediation
    if fix is not None:
        # the commands' placeholders ({id}) are filled per result, in its properties.remediation
        help_text += f"\n\nHow to fix: {fix.text}" + "".join(f"\n  {c}: {cmd}" for c, cmd in fix.commands.items())
        help_markdown += f"\n\n**How to fix:** {md_text(fix.text)}" + "".join(
            f"\n- {c}: {md_code(cmd)}" for c, cmd in fix.commands.items()
        )
    return {
        "id": policy.name,
        "name": "".join(part.capitalize() for part in policy.name.replace("_", "-").split("-")),
        "shortDescription": {"text": policy.title},
        "fullDescription": {"text": description},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": LEVEL[policy.severity]},
        "properties": {
            # GitHub reads security-severity only on rules tagged "security"
            "tags": ["security", "vm-image", *(f"{k}:{v}" for k, v in sorted(policy.labels.items()))][:20],
            "security-severity": SECURITY_SEVERITY[policy.severity],
            "precision": "very-high",
            "problem.severity": {"error": "error", "warning": "warning", "note": "recommendation"}[
                LEVEL[policy.severity]
            ],
            "severity": policy.severity.label,
        },
    }


def _result(
    finding: Finding, index: dict[str, int], location: Callable[[str, int | None], dict[str, Any]], root: Path
) -> dict[str, Any]:
    image = finding.image
    name = image.name if image.name is not None else "(no name)"
    stable = fingerprint(finding)
    seen = "" if finding.target is None else f", target {finding.target}"
    qualified = f"image/{image.id}" if finding.target is None else f"target/{finding.target}/image/{image.id}"
    out: dict[str, Any] = {
        "ruleId": finding.policy,
        "ruleIndex": index[finding.policy],
        "level": LEVEL[finding.severity],
        "message": {"text": sarif_text(f"{finding.message} (image {name!r}, id {image.id}{seen})")},
        "locations": [
            {
                "physicalLocation": location(finding.policy, finding.validation),
                "logicalLocations": [{"name": name, "fullyQualifiedName": qualified, "kind": "resource"}],
            }
        ],
        # our own key, and GitHub's primaryLocationLineHash set to the same value: otherwise the upload
        # action computes a line hash from the policy file, identical for every image of a policy
        "partialFingerprints": {"imagelint/v1": stable, "primaryLocationLineHash": stable},
        "properties": {
            "status": finding.status.value,
            "validation": finding.validation,
            "image": {"id": image.id, "name": image.name, "visibility": image.visibility, "owner": image.owner},
            "attributes": dict(finding.attributes),
        },
    }
    if finding.target is not None:
        out["properties"]["target"] = finding.target
    if finding.state in BASELINE_STATE:
        out["baselineState"] = BASELINE_STATE[finding.state]
    if finding.remediation is not None:
        out["properties"]["remediation"] = remediation_dict(finding.remediation, image)
    if finding.waiver is not None:
        waiver = finding.waiver
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted", "justification": waiver.reason}
        if waiver.file:
            suppression["location"] = {"physicalLocation": _physical_location(waiver.file, waiver.line, root)}
        out["suppressions"] = [suppression]
    elif finding.baselined:
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": "baselined"}]
    return out
