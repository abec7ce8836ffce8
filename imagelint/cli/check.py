"""``imagelint check``: judge every image of a snapshot, the sample fleet or the live API; report; exit."""

from __future__ import annotations

import argparse
import datetime as dt

from imagelint.cli import common, live
from imagelint.cli.common import UsageError, err, load, parse_params, policy_paths
from imagelint.deadline import Deadline
from imagelint.engines import create_engine
from imagelint.judgement.evaluate import attributes_read, evaluate
from imagelint.judgement.gate import require_images
from imagelint.judgement.result import RunResult
from imagelint.sources import ImageSource, SnapshotSource
from imagelint.sources.snapshot import sample_fleet_path
from imagelint.times import UTC_RANGE, TimeError, Unreadable, parse_time, rfc3339
from imagelint.times import now as current_time


def run(args: argparse.Namespace) -> int:
    deadline = Deadline(args.deadline)
    with deadline.backstop():
        return _run(args, deadline)


def _run(args: argparse.Namespace, deadline: Deadline) -> int:
    now = parse_now(args.now)
    floor = image_floor(args.allow_empty, args.min_images)
    config = getattr(args, "config_data", None)
    for text in config.weakening.values() if config is not None else ():
        err(f"imagelint: warning: {text}")  # a file picked up from the working directory weakened the gate
    # every check of policies, waivers, baselines and report paths happens before the first image is read
    policies = load(args, policy_paths(args), parse_params(args.param))
    suppression = common.suppression(args, now)
    previous = common.previous_run(args)
    engine = create_engine(args.engine, policies, now)
    others = {
        "--input": args.input,
        "--waivers": args.waivers,
        "--baseline": args.baseline,
        "--write-baseline": args.write_baseline,
        "--config": args.config,
        "--compare": args.compare,
    }
    reports = common.report_plan(args, others)
    # a snapshot's images keep only what the run reads (decoding the rest is most of the cost of a small pack)
    fields = None if suppression.reads_whole_images else attributes_read(policies)
    result = evaluate(
        _source(args, deadline, fields),
        policies,
        engine,
        now=rfc3339(now),
        fail_on=args.fail_on,
        annotate=suppression.annotate,
        deadline=deadline,
    )
    result = require_images(suppression.finish(result), floor)
    result, code = common.conclude(args, result, reports, previous)
    err(summary_line(result, code))
    return code


def image_floor(allow_empty: bool, min_images: int | None) -> int:
    """How many images the run must judge: 1, ``--min-images N``, or 0 with ``--allow-empty``."""
    if min_images is not None and min_images < 0:
        raise UsageError(f"--min-images {min_images}: expected 0 or more")
    if allow_empty and min_images:
        raise UsageError(f"--allow-empty and --min-images {min_images}: give one")
    if min_images is not None:
        return min_images
    return 0 if allow_empty else 1


def parse_now(text: str | None) -> dt.datetime:
    """``--now``, or the current time; ``UsageError`` naming the flag."""
    if text is None:
        return current_time()
    try:
        return parse_time(text)
    except TimeError as exc:
        why = {
            Unreadable.SYNTAX: "expected an RFC 3339 time, e.g. 2026-01-31T00:00:00Z",
            Unreadable.NO_ZONE: "needs a time zone, e.g. 2026-01-31T00:00:00Z",
            Unreadable.RANGE: f"out of range: in UTC it must lie within {UTC_RANGE}",
        }[exc.why]
        raise UsageError(f"--now {text!r}: {why}") from None


def _source(args: argparse.Namespace, deadline: Deadline, fields: frozenset[str] | None = None) -> ImageSource:
    if live.wanted(args):
        if args.input or args.sample:
            raise UsageError("--cloud/--region read the live API: not with --input or --sample")
        return live.source(args, deadline)
    live.reject_without_endpoint(args)
    if not (args.sample or args.input):
        raise UsageError(
            "check: one of --input FILE, --sample, --endpoint URL, --cloud NAME (or OS_CLOUD) or --region is required"
        )
    if args.sample:
        return SnapshotSource(str(sample_fleet_path()), display="<sample fleet>", fields=fields)
    return SnapshotSource(args.input, fields=fields)


def summary_line(result: RunResult, code: int) -> str:
    s = result.summary
    counts = (
        f"{s.images} images x {s.policies} policies: {s.passed} pass, {s.failed} fail, "
        f"{s.skipped} skip, {s.errored} error ({result.engine})"
    )
    if not result.source.complete:
        return f"imagelint: INCOMPLETE: {result.source.error}\nimagelint: {counts}; exit {code}"
    if result.fail_on == "never":
        return f"imagelint: GATE OFF (--fail-on never: no finding fails the run): {counts}; exit {code}"
    return f"imagelint: {counts}; exit {code}"
