"""Hostile endpoints through the real CLI: a server that trickles, a gzip bomb, an endless body. Each run ends
with exit 3 and one line naming the request and the limit that stopped it, in bounded time (``--timeout``
bounds the whole request, ``--deadline`` the whole run) and bounded memory (``--max-response-mb``; the peak
RSS is the child's own, from ``os.wait4``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.apihelp import CLEAN_ENV, seen_policy
from tests.fakeims import FakeIMS, Fault, generate_images

HANG = 60
"""A hang detector, not a speed target: on the old main each of these ran for minutes or without end."""

IMAGES = generate_images(20, seed=15)
GIB = 1 << 30


def run_measured(tmp: Path, url: str, *extra: str) -> tuple[int, str, float]:
    """``imagelint check --endpoint URL``: exit code, stderr, and the child's peak RSS in MiB."""
    err_path = tmp / "stderr.txt"
    env = {**os.environ, **CLEAN_ENV, "NO_COLOR": "1"}
    args = ["check", "--endpoint", url, "--policies", str(seen_policy(tmp)), "--fail-on", "never", *extra]
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "imagelint", *args], stdout=subprocess.DEVNULL, stderr=err, env=env
        )
    start = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > HANG:
            proc.kill()
            os.wait4(proc.pid, 0)
            pytest.fail(f"still running after {HANG} s: {err_path.read_text()[-500:]}")
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return proc.returncode, err_path.read_text(), usage.ru_maxrss / 1024


def incomplete_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "INCOMPLETE" in line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- time ----------------------------------------------------------------------------------------------------


def test_a_trickling_server_is_cut_off_by_timeout(tmp_path):
    """One byte every 0.5 s keeps each read under the timeout; the whole request still ends at --timeout."""
    with FakeIMS(IMAGES, faults=[Fault("trickle", seconds=0.5, times=None)]) as srv:
        start = time.monotonic()
        code, stderr, _ = run_measured(tmp_path, srv.url, "--timeout", "2", "--retries", "1")
        took = time.monotonic() - start
    line = incomplete_line(stderr)
    assert code == 3
    assert "the whole response did not arrive within 2 s (--timeout" in line and "(after 2 attempts)" in line
    assert took < 30  # two attempts of 2 s and a back-off; the server alone would need minutes


def test_a_server_trickling_its_headers_is_cut_off_too(tmp_path):
    # the status line itself comes one byte at a time: no response object exists until the headers end
    with FakeIMS(IMAGES, faults=[Fault("trickle", seconds=1.0, slow_headers=True, times=None)]) as srv:
        code, stderr, _ = run_measured(tmp_path, srv.url, "--timeout", "1.5", "--retries", "0")
    assert code == 3
    assert "no response within 1.5 s (--timeout)" in incomplete_line(stderr)


def test_deadline_bounds_the_whole_run(tmp_path):
    # each request would be allowed 30 s; the run as a whole only 3 s
    with FakeIMS(IMAGES, faults=[Fault("trickle", seconds=0.5, times=None)]) as srv:
        start = time.monotonic()
        code, stderr, _ = run_measured(tmp_path, srv.url, "--timeout", "30", "--deadline", "3")
        took = time.monotonic() - start
    assert code == 3
    assert "--deadline 3 s passed" in incomplete_line(stderr)
    assert took < 20


def test_deadline_cuts_retries_short(tmp_path):
    with FakeIMS(IMAGES, faults=[Fault("status", status=503, retry_after=4, times=None)]) as srv:
        code, stderr, _ = run_measured(tmp_path, srv.url, "--retries", "20", "--deadline", "2")
    assert code == 3
    assert "--deadline 2 s leaves no time to retry" in incomplete_line(stderr)


def test_deadline_between_pages_keeps_what_was_judged(tmp_path):
    # every page is quick, but the run has less time than all of them take together
    with FakeIMS(generate_images(40, seed=3), faults=[Fault("latency", seconds=0.6, times=None)]) as srv:
        code, stderr, _ = run_measured(tmp_path, srv.url, "--page-size", "5", "--deadline", "1.5")
    assert code == 3
    assert "--deadline 1.5 s" in incomplete_line(stderr)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_bad_deadline_is_a_usage_error(tmp_path, value):
    code, stderr, _ = run_measured(tmp_path, "http://127.0.0.1:9", "--deadline", value)
    assert code == 2
    assert stderr.strip().count("\n") == 0 and "--deadline" in stderr


