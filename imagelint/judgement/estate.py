"""The judgement of an estate: many targets fetched concurrently, each judged on its own, into one result.

Each target runs in its own thread: its source's fetch thread downloads while this one judges (``evaluate``),
so the network waits of many targets overlap. Judging holds the GIL and the engine's memos are not
thread-safe, so the engine is shared behind one lock: evaluation is serial and the overlap is of waiting,
which is what a fleet behind 50 ms pages spends its time on. No process pool: nothing has to be pickled
back (c7n-org lost results that way), and memory is one engine, not one per worker.

A scheduler in the calling thread starts a target only when a slot of ``jobs`` and a slot of its
endpoint's ``per_endpoint`` are free, so a hundred projects on one regional endpoint never hit it more
than ``per_endpoint`` at a time. A target that fails (its source raises, or anything else goes wrong in it)
is incomplete with its one-line reason; the others go on. So is a target that judged fewer images than its
floor (``Job.min_images``: one unless allowed), as ``check``'s empty fleet is. A target's images are dropped
as soon as they are judged: what stays is its findings and counters, so memory grows with findings, not
with targets.

``stop`` (set by SIGINT/SIGTERM) ends the run at the next page of every running target; what was judged
stays, marked incomplete, and targets not started are listed incomplete too.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imagelint import __version__
from imagelint.engines import Engine
from imagelint.judgement.evaluate import Annotate, evaluate
from imagelint.judgement.gate import require_images
from imagelint.judgement.result import (
    AuditInfo,
    Finding,
    PolicyInfo,
    RunResult,
    RunSummary,
    SourceInfo,
    TargetInfo,
    tally,
)
from imagelint.judgement.spill import Spill
from imagelint.policy.model import Policy
from imagelint.sources.interface import ImageSource, SourceError

INTERRUPTED = "interrupted before it was read whole"
NOT_STARTED = "not started: the run was interrupted"
GRACE = 2.0
"""Seconds a stopped run waits for running targets to reach a page boundary before it gives up on them."""


@dataclass(frozen=True)
class Job:
    """One target to judge: how the report names it, how to open its source, which endpoint it loads."""

    info: TargetInfo
    open: Callable[[], ImageSource]
    """Builds the source (no request sent yet); raising here makes the target incomplete, not the run."""
    endpoint_key: str
    """Targets with the same key share the per-endpoint limit (the endpoint's origin, or cloud/region)."""
    min_images: int = 1
    """The target's floor: fewer images judged is incomplete (``check``'s empty-fleet rule, per target)."""
    floor_from: str = "--min-images"
    """What set ``min_images``, for the reason (``--min-images``, or the targets file's ``min_images:``)."""


@dataclass
class Progress:
    """What the progress line shows; ``report`` is called with it whenever it changes."""

    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    images: int = 0
    started: float = 0.0

    @property
    def rate(self) -> float:
        return self.images / max(time.monotonic() - self.started, 1e-6)


class _Serial:
    """The engine behind one lock: the threads of the targets take turns to judge an image."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.name = engine.name

    def evaluate(self, image: dict[str, Any], *, plain: bool = False) -> Any:
        with self._lock:
            return self._engine.evaluate(image, plain=plain)


class _Stopped(SourceError):
    pass


def run_estate(
    jobs: Sequence[Job],
    policies: list[Policy],
    engine: Engine,
    *,
    now: str,
    fail_on: str,
    annotate: Annotate | None = None,
    workers: int = 8,
    per_endpoint: int = 4,
    stop: threading.Event | None = None,
    report: Callable[[Progress], None] | None = None,
    spill: Spill | None = None,
) -> list[tuple[TargetInfo, RunResult | None]]:
    """Judge every job, at most ``workers`` at a time and ``per_endpoint`` per endpoint key.

    Returns one ``(target, result)`` per job in the jobs' order; ``result`` is ``None`` for a target that
    never produced one (it failed to open, or was not started); ``target`` carries completeness and counts.
    With ``spill``, a target's findings are written there a page at a time, as each page is judged, and its
    result keeps only their places (``SpilledPart``): a running target holds one page's findings, a finished
    one a few counters.
    """
    stop = stop or threading.Event()
    serial: Any = _Serial(engine)
    progress = Progress(total=len(jobs), started=time.monotonic())
    done: queue.Queue[tuple[int, TargetInfo, RunResult | None]] = queue.Queue()
    lock = threading.Lock()
    outcome: dict[int, tuple[TargetInfo, RunResult | None]] = {}

    def tell() -> None:
        if report is not None:
            report(progress)

    def one(index: int, job: Job) -> None:
        started = time.monotonic()
        seen = 0

        def on_page(images: int) -> None:
            nonlocal seen
            with lock:
                progress.images += images - seen
            seen = images
            if stop.is_set():
                raise _Stopped(INTERRUPTED)

        result: RunResult | None = None
        parts: list[range] = []  # where this target's findings went in the spill, a page at a time
        keep = None if spill is None else (lambda found: parts.append(spill.add(found)))
        try:
            source = job.open()
            result = evaluate(
                source,
                policies,
                serial,
                now=now,
                fail_on=fail_on,
                on_page=on_page,
                annotate=annotate,
                target=job.info.name,
                collect=False,
                keep=keep,
            )
            # a target that listed nothing is incomplete unless allowed: a project id mistyped, a token scoped
            # to another project or a region without images look exactly like that
            hint = "--allow-empty or min_images: 0" if job.floor_from == "--min-images" else "min_images: 0"
            result = require_images(result, job.min_images, allow=hint, floor=job.floor_from)
            info = _target_info(job.info, result, time.monotonic() - started)
            if spill is not None:
                result = replace(result, findings=SpilledPart(parts))
        except Exception as exc:  # noqa: BLE001 - one target's failure must not end the estate's run
            reason = " ".join(str(exc).split()) or type(exc).__name__
            info = replace(job.info, complete=False, error=reason, seconds=time.monotonic() - started)
            result = None
        done.put((index, info, result))

    # The start-up heap (modules, compiled policies) is frozen out of every collection once for the run;
    # the targets' own garbage is left to the collector's thresholds (see evaluate's collect=False).
    collecting = gc.isenabled()
    if collecting:
        gc.freeze()
    try:
        return _schedule(jobs, one, workers, per_endpoint, stop, progress, tell, done, outcome)
    finally:
        if collecting:
            gc.unfreeze()


def _schedule(
    jobs: Sequence[Job],
    one: Callable[[int, Job], None],
    workers: int,
    per_endpoint: int,
    stop: threading.Event,
    progress: Progress,
    tell: Callable[[], None],
    done: queue.Queue[tuple[int, TargetInfo, RunResult | None]],
    outcome: dict[int, tuple[TargetInfo, RunResult | None]],
) -> list[tuple[TargetInfo, RunResult | None]]:
    """Start targets as the limits allow, collect what they produce, in the calling thread."""
    pending = list(enumerate(jobs))
    busy: Counter[str] = Counter()
    running: dict[int, tuple[Job, threading.Thread]] = {}
    stopped_at: float | None = None
    while pending or running:
        if stop.is_set():
            if stopped_at is None:
                stopped_at = time.monotonic()
            for index, job in pending:
                outcome[index] = (replace(job.info, complete=False, error=NOT_STARTED), None)
            pending = []
            if time.monotonic() - stopped_at > GRACE:
                for index, (job, _) in running.items():
                    outcome[index] = (replace(job.info, complete=False, error=INTERRUPTED), None)
                running.clear()
                break
        # start what the limits allow, in the targets' order, skipping targets whose endpoint is busy
        for entry in list(pending):
            if len(running) >= workers:
                break
            index, job = entry
            if busy[job.endpoint_key] >= per_endpoint:
                continue
            pending.remove(entry)
            busy[job.endpoint_key] += 1
            thread = threading.Thread(target=one, args=(index, job), name=f"imagelint-{job.info.name}", daemon=True)
            running[index] = (job, thread)
            thread.start()
        progress.running = len(running)
        tell()
        try:
            index, info, result = done.get(timeout=0.25)
        except queue.Empty:
            continue
        job, _ = running.pop(index)
        busy[job.endpoint_key] -= 1
        outcome[index] = (info, result)
        progress.done += 1
        progress.failed += 0 if info.complete else 1
        progress.running = len(running)
        tell()
    return [outcome[i] for i in range(len(jobs))]


class SpilledPart(tuple):  # type: ignore[type-arg]
    """The findings of one target once spilled: empty as a sequence, ``part`` says where they are."""

    parts: list[range]

    def __new__(cls, parts: list[range]) -> SpilledPart:
        self = super().__new__(cls)
        self.parts = parts
        return self


def _target_info(base: TargetInfo, result: RunResult, seconds: float) -> TargetInfo:
    s = result.summary
    return replace(
        base,
        endpoint=base.endpoint or result.source.location,
        complete=result.source.complete,
        error=result.source.error,
        images=s.images,
        passed=s.passed,
        failed=s.failed,
        skipped=s.skipped,
        errored=s.errored,
        findings=len(result.findings),
        seconds=seconds,
    )


def combine(
    outcomes: Sequence[tuple[TargetInfo, RunResult | None]],
    policies: Sequence[PolicyInfo],
    *,
    engine: str,
    now: str,
    fail_on: str,
    audit: AuditInfo,
    spill: Spill | None = None,
    interrupted: str | None = None,
) -> RunResult:
    """One ``RunResult`` for the estate: counters summed per policy, findings of every target in target order.

    ``policies`` are the run's policies with zero counts (``Policy.info()``): a target that produced no
    result adds nothing to them. The estate is complete only when every target is and none is missing.
    ``interrupted`` (``"stopped by SIGTERM"``) makes it incomplete even if every target had finished.
    """
    targets = tuple(info for info, _ in outcomes)
    results = [r for _, r in outcomes if r is not None]
    findings: Sequence[Finding]
    if spill is not None:
        findings = spill.findings(p for r in results if isinstance(r.findings, SpilledPart) for p in r.findings.parts)
    else:
        findings = tuple(f for r in results for f in r.findings)
    return assemble(
        targets,
        policies,
        (p for r in results for p in r.policies),
        findings,
        engine=engine,
        now=now,
        fail_on=fail_on,
        audit=audit,
        missing=[interrupted] if interrupted else (),
    )


def assemble(
    targets: tuple[TargetInfo, ...],
    policies: Sequence[PolicyInfo],
    counted: Iterator[PolicyInfo] | Sequence[PolicyInfo],
    findings: Sequence[Finding],
    *,
    engine: str,
    now: str,
    fail_on: str,
    audit: AuditInfo,
    missing: Sequence[str] = (),
) -> RunResult:
    """The estate's result from its targets, per-policy counters to sum and findings (``combine``, ``merge``).

    ``missing`` are reasons the estate is incomplete beyond its targets (a shard not merged, say).
    """
    totals = {p.name: [0, 0, 0, 0] for p in policies}
    for p in counted:
        row = totals.setdefault(p.name, [0, 0, 0, 0])
        row[0] += p.passed
        row[1] += p.failed
        row[2] += p.skipped
        row[3] += p.errored
    infos = tuple(
        replace(
            p, passed=totals[p.name][0], failed=totals[p.name][1], skipped=totals[p.name][2], errored=totals[p.name][3]
        )
        for p in policies
    )
    kept = findings
    by_severity = tally(kept).by_severity  # spilled findings counted when written, not read back
    summary = RunSummary(
        images=sum(t.images for t in targets),
        policies=len(policies),
        passed=sum(p.passed for p in infos),
        failed=sum(p.failed for p in infos),
        skipped=sum(p.skipped for p in infos),
        errored=sum(p.errored for p in infos),
        by_severity=by_severity,
    )
    failed = [t for t in targets if not t.complete]
    reasons = [*missing]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        reasons.append(f"{len(failed)} of {len(targets)} targets incomplete: {first.name}: {first.error}{more}")
    source = SourceInfo(
        kind="targets",
        location=audit.targets_file,
        images=summary.images,
        complete=not reasons,
        error="; ".join(reasons) or None,
        details={"targets": len(targets), "incomplete": len(failed)},
    )
    return RunResult(
        tool_version=__version__,
        engine=engine,
        now=now,
        source=source,
        summary=summary,
        policies=infos,
        findings=kept,
        fail_on=fail_on,
        targets=targets,
        audit=audit,
    )
