"""``imagelint fetch`` of images whose strings cannot be written as UTF-8 as they are (a lone surrogate, sent
by the API as the JSON escape ``\\ud800``) or that hide in review (C1 controls, U+2028): the snapshot is
written, stays valid UTF-8 JSON, and ``check --input`` reads back the same values and verdicts."""

from __future__ import annotations

import json

import pytest

from tests.apihelp import run
from tests.fakeims import FakeIMS, generate_images

TOKEN = "tok-inputs-0123456789"
ENV = {"OS_AUTH_TOKEN": TOKEN}
NOW = "2026-11-27T00:00:00Z"
ODD = ["\ud800", "legacy\u0080web", "x\u009b31m", "\u2028", "web-\U0001f600", "a\u0000b", "\udfff\ud800"]


@pytest.mark.parametrize("jsonl", [False, True], ids=["json", "jsonl"])
def test_fetch_writes_odd_strings_that_check_reads_back(tmp_path, jsonl):
    fleet = generate_images(len(ODD), seed=3)
    for image, odd in zip(fleet, ODD, strict=True):
        image["name"] = odd
        image["__odd"] = {"nested": [odd]}
    out = tmp_path / ("snap.jsonl" if jsonl else "snap.json")
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        proc = run("fetch", "--endpoint", srv.url, "--output", str(out), *(["--jsonl"] if jsonl else []), env=ENV)
        assert proc.returncode == 0, proc.stderr
        live = run("check", "--endpoint", srv.url, "--format", "json", "--fail-on", "never", "--now", NOW, env=ENV)
    text = out.read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert not any("\ud800" <= c <= "\udfff" or "\x7f" <= c <= "\x9f" or c == "\u2028" for c in text)
    lines = text.splitlines()
    images = [json.loads(line) for line in lines[1:]] if jsonl else json.loads(text)["images"]
    assert sorted((i["name"], i["__odd"]["nested"][0]) for i in images) == sorted((o, o) for o in ODD)
    saved = run("check", "--input", str(out), "--format", "json", "--fail-on", "never", "--now", NOW)
    assert saved.returncode == live.returncode == 0, saved.stderr
    a, b = json.loads(live.stdout), json.loads(saved.stdout)
    assert a["summary"] == b["summary"] and a["findings"] == b["findings"]
    assert sorted(f["image"]["name"] for f in b["findings"] if f["policy"] == b["findings"][0]["policy"]) == sorted(
        f["image"]["name"] for f in a["findings"] if f["policy"] == a["findings"][0]["policy"]
    )
