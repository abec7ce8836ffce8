"""The command line: parse arguments, wire source -> policies -> engine -> evaluation -> reports.

``main(argv) -> int`` is the only entry point; ``imagelint._gate.exit_code`` is the only judge of a run.
Every anticipated failure is an exception of one part (``PolicyError``, ``SourceError``, ``EngineError``,
``ReportError``, ``UsageError``) turned here into one clear line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from typing import Any

from imagelint import __version__, _pac
from imagelint._engine import EngineError, EngineName, create_engine
from imagelint._evaluate import evaluate
from imagelint._fetch import SnapshotWriteError, run_fetch
from imagelint._fetch import add_parser as add_fetch_parser
from imagelint._format import FORMAT_CHOICES, ReportError
from imagelint._format.escape import terminal_safe
from imagelint._format.outputs import plan as plan_reports
from imagelint._format.outputs import write_all as write_reports
from imagelint._gate import FAIL_ON_CHOICES, ExitCode, exit_code
from imagelint._policy import Policy, PolicyError, bundled_policy_dir, parse_param
from imagelint._result import RunResult
from imagelint._source import ImageSource, SnapshotSource
from imagelint._source.api import add_arguments as add_api_arguments
from imagelint._source.api import reject_without_endpoint as reject_api_options
from imagelint._source.api import source_from_args as api_source_from_args
from imagelint._source.snapshot import sample_fleet_path
from imagelint._source.transport import ConfigError


class UsageError(Exception):
    """A bad command line (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagelint", description="Policy-as-code linter for cloud VM images.")
    parser.add_argument("--version", action="version", version=f"imagelint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="evaluate policies over images from a snapshot or the API")
    src = check.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", metavar="FILE",
                     help="snapshot: JSON {\"images\": [...]}, JSON array, or JSON Lines; - for stdin")
    src.add_argument("--sample", action="store_true", help="check the bundled sample fleet")
    src.add_argument("--endpoint", metavar="URL", help="fetch every page of URL/v2/images (the live API) and check")
    add_api_arguments(check, endpoint=False)
    _policy_options(check)
    check.add_argument("--now", metavar="RFC3339", help="pin the run's `now` (default: the current time)")
    check.add_argument("--engine", choices=[e.value for e in EngineName], default="auto",
                       help="CEL engine (default auto: cel-cpp when it imports)")
    check.add_argument("--format", metavar="FORMAT",
                       help=f"report format: {', '.join(FORMAT_CHOICES)} (default auto: github under GitHub "
                            "Actions, else text)")
    check.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    check.add_argument("--report", action="append", default=[], metavar="FORMAT[=PATH]",
                       help="also write FORMAT to PATH (repeatable); FORMAT alone writes to stdout")
    check.add_argument("--template", metavar="FILE.j2",
                       help="render the report with your own Jinja template (context: the JSON result)")
    check.add_argument("--fail-on", choices=FAIL_ON_CHOICES, default="low",
                       help="lowest severity that fails the gate; never = audit only (default low)")
    check.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                       help="colour text output (auto: on a terminal and without NO_COLOR)")
    _pac.add_check_options(check)

    add_fetch_parser(sub)

    validate = sub.add_parser("validate",
                              help="check policy files only (syntax, schema, CEL, the image attribute catalogue)")
    validate.add_argument("paths", nargs="*", metavar="PATH", help="policy files or directories (default: bundled)")
    _pac.add_commands(sub)  # test, list, explain, schema; --config everywhere
    return parser


def _policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policies", action="append", metavar="PATH",
                   help="policy file or directory (repeatable; replaces the bundled pack)")
    p.add_argument("--param", action="append", default=[], metavar="NAME.KEY=VALUE",
                   help="override a policy param; VALUE is a YAML scalar (repeatable)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:  # imagelint.yaml / --config become arguments before argparse sees them: flags keep the last word
        argv, config = _pac.prepare(parser, sys.argv[1:] if argv is None else argv)
    except _pac.ERRORS as exc:
        _err(str(exc))
        return ExitCode.USAGE
    args = parser.parse_args(argv)
    args.config_data = config
    try:
        if args.command == "fetch":
            return run_fetch(args)
        if args.command in _pac.COMMANDS:
            return _pac.COMMANDS[args.command](args)
        return _check(args)
    except (UsageError, PolicyError, EngineError, ConfigError, SnapshotWriteError, _pac.FileProblems) as exc:
        _err(str(exc))
        return ExitCode.USAGE
    except ReportError as exc:
        _err(f"error: {exc}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:
        # a bug, not bad input: Python's traceback would exit 1, which a gate reads as "findings"
        if os.environ.get("IMAGELINT_DEBUG"):
            raise
        text = terminal_safe(" ".join(f"{type(exc).__name__}: {exc}".split()))[:500]
        _err(f"imagelint: internal error: {text} (a bug in imagelint; IMAGELINT_DEBUG=1 shows the traceback)")
        return ExitCode.INTERNAL


def main_exit() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


def _err(text: str) -> None:
    print(text, file=sys.stderr)


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


def parse_now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now {text!r}: expected an RFC 3339 time, e.g. 2026-01-31T00:00:00Z") from None
    if value.tzinfo is None:
        raise UsageError(f"--now {text!r}: needs a time zone, e.g. 2026-01-31T00:00:00Z")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is a time of year 0 in UTC, which Python (and CEL) lack
        raise UsageError(f"--now {text!r}: out of range: in UTC it must lie within 0001-01-01T00:00:00Z .. "
                         "9999-12-31T23:59:59Z") from None


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def load(args: argparse.Namespace) -> list[Policy]:
    """Load and validate the policies of ``--policies`` (or the bundled pack) with ``--param`` applied."""
    paths = args.policies or [bundled_policy_dir()]
    return _pac.load(args, paths, parse_params(args.param))  # with the static checks (warnings to stderr)


def _source(args: argparse.Namespace) -> ImageSource:
    if args.endpoint is not None:
        return api_source_from_args(args)
    reject_api_options(args)
    if args.sample:
        return SnapshotSource(str(sample_fleet_path()), display="<sample fleet>")
    return SnapshotSource(args.input)


def _check(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    policies = load(args)  # every check of policies happens before the first image is read
    extras = _pac.CheckExtras(args, now)  # waivers and baseline files too
    engine = create_engine(args.engine, policies, now)
    others = {"--input": args.input, "--waivers": args.waivers, "--baseline": args.baseline,
              "--write-baseline": args.write_baseline, "--config": args.config}
    reports = plan_reports(format=args.format, output=args.output, reports=args.report, template=args.template,
                           color=args.color, others=others)
    result = evaluate(_source(args), policies, engine, now=rfc3339(now), fail_on=args.fail_on,
                      annotate=extras.annotate)
    result = extras.finish(result)  # expired/stale waivers, baseline marks, --write-baseline
    write_reports(reports, result)
    code = exit_code(result, args.fail_on)
    _err(_summary_line(result, code))
    return code


def _summary_line(result: RunResult, code: int) -> str:
    s = result.summary
    counts = (f"{s.images} images x {s.policies} policies: {s.passed} pass, {s.failed} fail, "
              f"{s.skipped} skip, {s.errored} error ({result.engine})")
    if not result.source.complete:
        return f"imagelint: INCOMPLETE: {result.source.error}\nimagelint: {counts}; exit {code}"
    return f"imagelint: {counts}; exit {code}"
