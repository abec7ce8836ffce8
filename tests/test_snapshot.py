"""Snapshot input: three shapes, streaming JSON Lines, and a clear error with position for bad input."""

from __future__ import annotations

import json

import pytest

from imagelint._source import SnapshotSource, SourceError
from tests.conftest import policy_yaml

IMAGES = [{"id": f"img-{i}", "name": f"n{i}", "status": "active"} for i in range(2500)]


def read_all(path: str) -> list[dict]:
    return [img for page in SnapshotSource(path).pages() for img in page]


def test_object_with_images_array(fleet_file):
    assert read_all(str(fleet_file(IMAGES))) == IMAGES


def test_bare_array(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(IMAGES[:3]))
    assert read_all(str(path)) == IMAGES[:3]


def test_json_lines_are_streamed_in_pages(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in IMAGES) + "\n")
    pages = list(SnapshotSource(str(path)).pages())
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert [i for p in pages for i in p] == IMAGES


def test_json_lines_detected_without_the_suffix(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(json.dumps(IMAGES[0]) + "\n" + json.dumps(IMAGES[1]) + "\n")
    assert read_all(str(path)) == IMAGES[:2]


def test_snapshot_metadata_incomplete_is_a_source_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"snapshot": {"complete": False}, "images": IMAGES[:2]}))
    with pytest.raises(SourceError, match="the snapshot says it is incomplete"):
        read_all(str(path))


@pytest.mark.parametrize("name, content, message", [
    ("a.json", '{"images": [{"id": "a"}, ', "{path}:1:26: not valid JSON: Expecting value"),
    ("a.json", '{"images": [1, ', '{path}: images[0]: expected an image object, got a JSON number'),  # first met
    ("a.json", '{"items": []}', '{path}: expected a JSON object with an "images" array, a JSON array of images, '
                                'or JSON Lines; got an object without an "images" array'),
    ("a.json", '"hello"', '{path}: expected a JSON object with an "images" array, a JSON array of images, or '
                          'JSON Lines; got a JSON string'),
    ("a.json", 'null', '{path}: expected a JSON object with an "images" array, a JSON array of images, or '
                       'JSON Lines; got a JSON null'),
    ("a.json", '{"images": [{"id": "a"}, [1]]}', "{path}: images[1]: expected an image object, got a JSON array"),
    ("a.json", '[{"id": 7}]', '{path}: [0]: image has no string "id" ("id" is a JSON number)'),
    ("a.json", '[{"name": "x"}]', '{path}: [0]: image has no string "id" (no "id")'),
    ("a.json", '[{"id": "a"}, {"id": ""}]', '{path}: [1]: image has an empty "id"'),
    ("a.jsonl", '{"id": "a"}\n{"id": "b"\n', "{path}:2:12: not valid JSON: Expecting ',' delimiter"),
    ("a.jsonl", '{"id": "a"}\n\n{"name": "b"}\n', '{path}:3: image has no string "id" (no "id")'),
    ("a.json", "", "{path}:1: empty snapshot: expected JSON or JSON Lines"),
])
def test_bad_snapshots_name_file_and_position(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SourceError) as info:
        read_all(str(path))
    assert str(info.value) == message.format(path=path)


def test_cli_bad_snapshot_exits_3_with_one_line(tmp_path, cli):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a", "status": "active"}\nnot json\n')
    policy = tmp_path / "p.yaml"
    policy.write_text(policy_yaml(validations=['image.status == "active"']))
    result = cli("check", "--input", str(path), "--policies", str(policy), "--format", "json")
    assert result.returncode == 3
    assert f"imagelint: INCOMPLETE: {path}:2:1: not valid JSON: Expecting value" in result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    # the image before the bad line was judged, and the report says the fleet is incomplete
    assert report["source"]["complete"] is False and report["source"]["images"] == 1
    assert report["summary"]["pass"] == 1


