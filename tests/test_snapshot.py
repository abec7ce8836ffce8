"""Snapshot input: three shapes, streaming JSON Lines, and a clear error with position for bad input."""

from __future__ import annotations

import json

import pytest

from imagelint.sources import SnapshotSource, SourceError
from imagelint.sources.snapshot import PAGE
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
    assert [len(p) for p in pages] == [PAGE] * (2500 // PAGE) + ([2500 % PAGE] if 2500 % PAGE else [])
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


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.json", '{"images": [{"id": "a"}, ', "{path}:1:26: not valid JSON: Expecting value"),
        ("a.json", '{"images": [1, ', "{path}: images[0]: expected an image object, got a JSON number"),  # first met
        (
            "a.json",
            '{"items": []}',
            (
                '{path}: expected a JSON object with an "images" array, a JSON array of images, '
                'or JSON Lines; got an object without an "images" array'
            ),
        ),
        (
            "a.json",
            '"hello"',
            (
                '{path}: expected a JSON object with an "images" array, a JSON array of images, or '
                "JSON Lines; got a JSON string"
            ),
        ),
        (
            "a.json",
            "null",
            (
                '{path}: expected a JSON object with an "images" array, a JSON array of images, or '
                "JSON Lines; got a JSON null"
            ),
        ),
        ("a.json", '{"images": [{"id": "a"}, [1]]}', "{path}: images[1]: expected an image object, got a JSON array"),
        ("a.json", '[{"id": 7}]', '{path}: [0]: image has no string "id" ("id" is a JSON number)'),
        ("a.json", '[{"name": "x"}]', '{path}: [0]: image has no string "id" (no "id")'),
        ("a.json", '[{"id": "a"}, {"id": ""}]', '{path}: [1]: image has an empty "id"'),
        ("a.jsonl", '{"id": "a"}\n{"id": "b"\n', "{path}:2:12: not valid JSON: Expecting ',' delimiter"),
        ("a.jsonl", '{"id": "a"}\n\n{"name": "b"}\n', '{path}:3: image has no string "id" (no "id")'),
        ("a.json", "", "{path}:1: empty snapshot: expected JSON or JSON Lines"),
    ],
)
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
    fetch = (
        '{"snapshot": {"complete": true},\n"images": ['
        + ",\n".join(json.dumps(i, ensure_ascii=False) for i in images)
        + "\n]}\n"
    ).encode()
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
                del data[at : at + rng.randrange(1, 50)]
            else:
                data[at:at] = rng.choice([b"[", b"{", b"\\u0000", b"\\ud800", b"\xff", b",", b'"', b"\n", b"NaN"])
        path = tmp_path / ("s.json" if seed % 3 else "s.jsonl")
        path.write_bytes(bytes(data))
        code = main(
            [
                "check",
                "--input",
                str(path),
                "--format",
                "json",
                "--output",
                str(tmp_path / "r.json"),
                "--fail-on",
                "never",
            ]
        )
        err = capsys.readouterr().err
        assert code in (0, 3) and "Traceback" not in err, (seed, err)
        if code == 3:
            assert err.startswith(f"imagelint: INCOMPLETE: {path}"), (seed, err)
            assert len(err.splitlines()) == 2  # the reason, then the summary line
        codes.append(code)
    assert 3 in codes and 0 in codes


META = {
    "endpoint": "https://ims.example.test",
    "query": "",
    "fetched_at": "2026-11-27T00:00:00Z",
    "pages": 1,
    "images": 3,
    "complete": True,
}


def _cli_check(tmp_path, cli, path, *extra, stdin=None):
    policy = tmp_path / "p.yaml"
    policy.write_text(policy_yaml(validations=['image.status == "active"']))
    return cli("check", "--input", path, "--policies", str(policy), "--format", "json", *extra, stdin=stdin)


