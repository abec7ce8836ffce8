"""The terminal side of fetching: warnings and the progress line on stderr, kept from overwriting each other.

Sources warn (a retry, a duplicate image id) while the progress line is being redrawn; one lock and one
rule (a warning first clears the line) keep the two readable on a terminal and in a CI log alike.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Console:
    """Warnings and the progress line on stderr, kept from overwriting each other."""

    def __init__(self, stream: TextIO | None = None, *, progress: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # On a terminal the line redraws in place; elsewhere it is off unless --progress asks for it.
        self.progress_on = self.tty if progress is None else progress
        self._lock = threading.Lock()
        self._shown = False
        self._last = 0.0
        self._start = time.monotonic()

    def redirect(self, stream: TextIO) -> None:
        """Write to ``stream`` from now on (an audit opens a target before its turn, then gives it its own)."""
        with self._lock:
            self.stream = stream
            self.tty = bool(getattr(stream, "isatty", lambda: False)())
            self._start = time.monotonic()

    def warn(self, text: str) -> None:
        with self._lock:
            self._clear()
            print(f"imagelint: warning: {text}", file=self.stream, flush=True)

    def progress(self, pages: int, images: int, *, final: bool = False) -> None:
        if not self.progress_on:
            return
        now = time.monotonic()
        if not final and now - self._last < (0.1 if self.tty else 2.0):
            return
        self._last = now
        rate = images / max(now - self._start, 1e-6)
        line = f"imagelint: {pages} page{'' if pages == 1 else 's'}, {images} images, {rate:,.0f} images/s"
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
                self._shown = not final
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False
