"""Snapshot files: a JSON object with an ``images`` array, a bare JSON array, or JSON Lines.

JSON documents are parsed whole (``json`` has no streaming parser and a snapshot of 100,000 images is a
few hundred MB at most); JSON Lines are streamed line by line, so a JSONL snapshot of any size is checked
in constant memory. A snapshot written by ``imagelint fetch`` carries a ``snapshot`` metadata object; if
that says ``complete: false`` the run is incomplete, like a failed fetch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from imagelint._source.interface import Image, ImageSource, Page, SourceError

PAGE = 1000
_NUL_ESCAPE = b"\\u0000"
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def check_image(value: Any, where: str) -> Image:
    """Return ``value`` if it is an image object with a string id, else raise ``SourceError`` at ``where``."""
    if not isinstance(value, dict):
        raise SourceError(f"{where}: expected an image object, got a JSON {_kind(value)}")
    if not isinstance(value.get("id"), str) or not value["id"]:
        got = "no \"id\"" if "id" not in value else f"\"id\" is a JSON {_kind(value['id'])}"
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
        self.nul_lines = 0

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
            head = stream.readline()
            if not head.strip():
                raise SourceError(f"{self.display}:1: empty snapshot: expected JSON or JSON Lines")
            second = stream.readline()
            if self.display.endswith(_JSONL_SUFFIXES) or _looks_like_jsonl(head, second):
                self.format = "jsonl"
                yield from _batched(self._jsonl(_chain(head, second, stream)), source=self)
            else:
                self.format = "json"
                data = head + second + stream.read()
                yield from _batched(self._json(data), nul_free=_NUL_ESCAPE not in data)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        if self.metadata.get("complete") is False:
            raise SourceError(f"{self.display}: the snapshot says it is incomplete (its fetch did not finish)")

    def _json(self, data: bytes) -> Iterator[Image]:
        try:
            doc = json.loads(data)
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.display}: not UTF-8 text (byte {exc.start}): expected JSON") from None
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.display}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        if isinstance(doc, list):
            images, prefix = doc, ""
        elif isinstance(doc, dict) and isinstance(doc.get("images"), list):
            images, prefix = doc["images"], "images"
            meta = doc.get("snapshot")
            if isinstance(meta, dict):
                self.metadata = meta
        else:
            got = "an object without an \"images\" array" if isinstance(doc, dict) else f"a JSON {_kind(doc)}"
            raise SourceError(f"{self.display}: expected a JSON object with an \"images\" array, a JSON array "
                              f"of images, or JSON Lines; got {got}")
        for index, image in enumerate(images):
            yield check_image(image, f"{self.display}: {prefix}[{index}]")

    def _jsonl(self, lines: Iterator[bytes]) -> Iterator[Image]:
        self.nul_lines = 0
        for lineno, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{self.display}:{lineno}:{exc.pos + 1}: not valid JSON: {exc.msg}") from None
            except ValueError:
                raise SourceError(f"{self.display}:{lineno}: not UTF-8 text") from None
            if lineno == 1 and isinstance(value, dict) and "id" not in value and isinstance(
                    value.get("snapshot"), dict):
                self.metadata = value["snapshot"]
                continue
            if _NUL_ESCAPE in raw:
                self.nul_lines += 1
            yield check_image(value, f"{self.display}:{lineno}")


def _looks_like_jsonl(head: bytes, second: bytes) -> bool:
    """JSON Lines: the first line is a whole object on its own, and not a one-line ``{"images": ...}``."""
    if not head.lstrip().startswith(b"{"):
        return False
    try:
        obj = json.loads(head)
    except ValueError:
        return False
    return isinstance(obj, dict) and "images" not in obj and ("id" in obj or bool(second.strip()))


def _batched(images: Iterator[Image], *, nul_free: bool = False,
             source: SnapshotSource | None = None) -> Iterator[Page]:
    """Pages of ``PAGE`` images; on a ``SourceError`` the images read before it are still yielded first,
    so that the evaluator judges everything that was readable before the run is marked incomplete.

    A JSON Lines page is NUL-free when none of its lines had a ``\\u0000`` escape (``source.nul_lines``
    counts them as they are read)."""
    page: list[Image] = []
    seen = 0

    def flush() -> Page:
        nonlocal seen
        clean = nul_free if source is None else source.nul_lines == seen
        seen = source.nul_lines if source is not None else 0
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


def _chain(head: bytes, second: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head
    if second:
        yield second
    yield from stream


def sample_fleet_path() -> Path:
    """The bundled sample fleet (``imagelint/data/sample-fleet.json``)."""
    return Path(__file__).resolve().parent.parent / "data" / "sample-fleet.json"


__all__ = ["SnapshotSource", "check_image", "sample_fleet_path"]
