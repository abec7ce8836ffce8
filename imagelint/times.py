"""RFC 3339 times as users write them: ``--now``, a policy test file's ``now``, a waiver's ``expires``.

One reader, so that the three accept the same spellings (``Z``, ``z`` or an offset) and refuse the same
things: a time without a zone (a verdict must not depend on the machine's time zone) and one that falls
outside years 1..9999 once in UTC, which neither Python's ``datetime`` nor CEL's timestamps can hold.
"""

from __future__ import annotations

import datetime as dt
import enum
import re

UTC_RANGE = "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z"
"""The times a run can hold, as the error messages say it."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Unreadable(enum.Enum):
    """Why a text is not a usable time; each caller words its own message around it."""

    SYNTAX = "not an RFC 3339 time"
    NO_ZONE = "no time zone"
    RANGE = "out of range"


class TimeError(ValueError):
    """``text`` is not a usable RFC 3339 time; ``why`` says which of the ``Unreadable`` cases it is."""

    def __init__(self, text: str, why: Unreadable) -> None:
        super().__init__(f"{text!r}: {why.value}")
        self.text = text
        self.why = why


def parse_time(text: str, *, date_means_midnight: bool = False) -> dt.datetime:
    """``text`` as an aware UTC ``datetime``; with ``date_means_midnight`` a bare ``YYYY-MM-DD`` is midnight
    UTC of that day (a waiver's ``expires``). Raises ``TimeError``."""
    try:
        if date_means_midnight and _DATE.match(text):
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TimeError(text, Unreadable.SYNTAX) from None
    if value.tzinfo is None:
        raise TimeError(text, Unreadable.NO_ZONE)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is a time of year 0 in UTC
        raise TimeError(text, Unreadable.RANGE) from None


def rfc3339(value: dt.datetime) -> str:
    """``2026-01-31T00:00:00Z``: the form reports and snapshots write."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def now() -> dt.datetime:
    """The current time in UTC, to the second (a run's default ``now``)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
