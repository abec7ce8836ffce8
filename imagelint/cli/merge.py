"""``imagelint merge RESULT.json...``: the one report and exit code of an estate audited in shards.

Results merge only with their own kind: the same targets file, the same policies and params (their
digests) and the same ``--target``/``--label`` selection; anything else is refused (exit 2), since the
sum would describe no real run. A shard missing or given twice leaves the estate incomplete (exit 3):
a gate over a partial estate never passes. Merging every shard of a run gives the findings and counts of
the same run unsharded.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from imagelint.cli import common
from imagelint.cli.common import UsageError, err
from imagelint.judgement.estate import assemble
from imagelint.judgement.reading import read_json, result_of
from imagelint.judgement.result import AuditInfo, PolicyInfo, RunResult, Waiver, key_of


def run(args: argparse.Namespace) -> int:
    results = [(path, result_of(read_json(path), path)) for path in args.results]
    previous = common.previous_run(args)
    others = {"--compare": args.compare, **{f"RESULT {i + 1}": p for i, p in enumerate(args.results)}}
    reports = common.report_plan(args, others)
    merged, code = common.conclude(args, merge(results, fail_on=args.fail_on), reports, previous)
    for t in merged.targets:
        if not t.complete:
            err(f"imagelint: target {t.name}: INCOMPLETE: {t.error}")
    s = merged.summary
    counts = (
        f"{len(results)} results, {len(merged.targets)} targets, {s.images} images x {s.policies} policies: "
        f"{s.passed} pass, {s.failed} fail, {s.skipped} skip, {s.errored} error"
    )
    if not merged.source.complete:
        err(f"imagelint: INCOMPLETE: {merged.source.error}")
    err(f"imagelint: {counts}; exit {code}")
    return code


def merge(results: list[tuple[str, RunResult]], *, fail_on: str) -> RunResult:
    """One estate result from shard results; ``UsageError`` (exit 2) when they are not of one estate."""
    first_path, first = results[0]
    audits: list[AuditInfo] = []
    for path, r in results:
        if r.audit is None:
            raise UsageError(f"{path}: not an audit result (imagelint audit --format json writes one)")
        audits.append(r.audit)
    a0 = audits[0]
    for (path, _), a in zip(results, audits, strict=True):
        for what, mine, theirs in (
            ("targets file", a.targets_digest, a0.targets_digest),
            ("policies and params", a.policies_digest, a0.policies_digest),
            ("--target/--label selection", a.selection, a0.selection),
        ):
            if mine != theirs:
                raise UsageError(
                    f"{path}: made with different {what} than {first_path}: the results are not of one estate"
                )
    totals = {a.shard[1] if a.shard else None for a in audits}
    if len(totals) > 1:
        raise UsageError(
            "results of different shardings (N of --shard I/N: "
            + ", ".join(sorted(str(t) if t else "unsharded" for t in totals))
            + "): merge the shards of one run"
        )
    missing: list[str] = []
    total = totals.pop()
    used = list(results)
    if total is not None:
        indexes = Counter(a.shard[0] for a in audits if a.shard)
        absent = [i for i in range(1, total + 1) if i not in indexes]
        twice = sorted(i for i, n in indexes.items() if n > 1)
        if absent:
            missing.append(f"shard{'s' if len(absent) > 1 else ''} {', '.join(map(str, absent))} of {total} missing")
        if twice:
            missing.append(f"shard{'s' if len(twice) > 1 else ''} {', '.join(map(str, twice))} of {total} given twice")
            seen: set[int] = set()
            used = []
            for path, r in results:  # the first copy of a repeated shard counts; the estate is incomplete anyway
                index = r.audit.shard[0] if r.audit and r.audit.shard else 0
                if index not in seen:
                    seen.add(index)
                    used.append((path, r))
    elif len(results) > 1:
        missing.append(f"{len(results)} unsharded results of one estate: each holds every target (given twice)")
        used = results[:1]
    targets = sorted((t for _, r in used for t in r.targets), key=lambda t: t.name)
    names = Counter(t.name for t in targets)
    repeated = sorted(n for n, c in names.items() if c > 1)
    if repeated:
        missing.append(f"target {repeated[0]} is in more than one result")
    findings = tuple(
        sorted(
            (f for _, r in used for f in r.findings),
            key=lambda f: (f.target or "", f.policy, f.image.id, -1 if f.validation is None else f.validation),
        )
    )
    merged = assemble(
        tuple(targets),
        [_zero(p) for p in first.policies],
        [p for _, r in used for p in r.policies],
        findings,
        engine=first.engine,
        now=max(r.now for _, r in used),
        fail_on=fail_on,
        audit=AuditInfo(
            targets_file=a0.targets_file,
            targets_digest=a0.targets_digest,
            policies_digest=a0.policies_digest,
            shard=None,
            selection=a0.selection,
            expected_targets=sum(r.audit.expected_targets for _, r in used if r.audit),
        ),
        missing=missing,
    )
    expired = _unique(w for _, r in used for w in r.expired_waivers)
    # a waiver is stale for the estate only when no shard used it
    stale_sets = [{_wkey(w) for w in r.stale_waivers} for _, r in used]
    common = set.intersection(*stale_sets) if stale_sets else set()
    stale = [w for w in _unique(w for _, r in used for w in r.stale_waivers) if _wkey(w) in common]
    fixed = sorted({k for _, r in used for k in r.fixed} - {key_of(f) for f in findings}, key=repr)
    return replace(
        merged,
        expired_waivers=tuple(expired),
        stale_waivers=tuple(stale) if merged.source.complete else (),
        fixed=tuple(fixed) if merged.source.complete else (),
        baseline_file=first.baseline_file,
    )


def _zero(p: PolicyInfo) -> PolicyInfo:
    return replace(p, passed=0, failed=0, skipped=0, errored=0)


def _wkey(w: Waiver) -> tuple[str, int, str, str]:
    return w.file, w.line, w.policy, w.selector


def _unique(waivers: Iterable[Waiver]) -> list[Waiver]:
    seen: set[tuple[str, int, str, str]] = set()
    out: list[Waiver] = []
    for w in waivers:
        if _wkey(w) not in seen:
            seen.add(_wkey(w))
            out.append(w)
    return out
