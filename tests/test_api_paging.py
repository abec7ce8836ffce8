"""Pagination against the fake IMS server on loopback, through the real CLI: every image exactly once, the
end is a page without ``next``, loops and foreign links stop the run (exit 3) and nothing is sent abroad."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qsl

import pytest

from imagelint.sources.api import ApiOptions, ApiSource
from imagelint.sources.auth import NoAuth
from imagelint.sources.transport import Transport, TransportOptions
from tests.apihelp import assert_each_once, assert_incomplete, check, listing, run
from tests.fakeims import FakeIMS, Fault, generate_images

TOKEN = "tok-paging-0123456789"
ENV = {"OS_AUTH_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def fleet():
    return generate_images(230, seed=3)


def serve(images, **kw):
    return FakeIMS(images, auth="token", token=TOKEN, **kw)


def test_default_page_size_one_request_per_thousand(tmp_path):
    images = generate_images(2100, seed=4)
    with serve(images) as srv:
        proc, report = check(srv.url, tmp_path, env=ENV)
        targets = [r.target for r in srv.image_requests]
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, images)
    assert len(targets) == 3 and targets[0] == "/v2/images?limit=1000"
    assert report["source"]["details"]["pages"] == 3


def test_server_clamping_is_not_the_end(tmp_path, fleet):
    # The server serves at most 40 per page although we ask for 1000: short pages are not the end.
    with serve(fleet, max_limit=40) as srv:
        proc, report = check(srv.url, tmp_path, env=ENV)
        n = len(srv.image_requests)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert n == 6  # 230 / 40 -> 5 full pages and one of 30, which has no next


def test_one_short_page_in_the_middle_is_not_the_end(tmp_path, fleet):
    with serve(fleet, faults=[Fault("clamp", page=1, limit=7)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)


def test_empty_last_page_when_total_is_a_multiple_of_the_page_size(tmp_path, fleet):
    images = fleet[:200]
    with serve(images) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
        statuses = [r.status for r in srv.image_requests]
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, images)
    assert statuses == [200] * 5  # 4 full pages, then Glance's empty page without next
    assert report["source"]["details"]["pages"] == 5


def test_empty_fleet(tmp_path):
    # an empty listing is complete as a listing, but a gate that judged nothing does not pass unless told
    with serve([]) as srv:
        proc, report = check(srv.url, tmp_path, env=ENV)
        allowed, allowed_report = check(srv.url, tmp_path, "--allow-empty", env=ENV, report="allowed.json")
    assert proc.returncode == 3, proc.stderr
    assert report["source"]["images"] == 0 and report["source"]["complete"] is False
    assert "no image was judged" in report["source"]["error"]
    assert allowed.returncode == 0, allowed.stderr
    assert allowed_report["source"]["images"] == 0 and allowed_report["source"]["complete"] is True


def test_absolute_next_on_the_same_origin_is_followed(tmp_path, fleet):
    with serve(fleet, faults=[Fault("absolute_next", page=None, times=None)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)


def test_query_limit_is_the_page_size_and_the_query_reaches_the_server(tmp_path, fleet):
    private = [img for img in fleet if img["visibility"] == "private"]
    with serve(fleet) as srv:
        proc, report = check(
            srv.url,
            tmp_path,
            "--query",
            "visibility=private",
            "--query",
            "limit=25",
            "--query",
            "sort_key=name",
            "--query",
            "sort_dir=asc",
            env=ENV,
        )
        first = srv.image_requests[0]
        later = [dict(parse_qsl(r.query)) for r in srv.image_requests[1:]]
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, private)
    assert first.target == "/v2/images?limit=25&sort_dir=asc&sort_key=name&visibility=private"
    assert all(q["visibility"] == "private" and q["limit"] == "25" for q in later)
    assert report["source"]["details"]["query"] == "sort_dir=asc&sort_key=name&visibility=private"


def test_page_size_and_query_limit_must_agree(tmp_path):
    proc = run("check", "--endpoint", "http://127.0.0.1:9", "--page-size", "10", "--query", "limit=20")
    assert proc.returncode == 2 and "disagree" in proc.stderr


def test_duplicate_id_is_a_warning_and_judged_once(tmp_path, fleet):
    with serve(fleet, faults=[Fault("duplicate", page=2), Fault("duplicate", page=3)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    order = listing(fleet)
    for page in (2, 3):
        assert f"warning: image {order[page * 50 - 1]['id']} was listed again on page {page + 1}" in proc.stderr
    assert report["source"]["details"]["duplicates"] == 2


def test_many_duplicates_are_summarised(tmp_path, fleet):
    with serve(fleet, faults=[Fault("duplicate", page=None, times=None)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "10", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert proc.stderr.count("was listed again") == 10
    assert "more duplicate image ids not shown (23 in all)" in proc.stderr


def test_next_loop_stops_with_exit_3(tmp_path, fleet):
    with serve(fleet, faults=[Fault("next_loop", page=2)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
        n = len(srv.image_requests)
    assert_incomplete(proc, report, fleet, pages_seen=3, page=50)
    assert "pagination loop" in proc.stderr and "after 3 pages" in proc.stderr
    assert n == 3  # the looping link is never requested


def test_next_loop_back_to_the_first_page(tmp_path, fleet):
    with serve(fleet, faults=[Fault("next_loop", page=0)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert "pagination loop" in proc.stderr


def test_foreign_next_is_refused_and_nothing_is_sent_there(tmp_path, fleet):
    with FakeIMS(fleet) as foreign:
        with serve(fleet, faults=[Fault("foreign_next", page=1, base=foreign.url)]) as srv:
            proc, report = check(srv.url, tmp_path, "--page-size", "50", "--header", "X-Api-Key-Id=k1", env=ENV)
        assert foreign.requests == []
    assert_incomplete(proc, report, fleet, pages_seen=2, page=50)
    assert f'refusing to follow "next" to another origin ({foreign.url}/v2/images' in proc.stderr
    assert "no request was sent there" in proc.stderr


@pytest.mark.parametrize("other", ["https://127.0.0.1:{port}", "http://localhost:{port}", "http://127.0.0.1:1"])
def test_other_scheme_host_or_port_is_foreign(tmp_path, fleet, other):
    with serve(fleet) as srv:
        base = other.format(port=srv.port)
        srv.add_fault(Fault("foreign_next", page=0, base=base))
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
        n = len(srv.image_requests)
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert "another origin" in proc.stderr and n == 1


def test_incomplete_text_report_says_so(tmp_path, fleet):
    with serve(fleet, faults=[Fault("next_loop", page=1)]) as srv:
        proc = run("check", "--endpoint", srv.url, "--page-size", "50", "--fail-on", "never", env=ENV)
    assert proc.returncode == 3
    assert "INCOMPLETE" in proc.stdout and "INCOMPLETE" in proc.stderr


def test_progress_only_when_asked_off_a_terminal(tmp_path, fleet):
    with serve(fleet) as srv:
        quiet, _ = check(srv.url, tmp_path, "--page-size", "50", env=ENV)
        loud, _ = check(srv.url, tmp_path, "--page-size", "50", "--progress", env=ENV, report="r2.json")
    assert "images/s" not in quiet.stderr
    assert "imagelint: 5 pages, 230 images" in loud.stderr and "images/s" in loud.stderr


def test_next_page_is_fetched_while_the_current_one_is_evaluated(fleet):
    """Prefetch: after page 0 is handed over, page 1 is requested without waiting for the consumer."""
    with FakeIMS(fleet) as srv:
        source = ApiSource(ApiOptions(endpoint=srv.url, page_size=50), Transport(TransportOptions()), NoAuth(srv.url))
        pages = source.pages()
        first = next(pages)
        handed = time.time()
        time.sleep(0.5)  # "evaluating" page 0
        requested = [r.time for r in srv.image_requests]
        rest = list(pages)
    assert len(first) == 50 and sum(map(len, rest)) == 180
    assert len(requested) >= 2 and requested[1] < handed + 0.4


def test_abandoned_iteration_stops_the_worker(fleet):
    with FakeIMS(fleet, latency=0.05) as srv:
        source = ApiSource(ApiOptions(endpoint=srv.url, page_size=10), Transport(TransportOptions()), NoAuth(srv.url))
        pages = source.pages()
        next(pages)
        pages.close()
        time.sleep(0.3)
        n = len(srv.image_requests)
        time.sleep(0.3)
        assert len(srv.image_requests) == n <= 4
    assert not [t for t in threading.enumerate() if t.name == "imagelint-fetch" and t.is_alive()]


def test_check_input_of_a_listing_saved_by_hand_matches(tmp_path, fleet):
    """The same fleet through --endpoint and through a snapshot file: the same verdicts."""
    snap = tmp_path / "fleet.json"
    snap.write_text(json.dumps({"images": fleet}), encoding="utf-8")
    with serve(fleet) as srv:
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
    saved = run(
        "check", "--input", str(snap), "--format", "json", "--fail-on", "never", "--now", "2026-11-27T00:00:00Z"
    )
    a, b = json.loads(live.stdout), json.loads(saved.stdout)
    assert a["summary"] == b["summary"] and a["policies"] == b["policies"]
    assert sorted(json.dumps(f, sort_keys=True) for f in a["findings"]) == sorted(
        json.dumps(f, sort_keys=True) for f in b["findings"]
    )


def test_every_report_format_says_incomplete(tmp_path, fleet):
    from imagelint.formats import OutputFormat

    with serve(fleet, faults=[Fault("next_loop", page=1, times=None)]) as srv:
        for fmt in OutputFormat:
            out = tmp_path / f"report.{fmt.value}"
            proc = run(
                "check",
                "--endpoint",
                srv.url,
                "--page-size",
                "50",
                "--format",
                fmt.value,
                "--output",
                str(out),
                "--fail-on",
                "never",
                env=ENV,
            )
            assert proc.returncode == 3, (fmt, proc.stderr)
            assert "incomplete" in out.read_text(encoding="utf-8").lower(), fmt


def test_pages_vouch_for_plain_only_when_no_string_is_odd(tmp_path, fleet):
    # a NUL (\\u0000) or a lone surrogate (\\ud800) can only come from an escape in the JSON text
    odd = [dict(img) for img in fleet[:120]]
    odd[55]["name"] = "evil\x00name"
    odd[100]["name"] = "lone \udc00 surrogate"
    odd[7]["name"] = "paired \U0001f600 surrogates"  # the fake serves ASCII JSON: \\ud83d\\ude00, a pair
    with FakeIMS(odd) as srv:
        source = ApiSource(ApiOptions(endpoint=srv.url, page_size=20), Transport(TransportOptions()), NoAuth(srv.url))
        pages = list(source.pages())
    names = [{img["name"] for img in page} for page in pages]
    for page, held in zip(pages, names, strict=True):
        # a pair of surrogate escapes decodes to one character: the decoder checked it, the page stays plain
        strange = bool(held & {"evil\x00name", "lone \udc00 surrogate"})
        assert page.plain is not strange
    assert sum(page.plain for page in pages) >= 3
    with FakeIMS(odd) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50")
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, odd)
