"""``imagelint audit --targets FILE``: judge every target of an estate (clouds, regions, projects) in one run.

Everything that can be wrong with the input (the targets file, the selection, the shard, every target's
settings and credential references, policies, waivers, report paths) is found before the first image
request, exit 2. A cloud target's endpoint is in its token's catalog, so finding it asks the identity
service: one that refuses the credentials or cannot be reached, or a catalog without the image service in
the target's region, makes that target incomplete, not the run.
Then the targets are judged concurrently (``judgement.estate``); a target that fails is incomplete with its
reason and the run's exit code is 3, while the others are reported in full. SIGINT and SIGTERM
stop the run at the next page: the reports are still written with what was judged, marked incomplete, and
the exit code is the signal's (130, 143), as ``check``'s is, never a verdict.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TextIO, cast

from imagelint.cli import check, common, sharding
from imagelint.cli.common import UsageError, err, load, parse_params, policy_paths
from imagelint.engines import create_engine
from imagelint.judgement.estate import Job, Progress, combine, run_estate
from imagelint.judgement.gate import signal_exit
from imagelint.judgement.result import AuditInfo, RunResult, TargetInfo
from imagelint.judgement.spill import Spill
from imagelint.policy.model import Policy
from imagelint.sources.api import ApiSource
from imagelint.sources.interface import ImageSource, SourceError
from imagelint.sources.targets import Target, load_targets, open_target, parse_label, select, shard, target_settings
from imagelint.sources.transport import NotInCatalog, origin
from imagelint.times import rfc3339

DEFAULT_JOBS = 8
DEFAULT_PER_ENDPOINT = 4


def run(args: argparse.Namespace) -> int:
    now = check.parse_now(args.now)
    floor = check.image_floor(args.allow_empty, args.min_images)
    env = os.environ
    config = getattr(args, "config_data", None)
    for text in config.weakening.values() if config is not None else ():
        err(f"imagelint: warning: {text}")  # a file picked up from the working directory weakened the gate
    estate = load_targets(args.targets)
    labels = [parse_label(text) for text in args.label]
    chosen = select(estate.targets, args.target, labels)
    where = sharding.detect(args.shard, args.shards, env)
    if where is not None:
        chosen = shard(chosen, *where)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: expected 1 or more")
    if args.per_endpoint < 1:
        raise UsageError(f"--per-endpoint {args.per_endpoint}: expected 1 or more")
    params = parse_params(args.param)
    policies = load(args, policy_paths(args), params)
    suppression = common.suppression(args, now)
    previous = common.previous_run(args)
    engine = create_engine(args.engine, policies, now)
    reports = common.report_plan(
        args,
        {
            "--targets": args.targets,
            "--waivers": args.waivers,
            "--baseline": args.baseline,
            "--write-baseline": args.write_baseline,
            "--compare": args.compare,
            "--config": args.config,
        },
    )
    fewer_malloc_arenas(env)  # before the first of the targets' threads
    jobs = _jobs(chosen, env, args, floor)  # every target's settings checked: no image request sent yet
    audit = AuditInfo(
        targets_file=estate.file,
        targets_digest=estate.digest,
        policies_digest=policies_digest(policies),
        shard=where,
        selection=tuple([*(f"target={n}" for n in args.target), *(f"label={k}={v}" for k, v in labels)]),
        expected_targets=len(jobs),
    )
    show = _ProgressLine(sys.stderr, forced=args.progress)
    stop = _Stop()
    spill = Spill()
    with _stopping_on_signals(stop):
        outcomes = run_estate(
            jobs,
            policies,
            engine,
            now=rfc3339(now),
            fail_on=args.fail_on,
            annotate=suppression.annotate,
            workers=args.jobs,
            per_endpoint=args.per_endpoint,
            stop=stop,
            report=show,
            spill=spill,
        )
    show.end()
    result = combine(
        outcomes,
        [p.info() for p in policies],
        engine=engine.name,
        now=rfc3339(now),
        fail_on=args.fail_on,
        audit=audit,
        spill=spill,
        interrupted=stop.reason(),
    )
    result, code = common.conclude(args, suppression.finish(result), reports, previous)
    if stop.signum is not None:
        code = signal_exit(stop.signum)  # cancelled, not judged: the reports say what was seen
    for line in target_lines(result):
        err(line)
    if stop.signum is not None:
        err(f"imagelint: {stop.reason()}: the report holds what was judged, marked incomplete")
    err(summary_line(result, code))
    return code


def fewer_malloc_arenas(env: Mapping[str, str]) -> bool:
    """Two glibc malloc arenas for the run, unless ``MALLOC_ARENA_MAX`` says otherwise; True if set here.

    glibc gives the threads that allocate their own arenas (up to eight per core), and what is freed in one
    stays there for that arena: sixteen target threads decoding pages in turn leave sixteen arenas of freed
    pages, so peak memory crept with the number of targets judged (100 targets: 222 MB against 176 MB for 20;
    with two arenas 181 against 163, one run each). Python's small objects are not affected (its own
    allocator), the pages' large dicts and bodies are. Elsewhere than glibc this does nothing.
    """
    if "MALLOC_ARENA_MAX" in env or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, or no libc of that name
        return False
    m_arena_max = -8  # malloc.h
    return bool(mallopt(m_arena_max, 2))


def _jobs(targets: list[Target], env: Mapping[str, str], args: argparse.Namespace, floor: int) -> list[Job]:
    """Every target opened before any image request: its settings checked and, for a cloud target, its
    endpoint found in its token's catalog. Concurrently (``--jobs``): 200 cloud targets are 200 token
    requests, which one after the other would cost minutes before the first image."""
    for target in targets:
        target_settings(target, env)  # every variable and reference checked before any token request
    if len(targets) < 2 or args.jobs < 2:
        return [_job(t, env, args, floor) for t in targets]
    pool = ThreadPoolExecutor(max_workers=min(args.jobs, len(targets)), thread_name_prefix="open")
    try:
        # map() gives the results, and re-raises the first ConfigError, in the targets' order
        return list(pool.map(lambda t: _job(t, env, args, floor), targets))
    finally:
        # after a ConfigError or a SIGINT, the targets not yet opened are not opened (no token requests the
        # run will not use); those being opened end within their --timeout
        pool.shutdown(wait=True, cancel_futures=True)


def _job(target: Target, env: Mapping[str, str], args: argparse.Namespace, floor: int) -> Job:
    # Opened once, here, to check every setting (and to get a cloud target's token and catalog) before any
    # image request, its warnings held back; the target's own thread then gets that source with its own
    # stderr. Its connections are closed meanwhile, so 200 waiting targets hold no idle sockets.
    info = TargetInfo(
        name=target.name,
        labels=dict(target.labels),
        cloud=target.cloud,
        region=target.region,
        project=target.project,
        api=target.api,
    )
    opener: Callable[[], ImageSource]
    held = io.StringIO()
    try:
        probe = open_target(target, env, held, timeout=args.timeout, retries=args.retries)
    except (SourceError, NotInCatalog) as exc:
        # A cloud target's endpoint is in its token's catalog, so opening it asks the identity service; one
        # that refuses the credentials or cannot be reached fails this target, not the estate. Not asked
        # again in the target's thread: a wrong password tried twice counts twice towards a lockout.
        opener = _failing(exc)
        endpoint = None
    else:
        endpoint = probe.location()
        probe.transport.close()
        opener = _Handover(probe, held.getvalue(), target.name)
    key = origin(endpoint) if endpoint else (target.cloud, target.region)
    return Job(
        info=replace(info, endpoint=endpoint),
        open=opener,
        endpoint_key=repr(key),
        # the empty-fleet rule of check, per target: the targets file's min_images, else the command line's
        min_images=floor if target.min_images is None else target.min_images,
        floor_from="--min-images" if target.min_images is None else "min_images:",
    )


class _Handover:
    """The source opened at start-up, given to its target's thread once: its held warnings, then its own,
    prefixed. It lets go of the source then, so a judged target's source (its set of seen image ids, 2,000
    ids are 300 KB) is not kept to the end of the run by the job list."""

    def __init__(self, source: ApiSource, warnings: str, name: str) -> None:
        self._source: ApiSource | None = source
        self._warnings, self._name = warnings, name

    def __call__(self) -> ImageSource:
        source, self._source = self._source, None
        if source is None:
            raise SourceError(f"target {self._name} was opened twice")  # a bug of ours, reported as one line
        stream = cast(TextIO, _Prefixed(sys.stderr, self._name))
        if self._warnings:
            stream.write(self._warnings)
        source.console.redirect(stream)
        return source


def _failing(exc: Exception) -> Callable[[], ImageSource]:
    failure = exc if isinstance(exc, SourceError) else SourceError(str(exc))

    def fail() -> ImageSource:
        raise failure

    return fail


def policies_digest(policies: list[Policy]) -> str:
    """What makes two runs' verdicts comparable: every policy's name, severity, expressions and params."""
    described = [
        {
            "name": p.name,
            "severity": p.severity.label,
            "match": p.match.source if p.match else None,
            "variables": [(v.name, v.expression.source) for v in p.variables],
            "validations": [
                (v.expression.source, v.message, v.message_expression.source if v.message_expression else None)
                for v in p.validations
            ],
            "params": p.params,
        }
        for p in sorted(policies, key=lambda p: p.name)
    ]
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Prefixed(io.TextIOBase):
    """A target's stderr: its warnings, each line prefixed with the target's name; never a terminal, so
    the sources draw no progress lines of their own (the audit draws one for all)."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            for line in text.splitlines(keepends=True):
                self._stream.write(line.replace("imagelint: ", f"imagelint: [{self._name}] ", 1))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False


