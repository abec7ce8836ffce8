"""Policy-as-code on the command line: options, subcommands and the hooks ``check`` runs around evaluation.

``cli`` stays the one entry point; this module holds what issue 5 adds to it, so that ``cli`` only calls:

* ``prepare`` before argparse (``imagelint.yaml`` / ``--config`` become arguments, see ``_config``);
* ``load`` to load policies with the static checks (warnings go to stderr and never change the exit code);
* ``CheckExtras`` around ``evaluate``: waivers (``annotate``), then expired/stale waivers and baselines;
* ``COMMANDS`` for ``validate``, ``test``, ``list``, ``explain`` and ``schema``.

``validate`` exits 0 when the policies have only warnings (they are printed), 2 on any error, and 1 on
warnings with ``--strict`` — so a policy repository can hold itself to "no warnings" in CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from imagelint import _baseline, _config, _explain, _policytest, _schema, _waivers
from imagelint._engine import celcpp
from imagelint._evaluate import Annotate
from imagelint._gate import ExitCode
from imagelint._policy import PolicyError, bundled_policy_dir
from imagelint._policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint._policy.model import Policy
from imagelint._policy.static import load_checked
from imagelint._result import RunResult
from imagelint._yamlnodes import FileProblems

__all__ = ["COMMANDS", "ERRORS", "CheckExtras", "FileProblems", "add_check_options", "add_commands", "load",
           "prepare"]

ERRORS: tuple[type[Exception], ...] = (_config.ConfigFileError, _waivers.WaiverError, _baseline.BaselineError,
                                       _policytest.TestFileError)
"""Invalid input files of this part (all ``FileProblems``): each message is ``FILE:LINE:COL: ...``; exit 2."""


def _err(text: str) -> None:
    print(text, file=sys.stderr)


# --- argparse -------------------------------------------------------------------------------------------


def add_check_options(check: argparse.ArgumentParser) -> None:
    g = check.add_argument_group("waivers and baselines")
    g.add_argument("--waivers", metavar="FILE", help="YAML waivers: accepted, expiring exceptions (see README)")
    g.add_argument("--allow-permanent-waivers", action="store_true",
                   help="accept waivers without an expires date")
    g.add_argument("--baseline", metavar="FILE", help="findings recorded in FILE do not fail the gate; new ones do")
    g.add_argument("--write-baseline", metavar="FILE",
                   help="record this run's fail/error findings in FILE (they then count as baselined)")


def _policies_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policies", action="append", metavar="PATH",
                   help="policy file or directory (repeatable; default: the bundled pack)")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``test``, ``list``, ``explain``, ``schema``; give ``validate`` its options; ``--config`` to all."""
    validate = sub.choices.get("validate")
    if validate is not None:
        _policies_option(validate)
        validate.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    test = sub.add_parser("test", help="run the policy unit tests (*.test.yaml) on every available engine")
    test.add_argument("paths", nargs="*", metavar="PATH",
                      help="test files, policy files or directories (default: the policy paths)")
    _policies_option(test)
    listing = sub.add_parser("list", help="list the loaded policies: name, severity, title")
    _policies_option(listing)
    explain = sub.add_parser("explain", help="show one policy in full, with its test cases as examples")
    explain.add_argument("name", metavar="NAME", help="policy name")
    _policies_option(explain)
    schema = sub.add_parser("schema", help="print a JSON Schema for editors (YAML language server)")
    schema.add_argument("kind", nargs="?", default="policy", choices=list(_schema.SCHEMAS),
                        help="which file format (default: policy)")
    for name, parser in sub.choices.items():
        if name != "schema" and not any("--config" in a.option_strings for a in parser._actions):
            parser.add_argument("--config", metavar="FILE",
                                help="read defaults from FILE (default: ./imagelint.yaml if present)")