@pytest.mark.parametrize("jsonl", [False, True])
def test_a_snapshot_cut_short_does_not_pass(tmp_path, cli, jsonl):
    # cut at a line end, a fetch --jsonl file is still valid JSON Lines: only the metadata's count shows it
    path = tmp_path / ("s.jsonl" if jsonl else "s.json")
    if jsonl:
        path.write_text(json.dumps({"snapshot": META}) + "\n" + json.dumps(IMAGES[0]) + "\n")
    else:
        path.write_text(json.dumps({"snapshot": META, "images": IMAGES[:1]}))
    result = _cli_check(tmp_path, cli, str(path))
    assert result.returncode == 3, result.stderr
    assert (
        f"imagelint: INCOMPLETE: {path}: the snapshot's metadata says it holds 3 images, but the file has 1 "
        "(was it cut short or edited?)"
    ) in result.stderr
    report = json.loads(result.stdout)
    assert report["source"]["complete"] is False and report["summary"]["pass"] == 1  # what was read is judged
    whole = tmp_path / ("w.jsonl" if jsonl else "w.json")
    if jsonl:
        whole.write_text("".join(json.dumps(v) + "\n" for v in [{"snapshot": META}, *IMAGES[:3]]))
    else:
        whole.write_text(json.dumps({"images": IMAGES[:3], "snapshot": META}))  # metadata after the images too
    assert _cli_check(tmp_path, cli, str(whole)).returncode == 0


@pytest.mark.parametrize(
    "meta, message",
    [
        ({**META, "complete": "false"}, '"complete": "false", not true'),
        ({**META, "complete": 0}, '"complete": 0, not true'),
        ({**META, "complete": None}, '"complete": null, not true'),
        ({k: v for k, v in META.items() if k != "complete"}, '"complete": null, not true'),
        ({}, '"complete": null, not true'),
        ({**META, "images": "3"}, '"images": "3", not the number of images'),
        ({**META, "images": 3.0}, '"images": 3.0, not the number of images'),
        ({**META, "images": True}, '"images": true, not the number of images'),
    ],
)
def test_snapshot_metadata_must_say_complete_and_count_the_images(tmp_path, meta, message):
    for name, text in [
        ("s.json", json.dumps({"snapshot": meta, "images": IMAGES[:3]})),
        ("s.jsonl", "".join(json.dumps(v) + "\n" for v in [{"snapshot": meta}, *IMAGES[:3]])),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SourceError) as caught:
            read_all(str(path))
        assert str(caught.value).startswith(f"{path}: the snapshot's metadata has {message}")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"snapshot": {"complete": false}, "images": [{"id": "a"}], "snapshot": {"complete": true, "images": 1}}',
            'two "snapshot" metadata objects',
        ),
        ('{"snapshot": "complete", "images": [{"id": "a"}]}', '"snapshot" is a JSON string, not fetch\'s metadata'),
        (
            '{"images": [{"id": "a"}], "next": "/v2/images?limit=1&marker=a"}',
            'this is one page of the API: its "next" link ("/v2/images?limit=1&marker=a") says more images follow',
        ),
    ],
)
def test_snapshots_that_cannot_show_the_whole_fleet(tmp_path, text, message):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        read_all(str(path))


def test_an_api_page_without_next_is_the_whole_fleet(tmp_path):
    for text in [
        '{"images": [{"id": "a"}], "first": "/v2/images", "schema": "/v2/schemas/images"}',
        '{"images": [{"id": "a"}], "next": ""}',
        '{"images": [{"id": "a"}], "next": null}',
    ]:
        path = tmp_path / "s.json"
        path.write_text(text)
        assert read_all(str(path)) == [{"id": "a"}]


@pytest.mark.parametrize("name", ["d.json", "d.jsonl"])
def test_an_id_met_again_is_warned_about_and_judged_once(tmp_path, cli, name):
    images = [IMAGES[0], IMAGES[1], {**IMAGES[0], "status": "killed"}, IMAGES[1]]
    path = tmp_path / name
    path.write_text(json.dumps(images) if name.endswith(".json") else "".join(json.dumps(i) + "\n" for i in images))
    result = _cli_check(tmp_path, cli, str(path))
    assert result.returncode == 0, result.stderr  # the later copy (killed) is not judged: the first one counts
    where = (f"{path}: [2]", f"{path}: [3]") if name.endswith(".json") else (f"{path}:3", f"{path}:4")
    assert (
        f"imagelint: warning: image img-0 is in the snapshot again at {where[0]}; it is evaluated once" in result.stderr
    )
    assert f"imagelint: warning: image img-1 is in the snapshot again at {where[1]}" in result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["images"] == 2 and report["summary"]["pass"] == 2
    assert report["source"]["details"]["duplicates"] == 2


