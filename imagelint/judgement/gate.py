"""The one place that decides the exit code.

0: no fail/error finding at or above ``--fail-on``; 1: such findings exist; 2: usage or policy error
(decided before any image is read, see ``cli``); 3: the source could not be read completely; 4: a bug in
imagelint; 130: interrupted. An incomplete run is 3 even when what was seen had failures: "we could not
see the fleet" is the more urgent news for a gate, and a partial view must never read as a pass.
"""

from __future__ import annotations

import enum

from imagelint.judgement.result import RunResult, Severity


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    SOURCE = 3
    INTERNAL = 4
    INTERRUPTED = 130
    """Ctrl-C (SIGINT), as shells report it: 128 + 2."""


FAIL_ON_CHOICES = ("never", *(s.label for s in Severity))


def exit_code(result: RunResult, fail_on: str) -> ExitCode:
    if not result.source.complete:
        return ExitCode.SOURCE
    if fail_on == "never":
        return ExitCode.OK
    threshold = Severity.parse(fail_on)
    if any(f.severity >= threshold and not f.suppressed for f in result.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK
