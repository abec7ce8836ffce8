"""``--deadline SECONDS``: the time a whole run may take, counted from its start.

A gate in CI must end with a verdict before the job's own limit kills it without one. The deadline is
kept in three places: the transport cuts every request and back-off short of it (``Transport.deadline``),
the evaluator stops between pages (``evaluate(deadline=...)``), and both end the run as incomplete, with
the reports written and exit 3. Whatever else could block (a snapshot piped from a process that never
ends, a report written to a stalled disk) meets the backstop: a grace period after the deadline, one line
on stderr and exit 3 at once, without a report.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from imagelint.sources.interface import SourceError

BACKSTOP_GRACE = 5.0
"""Seconds after the deadline before the backstop ends the process (the clean paths need well under it)."""


class DeadlineError(ValueError):
    """A ``--deadline`` that is not a positive number of seconds (exit 2)."""


class Deadline:
    """``Deadline(None)`` never passes; ``Deadline(60)`` passes 60 s after it was made."""

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and not (0 < seconds < 1e9 and math.isfinite(seconds)):
            raise DeadlineError(f"--deadline {seconds:g}: expected a positive number of seconds")
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds
        self.text = "" if seconds is None else f"--deadline {seconds:g} s"

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def check(self, images: int) -> None:
        """``SourceError`` (the run is incomplete, exit 3) once the deadline has passed."""
        if self.passed():
            raise SourceError(f"{self.text} passed after {images} images; the rest of the fleet was not judged")

    @contextmanager
    def backstop(self) -> Iterator[None]:
        """While inside: end the process with exit 3 if it still runs ``BACKSTOP_GRACE`` s after the deadline."""
        if self.at is None:
            yield
            return
        timer = threading.Timer(self.at + BACKSTOP_GRACE - time.monotonic(), self._backstop)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _backstop(self) -> None:
        try:
            sys.stderr.write(f"imagelint: INCOMPLETE: {self.text} passed and the run did not stop; no report; exit 3\n")
            sys.stderr.flush()
        finally:
            os._exit(3)  # a blocked read in another thread cannot be interrupted any other way
