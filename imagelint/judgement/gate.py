"""The one place that decides the exit code.

0: no fail/error finding at or above ``--fail-on``; 1: such findings exist; 2: usage or policy error
(decided before any image is read, see ``cli``); 3: the source could not be read completely; 4: a bug in
imagelint; 130: interrupted (SIGINT); 143: terminated (SIGTERM). An incomplete run is 3 even when what was
seen had failures: "we could not see the fleet" is the more urgent news for a gate, and a partial view must
never read as a pass. A run stopped by a signal is 130/143 whatever it saw: it was cancelled, not judged.

A run that judged fewer images than its floor (``require_images``: one by default, ``--min-images N``, none
with ``--allow-empty``) is incomplete too: an empty list is what a mistyped image id, a token scoped to the
wrong project, or a query parameter the server turned into a filter that matches nothing look like.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import replace

from imagelint.judgement.result import RunResult, Severity


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    SOURCE = 3
    INTERNAL = 4
    INTERRUPTED = 130
    """Ctrl-C (SIGINT), as shells report it: 128 + 2."""
    TERMINATED = 143
    """SIGTERM (a cancelled CI job, ``kill``), as shells report it: 128 + 15."""


def signal_exit(signum: int) -> ExitCode:
    """The exit code of a run stopped by signal ``signum`` (SIGINT or SIGTERM): 128 + its number, as a shell
    reports a process the signal killed, so a CI sees a cancelled run as cancelled, never as a verdict."""
    return ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED


FAIL_ON_CHOICES = ("never", *(s.label for s in Severity))
DEFAULT_FAIL_ON = "low"


def exit_code(result: RunResult, fail_on: str) -> ExitCode:
    if not result.source.complete:
        return ExitCode.SOURCE
    if fail_on == "never":
        return ExitCode.OK
    threshold = Severity.parse(fail_on)
    if any(f.severity >= threshold and not f.suppressed for f in result.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def require_images(
    result: RunResult, minimum: int, *, allow: str = "--allow-empty", floor: str = "--min-images"
) -> RunResult:
    """``result``, marked incomplete if it judged fewer than ``minimum`` images (and was complete so far);
    ``allow`` and ``floor`` name the settings that decided it (an audit's target may have its own)."""
    images = result.summary.images
    if not result.source.complete or images >= minimum:
        return result
    if minimum == 1:
        why = f"no image was judged: the source listed none ({allow} if an empty fleet is expected)"
    else:
        why = f"{images} images judged, fewer than {floor} {minimum}"
    return replace(result, source=replace(result.source, complete=False, error=why))