def test_cli_missing_snapshot_exits_3(tmp_path, cli):
    result = cli("check", "--input", str(tmp_path / "nope.json"))
    assert result.returncode == 3
    assert f"{tmp_path / 'nope.json'}: cannot read snapshot: No such file or directory" in result.stderr


def test_cli_reads_stdin(tmp_path, cli):
    policy = tmp_path / "p.yaml"
    policy.write_text(policy_yaml(validations=['image.status == "active"']))
    stdin = "\n".join(json.dumps(i) for i in IMAGES[:5])
    result = cli("check", "--input", "-", "--policies", str(policy), "--format", "json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["pass"] == 5


def test_leading_blank_lines_are_whitespace_and_positions_stay_the_files(tmp_path):
    # a JSON document after blank lines was taken for an empty snapshot
    path = tmp_path / "a.json"
    path.write_text("\n  \n" + json.dumps({"images": IMAGES[:2]}))
    assert read_all(str(path)) == IMAGES[:2]
    path.write_text("\n\n" + '{"images": [\n{"id": "a"},\n{"id": "b" "x"}]}')
    with pytest.raises(SourceError, match=r"a\.json:5:12: not valid JSON: Expecting ',' delimiter"):
        read_all(str(path))
    lines = tmp_path / "a.jsonl"
    lines.write_text("\n\n" + json.dumps({"snapshot": {"complete": False}}) + "\n" + json.dumps(IMAGES[0]) + "\n")
    with pytest.raises(SourceError, match="the snapshot says it is incomplete"):  # the metadata line, after blanks
        read_all(str(lines))
    lines.write_text("\n\t\n" + json.dumps(IMAGES[0]) + "\n" + '{"id": "b"\n')
    with pytest.raises(SourceError, match=r"a\.jsonl:4:12: not valid JSON: Expecting ',' delimiter"):
        read_all(str(lines))
    (tmp_path / "blank.json").write_text("\n \n\n")
    with pytest.raises(SourceError, match=r"blank\.json:1: empty snapshot"):
        read_all(str(tmp_path / "blank.json"))


def test_corrupted_snapshots_end_in_one_line_and_exit_3(tmp_path, capsys):
    """Bytes flipped, cut, or inserted (brackets, NUL and surrogate escapes, invalid UTF-8, NaN) into JSON
    and JSON Lines snapshots: every run ends with exit 0 or 3 and, when 3, one line naming the file; never
    a traceback. (Fuzzing 400 such files found the empty-id message and, through the engines, the lone
    surrogate crash; this keeps a fixed sample of it.)"""
    import random

    from imagelint.cli import main
    from tests.fleetgen import generate_fleet

    images = generate_fleet(100, seed=4, varied=True)
    for n, image in enumerate(images):
        image["id"] = image["id"] or f"x{n}"
    fetch = ('{"snapshot": {"complete": true},\n"images": [' + ",\n".join(json.dumps(i, ensure_ascii=False)
                                                                       for i in images) + "\n]}\n").encode()
    lines = "".join(json.dumps(i) + "\n" for i in images).encode()
    codes = []
    for seed in range(24):
        rng = random.Random(seed)
        data = bytearray(fetch if seed % 2 else lines)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[at:at + rng.randrange(1, 50)]
            else:
                data[at:at] = rng.choice([b"[", b"{", b"\\u0000", b"\\ud800", b"\xff", b",", b'"', b"\n", b"NaN"])
        path = tmp_path / ("s.json" if seed % 3 else "s.jsonl")
        path.write_bytes(bytes(data))
        code = main(["check", "--input", str(path), "--format", "json", "--output", str(tmp_path / "r.json"),
                     "--fail-on", "never"])
        err = capsys.readouterr().err
        assert code in (0, 3) and "Traceback" not in err, (seed, err)
        if code == 3:
            assert err.startswith(f"imagelint: INCOMPLETE: {path}"), (seed, err)
            assert len(err.splitlines()) == 2  # the reason, then the summary line
        codes.append(code)
    assert 3 in codes and 0 in codes
