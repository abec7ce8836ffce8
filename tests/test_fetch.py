"""``imagelint fetch``: an atomic snapshot of every image (JSON or JSON Lines) that ``check --input`` reads
with the same verdicts as ``check --endpoint``; a failed fetch leaves no complete-looking file."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.apihelp import check, run, seen_policy
from tests.fakeims import FakeIMS, Fault, generate_images

TOKEN = "tok-fetch-0123456789"
ENV = {"OS_AUTH_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def fleet():
    return generate_images(150, seed=7)


def serve(images, faults=(), **kw):
    return FakeIMS(images, auth="token", token=TOKEN, faults=list(faults), **kw)


def fetch(url, out, *extra, env=ENV):
    return run("fetch", "--endpoint", url, "--output", str(out), *extra, env=env)


def read_snapshot(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        return lines[0]["snapshot"], lines[1:]
    doc = json.loads(text)
    assert list(doc) == ["snapshot", "images"]
    return doc["snapshot"], doc["images"]


@pytest.mark.parametrize("name", ["snap.json", "snap.jsonl"])
def test_fetch_writes_every_image_once_with_metadata(tmp_path, fleet, name):
    out = tmp_path / name
    with serve(fleet, [Fault("status", status=503, page=1, retry_after=0), Fault("duplicate", page=2)]) as srv:
        proc = fetch(
            srv.url,
            out,
            "--page-size",
            "40",
            "--query",
            "__isregistered=true",
            *(["--jsonl"] if name.endswith("jsonl") else []),
        )
    assert proc.returncode == 0, proc.stderr
    meta, images = read_snapshot(out)
    assert Counter(i["id"] for i in images) == Counter(i["id"] for i in fleet)
    assert images == sorted(fleet, key=lambda i: (i["created_at"], i["id"]), reverse=True)  # served order, as served
    assert meta["endpoint"] == srv.url and meta["query"] == "__isregistered=true"
    assert (meta["pages"], meta["images"], meta["complete"], meta["duplicates"]) == (4, 150, True, 1)
    assert meta["fetched_at"].endswith("Z")
    assert proc.stderr.strip().endswith(f"imagelint: fetched 150 images in 4 pages -> {out}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left behind


@pytest.mark.parametrize("name", ["snap.json", "snap.jsonl"])
def test_snapshot_checks_like_the_live_api(tmp_path, fleet, name):
    out = tmp_path / name
    with serve(fleet) as srv:
        assert fetch(srv.url, out, *(["--jsonl"] if name.endswith("jsonl") else [])).returncode == 0
        live = run(
            "check",
            "--endpoint",
            srv.url,
            "--format",
            "json",
            "--fail-on",
            "never",
            "--now",
            "2026-11-27T00:00:00Z",
            env=ENV,
        )
    saved = run("check", "--input", str(out), "--format", "json", "--fail-on", "never", "--now", "2026-11-27T00:00:00Z")
    a, b = json.loads(live.stdout), json.loads(saved.stdout)
    assert saved.returncode == live.returncode == 0
    assert b["source"]["complete"] is True and b["source"]["images"] == 150
    assert b["source"]["details"]["snapshot"]["complete"] is True
    assert a["summary"] == b["summary"] and a["policies"] == b["policies"] and a["findings"] == b["findings"]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "next_loop", "page": 1},
        {"kind": "status", "page": 2, "times": None, "retry_after": 0},
        {"kind": "truncate", "page": 1, "times": None},
        {"kind": "html", "page": 3},
    ],
    ids=["loop", "503", "truncate", "html"],
)
@pytest.mark.parametrize("jsonl", [False, True], ids=["json", "jsonl"])
def test_failed_fetch_writes_nothing_and_exits_3(tmp_path, fleet, fault, jsonl):
    out = tmp_path / "snap.json"
    with serve(fleet, [Fault(**fault)]) as srv:
        proc = fetch(srv.url, out, "--page-size", "40", "--retries", "1", *(["--jsonl"] if jsonl else []))
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert lines[-2].startswith("imagelint: INCOMPLETE: GET ")
    assert lines[-1].startswith("imagelint: fetch failed after ") and f"({out} not created); exit 3" in lines[-1]
    assert list(tmp_path.iterdir()) == []


def test_failed_fetch_leaves_the_previous_snapshot_alone(tmp_path, fleet):
    out = tmp_path / "snap.json"
    with serve(fleet) as srv:
        assert fetch(srv.url, out).returncode == 0
        before = out.read_bytes()
        srv.add_fault(Fault("no_images", page=1))
        proc = fetch(srv.url, out, "--page-size", "40")
    assert proc.returncode == 3 and f"({out} left unchanged)" in proc.stderr
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap.json"]


def test_incomplete_snapshot_is_an_incomplete_check(tmp_path, fleet):
    """A snapshot whose metadata says complete: false (e.g. written by another tool) makes check exit 3."""
    out = tmp_path / "snap.json"
    with serve(fleet) as srv:
        assert fetch(srv.url, out).returncode == 0
    doc = json.loads(out.read_text())
    doc["snapshot"]["complete"] = False
    out.write_text(json.dumps(doc))
    proc = run("check", "--input", str(out), "--policies", str(seen_policy(tmp_path)), "--format", "json")
    assert proc.returncode == 3 and json.loads(proc.stdout)["source"]["complete"] is False


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--output", "/nonexistent-dir/snap.json"], "folder /nonexistent-dir does not exist"),
        (["--output", "/tmp"], "is a folder"),
        (["--output", "x.json", "--query", "bogus=1"], "unknown query parameter"),
    ],
)
def test_fetch_usage_errors_are_exit_2(args, says):
    proc = run("fetch", "--endpoint", "http://127.0.0.1:9", *args)
    assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_fetch_needs_endpoint_and_output():
    proc = run("fetch", "--output", "x.json")
    assert proc.returncode == 2 and "--endpoint" in proc.stderr
    proc = run("fetch", "--endpoint", "http://127.0.0.1:9")
    assert proc.returncode == 2 and "--output" in proc.stderr


def test_check_with_the_same_source_twice_is_a_usage_error(tmp_path):
    proc = run("check", "--endpoint", "http://127.0.0.1:9", "--sample")
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


def test_check_endpoint_json_report_details(tmp_path, fleet):
    with serve(fleet) as srv:
        _, report = check(srv.url, tmp_path, "--page-size", "100", env=ENV)
    details = report["source"]["details"]
    assert report["source"]["kind"] == "api" and report["source"]["location"] == srv.url
    assert {k: details[k] for k in ("endpoint", "page_size", "pages", "duplicates", "auth", "retries")} == {
        "endpoint": srv.url,
        "page_size": 100,
        "pages": 2,
        "duplicates": 0,
        "auth": "token",
        "retries": 0,
    }


@pytest.mark.parametrize(
    "flag",
    [["--query", "visibility=public"], ["--token", "t"], ["--retries", "1"], ["--insecure"], ["--page-size", "10"]],
)
def test_api_options_without_endpoint_are_exit_2(flag):
    proc = run("check", "--sample", *flag)
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == f"{flag[0]}: only with --endpoint, --cloud or --region (they configure the live API)"
    )
