"""Snapshot files: a JSON object with an ``images`` array, a bare JSON array, or JSON Lines.

Both are read piece by piece, so a snapshot of any size is checked in about the memory of one page of
images: JSON Lines line by line, a JSON document through ``jsonstream`` (its image array one element at a
time).

A file that cannot show it holds the whole fleet makes the run incomplete (exit 3), like a failed fetch:
a snapshot written by ``imagelint fetch`` carries a ``snapshot`` metadata object, which must say
``complete: true`` and give the number of images the file holds (a file cut short at a line end is
otherwise still valid JSON Lines); one saved API page with a ``next`` link has more images after it.
An image id met again is warned about and judged once, as the live API's duplicates are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from imagelint.sources.interface import Image, ImageSource, Page, SeenIds, SourceError
from imagelint.sources.jsonstream import CHUNK, NESTED, JsonStream
from imagelint.sources.jsontext import decode, decode_lines, project, wide_int

PAGE = 100
"""Images per page read from a file: small enough that a page decoded is still in the cache when it is judged
(1,000-image pages, about 5 MB of objects, measured slower per image)."""
BATCH = 1 << 17
"""Bytes of JSON Lines read and decoded by one call (about 100 images of the API's size)."""
LINE = 1 << 24
"""The longest first line that may make a file JSON Lines (16 MiB): a longer one starts a JSON document
written on one line (``json.dump``), which is then read in chunks rather than as one line."""
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def check_image(value: Any, where: str) -> Image:
    """Return ``value`` if it is an image object with a string id, else raise ``SourceError`` at ``where``."""
    if not isinstance(value, dict):
        raise SourceError(f"{where}: expected an image object, got a JSON {_kind(value)}")
    ident = value.get("id")
    if ident == "":
        raise SourceError(f'{where}: image has an empty "id"')
    if not isinstance(ident, str):
        got = 'no "id"' if "id" not in value else f'"id" is a JSON {_kind(ident)}'
        raise SourceError(f'{where}: image has no string "id" ({got})')
    return value


class SnapshotSource(ImageSource):
    """Reads a snapshot from a path, or from stdin when the path is ``-``."""

    kind = "file"

    def __init__(self, path: str, *, display: str | None = None, fields: frozenset[str] | None = None) -> None:
        """``fields``: the attributes the run reads; an image then keeps only those (``id`` always), which in
        JSON Lines spares decoding the others (see ``jsontext.decode``). ``None``: whole images."""
        self.path = path
        self.display = display or path
        self.fields = None if fields is None else fields | {"id"}
        self.metadata: dict[str, Any] = {}
        self.described = False  # the file has fetch's "snapshot" metadata (even an empty one)
        self.format = "unknown"
        self.odd_images = 0
        self.read = 0  # images in the file, duplicates included (what the metadata counts)
        self._ids = SeenIds(_warn, "image {ident} is in the snapshot again at {where}; it is evaluated once")

    def location(self) -> str:
        return self.display

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format}
        if self.metadata:
            out["snapshot"] = self.metadata
        if self._ids.duplicates:
            out["duplicates"] = self._ids.duplicates
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
                yield from _batched(self._jsonl(blank + 1, head, _chain(second, stream)), self)
            else:
                self.format = "json"
                yield from _batched(self._json(_chunks(b"\n" * blank + head, second, stream)), self)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
            self._ids.finish()
        self._check_metadata()

    def _check_metadata(self) -> None:
        """Fail closed on what fetch's metadata says (or fails to say) about the file holding every image."""
        if not self.described:
            return
        complete, images = self.metadata.get("complete"), self.metadata.get("images")
        if complete is False:
            raise SourceError(f"{self.display}: the snapshot says it is incomplete (its fetch did not finish)")
        if complete is not True:
            raise SourceError(
                f'{self.display}: the snapshot\'s metadata has "complete": {_shown(complete)}, not '
                "true, so it cannot show that the file holds every image"
            )
        if type(images) is not int:
            raise SourceError(
                f'{self.display}: the snapshot\'s metadata has "images": {_shown(images)}, not the '
                "number of images, so it cannot show that the file holds every image"
            )
        if images != self.read:
            raise SourceError(
                f"{self.display}: the snapshot's metadata says it holds {images} images, but the file "
                f"has {self.read} (was it cut short or edited?)"
            )

    def _first_time(self, image: Image, where: str) -> bool:
        self.read += 1
        return self._ids.first(image["id"], where)

    def _json(self, chunks: Iterator[bytes]) -> Iterator[Image]:
        self.odd_images = 0
        doc = JsonStream(chunks, self.display)
        for where, image, odd in doc.images():
            where = f"{self.display}: {where}"
            if self._first_time(check_image(image, where), where):
                if odd or wide_int(image):  # JSON documents go through json: no float says "no wide int"
                    self.odd_images += 1
                yield project(image, self.fields)  # decoded whole, then kept as JSON Lines keep it
        if not doc.found:
            got = 'an object without an "images" array' if doc.top is None else f"a JSON {_kind(doc.top[0])}"
            raise SourceError(
                f'{self.display}: expected a JSON object with an "images" array, a JSON array '
                f"of images, or JSON Lines; got {got}"
            )
        if "snapshot" in doc.repeated:
            raise SourceError(f'{self.display}: two "snapshot" metadata objects; which one describes the file?')
        if "snapshot" in doc.members:
            meta = doc.members["snapshot"]
            if not isinstance(meta, dict):
                raise SourceError(f'{self.display}: "snapshot" is a JSON {_kind(meta)}, not fetch\'s metadata object')
            self.metadata, self.described = meta, True
        link = doc.members.get("next")
        if isinstance(link, str) and link:
            raise SourceError(
                f'{self.display}: this is one page of the API: its "next" link ({_shown(link)}) says '
                "more images follow; save the whole fleet with imagelint fetch"
            )

    def _jsonl(self, lineno: int, head: bytes, batches: Iterator[list[bytes]]) -> Iterator[Image]:
        """The images of the first line (``head``, line ``lineno``: fetch's metadata, or an image) and of the
        batches of lines after it, each batch decoded by one call (``decode_lines``) unless something in it
        is odd: a blank line, or a line msgspec refuses, which is then read alone, exactly as json reads it."""
        self.odd_images = 0
        value, plain = self._line(lineno, head, whole=True)  # fetch's metadata is no image
        if isinstance(value, dict) and "id" not in value and isinstance(value.get("snapshot"), dict):
            self.metadata, self.described = value["snapshot"], True
        else:
            yield from self._images(lineno, [(project(value, self.fields), plain)])
        for batch in batches:
            values = None if any(map(bytes.isspace, batch)) else decode_lines(b"".join(batch), self.fields)
            if values is not None and len(values) == len(batch):  # one value on every line
                yield from self._images(lineno + 1, [(value, True) for value in values])
            else:
                for offset, raw in enumerate(batch, start=lineno + 1):
                    if not raw.isspace():
                        yield from self._images(offset, [self._line(offset, raw)])
            lineno += len(batch)

    def _line(self, lineno: int, raw: bytes, *, whole: bool = False) -> tuple[Any, bool]:
        try:
            return decode(raw, None if whole else self.fields)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.display}:{lineno}:{exc.pos + 1}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise SourceError(f"{self.display}:{lineno}: not valid JSON: {NESTED}") from None
        except ValueError:
            raise SourceError(f"{self.display}:{lineno}: not UTF-8 text") from None

    def _at(self, line: int) -> str:
        return f"{self.display}:{line}"

    def _images(self, lineno: int, values: list[tuple[Any, bool]]) -> Iterator[Image]:
        """The images of consecutive lines from ``lineno``; where a line is named only when it is wrong, or
        holds an id met before (formatting it for every line costs as much as the checks)."""
        for line, (value, plain) in enumerate(values, start=lineno):
            self.read += 1
            ident = value.get("id") if type(value) is dict else None
            if type(ident) is not str or not ident:
                ident = check_image(value, self._at(line))["id"]  # raises, saying why
            if not self._ids.add(ident):
                self._ids.again(ident, self._at(line))
                continue
            if not plain:
                self.odd_images += 1
            yield value


def _shown(value: Any) -> str:
    """A metadata value as the message shows it: JSON, cut short."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _warn(text: str) -> None:
    print(f"imagelint: warning: {text}", file=sys.stderr, flush=True)


def _looks_like_jsonl(head: bytes, second: bytes) -> bool:
    """JSON Lines: the first line is a whole object on its own: an image (it has an ``id``), fetch's metadata
    line (even alone: the snapshot of an empty fleet), or any object but a one-line ``{"images": ...}`` when
    more lines follow. A UTF-8 BOM may come first, as in the JSON form."""
    if not head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        return False
    try:
        obj = json.loads(head)  # bytes: json detects the BOM
    except (ValueError, RecursionError):
        return False
    if not isinstance(obj, dict):
        return False
    if "id" in obj or ("snapshot" in obj and "images" not in obj):
        return True
    return "images" not in obj and bool(second.strip())


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


def _chain(second: bytes, stream: IO[bytes]) -> Iterator[list[bytes]]:
    """The file's lines after the first in batches of about ``BATCH`` bytes (``readlines``: no Python step
    per line)."""
    if second:
        yield [second]
    while batch := stream.readlines(BATCH):
        yield batch


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