def test_a_whole_fetch_snapshot_with_metadata_passes(tmp_path, cli):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in [{"snapshot": META}, *IMAGES[:3]]))
    result = _cli_check(tmp_path, cli, "-", stdin=path.read_text())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"]["details"]["snapshot"]["images"] == 3


def test_json_lines_detected_with_a_bom_an_images_key_or_only_the_metadata_line(tmp_path, cli):
    bom = tmp_path / "bom.txt"  # no .jsonl suffix: the content decides
    bom.write_bytes(b"\xef\xbb\xbf" + b"".join(json.dumps(i).encode() + b"\n" for i in IMAGES[:2]))
    assert read_all(str(bom)) == IMAGES[:2]
    odd = tmp_path / "odd.txt"  # an image that happens to have an "images" attribute
    odd.write_text(json.dumps({**IMAGES[0], "images": [1]}) + "\n")
    assert read_all(str(odd)) == [{**IMAGES[0], "images": [1]}]
    # fetch --jsonl of an empty fleet is the metadata line alone; from stdin, no suffix tells the form
    empty = json.dumps({"snapshot": {**META, "images": 0}}) + "\n"
    result = _cli_check(tmp_path, cli, "-", "--allow-empty", stdin=empty)  # no image: only passes when allowed
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"]["details"]["format"] == "jsonl"


def test_json_lines_read_in_batches_name_the_same_lines_as_line_by_line(tmp_path, capsys):
    # lines are decoded BATCH at a time; whatever is odd in a batch (a blank line, two values on a line, a
    # NUL escape, a wide integer, a repeated id, a line that is not JSON) must be read and named as when
    # every line was read alone
    from imagelint.sources.snapshot import BATCH

    n = BATCH // 20  # lines 1..n are in the first batch or two, 2n.. in a later one
    lines = [json.dumps({"id": f"img-{i}", "name": f"n{i}"}) for i in range(3 * n)]
    lines[n + 5] = ""  # a blank line inside the second batch
    lines[n + 9] = '{"id": "nul", "name": "a\\u0000b"}'
    lines[n + 10] = '{"id": "wide", "min_disk": 123456789012345678901234567890}'
    lines[2 * n + 3] = json.dumps({"id": "img-7", "name": "n7"})  # img-7 again, on line 2 * n + 4
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(lines) + "\n")
    source = SnapshotSource(str(path))
    pages = list(source.pages())
    images = [i for p in pages for i in p]
    assert len(images) == 3 * n - 2 and images[n + 8] == {"id": "nul", "name": "a\x00b"}
    assert images[n + 9]["min_disk"] == 123456789012345678901234567890
    odd = [any(i["id"] in ("nul", "wide") for i in p) for p in pages]
    assert [not p.plain for p in pages] == odd and any(odd)  # the NUL escape and the wide int are odd
    assert source.odd_images == 2 and source.read == 3 * n - 1
    assert f"image img-7 is in the snapshot again at {path}:{2 * n + 4};" in capsys.readouterr().err
    for broken, message in [
        ('{"id": "x"} {"id": "y"}', "not valid JSON: Extra data"),
        ('{"id": "x", "a": [1, }', "not valid JSON: Expecting value"),
        ('{"name": "no id"}', 'image has no string "id" (no "id")'),
        ("[1]", "expected an image object, got a JSON array"),
    ]:
        bad = list(lines)
        bad[2 * n + 20] = broken
        path.write_text("\n".join(bad) + "\n")
        seen: list[dict] = []
        with pytest.raises(SourceError) as caught:
            for page in SnapshotSource(str(path)).pages():
                seen.extend(page)
        assert str(caught.value).startswith(f"{path}:{2 * n + 21}") and message in str(caught.value)
        assert len(seen) == 2 * n + 20 - 2  # every image before it was read (less the blank, the repeat)


