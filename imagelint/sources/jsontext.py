"""Image JSON decoded fast and exactly: msgspec where it gives what ``json`` gives, ``json`` where it may not.

Decoding is most of what reading a snapshot or an API page costs: ``json.loads`` takes about 12-18 µs for a
1.3 KB image on the benchmark machine, msgspec's typed decoder about 4. The type is JSON itself with two
limits that also say which values are *plain* (see below): integers within int64, and containers nested at
most ``DEPTH`` deep. On anything msgspec refuses — such an integer or nesting, and what ``json`` accepts but
msgspec does not (NaN, Infinity, a lone surrogate, a UTF-8 BOM) — ``decode`` asks ``json``, for its value,
or for its error and position, which callers quote. Either way the value is exactly ``json.loads``'s
(``tests/test_jsontext.py`` holds them to that over generated JSON).

A value is *plain* when no string holds a NUL or a lone surrogate and no integer lies outside int64/uint64:
the fast engines hand anything else to the reference engine (see ``imagelint.engines.compiled``), and a
plain image spares them a walk over every value. msgspec's success rules out lone surrogates and wide
integers; a NUL can only be written as the ``\\u0000`` escape.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict, Union

import msgspec

DEPTH = 6
"""Containers nested deeper than this (an API page's images are at depth 3, their tags at 4) go to ``json``."""

INT_MIN, INT_MAX, UINT_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1

_Int = Annotated[int, msgspec.Meta(ge=INT_MIN, le=INT_MAX)]  # msgspec cannot bound an int by uint64
_Value: Any = Union[None, bool, _Int, float, str]  # noqa: UP007 - a runtime type
for _ in range(DEPTH):
    _Value = Union[None, bool, _Int, float, str, list[_Value], dict[str, _Value]]  # noqa: UP007 - a runtime type
_DECODER = msgspec.json.Decoder(_Value)
_NUL = b"\\u0000"
_PROJECTING: dict[frozenset[str], msgspec.json.Decoder[Any]] = {}


def _decoder(fields: frozenset[str] | None) -> msgspec.json.Decoder[Any]:
    """The decoder of whole values, or of objects keeping only ``fields`` (msgspec skips the others
    without building them: an image of 40 attributes decodes in a third of the time when 7 are kept).

    Only for ASCII names: msgspec 0.23 never matches a member to a TypedDict key that is not ASCII (``"é"``
    is dropped, written raw or escaped), so with such a name the objects are decoded whole and kept by
    ``project``; a tenant cannot hide an attribute by how its name is written."""
    if fields is None:
        return _DECODER
    found = _PROJECTING.get(fields)
    if found is None:
        if all(name.isascii() for name in fields):
            kept = TypedDict("kept", {name: _Value for name in sorted(fields)}, total=False)  # type: ignore[misc]
            found = msgspec.json.Decoder(kept)
        else:
            found = _DECODER
        _PROJECTING[fields] = found
    return found


def project(value: Any, fields: frozenset[str] | None) -> Any:
    """``value`` with only ``fields`` if it is an object (what the projecting decoder gives)."""
    if fields is None or type(value) is not dict:
        return value
    return {k: v for k, v in value.items() if k in fields}


def decode(raw: bytes, fields: frozenset[str] | None = None) -> tuple[Any, bool]:
    """``(value, plain)``: ``value`` as ``json.loads(raw)`` gives it (or raises), ``plain`` as above; an
    object keeps only ``fields`` when they are given (its other members are still read as JSON, and its
    text must still be UTF-8: msgspec does not check the strings it skips)."""
    decoder = _decoder(fields)
    try:
        value = decoder.decode(raw)
        if fields is not None and not raw.isascii():
            raw.decode("utf-8")
        return (project(value, fields) if decoder is _DECODER else value), _NUL not in raw
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        return project(json.loads(raw), fields), False


def decode_lines(text: bytes, fields: frozenset[str] | None = None) -> list[Any] | None:
    """The values of JSON Lines ``text`` in one call (objects keeping only ``fields``, if given), or ``None``
    when any line needs ``decode`` (see above): a value msgspec refuses, text that is not UTF-8, or a NUL
    escape, which makes a value not plain. Blank lines give no value, and a line may give two (``{} {}``):
    callers compare the count with their lines."""
    if _NUL in text:
        return None
    decoder = _decoder(fields)
    try:
        values: list[Any] = decoder.decode_lines(text)
        if fields is not None and not text.isascii():
            text.decode("utf-8")
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        return None
    return [project(v, fields) for v in values] if decoder is _DECODER and fields is not None else values


def wide_int(value: Any) -> bool:
    """An integer outside int64 and uint64 anywhere in ``value`` (for values ``json`` decoded)."""
    kind = type(value)
    if kind is int:
        return value < INT_MIN or value > UINT_MAX
    if kind is dict:
        return any(map(wide_int, value.values()))
    if kind is list:
        return any(map(wide_int, value))
    return False