def prepare(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[list[str], _config.Config]:
    """Apply the config file to the command line (before argparse); ``ConfigFileError`` if it is invalid."""
    return _config.apply(parser, argv)


# --- loading ----------------------------------------------------------------------------------------------


def catalogue(args: argparse.Namespace) -> Catalogue:
    config = getattr(args, "config_data", None)
    return IMAGE_ATTRIBUTES.with_extra(config.attributes) if config and config.attributes else IMAGE_ATTRIBUTES


def policy_paths(args: argparse.Namespace) -> list[str | Path]:
    return list(getattr(args, "paths", None) or getattr(args, "policies", None) or [bundled_policy_dir()])


def load(args: argparse.Namespace, paths: Sequence[str | Path],
         overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[Policy]:
    """Policies with the static checks; warnings printed to stderr; ``PolicyError`` on errors."""
    policies, warnings = load_checked(paths, overrides, catalogue(args))
    for w in warnings:
        _err(str(w))
    return policies


# --- commands ---------------------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    policies, warnings = load_checked(policy_paths(args), None, catalogue(args))
    problems = celcpp.type_check(policies)
    if problems:
        raise PolicyError(problems + warnings)
    for w in warnings:
        _err(str(w))
    note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
    _err(f"{len(policies)} policies OK{note}")
    return ExitCode.FINDINGS if warnings and args.strict else ExitCode.OK


def run_test(args: argparse.Namespace) -> int:
    return _policytest.main(policy_paths(args), catalogue=catalogue(args))


def run_list(args: argparse.Namespace) -> int:
    sys.stdout.write(_explain.render_list(load(args, policy_paths(args))))
    return ExitCode.OK


def run_explain(args: argparse.Namespace) -> int:
    policies = load(args, policy_paths(args))
    found = [p for p in policies if p.name == args.name]
    if not found:
        import difflib

        close = difflib.get_close_matches(args.name, [p.name for p in policies], n=1)
        _err(f"no loaded policy is named {args.name!r}" + (f"; did you mean {close[0]!r}?" if close else
                                                            " (imagelint list shows them)"))
        return ExitCode.USAGE
    sys.stdout.write(_explain.render_explain(found[0], catalogue(args)))
    return ExitCode.OK


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(_schema.render(args.kind))
    return ExitCode.OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": run_validate, "test": run_test, "list": run_list, "explain": run_explain, "schema": run_schema}


# --- around check ---------------------------------------------------------------------------------------


class CheckExtras:
    """Waivers and baselines of one ``check`` run. Built before the first image is read, so a bad waivers or
    baseline file stops the run with exit 2 before any network call."""

    def __init__(self, args: argparse.Namespace, now: dt.datetime) -> None:
        self.now = now
        self.write_to: str | None = getattr(args, "write_baseline", None)
        self.waivers = (_waivers.load_waivers(args.waivers, allow_permanent=args.allow_permanent_waivers,
                                              catalogue=catalogue(args)) if getattr(args, "waivers", None) else None)
        self.baseline = _baseline.load_baseline(args.baseline) if getattr(args, "baseline", None) else None

    @property
    def annotate(self) -> Annotate | None:
        return self.waivers.annotator(self.now) if self.waivers else None

    def finish(self, result: RunResult) -> RunResult:
        """Expired and stale waivers, baseline marks and fixed entries; writes ``--write-baseline``."""
        if self.waivers is not None:
            result = self.waivers.finish(result, self.now)
        if self.baseline is not None:
            result = _baseline.apply_baseline(result, self.baseline)
        if self.write_to is not None:
            if not result.source.complete:
                _err(f"imagelint: not writing baseline {self.write_to}: the run did not see the whole fleet")
            else:
                _baseline.write_baseline(self.write_to, result)
                written = _baseline.Baseline(self.write_to, frozenset(_baseline.key_of(f) for f in result.findings
                                                                      if f.waiver is None))
                # every recorded finding is now accepted; "fixed" still compares with --baseline, if given
                result = replace(_baseline.apply_baseline(result, written), fixed=result.fixed)
                _err(f"imagelint: wrote baseline {self.write_to} ({len(written.keys)} findings)")
        for line in _waivers.notes(result) + _baseline.notes(result):
            _err(line)
        return result
