"""The image-source interface: something that yields image dicts, page by page.

A source never judges images; it only guarantees that every dict it yields is an object with a string
``id``. When it cannot go on (a bad line in a snapshot, an HTTP failure that survived the retries) it
raises ``SourceError``: the evaluator then marks the run incomplete, which makes the gate fail (exit 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from imagelint._result import SourceInfo

Image = dict[str, Any]


class Page(list):  # type: ignore[type-arg]
    """A page of images. ``nul_free`` is True when the source knows no string in it holds a NUL.

    A source can tell cheaply from the JSON text (only a ``\\u0000`` escape makes one), and that spares the
    fast engine a walk over every value of every image (cel-expr-python truncates strings at NUL).
    """

    nul_free = False

    @classmethod
    def of(cls, images: list[Image], nul_free: bool) -> Page:
        page = cls(images)
        page.nul_free = nul_free
        return page


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
        return SourceInfo(kind=self.kind, location=self.location(), images=images, complete=complete,
                          error=error, details=self.details())
