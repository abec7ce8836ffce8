"""One JSON document read piece by piece: the elements of its image array come out one at a time.

``json`` has no streaming parser, and a snapshot parsed whole holds every image at once (a 128 MB snapshot
of 100,000 images: 650 MB for ``check --input``, against 230 MB for the same images as JSON Lines). This
reads UTF-8 text in chunks and walks the top level itself, a bare array or an object, and decodes
everything else (each image, each other member's value) with ``json``'s own ``raw_decode``: the values
are exactly what ``json.loads`` would give, and so are the error messages (with the line and column in
the whole file). Differences, both on the fail-closed side: images before a syntax error are yielded
before the error is raised (as for JSON Lines, the run is then incomplete), and an object with two
``images`` arrays is an error (``json.loads`` would keep the last).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, NoReturn

from imagelint.sources.interface import ODD_ESCAPE, SourceError

CHUNK = 1 << 20
"""Bytes read at a time."""

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_ODD_ESCAPE = re.compile(ODD_ESCAPE.pattern.decode("ascii"))
NESTED = "nested too deeply"
"""What ``json`` cannot read: arrays or objects deeper than Python's recursion limit (about 1,000)."""


class JsonStream:
    """``JsonStream(chunks, display).images()`` yields ``(where, value, odd)`` for each element of the
    document's image array: the top-level array, or the ``images`` member of the top-level object.
    ``where`` is ``[N]`` or ``images[N]``; ``odd`` says the element's text holds an escape that can make an
    odd string (``interface.ODD_ESCAPE``).

    Afterwards ``members`` holds the object's other members (``{}`` for an array; a repeated name keeps its
    last value, as with ``json.loads``, and is in ``repeated``), ``found`` whether there was an image
    array, and ``top`` the top-level value in a 1-tuple when it was neither an array nor an object (else
    ``None``: the value itself may be ``null``). Text that is not JSON raises ``SourceError``
    naming ``display:LINE:COL``; bytes that are not UTF-8, the byte.
    """

    def __init__(self, chunks: Iterator[bytes], display: str) -> None:
        self._chunks = chunks
        self._display = display
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._fed = 0  # bytes given to the decoder
        self._first = True
        self._eof = False
        self._buf = ""
        self._pos = 0
        self._line = 1  # the line of _buf[0], and its column (0-based)
        self._column = 0
        self.members: dict[str, Any] = {}
        self.repeated: set[str] = set()
        self.found = False
        self.top: tuple[Any] | None = None

    # --- the document ----------------------------------------------------------------------------------

    def images(self) -> Iterator[tuple[str, Any, bool]]:
        char = self._skip()
        if char == "[":
            self.found = True
            yield from self._array("")
        elif char == "{":
            yield from self._object()
        else:
            self.top = (self._value(),)
        if self._skip():
            self._fail("Extra data", self._pos)

    def _object(self) -> Iterator[tuple[str, Any, bool]]:
        self._pos += 1
        char = self._skip()
        if char == "}":
            self._pos += 1
            return
        while True:
            if char != '"':
                self._fail("Expecting property name enclosed in double quotes", self._pos)
            key = self._value()
            if self._skip() != ":":
                self._fail("Expecting ':' delimiter", self._pos)
            self._pos += 1
            if key == "images" and self._skip() == "[":
                if self.found:
                    self._fail('a second "images" array', self._pos)
                self.found = True
                yield from self._array("images")
            else:
                value = self._value()
                if key == "images":  # not an array: as with json.loads, the last "images" decides
                    self.found = False
                else:
                    if key in self.members:
                        self.repeated.add(key)
                    self.members[key] = value
            char = self._skip()
            if char == ",":
                self._pos += 1
                char = self._skip()
            elif char == "}":
                self._pos += 1
                return
            else:
                self._fail("Expecting ',' delimiter", self._pos)

    def _array(self, prefix: str) -> Iterator[tuple[str, Any, bool]]:
        self._pos += 1
        char = self._skip()
        if char == "]":
            self._pos += 1
            return
        index = 0
        while True:
            if self._pos >= CHUNK:
                self._drop()  # between elements: no position is held across this
            start = self._pos
            value = self._value()
            yield f"{prefix}[{index}]", value, _ODD_ESCAPE.search(self._buf, start, self._pos) is not None
            index += 1
            char = self._skip()
            if char == ",":
                self._pos += 1
                self._skip()
            elif char == "]":
                self._pos += 1
                return
            else:
                self._fail("Expecting ',' delimiter", self._pos)

    # --- text ------------------------------------------------------------------------------------------

    def _value(self) -> Any:
        """The JSON value at the position (after whitespace), reading more text while it may be cut off."""
        self._skip()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._grow():
                    continue
                self._fail(exc.msg, exc.pos)
            except RecursionError:  # json's scanner recurses per level of nesting
                self._fail(NESTED, self._pos)
            if end == len(self._buf) and self._grow():
                continue  # a number may go on in the next chunk
            self._pos = end
            return value

    def _skip(self) -> str:
        """Skip whitespace; the next character, or ``""`` at the end of the text."""
        while True:
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def _grow(self) -> bool:
        """Read until the text is twice as long (so that re-decoding a long value stays linear); False at
        the end of the input."""
        target = 2 * len(self._buf)
        grew = False
        while len(self._buf) < target and self._more():
            grew = True
        return grew

    def _more(self) -> bool:
        if self._eof:
            return False
        chunk = next(self._chunks, b"")
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            byte = self._fed - pending + exc.start
            raise SourceError(f"{self._display}: not UTF-8 text (byte {byte}): expected JSON") from None
        self._fed += len(chunk)
        self._eof = not chunk
        if self._first and text:
            self._first = False
            text = text.removeprefix("\ufeff")  # json.loads(bytes) accepts a UTF-8 byte order mark
        self._buf += text
        return bool(text) or not self._eof

    def _drop(self) -> None:
        """Forget the text before the position, keeping count of its lines."""
        done = self._buf[: self._pos]
        lines = done.count("\n")
        if lines:
            self._line += lines
            self._column = len(done) - done.rfind("\n") - 1
        else:
            self._column += len(done)
        self._buf = self._buf[self._pos :]
        self._pos = 0

    def _fail(self, message: str, pos: int) -> NoReturn:
        lines = self._buf.count("\n", 0, pos)
        if lines:
            line, column = self._line + lines, pos - self._buf.rfind("\n", 0, pos)
        else:
            line, column = self._line, self._column + pos + 1
        raise SourceError(f"{self._display}:{line}:{column}: not valid JSON: {message}")


__all__ = ["CHUNK", "NESTED", "JsonStream"]
