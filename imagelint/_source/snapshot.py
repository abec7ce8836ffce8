"""Snapshot files: a JSON object with an ``images`` array, a bare JSON array, or JSON Lines.

Both are read piece by piece, so a snapshot of any size is checked in about the memory of one page of
images: JSON Lines line by line, a JSON document through ``jsonstream`` (its image array one element at a
time). A snapshot written by ``imagelint fetch`` carries a ``snapshot`` metadata object; if that says
``complete: false`` the run is incomplete, like a failed fetch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from imagelint._source.interface import (
    Image,
    ImageSource,
    Page,
    SourceError,
    plain_json,
)
from imagelint._source.jsonstream import CHUNK, NESTED, JsonStream

PAGE = 1000
LINE = 1 << 24
"""The longest first line that may make a file JSON Lines (16 MiB): a longer one starts a JSON document
written on one line (``json.dump``), which is then read in chunks rather than as one line."""
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def check_image(value: Any, where: str) -> Image:
    """Return ``value`` if it is an image object with a string id, else raise ``SourceError`` at ``where``."""
    if not isinstance(value, dict):
        raise SourceError(f"{where}: expected an image object, got a JSON {_kind(value)}")
    ident = value.get("id")
    if ident == "":
        raise SourceError(f"{where}: image has an empty \"id\"")
    if not isinstance(ident, str):
        got = "no \"id\"" if "id" not in value else f"\"id\" is a JSON {_kind(ident)}"
        raise SourceError(f"{where}: image has no string \"id\" ({got})")
    return value


class SnapshotSource(ImageSource):
    """Reads a snapshot from a path, or from stdin when the path is ``-``."""

    kind = "file"

    def __init__(self, path: str, *, display: str | None = None) -> None:
        self.path = path
        self.display = display or path
        self.metadata: dict[str, Any] = {}
        self.format = "unknown"
        self.odd_images = 0

    def location(self) -> str:
        return self.display

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format}
        if self.metadata:
            out["snapshot"] = self.metadata
        return out

    def _open(self) -> IO[bytes]:
        if self.path == "-":
            return sys.stdin.buffer
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise SourceError(f"{self.display}: cannot read snapshot: {exc.strerror or exc}") from None

    def pages(self) -> Iterator[list[Image]]:
        stream = self._open()
        try:
            blank = 0  # leading blank lines: kept as newlines, so that positions stay those of the file
            head = stream.readline(LINE)
            while head and not head.strip():
                blank += 1
                head = stream.readline(LINE)
            if not head:
                raise SourceError(f"{self.display}:1: empty snapshot: expected JSON or JSON Lines")
            second = stream.readline(LINE) if head.endswith(b"\n") else b""
            if self.display.endswith(_JSONL_SUFFIXES) or _looks_like_jsonl(head, second):
                self.format = "jsonl"
                head, second = _whole_line(head, stream), _whole_line(second, stream)
                yield from _batched(self._jsonl(_chain(blank, head, second, stream)), self)
            else:
                self.format = "json"
                yield from _batched(self._json(_chunks(b"\n" * blank + head, second, stream)), self)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        if self.metadata.get("complete") is False:
            raise SourceError(f"{self.display}: the snapshot says it is incomplete (its fetch did not finish)")

    def _json(self, chunks: Iterator[bytes]) -> Iterator[Image]:
        self.odd_images = 0
        doc = JsonStream(chunks, self.display)
        for where, image, odd in doc.images():
            if odd:
                self.odd_images += 1
            yield check_image(image, f"{self.display}: {where}")
        if not doc.found:
            got = "an object without an \"images\" array" if doc.top is None else f"a JSON {_kind(doc.top[0])}"
            raise SourceError(f"{self.display}: expected a JSON object with an \"images\" array, a JSON array "
                              f"of images, or JSON Lines; got {got}")
        meta = doc.members.get("snapshot")
        if isinstance(meta, dict):
            self.metadata = meta

    def _jsonl(self, lines: Iterator[bytes]) -> Iterator[Image]:
        self.odd_images = 0
        first = True
        for lineno, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{self.display}:{lineno}:{exc.pos + 1}: not valid JSON: {exc.msg}") from None
            except RecursionError:
                raise SourceError(f"{self.display}:{lineno}: not valid JSON: {NESTED}") from None
            except ValueError:
                raise SourceError(f"{self.display}:{lineno}: not UTF-8 text") from None
            metadata = value.get("snapshot") if first and isinstance(value, dict) and "id" not in value else None
            first = False
            if isinstance(metadata, dict):  # fetch --jsonl writes it first
                self.metadata = metadata
                continue
            if not plain_json(raw):
                self.odd_images += 1
            yield check_image(value, f"{self.display}:{lineno}")


def _looks_like_jsonl(head: bytes, second: bytes) -> bool:
    """JSON Lines: the first line is a whole object on its own, and not a one-line ``{"images": ...}``."""
    if not head.lstrip().startswith(b"{"):
        return False
    try:
        obj = json.loads(head)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and "images" not in obj and ("id" in obj or bool(second.strip()))


def _batched(images: Iterator[Image], source: SnapshotSource) -> Iterator[Page]:
    """Pages of ``PAGE`` images; on a ``SourceError`` the images read before it are still yielded first,
    so that the evaluator judges everything that was readable before the run is marked incomplete.

    A page has plain strings when none of its images' text had an odd escape (``source.odd_images``
    counts them as they are read)."""
    page: list[Image] = []
    seen = 0

    def flush() -> Page:
        nonlocal seen
        clean = source.odd_images == seen
        seen = source.odd_images
        return Page.of(page, clean)

    try:
        for image in images:
            page.append(image)
            if len(page) == PAGE:
                yield flush()
                page = []
    except SourceError:
        if page:
            yield flush()
        raise
    if page:
        yield flush()


def _chain(blank: int, head: bytes, second: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield from [b"\n"] * blank
    yield head
    if second:
        yield second
    yield from stream


def _chunks(head: bytes, second: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head + second
    while chunk := stream.read(CHUNK):
        yield chunk


def _whole_line(start: bytes, stream: IO[bytes]) -> bytes:
    """``start`` completed to the end of its line, if ``readline(LINE)`` cut it."""
    return start + stream.readline() if len(start) == LINE and not start.endswith(b"\n") else start


def sample_fleet_path() -> Path:
    """The bundled sample fleet (``imagelint/data/sample-fleet.json``)."""
    return Path(__file__).resolve().parent.parent / "data" / "sample-fleet.json"


__all__ = ["SnapshotSource", "check_image", "sample_fleet_path"]
