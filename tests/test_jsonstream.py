"""The streaming JSON reader (``imagelint.sources.jsonstream``) against ``json.loads``, the reference it
stands in for: the same values, the same error messages at the same line and column, the same byte of a
UTF-8 error, whatever the chunk boundaries; and it really streams (images come out before the document
has been read, and the text already read is let go)."""

from __future__ import annotations

import json
import random

import pytest

from imagelint.sources import jsonstream
from imagelint.sources.interface import SourceError
from imagelint.sources.jsonstream import JsonStream
from imagelint.sources.snapshot import PAGE, SnapshotSource
from tests.fleetgen import generate_fleet

TRICKY = [
    {"id": "a", "n": 12345678901234567890123, "f": -0.0, "e": 1e-7, "big": 1.5e300, "t": True, "z": None},
    {"id": "ünïcödé €𝄞", "name": "日本語の名前", "esc": 'quote " backslash \\ slash \\/ tab \t \u2028'},
    {"id": "nul", "name": "a\u0000b", "list": [[], {}, [1, [2, [3]]], {"k": {"k": {}}}]},
    {"id": "ws", "tags": ["x=1", "y.2"], "empty": "", "num": 0},
]


def chunks_of(data: bytes, size: int):
    return (data[i : i + size] for i in range(0, len(data), size))


def read(data: bytes, size: int) -> tuple[list, JsonStream]:
    doc = JsonStream(chunks_of(data, size), "f.json")
    return [value for _, value, _ in doc.images()], doc


def documents() -> list[str]:
    images = TRICKY + json.loads(json.dumps(generate_fleet(40, seed=3)))
    fetch_like = (
        '{"snapshot": '
        + json.dumps({"complete": True, "images": len(images)}, indent=1)
        + ',\n"images": ['
        + ",\n".join(json.dumps(i, ensure_ascii=False, separators=(",", ":")) for i in images)
        + "\n]}\n"
    )
    return [
        fetch_like,
        json.dumps({"images": images}),  # one line
        json.dumps({"images": images, "snapshot": {"complete": True}}, indent=2),  # metadata last
        json.dumps(images, ensure_ascii=False),  # a bare array
        "\ufeff" + json.dumps({"images": images[:3]}),  # a UTF-8 byte order mark
        ' \r\n\t{ "images" :\n[ ]\n, "snapshot" : {"a": [1, 2]}, "snapshot": {"b": 1} }\n\n',
        "[]",
        '{"images": 5, "images": [{"id": "x"}]}',
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096, 1 << 20])
def test_values_are_json_loads_values_whatever_the_chunks(size):
    for text in documents():
        data = text.encode("utf-8")
        got, doc = read(data, size)
        expected = json.loads(data)
        images = expected if isinstance(expected, list) else expected["images"]
        assert got == images
        # repr tells -0.0 from 0.0 and 1 from 1.0 and True, which == does not
        assert repr(got) == repr(images)
        if isinstance(expected, dict):
            assert {k: v for k, v in expected.items() if k != "images"} == doc.members


def test_the_odd_flag_marks_the_images_whose_text_has_a_nul_or_surrogate_escape():
    # (a flag on a valid pair or on an escaped backslash only costs a check; a missing one would be a bug)
    images = [*TRICKY, {"id": "upper", "name": "\\uD800 (text, not an escape)"}, {"id": "lone", "name": "\udc00"}]
    data = json.dumps({"images": images}).encode()  # \\ud834\\udd1e: a pair
    flags = [odd for _, _, odd in JsonStream(chunks_of(data, 5), "f.json").images()]
    assert flags == [False, True, True, False, True, True]
    data = json.dumps({"images": images[:-1]}, ensure_ascii=False).encode()  # raw characters, no escapes
    flags = [odd for _, _, odd in JsonStream(chunks_of(data, 5), "f.json").images()]
    assert flags == [False, False, True, False, True]


BROKEN = [
    '{"images": [{"id": "a"}, ',
    '{"images": [{"id": "a"} {"id": "b"}]}',
    '{"images": [{"id": "a"},]}',
    '{"images" [1]}',
    '{"images": [{"id": "a"}], }',
    '{"images": [{"id": "a"}], "x" 1}',
    '{"images": [{"id": "a"}] "x": 1}',
    "{images: []}",
    '{"images": [{"id": "a"}]} trailing',
    '[{"id": "a"}]\n\n  ]',
    '[{"id": "a"},\n {"id": "b", "x": tru}]',
    '[{"id": "a"},\n {"id": "b", "name": "unterminated\n}]',
    '[{"id": "a"},\n {"id": "b", "x": 1.}]',
    '[{"id": "a"},\n {"id": "b", "x": "\\q"}]',
    '[{"id": "\u00e9\u00e9\u00e9"},\n   {"id": "b" "x"}]',
    '{"snapshot": {"complete": true},\n "images": [\n{"id": "a"},\n{"id": "b",}\n]}',
    '"just a string" 5',
    '{"a": 1',
    "[",
    "{",
]