class _ProgressLine:
    """``targets done/total, running, failed, images/s`` on stderr: redrawn on a terminal, else (with
    ``--progress``) a line every few seconds."""

    def __init__(self, stream: TextIO, *, forced: bool) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.on = self.tty or forced
        self.last = 0.0
        self.shown = False
        self.text = ""

    def __call__(self, p: Progress) -> None:
        if not self.on:
            return
        line = (
            f"imagelint: targets {p.done}/{p.total} done, {p.running} running, {p.failed} failed; "
            f"{p.images:,} images, {p.rate:,.0f} images/s"
        )
        now = time.monotonic()
        final = p.done == p.total
        if line == self.text or (not final and now - self.last < (0.2 if self.tty else 5.0)):
            return
        self.last, self.text = now, line
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            self.shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class _Stop(threading.Event):
    """Set by the first SIGINT or SIGTERM; ``signum`` says which, for the exit code."""

    signum: int | None = None

    def reason(self) -> str | None:
        if self.signum is None:
            return None
        return f"stopped by {signal.Signals(self.signum).name}"


@contextmanager
def _stopping_on_signals(stop: _Stop) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the run ends at the next page, reports written) while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum: int, frame: Any) -> None:
        if stop.signum is None:  # the first signal decides the exit code
            stop.signum = signum
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def target_lines(result: RunResult) -> list[str]:
    """One stderr line per incomplete target: which, and why."""
    return [f"imagelint: target {t.name}: INCOMPLETE: {t.error}" for t in result.targets if not t.complete]


def summary_line(result: RunResult, code: int) -> str:
    s = result.summary
    done = sum(1 for t in result.targets if t.complete)
    counts = (
        f"{len(result.targets)} targets ({done} complete), {s.images} images x {s.policies} policies: "
        f"{s.passed} pass, {s.failed} fail, {s.skipped} skip, {s.errored} error ({result.engine})"
    )
    if not result.source.complete:
        return f"imagelint: INCOMPLETE: {result.source.error}\nimagelint: {counts}; exit {code}"
    return f"imagelint: {counts}; exit {code}"
