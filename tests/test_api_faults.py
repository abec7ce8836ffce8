"""Every fault of the fake server, through the real CLI: what is retried comes through with each image
judged exactly once; what is not (or outlasts ``--retries``) is exit 3 with one line naming the request,
the status, the parsed error and the request id, and the images judged before it are judged once."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from tests.apihelp import assert_each_once, assert_incomplete, check, listing, run
from tests.fakeims import FakeIMS, Fault, generate_images

TOKEN = "tok-faults-0123456789"
ENV = {"OS_AUTH_TOKEN": TOKEN}
PAGE = "50"


@pytest.fixture(scope="module")
def fleet():
    return generate_images(180, seed=5)


def serve(images, faults, **kw):
    return FakeIMS(images, auth="token", token=TOKEN, faults=faults, **kw)


def page_requests(srv, page):
    return [r for r in srv.image_requests if r.page == page]


# -- retried, then complete ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_status_is_retried_from_the_same_marker(tmp_path, fleet, status):
    with serve(fleet, [Fault("status", status=status, page=2, times=2, retry_after=0)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
        tries = page_requests(srv, 2)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert [r.status for r in tries] == [status, status, 200]
    assert len({r.target for r in tries}) == 1  # same marker, same bytes
    assert proc.stderr.count(f"HTTP {status}") == 2 and "retry 2/3" in proc.stderr


def test_retry_after_seconds_is_honoured(tmp_path, fleet):
    with serve(fleet, [Fault("status", status=429, page=1, retry_after=1.5)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
        tries = page_requests(srv, 1)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert tries[1].time - tries[0].time >= 1.4
    assert "HTTP 429 Too Many Requests: APIG.0308" in proc.stderr and "retry 1/3 in 1.5 s" in proc.stderr


def test_retry_after_http_date_is_honoured(tmp_path, fleet):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2.5)
    with serve(fleet, [Fault("status", status=503, page=1, retry_after=when)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
        tries = page_requests(srv, 1)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert tries[1].time >= when.timestamp() - 1.0  # HTTP dates have whole seconds


def test_retry_after_beyond_the_cap_gives_up_at_once(tmp_path, fleet):
    with serve(fleet, [Fault("status", status=503, page=1, retry_after=3600)]) as srv:
        start = time.time()
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
    assert time.time() - start < 20
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert "retry after 3600 s (more than 300 s): giving up" in proc.stderr


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_reset_and_truncated_body_are_retried(tmp_path, fleet, kind):
    with serve(fleet, [Fault(kind, page=1), Fault(kind, page=3)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
        tries = page_requests(srv, 1)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert len(tries) == 2
    word = "truncated" if kind == "truncate" else "connection"
    assert proc.stderr.count("warning:") == 2 and word in proc.stderr


def test_read_timeout_is_retried(tmp_path, fleet):
    with serve(fleet, [Fault("latency", page=1, seconds=2.0)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, "--timeout", "0.5", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert "no response within 0.5 s (--timeout)" in proc.stderr


# -- unrecoverable: exit 3, one line, nothing judged twice ---------------------------------------------------


def test_retries_exhausted(tmp_path, fleet):
    with serve(fleet, [Fault("status", status=503, page=1, times=None, retry_after=0)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, "--retries", "2", env=ENV)
        tries = page_requests(srv, 1)
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert len(tries) == 3
    marker = listing(fleet)[49]["id"]
    line = proc.stderr.splitlines()[-2]
    assert re.fullmatch(
        rf"imagelint: INCOMPLETE: GET {srv.url}/v2/images\?limit=50&marker={marker}: HTTP 503 Service "
        r"Unavailable: APIG\.0202: .+ \(X-Request-Id: [0-9a-f]+\) \(after 3 attempts\)",
        line,
    ), line
    assert report["source"]["error"] == line.removeprefix("imagelint: INCOMPLETE: ")


def test_retries_zero_means_one_attempt(tmp_path, fleet):
    with serve(fleet, [Fault("reset", page=0, times=None)]) as srv:
        proc, report = check(srv.url, tmp_path, "--retries", "0", env=ENV)
        n = len(srv.image_requests)
    assert_incomplete(proc, report, fleet, pages_seen=0, page=50)
    assert n == 1 and "GET " + srv.url + "/v2/images?limit=1000: connection reset by the server\n" in proc.stderr


@pytest.mark.parametrize(
    ("status", "style", "expected"),
    [
        (400, "ims", r"HTTP 400 Bad Request: IMG\.0001: .+"),
        (403, "apigw", r"HTTP 403 Forbidden: APIG\.\d+: .+"),
        (404, "glance", r"HTTP 404 Not Found: .+"),
        (403, "html", r"HTTP 403 Forbidden: HTML page '403 Forbidden'.*"),
    ],
)
def test_client_errors_are_not_retried(tmp_path, fleet, status, style, expected):
    with serve(fleet, [Fault("status", status=status, style=style, page=1, times=None)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
        tries = page_requests(srv, 1)
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert len(tries) == 1
    assert re.search(expected + r" \(X-Request-Id: [0-9a-f]+\)$", report["source"]["error"]), report["source"]["error"]
    assert "warning" not in proc.stderr


def test_real_400_from_the_server_is_reported(tmp_path, fleet):
    # A marker that does not exist is a 400 from the API itself (IMS body).
    with serve(fleet, []) as srv:
        proc, report = check(srv.url, tmp_path, "--query", "marker=00000000-0000-0000-0000-000000000000", env=ENV)
    assert_incomplete(proc, report, fleet, pages_seen=0, page=50)
    assert "HTTP 400 Bad Request: IMG." in proc.stderr


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("html", "HTTP 200 but the body is not valid JSON (Content-Type text/html"),
        ("invalid_json", "HTTP 200 but the body is not valid JSON (Content-Type application/json"),
        ("no_images", 'body has no "images" array'),
    ],
)
def test_bad_bodies_are_unrecoverable(tmp_path, fleet, kind, says):
    with serve(fleet, [Fault(kind, page=2)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, env=ENV)
        tries = page_requests(srv, 2)
    assert_incomplete(proc, report, fleet, pages_seen=2, page=50)
    assert len(tries) == 1 and says in proc.stderr
    if kind == "html":
        assert report["source"]["error"].endswith("bytes): HTML page 'Sign in': Please sign in")


def test_truncation_that_persists_is_exit_3(tmp_path, fleet):
    with serve(fleet, [Fault("truncate", page=1, times=None)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", PAGE, "--retries", "1", env=ENV)
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert "response body truncated" in report["source"]["error"] and "(after 2 attempts)" in proc.stderr


def test_nothing_listening(tmp_path):
    proc, report = check("http://127.0.0.1:9", tmp_path, "--retries", "1", env=ENV)
    assert_incomplete(proc, report, [], pages_seen=0)
    assert "connection refused (after 2 attempts)" in proc.stderr


def test_tls_to_a_plain_http_server_is_one_line(tmp_path, fleet):
    with serve(fleet, []) as srv:
        proc, _ = check(srv.url.replace("http://", "https://"), tmp_path, "--retries", "0", env=ENV)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 2


def test_redirect_is_not_followed(tmp_path, fleet):
    with FakeIMS(fleet) as elsewhere:
        with serve(
            fleet,
            [Fault("status", status=302, style="empty", page=0, headers={"Location": elsewhere.url + "/v2/images"})],
        ) as srv:
            proc, report = check(srv.url, tmp_path, env=ENV)
        assert elsewhere.requests == []
    assert_incomplete(proc, report, fleet, pages_seen=0)
    assert "redirects are not followed" in proc.stderr


def test_insecure_warns_loudly(tmp_path, fleet):
    with serve(fleet, []) as srv:
        proc, _ = check(srv.url, tmp_path, "--insecure", env=ENV)
    assert proc.returncode == 0
    assert "warning: --insecure: TLS certificates are NOT verified" in proc.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--ca-bundle", "/nonexistent/ca.pem"], "--ca-bundle /nonexistent/ca.pem: no such file"),
        (["--insecure", "--ca-bundle", "/etc/hostname"], "give only one"),
        (["--timeout", "0"], "--timeout 0: expected a positive number"),
        (["--retries", "-1"], "--retries -1: expected 0 or more"),
        (["--page-size", "0"], "--page-size 0: expected a positive integer"),
        (["--header", "Host=x"], "imagelint sets this header itself"),
    ],
)
def test_bad_transport_options_are_exit_2(args, says):
    proc = run("check", "--endpoint", "http://127.0.0.1:9", *args)
    assert proc.returncode == 2 and proc.stderr.strip().endswith(says) or says in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