@pytest.mark.parametrize("text", BROKEN)
@pytest.mark.parametrize("size", [1, 3, 1 << 20])
def test_errors_name_the_line_and_column_json_loads_names(text, size):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text.encode("utf-8"))
    with pytest.raises(SourceError) as got:
        read(text.encode("utf-8"), size)
    e = expected.value
    assert str(got.value) == f"f.json:{e.lineno}:{e.colno}: not valid JSON: {e.msg}"


def test_positions_stay_right_after_the_text_read_is_let_go(monkeypatch):
    # forgetting the consumed text (every CHUNK characters) must not move line and column numbers
    monkeypatch.setattr(jsonstream, "CHUNK", 50)
    lines = [json.dumps({"id": f"i-{n}", "name": "x" * (n % 7)}) for n in range(200)]
    text = '{"images": [\n' + ",\n".join(lines) + ',\n  {"id": "last", "bad": nope}\n]}'
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    for size in (1, 13, 1000):
        with pytest.raises(SourceError) as got:
            read(text.encode(), size)
        assert (
            str(got.value) == f"f.json:{expected.value.lineno}:{expected.value.colno}: not valid JSON: "
            f"{expected.value.msg}"
        )
    # and values are unchanged by it
    good = text.replace("nope", "null").encode()
    assert read(good, 17)[0] == json.loads(good)["images"]


@pytest.mark.parametrize("size", [1, 2, 5, 1 << 20])
def test_a_utf8_error_names_the_byte_json_loads_names(size):
    data = '{"images": [{"id": "\u00e9t\u00e9"}, {"id": "b'.encode() + b"\xff\xfe" + b'"}]}'
    with pytest.raises(UnicodeDecodeError) as expected:
        json.loads(data)
    with pytest.raises(SourceError) as got:
        read(data, size)
    assert str(got.value) == f"f.json: not UTF-8 text (byte {expected.value.start}): expected JSON"


def test_images_come_out_before_the_document_is_read():
    data = json.dumps({"images": json.loads(json.dumps(generate_fleet(3000, seed=5)))}).encode()
    taken = 0

    def counted():
        nonlocal taken
        for piece in chunks_of(data, 4096):
            taken += 1
            yield piece

    doc = JsonStream(counted(), "f.json")
    stream = doc.images()
    next(stream)
    assert taken * 4096 < len(data) / 50  # the first image needed a few chunks, not the file
    assert sum(1 for _ in stream) == 2999


def test_images_before_a_syntax_error_are_still_read(tmp_path):
    # as with JSON Lines: the evaluator judges what was readable, then the run is marked incomplete
    images = json.loads(json.dumps(generate_fleet(2500, seed=8)))
    path = tmp_path / "cut.json"
    path.write_text('{"images": [\n' + ",\n".join(json.dumps(i) for i in images) + ',\n{"id": ')
    source = SnapshotSource(str(path))
    pages = []
    with pytest.raises(SourceError, match=r"cut\.json:2502:8: not valid JSON: Expecting value"):
        for page in source.pages():
            pages.append(page)  # noqa: PERF402 - list() would lose the pages read before the error
    assert [len(p) for p in pages] == [PAGE] * (2500 // PAGE) + ([2500 % PAGE] if 2500 % PAGE else [])
    assert [i for p in pages for i in p] == images


def test_a_second_images_array_is_refused():
    # json.loads would keep the last one, but the first was already handed on
    with pytest.raises(SourceError, match=r'f\.json:1:34: not valid JSON: a second "images" array'):
        read(b'{"images": [], "x": 1, "images": [{"id": "a"}]}', 8)


def test_a_snapshot_on_one_line_longer_than_the_line_limit_is_read_as_json(tmp_path, monkeypatch):
    from imagelint.sources import snapshot

    monkeypatch.setattr(snapshot, "LINE", 100)
    images = [{"id": f"i-{n}", "pad": "y" * random.Random(n).randrange(50)} for n in range(300)]
    one_line = tmp_path / "one.json"
    one_line.write_text(json.dumps({"images": images}))
    source = SnapshotSource(str(one_line))
    assert [i for p in source.pages() for i in p] == images and source.format == "json"
    # a JSON Lines file whose first line passes the limit is still read line by line when named so
    lines = tmp_path / "long.jsonl"
    lines.write_text("".join(json.dumps(i) + "\n" for i in [{"id": "first", "pad": "z" * 300}, *images]))
    source = SnapshotSource(str(lines))
    got = [i for p in source.pages() for i in p]
    assert source.format == "jsonl" and got[0]["pad"] == "z" * 300 and got[1:] == images