def test_a_snapshot_read_for_some_attributes_keeps_those_and_still_reads_the_rest_as_json(tmp_path):
    # SnapshotSource(fields=...) keeps only the attributes a run reads; what it skips must still be JSON,
    # UTF-8, and bounded in nesting, exactly as when every attribute is kept
    fields = frozenset({"name", "min_disk"})
    rows = [
        {"snapshot": META | {"images": 3}},
        {"id": "a", "name": "x", "min_disk": 1, "tags": ["t"], "other": {"deep": [1, 2]}},
        {"id": "b", "wide": 123456789012345678901234567890, "min_disk": 2},  # wide, but not kept: still plain
        {"id": "c", "name": "\u00e9", "nan": float("nan")},  # NaN only json reads: the fallback projects too
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = SnapshotSource(str(path), fields=fields)
    assert [i for page in source.pages() for i in page] == [
        {"id": "a", "name": "x", "min_disk": 1},
        {"id": "b", "min_disk": 2},
        {"id": "c", "name": "\u00e9"},
    ]
    assert source.metadata["images"] == 3  # the metadata line is read whole
    # a name is the same name however it is written: escaped, or not ASCII (which msgspec cannot keep by
    # itself), so no tenant hides an attribute from a policy by spelling it differently
    path.write_bytes(b'{"id": "e", "vis\\u0069bility": "public", "\xc3\xa9": 1, "\\u00e9t\\u00e9": 2, "x": 3}\n')
    for kept in (frozenset({"visibility"}), frozenset({"visibility", "\u00e9", "\u00e9t\u00e9"})):
        images = [i for page in SnapshotSource(str(path), fields=kept).pages() for i in page]
        assert images == [
            {
                "id": "e",
                **{k: v for k, v in {"visibility": "public", "\u00e9": 1, "\u00e9t\u00e9": 2}.items() if k in kept},
            }
        ]
    for line, message in [
        (b'{"id": "d", "skipped": [1, }\n', "p.jsonl:2:"),
        (b'{"id": "d", "skipped": "\xff"}\n', "p.jsonl:2: not UTF-8 text"),
        (b'{"id": "d", "skipped": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", "p.jsonl:2: not valid JSON"),
    ]:
        path.write_bytes(b'{"id": "a"}\n' + line)
        with pytest.raises(SourceError, match=message):
            list(SnapshotSource(str(path), fields=fields).pages())
        with pytest.raises(SourceError, match=message):
            list(SnapshotSource(str(path)).pages())


def test_check_reads_only_what_its_policies_and_waivers_read(tmp_path, cli):
    # the same verdicts and evidence whether the snapshot is read whole or for the policies' attributes
    import shutil

    from imagelint.judgement.evaluate import attributes_read
    from imagelint.policy import bundled_pack, load_policies

    pack = load_policies([bundled_pack("ims")])
    two = [p for p in pack if p.name in ("min-disk-range", "private-images-encrypted")]
    assert attributes_read(two) == {"id", "name", "visibility", "owner", "min_disk", "__system__cmkid"}
    assert attributes_read([*two, next(p for p in pack if p.name == "boolean-attributes-valid")]) is None
    (tmp_path / "pol").mkdir()
    for name in ("min-disk-range", "private-images-encrypted"):
        shutil.copy(bundled_pack("ims") / f"{name}.yaml", tmp_path / "pol")
    images = [{"id": f"i{n}", "visibility": "private", "min_disk": n, "name": f"n{n}"} for n in range(3)]
    images[0]["status"] = "active"  # read by no policy: only the waiver's match
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in images))
    (tmp_path / "w.yaml").write_text(
        "waivers:\n  - policy: min-disk-range\n    match: image.status == 'active'\n"
        "    reason: r\n    expires: 2099-01-01\n"
    )
    args = ["check", "--input", str(path), "--policies", str(tmp_path / "pol"), "--format", "json"]
    plain = cli(*args, "--now", "2026-11-27T00:00:00Z")
    waived = cli(*args, "--now", "2026-11-27T00:00:00Z", "--waivers", str(tmp_path / "w.yaml"))
    assert plain.returncode == waived.returncode == 1, plain.stderr + waived.stderr
    found = json.loads(plain.stdout)["findings"]
    assert sorted((f["policy"], f["image"]["id"]) for f in found) == [
        ("min-disk-range", "i0"),
        ("private-images-encrypted", "i0"),
        ("private-images-encrypted", "i1"),
        ("private-images-encrypted", "i2"),
    ]
    assert all(set(f["attributes"]) <= {"min_disk", "visibility", "name", "__system__cmkid"} for f in found)
    waivers = {(f["policy"], f["image"]["id"]): f["waiver"] is not None for f in json.loads(waived.stdout)["findings"]}
    assert waivers == {k: k == ("min-disk-range", "i0") for k in waivers} and len(waivers) == 4
