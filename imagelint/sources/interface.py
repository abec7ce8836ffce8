"""The image-source interface: something that yields image dicts, page by page.

A source never judges images; it only guarantees that every dict it yields is an object with a string
``id``. When it cannot go on (a bad line in a snapshot, an HTTP failure that survived the retries) it
raises ``SourceError``: the evaluator then marks the run incomplete, which makes the gate fail (exit 3).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

from imagelint.judgement.result import SourceInfo

Image = dict[str, Any]


ODD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
"""A JSON escape that can make an odd string: ``\\u0000`` (NUL), or half of a surrogate pair (``\\ud800``;
``json`` decodes a pair into one character and leaves a lone half as it is)."""


class Page(list):  # type: ignore[type-arg]
    """A page of images. ``plain`` is True when the source knows that no string in it holds a NUL
    or a lone surrogate and no integer lies outside int64/uint64.

    A source can tell cheaply while decoding (``jsontext.decode``; for JSON documents ``ODD_ESCAPE`` and
    ``jsontext.wide_int``), and that spares the fast engines a walk over every value of every image:
    cel-expr-python truncates strings at NUL, fails part way through an evaluation on a lone surrogate,
    and refuses a map holding an integer it cannot convert, so such images go to the reference engine.
    """

    plain = False

    @classmethod
    def of(cls, images: list[Image], plain: bool) -> Page:
        page = cls(images)
        page.plain = plain
        return page


class SeenIds:
    """The image ids a source has yielded, so that every image is evaluated once: ``first(ident, where)`` is
    False for an id met before, which is counted and, for the first ``SHOWN`` repeats, warned about with
    ``again`` (a format of ``ident`` and ``where``); ``finish()`` counts the repeats not shown."""

    SHOWN = 10

    def __init__(self, warn: Callable[[str], None], again: str) -> None:
        self._warn = warn
        self._again = again
        self._seen: set[str] = set()
        self.duplicates = 0

    def first(self, ident: str, where: str) -> bool:
        if self.add(ident):
            return True
        self.again(ident, where)
        return False

    def add(self, ident: str) -> bool:
        """``first`` in two halves, for a reader that names an image's position only for a repeat (formatting
        it for every image costs as much as the test): True for an id not met before, now remembered..."""
        if ident in self._seen:
            return False
        self._seen.add(ident)
        return True

    def again(self, ident: str, where: str) -> None:
        """... and for one met before, counted and warned about at ``where``."""
        self.duplicates += 1
        if self.duplicates <= self.SHOWN:
            self._warn(self._again.format(ident=ident, where=where))

    def finish(self) -> None:
        hidden = self.duplicates - self.SHOWN
        if hidden > 0:
            self._warn(
                f"{hidden} more duplicate image ids not shown ({self.duplicates} in all); each image was evaluated once"
            )


class SourceError(Exception):
    """The source could not be read completely; the message names the file/position or the request."""


class ImageSource(ABC):
    """Yields pages (lists) of images. ``info()`` describes the source, valid after iteration too."""

    kind: str = "file"

    @abstractmethod
    def pages(self) -> Iterator[list[Image]]:
        """Yield the images page by page; raise ``SourceError`` when the source fails part way."""

    @abstractmethod
    def location(self) -> str:
        """A printable location: a path, ``-``, or an endpoint URL (never with credentials in it)."""

    def details(self) -> dict[str, Any]:
        """Source-specific metadata for the report (query, pages fetched, snapshot metadata)."""
        return {}

    def info(self, images: int, complete: bool, error: str | None = None) -> SourceInfo:
        return SourceInfo(
            kind=self.kind,
            location=self.location(),
            images=images,
            complete=complete,
            error=error,
            details=self.details(),
        )
