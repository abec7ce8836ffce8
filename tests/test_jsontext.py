"""The fast JSON decoder gives exactly what ``json.loads`` gives, and says "plain" only when it is true."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagelint.sources.jsontext import DEPTH, INT_MAX, INT_MIN, UINT_MAX, decode, wide_int

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.sampled_from([INT_MIN, INT_MAX, INT_MAX + 1, UINT_MAX, UINT_MAX + 1, INT_MIN - 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\U0001f600", "\u200b", ""])
)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)


def _odd(value):
    """What "plain" must rule out: a NUL or a lone surrogate in a string (keys too), an int outside int64/uint64."""
    if isinstance(value, str):
        return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_odd(k) or _odd(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_odd, value))
    return wide_int(value)


@settings(max_examples=400, deadline=None)
@given(_json, st.booleans())
def test_decode_is_json_loads_and_plain_is_never_wrong(value, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(raw)
    except ValueError:  # a raw (not escaped) lone surrogate is not UTF-8: both refuse it
        with pytest.raises(ValueError):
            decode(raw)
        return
    got, plain = decode(raw)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # also tells 1 from 1.0 and True from 1
    if plain:
        assert not _odd(got)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": NaN}',
        b'{"a": Infinity, "b": -Infinity}',
        b'{"a": 1e400}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": 123456789012345678901234567890}',
        b'{"a": 18446744073709551615}',
        b'{"a": -9223372036854775809}',
        b'{"a": "\\ud800"}',
        b'{"a": 1, "a": 2}',
        b"[" * (DEPTH + 2) + b"1" + b"]" * (DEPTH + 2),
    ],
)
def test_what_msgspec_refuses_or_may_change_is_decoded_by_json(text):
    got, plain = decode(text)
    expected = json.loads(text)
    assert json.dumps(got) == json.dumps(expected)
    assert not plain or text == b'{"a": 1, "a": 2}'
    if isinstance(got, dict) and isinstance(got.get("a"), float) and math.isnan(got["a"]):
        assert math.isnan(expected["a"])


@pytest.mark.parametrize("text", [b'{"a": ', b'{"a": 1,}', b"", b'{"a": "\xff"}'])
def test_invalid_json_raises_json_s_own_error(text):
    with pytest.raises(ValueError) as got:
        decode(text)
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


def test_a_nul_escape_is_never_plain():
    value, plain = decode(b'{"id": "x", "name": "a\\u0000b"}')
    assert value["name"] == "a\x00b"
    assert not plain
    assert decode(b'{"id": "x", "name": "ab"}') == ({"id": "x", "name": "ab"}, True)
