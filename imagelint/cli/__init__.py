"""The command line: ``main(argv) -> int`` is the only entry point.

``main`` builds the parser (``cli.parser``, every option in one place), lets ``imagelint.yaml`` supply
defaults (``cli.config``), runs the command's module (one per command) and turns every anticipated failure
— the exception of one part: ``PolicyError``, ``FileProblems``, ``EngineError``, ``ConfigError``,
``ReportError``, ``UsageError`` — into one line on stderr and its exit code. The exit code of a run is
``judgement.gate.exit_code``'s; only the command modules read the argparse ``Namespace``.

SIGINT (``KeyboardInterrupt``) and SIGTERM (``Terminated``, raised the same way) end a command with one
line and 130 or 143, as a shell reports a process the signal killed; ``audit`` catches both itself while
it judges, to write what it judged first (``cli.audit``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from imagelint.cli import audit, check, fetch, init, listing, merge, policytest, schema, validate
from imagelint.cli.common import UsageError, err
from imagelint.cli.config import apply as apply_config
from imagelint.cli.parser import build_parser
from imagelint.deadline import DeadlineError
from imagelint.engines import EngineError
from imagelint.formats import ReportError
from imagelint.formats.escape import terminal_safe
from imagelint.judgement.gate import ExitCode
from imagelint.policy import PolicyError
from imagelint.policy.yamlfile import FileProblems
from imagelint.sources.interface import SourceError
from imagelint.sources.snapshot_writer import SnapshotWriteError
from imagelint.sources.transport import ConfigError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": check.run,
    "audit": audit.run,
    "merge": merge.run,
    "fetch": fetch.run,
    "validate": validate.run,
    "test": policytest.run,
    "list": listing.run_list,
    "explain": listing.run_explain,
    "schema": schema.run,
    "init": init.run,
}

USAGE_ERRORS = (UsageError, PolicyError, FileProblems, EngineError, ConfigError, SnapshotWriteError, DeadlineError)
"""Bad input found before (or instead of) judging: one line each, exit 2."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as Python raises ``KeyboardInterrupt`` for SIGINT: a BaseException
    so that no ``except Exception`` on the way swallows it."""


@contextmanager
def _terminating() -> Iterator[None]:
    """While inside, SIGTERM raises ``Terminated`` (by default it would kill the process before a line is
    written); only the main thread can set a handler, so a ``main`` called from another thread skips it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    with _terminating():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    config = None
    try:
        # imagelint.yaml / --config become arguments before argparse sees them: flags keep the last word
        arguments, config = apply_config(parser, sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(arguments)
        args.config_data = config
        return COMMANDS[args.command](args)
    except USAGE_ERRORS as exc:
        # a value the config file set is told at its FILE:LINE:COL, not as if typed as a flag
        err(config.locate(str(exc)) if config is not None else str(exc))
        return ExitCode.USAGE
    except ReportError as exc:
        err(f"error: {exc}")
        return ExitCode.USAGE
    except SourceError as exc:
        # Before the first page: the identity service that names the image endpoint failed.
        err(f"imagelint: INCOMPLETE: {exc}; exit 3")
        return ExitCode.SOURCE
    except KeyboardInterrupt:
        err("imagelint: interrupted (SIGINT): no report; exit 130")
        return ExitCode.INTERRUPTED
    except Terminated:
        err("imagelint: terminated (SIGTERM): no report; exit 143")
        return ExitCode.TERMINATED
    except Exception as exc:
        # a bug, not bad input: Python's traceback would exit 1, which a gate reads as "findings"
        if os.environ.get("IMAGELINT_DEBUG"):
            raise
        text = terminal_safe(" ".join(f"{type(exc).__name__}: {exc}".split()))[:500]
        err(f"imagelint: internal error: {text} (a bug in imagelint; IMAGELINT_DEBUG=1 shows the traceback)")
        return ExitCode.INTERNAL


def main_exit() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
