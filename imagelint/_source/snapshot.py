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
from itertools import islice
from pathlib import Path
from typing import IO, Any

from imagelint._source.interface import Image, ImageSource, SourceError

PAGE = 1000
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
            first = head.lstrip()
            if not first:
                raise SourceError(f"{self.display}:1: empty snapshot: expected JSON or JSON Lines")
            if self.display.endswith(_JSONL_SUFFIXES) or self._looks_like_jsonl(head, stream):
                self.format = "jsonl"
                yield from self._jsonl(head, stream)
            else:
                self.format = "json"
                yield from self._json(head + stream.read())
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        if self.metadata.get("complete") is False:
            raise SourceError(f"{self.display}: the snapshot says it is incomplete (its fetch did not finish)")

    @staticmethod
    def _looks_like_jsonl(head: bytes, stream: IO[bytes]) -> bool:
        # A JSON Lines file is a first line that is a whole object on its own; a JSON document that
        # happens to fit on one line is told apart by its top-level "images" key.
        if not head.lstrip().startswith(b"{"):
            return False
        try:
            obj = json.loads(head)
        except ValueError:
            return False
        return isinstance(obj, dict) and "images" not in obj

    def _json(self, data: bytes) -> Iterator[list[Image]]:
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
        for start in range(0, len(images), PAGE):
            page = images[start:start + PAGE]
            yield [check_image(img, f"{self.display}: {prefix}[{start + i}]") for i, img in enumerate(page)]

    def _jsonl(self, head: bytes, stream: IO[bytes]) -> Iterator[list[Image]]:
        lines = enumerate(_chain(head, stream), start=1)
        while chunk := list(islice(lines, PAGE)):
            page: list[Image] = []
            for lineno, raw in chunk:
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except ValueError as exc:
                    col = f":{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
                    msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
                    raise SourceError(f"{self.display}:{lineno}{col}: not valid JSON: {msg}") from None
                if lineno == 1 and isinstance(value, dict) and "id" not in value and isinstance(
                        value.get("snapshot"), dict):
                    self.metadata = value["snapshot"]
                    continue
                page.append(check_image(value, f"{self.display}:{lineno}"))
            if page:
                yield page


def _chain(head: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head
    yield from stream


def sample_fleet_path() -> Path:
    """The bundled sample fleet (``imagelint/data/sample-fleet.json``)."""
    return Path(__file__).resolve().parent.parent / "data" / "sample-fleet.json"


__all__ = ["SnapshotSource", "check_image", "sample_fleet_path"]
