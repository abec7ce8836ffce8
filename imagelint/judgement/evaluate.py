"""The evaluator: stream images from a source through an engine into a ``RunResult``.

Passes and skips are counted, never stored, so memory grows only with the findings kept. A source that
fails part way (``SourceError``) does not lose what was already judged: the result is returned with
``source.complete = False`` and the reason, which makes the gate fail with exit 3.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from imagelint import __version__
from imagelint.deadline import Deadline
from imagelint.engines import ERROR, FAIL, PASS, SKIP, Engine
from imagelint.judgement.result import (
    IMAGE_REF_FIELDS,
    SEVERITY_LABELS,
    Finding,
    ImageRef,
    RunResult,
    RunSummary,
    Severity,
    Status,
    new_finding,
)
from imagelint.policy.model import Policy
from imagelint.sources.interface import ImageSource, SourceError

_STATUS = {FAIL: Status.FAIL, ERROR: Status.ERROR}


Annotate = Callable[[dict[str, Any], Finding], Finding]


def evaluate(
    source: ImageSource,
    policies: list[Policy],
    engine: Engine,
    *,
    now: str,
    fail_on: str = "low",
    on_page: Callable[[int], None] | None = None,
    annotate: Annotate | None = None,
    deadline: Deadline | None = None,
    target: str | None = None,
    collect: bool = True,
    keep: Callable[[list[Finding]], None] | None = None,
) -> RunResult:
    """Judge every image of ``source`` under every policy of ``engine``.

    ``annotate(image, finding)`` may return a changed finding (waivers mark it while the whole image is
    still at hand); ``on_page(images_so_far)`` reports progress. Past ``deadline`` the run stops between
    pages, incomplete. ``target`` names the audit target every
    finding is seen through; ``collect=False`` leaves the garbage collector alone (an estate judges many
    sources at once, and one source's freeze/unfreeze would undo another's). ``keep(findings)``, when given,
    takes each page's findings as that page is judged (an audit spills them), and the result holds none.
    """
    # Most images share a handful of verdict vectors, so tallying whole vectors costs one dict update per
    # image instead of one per (policy, image); they are spread into per-policy counts at the end.
    vectors: Counter[tuple[int, ...]] = Counter()
    findings: list[Finding] = []
    by_severity = {s.label: 0 for s in reversed(Severity)}
    evidence = [_evidence_keys(p) for p in policies]
    images = 0
    error: str | None = None
    # The findings kept are the only objects that live long, and Python's full collections would walk them
    # again and again as they grow (10 µs per image by 100,000 images). So after each page, one collection
    # over what that page left (its garbage cycles: cel-python makes many), then the survivors are frozen
    # out of every later collection; they return to the collector when the run ends.
    collecting = collect and gc.isenabled()
    if collecting:
        gc.freeze()  # the start-up heap (modules, compiled policies) too: no collection need walk it again
    try:
        for page in source.pages():
            plain = getattr(page, "plain", False)
            for image in page:
                codes, details = engine.evaluate(image, plain=plain)
                vectors[tuple(codes)] += 1
                if details:
                    new = _findings(policies, evidence, image, details, target)
                    findings.extend(new if annotate is None else [annotate(image, f) for f in new])
            images += len(page)
            if keep is not None and findings:
                _count(by_severity, findings)
                keep(findings)
                findings = []
            if collecting:
                gc.collect()
                gc.freeze()
            if on_page is not None:
                on_page(images)
            if deadline is not None:
                deadline.check(images)
    except SourceError as exc:
        error = str(exc)
    finally:
        if collecting:
            gc.unfreeze()
    counts = [[0, 0, 0, 0] for _ in policies]  # indexed by PASS, FAIL, ERROR, SKIP (-1 -> last)
    for vector, times in vectors.items():
        for index, code in enumerate(vector):
            counts[index][code] += times
    _count(by_severity, findings)
    infos = tuple(
        replace(p.info(), passed=c[PASS], failed=c[FAIL], errored=c[ERROR], skipped=c[SKIP])
        for p, c in zip(policies, counts, strict=True)
    )
    summary = RunSummary(
        images=images,
        policies=len(policies),
        passed=sum(c[PASS] for c in counts),
        failed=sum(c[FAIL] for c in counts),
        skipped=sum(c[SKIP] for c in counts),
        errored=sum(c[ERROR] for c in counts),
        by_severity=by_severity,
    )
    return RunResult(
        tool_version=__version__,
        engine=engine.name,
        now=now,
        source=source.info(images, complete=error is None, error=error),
        summary=summary,
        policies=infos,
        findings=tuple(findings),
        fail_on=fail_on,
    )


def attributes_read(policies: list[Policy]) -> frozenset[str] | None:
    """The image attributes judging ``policies`` reads, findings included (``ImageRef``'s and each policy's,
    messages too), or ``None`` when a policy reads the image as a whole: what a source needs to keep of each
    image (``SnapshotSource(fields=...)``)."""
    read = set(IMAGE_REF_FIELDS)
    for policy in policies:
        attributes = policy.attributes()
        if attributes is None:
            return None
        read |= attributes
    return frozenset(read)


def _count(by_severity: dict[str, int], findings: list[Finding]) -> None:
    for f in findings:
        by_severity[SEVERITY_LABELS[f.severity]] += 1


def _evidence_keys(policy: Policy) -> tuple[str, ...]:
    attrs = policy.attributes(messages=False)
    return tuple(sorted(attrs)) if attrs is not None else ()


def _findings(
    policies: list[Policy],
    evidence: list[tuple[str, ...]],
    image: dict[str, Any],
    details: dict[int, list[tuple[int, int | None, str]]],
    target: str | None = None,
) -> list[Finding]:
    ref = ImageRef.of(image)
    out = []
    for index, outcomes in details.items():
        policy = policies[index]
        keys = evidence[index]
        if len(keys) == 1:  # most policies decide on one attribute: a dict display, not a comprehension
            key = keys[0]
            attributes = {key: image[key]} if key in image else {}
        else:
            attributes = {k: image[k] for k in keys or tuple(image) if k in image}
        name, severity, remediation = policy.name, policy.severity, policy.remediation
        for code, validation, message in outcomes:
            out.append(
                new_finding(name, severity, _STATUS[code], validation, message, ref, attributes, target, remediation)
            )
    return out