def test_a_deadline_with_a_snapshot_is_kept_too(tmp_path, cli, fleet_file):
    fleet = fleet_file([{"id": f"i-{n}", "name": "x"} for n in range(3)])
    proc = cli("check", "--input", str(fleet), "--deadline", "60", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr


# -- memory --------------------------------------------------------------------------------------------------


def test_a_decompression_bomb_stops_at_the_cap_in_bounded_memory(tmp_path):
    """1 MB of gzip that inflates to 1 GiB: the old main grew past 3 GB and ended with MemoryError (exit 4)."""
    with FakeIMS(IMAGES, faults=[Fault("bomb", size=GIB, times=None)]) as srv:
        code, stderr, rss = run_measured(tmp_path, srv.url, "--max-response-mb", "32", "--retries", "0")
    line = incomplete_line(stderr)
    assert code == 3
    assert "response body over 32 MiB (it decompresses to more; --max-response-mb)" in line
    assert rss < 400, f"peak RSS {rss:.0f} MiB"


def test_the_default_cap_stops_a_bomb_as_well(tmp_path):
    with FakeIMS(IMAGES, faults=[Fault("bomb", size=GIB, times=None)]) as srv:
        code, stderr, rss = run_measured(tmp_path, srv.url, "--retries", "0")
    assert code == 3
    assert "response body over 100 MiB" in incomplete_line(stderr)
    assert rss < 600, f"peak RSS {rss:.0f} MiB"


def test_an_endless_body_stops_at_the_cap_in_bounded_memory(tmp_path):
    with FakeIMS(IMAGES, faults=[Fault("endless", times=None)]) as srv:
        code, stderr, rss = run_measured(tmp_path, srv.url, "--max-response-mb", "16", "--retries", "0")
    assert code == 3
    assert "response body over 16 MiB (it sent more; --max-response-mb)" in incomplete_line(stderr)
    assert rss < 400, f"peak RSS {rss:.0f} MiB"


def test_a_page_declaring_more_than_the_cap_is_not_read(tmp_path):
    with FakeIMS(generate_images(200, seed=2)) as srv:
        code, stderr, _ = run_measured(tmp_path, srv.url, "--max-response-mb", "0.01")
    assert code == 3
    assert "it declares" in incomplete_line(stderr)


def test_pages_under_the_cap_are_read_whole(tmp_path):
    with FakeIMS(generate_images(200, seed=2)) as srv:
        code, stderr, _ = run_measured(tmp_path, srv.url, "--max-response-mb", "5", "--page-size", "50")
    assert code == 0, stderr


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf"])
def test_a_bad_cap_is_a_usage_error(tmp_path, value):
    code, stderr, _ = run_measured(tmp_path, "http://127.0.0.1:9", "--max-response-mb", value)
    assert code == 2
    assert stderr.strip().count("\n") == 0 and "--max-response-mb" in stderr


# -- secrets: scrubbed where they are values, the rest of the line left readable ------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_short_token_does_not_mangle_the_error_line(tmp_path):
    """main: ``GET h******p://127.0.0.1:…/v2/images?limi***=1000: connec***ion refused``."""
    port = free_port()
    code, stderr, _ = run_measured(tmp_path, f"http://127.0.0.1:{port}", "--token", "t", "--retries", "0")
    assert code == 3
    assert f"INCOMPLETE: GET http://127.0.0.1:{port}/v2/images?limit=1000: connection refused" in stderr


def test_a_token_echoed_by_the_server_is_scrubbed_where_it_stands(tmp_path):
    echo = Fault(
        "status", status=403, style="ims", code="IMG.0403", message="token t is not valid for limit", times=None
    )
    with FakeIMS(IMAGES, faults=[echo]) as srv:
        code, stderr, _ = run_measured(tmp_path, srv.url, "--token", "t", "--retries", "0")
    line = incomplete_line(stderr)
    assert code == 3
    assert "HTTP 403 Forbidden: IMG.0403: token *** is not valid for limit" in line
    assert f"GET {srv.url}/v2/images?limit=1000" in line


# -- found by the property tests ------------------------------------------------------------------------------


def test_an_endpoint_with_an_unbalanced_bracket_is_a_usage_error(tmp_path, cli):
    # main: "internal error: ValueError: Invalid IPv6 URL", exit 4
    run = cli("check", "--endpoint", "http://[x")
    assert run.returncode == 2 and run.stderr.strip().startswith("--endpoint 'http://[x': not a URL")
    (tmp_path / "imagelint.yaml").write_text("endpoint: http://[x\n")
    run = cli("check", cwd=tmp_path)
    assert run.returncode == 2 and "imagelint.yaml:1:11: endpoint: 'http://[x' is not a URL" in run.stderr


def test_a_next_link_that_is_not_a_url_ends_the_run_in_one_line():
    from imagelint.sources.api import ApiOptions, ApiSource
    from imagelint.sources.interface import SourceError

    source = ApiSource(ApiOptions(endpoint="http://127.0.0.1:5"), None, None)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match=r'"next" is not a URL \(Invalid IPv6 URL\)'):
        source._follow("http://[evil/v2/images?marker=x", "GET page 2")


def test_fetch_keeps_the_deadline_and_the_cap_too(tmp_path, cli):
    out = tmp_path / "snap.json"
    with FakeIMS(IMAGES, faults=[Fault("trickle", seconds=0.5, times=None)]) as srv:
        run = cli("fetch", "--endpoint", srv.url, "--output", str(out), "--deadline", "2", env=CLEAN_ENV, timeout=HANG)
    assert run.returncode == 3 and "--deadline 2 s passed" in run.stderr and not out.exists()
    with FakeIMS(IMAGES, faults=[Fault("bomb", size=GIB, times=None)]) as srv:
        run = cli("fetch", "--endpoint", srv.url, "-o", str(out), "--max-response-mb", "8", env=CLEAN_ENV, timeout=HANG)
    assert run.returncode == 3 and "response body over 8 MiB" in run.stderr and not out.exists()
