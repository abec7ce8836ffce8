"""``imagelint check``: judge every image of a snapshot, the sample fleet or the live API; report; exit."""

from __future__ import annotations

import argparse
import datetime as dt

from imagelint.cli import live
from imagelint.cli.common import UsageError, err, load, parse_params, policy_paths
from imagelint.cli.common import catalogue as catalogue_of
from imagelint.engines import create_engine
from imagelint.formats.outputs import plan as plan_reports
from imagelint.formats.outputs import write_all as write_reports
from imagelint.judgement.compare import compare_with
from imagelint.judgement.compare import notes as compare_notes
from imagelint.judgement.evaluate import evaluate
from imagelint.judgement.gate import exit_code
from imagelint.judgement.result import RunResult
from imagelint.judgement.suppression import Suppression
from imagelint.sources import ImageSource, SnapshotSource
from imagelint.sources.snapshot import sample_fleet_path
from imagelint.times import UTC_RANGE, TimeError, Unreadable, parse_time, rfc3339
from imagelint.times import now as current_time


def run(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    # every check of policies, waivers, baselines and report paths happens before the first image is read
    policies = load(args, policy_paths(args), parse_params(args.param))
    suppression = Suppression(
        now,
        waivers=args.waivers,
        allow_permanent=args.allow_permanent_waivers,
        baseline=args.baseline,
        write_baseline=args.write_baseline,
        catalogue=catalogue_of(args),
        say=err,
    )
    previous = compare_with(args.compare) if args.compare else None
    engine = create_engine(args.engine, policies, now)
    others = {
        "--input": args.input,
        "--waivers": args.waivers,
        "--baseline": args.baseline,
        "--write-baseline": args.write_baseline,
        "--config": args.config,
        "--compare": args.compare,
    }
    reports = plan_reports(
        format=args.format,
        output=args.output,
        reports=args.report,
        template=args.template,
        color=args.color,
        others=others,
    )
    result = evaluate(
        _source(args), policies, engine, now=rfc3339(now), fail_on=args.fail_on, annotate=suppression.annotate
    )
    result = suppression.finish(result)
    if previous is not None:
        result = previous.apply(result)
        for line in compare_notes(result):
            err(line)
    write_reports(reports, result)
    code = exit_code(result, args.fail_on)
    err(summary_line(result, code))
    return code


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


def _source(args: argparse.Namespace) -> ImageSource:
    if args.endpoint is not None:
        return live.source(args)
    live.reject_without_endpoint(args)
    if args.sample:
        return SnapshotSource(str(sample_fleet_path()), display="<sample fleet>")
    return SnapshotSource(args.input)


def summary_line(result: RunResult, code: int) -> str:
    s = result.summary
    counts = (
        f"{s.images} images x {s.policies} policies: {s.passed} pass, {s.failed} fail, "
        f"{s.skipped} skip, {s.errored} error ({result.engine})"
    )
    if not result.source.complete:
        return f"imagelint: INCOMPLETE: {result.source.error}\nimagelint: {counts}; exit {code}"
    return f"imagelint: {counts}; exit {code}"
