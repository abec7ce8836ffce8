"""What several commands share: the usage error, stderr, and loading the policies the command line names."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imagelint.formats.outputs import ReportTarget, write_all
from imagelint.formats.outputs import plan as plan_reports
from imagelint.judgement.compare import Previous, compare_with, notes
from imagelint.judgement.gate import exit_code
from imagelint.judgement.result import RunResult
from imagelint.judgement.suppression import Suppression
from imagelint.policy import Policy, bundled_pack, parse_param
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint.policy.static import load_checked


class UsageError(Exception):
    """A bad command line (exit 2)."""


def err(text: str) -> None:
    print(text, file=sys.stderr)


def catalogue(args: argparse.Namespace) -> Catalogue:
    """The image attribute catalogue, with the config file's ``attributes`` added."""
    config = getattr(args, "config_data", None)
    return IMAGE_ATTRIBUTES.with_extra(config.attributes) if config and config.attributes else IMAGE_ATTRIBUTES


def policy_paths(args: argparse.Namespace) -> list[str | Path]:
    """The command's PATH arguments, else ``--policies`` and the ``--pack``s named, else the default pack."""
    packs: list[str | Path] = [bundled_pack(name) for name in getattr(args, "pack", None) or []]
    given = getattr(args, "paths", None) or getattr(args, "policies", None)
    return [*(given or []), *packs] or [bundled_pack()]


def load(
    args: argparse.Namespace, paths: Sequence[str | Path], overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Policy]:
    """Policies with the static checks; warnings printed to stderr; ``PolicyError`` on errors."""
    policies, warnings = load_checked(paths, overrides, catalogue(args))
    for w in warnings:
        err(str(w))
    return policies


def parse_params(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["max-age.max_age_days=30"]`` -> ``{"max-age": {"max_age_days": 30}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        name, dot, param = key.rpartition(".")
        if not sep or not dot or not name or not param:
            raise UsageError(f"--param {item!r}: expected NAME.KEY=VALUE, e.g. image-max-age.max_age_days=180")
        value, refused = parse_param(raw)
        if refused is not None:
            raise UsageError(f"--param {item!r}: {refused}")
        out.setdefault(name, {})[param] = value
    return out


# check, audit and merge share the report, waiver/baseline and --compare options (cli/parser.py); these read
# them alike, so the three commands cannot drift apart in what an option means.


def suppression(args: argparse.Namespace, now: dt.datetime) -> Suppression:
    """The waivers and baseline of ``--waivers``/``--baseline``/``--write-baseline``, read and checked now."""
    return Suppression(
        now,
        waivers=args.waivers,
        allow_permanent=args.allow_permanent_waivers,
        baseline=args.baseline,
        write_baseline=args.write_baseline,
        catalogue=catalogue(args),
        say=err,
    )


def previous_run(args: argparse.Namespace) -> Previous | None:
    """``--compare PREVIOUS.json``, read and checked before the run starts."""
    return compare_with(args.compare) if args.compare else None


def report_plan(args: argparse.Namespace, others: Mapping[str, str | None]) -> list[ReportTarget]:
    """The run's reports, checked; ``others`` maps the options of the files the run reads or writes to their
    paths, which no report may replace."""
    return plan_reports(
        format=args.format,
        output=args.output,
        reports=args.report,
        template=args.template,
        color=args.color,
        others=others,
    )


def conclude(
    args: argparse.Namespace, result: RunResult, reports: list[ReportTarget], previous: Previous | None
) -> tuple[RunResult, int]:
    """The end of a judged run: ``--compare``'s states applied (its notes on stderr), every report written,
    and the gate's exit code."""
    if previous is not None:
        result = previous.apply(result)
        for line in notes(result):
            err(line)
    write_all(reports, result)
    return result, exit_code(result, args.fail_on)
