"""Reading a JSON result back into the result model: for ``merge`` (shards) and ``--compare`` (last run).

The inverse of ``result.as_dict``. A file that is not an imagelint JSON result is a ``ResultFileError``
naming the file (and the line and column for invalid JSON), exit 2; nothing of such a file is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imagelint.judgement.result import (
    AuditInfo,
    BaselineKey,
    Finding,
    ImageRef,
    PolicyInfo,
    RunResult,
    RunSummary,
    Severity,
    SourceInfo,
    Status,
    TargetInfo,
    Waiver,
)
from imagelint.policy.loader import Problem
from imagelint.policy.yamlfile import FileProblems


class ResultFileError(FileProblems):
    """A result file (``merge`` input, ``--compare`` previous run) cannot be used (exit 2)."""


def read_json(path: str | Path) -> dict[str, Any]:
    """The JSON object of a result file, or ``ResultFileError``."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        doc = json.loads(text)
    except FileNotFoundError:
        raise ResultFileError([Problem(file, 1, 1, "no such result file")]) from None
    except json.JSONDecodeError as exc:
        raise ResultFileError([Problem(file, exc.lineno, exc.colno, f"not a JSON result: {exc.msg}")]) from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ResultFileError([Problem(file, 1, 1, f"cannot read result: {exc}")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tool"), dict) or doc["tool"].get("name") != "imagelint":
        raise ResultFileError([Problem(file, 1, 1, "not an imagelint JSON result (write one with --format json)")])
    return doc


def _waiver(d: Mapping[str, Any] | None) -> Waiver | None:
    if d is None:
        return None
    return Waiver(
        policy=str(d["policy"]),
        reason=str(d["reason"]),
        expires=d.get("expires"),
        owner=d.get("owner"),
        ticket=d.get("ticket"),
        selector=str(d.get("selector", "")),
        file=str(d.get("file", "")),
        line=int(d.get("line", 0)),
    )


def finding_of(d: Mapping[str, Any]) -> Finding:
    image = d["image"]
    return Finding(
        policy=str(d["policy"]),
        severity=Severity.parse(str(d["severity"])),
        status=Status(d["status"]),
        validation=None if d["validation"] is None else int(d["validation"]),
        message=str(d["message"]),
        image=ImageRef(
            id=str(image["id"]), name=image.get("name"), visibility=image.get("visibility"), owner=image.get("owner")
        ),
        attributes=dict(d.get("attributes") or {}),
        waiver=_waiver(d.get("waiver")),
        baselined=bool(d.get("baselined", False)),
        target=d.get("target"),
        state=d.get("state"),
    )


def target_of(d: Mapping[str, Any]) -> TargetInfo:
    v = d.get("verdicts") or {}
    return TargetInfo(
        name=str(d["name"]),
        labels=dict(d.get("labels") or {}),
        cloud=d.get("cloud"),
        region=d.get("region"),
        project=d.get("project"),
        api=str(d.get("api", "images")),
        endpoint=d.get("endpoint"),
        complete=bool(d["complete"]),
        error=d.get("error"),
        images=int(d.get("images", 0)),
        passed=int(v.get("pass", 0)),
        failed=int(v.get("fail", 0)),
        skipped=int(v.get("skip", 0)),
        errored=int(v.get("error", 0)),
        findings=int(d.get("findings", 0)),
        seconds=float(d.get("seconds", 0.0)),
    )


def _policy(d: Mapping[str, Any]) -> PolicyInfo:
    return PolicyInfo(
        name=str(d["name"]),
        title=str(d["title"]),
        severity=Severity.parse(str(d["severity"])),
        description=str(d.get("description", "")),
        references=tuple(d.get("references") or ()),
        labels=dict(d.get("labels") or {}),
        file=str(d.get("file", "")),
        line=int(d.get("line", 0)),
        match_line=d.get("match_line"),
        validation_lines=tuple(d.get("validation_lines") or ()),
        passed=int(d.get("pass", 0)),
        failed=int(d.get("fail", 0)),
        skipped=int(d.get("skip", 0)),
        errored=int(d.get("error", 0)),
    )


def _key(d: Mapping[str, Any]) -> BaselineKey:
    return BaselineKey(
        policy=str(d["policy"]), image_id=str(d["image_id"]), validation=d.get("validation"), target=d.get("target")
    )


def result_of(doc: Mapping[str, Any], file: str) -> RunResult:
    """The ``RunResult`` of a JSON result; ``ResultFileError`` when a part of it is missing or malformed."""
    try:
        s, src = doc["summary"], doc["source"]
        audit = doc.get("audit")
        shard = audit.get("shard") if audit else None
        return RunResult(
            tool_version=str(doc["tool"].get("version", "")),
            engine=str(doc["engine"]),
            now=str(doc["now"]),
            source=SourceInfo(
                kind=str(src["kind"]),
                location=str(src["location"]),
                images=int(src["images"]),
                complete=bool(src["complete"]),
                error=src.get("error"),
                details=dict(src.get("details") or {}),
            ),
            summary=RunSummary(
                images=int(s["images"]),
                policies=int(s["policies"]),
                passed=int(s["pass"]),
                failed=int(s["fail"]),
                skipped=int(s["skip"]),
                errored=int(s["error"]),
                by_severity=dict(s["by_severity"]),
            ),
            policies=tuple(_policy(p) for p in doc["policies"]),
            findings=tuple(finding_of(f) for f in doc["findings"]),
            fail_on=str(doc.get("fail_on", "low")),
            expired_waivers=tuple(w for w in map(_waiver, doc.get("waivers", {}).get("expired", [])) if w),
            stale_waivers=tuple(w for w in map(_waiver, doc.get("waivers", {}).get("stale", [])) if w),
            fixed=tuple(_key(k) for k in doc.get("baseline", {}).get("fixed", [])),
            baseline_file=doc.get("baseline", {}).get("file"),
            targets=tuple(target_of(t) for t in doc.get("targets", [])),
            audit=None
            if audit is None
            else AuditInfo(
                targets_file=str(audit["targets_file"]),
                targets_digest=str(audit["targets_digest"]),
                policies_digest=str(audit["policies_digest"]),
                shard=None if shard is None else (int(shard["index"]), int(shard["total"])),
                selection=tuple(audit.get("selection") or ()),
                expected_targets=int(audit.get("expected_targets", 0)),
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ResultFileError([Problem(file, 1, 1, f"not a complete imagelint JSON result: {what}")]) from None
