"""``--api cloudimages``: IMS's native ``GET /v2/cloudimages`` paged by ``page_info.next_marker`` through the
real CLI against the fake IMS server, with the same exactly-once guarantees as ``/v2/images``: every image
once, a repeated marker stops the run, duplicates judged once, retries, and faults failing closed."""

from __future__ import annotations

import json

import pytest

from tests.apihelp import assert_each_once, assert_incomplete, check, run
from tests.fakeims import FakeIMS, Fault, generate_images

PATH = "/v2/cloudimages"
FLEET = generate_images(1234, seed=31)


def cloud(tmp_path, srv, *extra):
    return check(srv.url, tmp_path, "--api", "cloudimages", *extra)


def test_default_page_is_500_and_every_image_is_seen_once(tmp_path):
    with FakeIMS(FLEET) as srv:
        proc, report = cloud(tmp_path, srv)
        requests = srv.image_requests
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert [r.path for r in requests] == [PATH] * 3
    assert [dict(r.params).get("limit") for r in requests] == ["500"] * 3
    markers = [dict(r.params).get("marker") for r in requests]
    assert markers[0] is None and None not in markers[1:] and len(set(markers)) == 3
    details = report["source"]["details"]
    assert details["api"] == "cloudimages" and details["page_size"] == 500 and details["pages"] == 3


def test_a_full_last_page_ends_on_an_empty_page(tmp_path):
    fleet = FLEET[:40]
    with FakeIMS(fleet) as srv:
        proc, report = cloud(tmp_path, srv, "--page-size", "20")
        n = len(srv.image_requests)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert n == 3  # 20, 20, then the empty page without next_marker


def test_cloudimages_filters_are_sent_and_applied(tmp_path):
    wanted = [img for img in FLEET if img.get("virtual_env_type") == "FusionCompute"]
    assert 0 < len(wanted) < len(FLEET)
    with FakeIMS(FLEET) as srv:
        proc, report = cloud(tmp_path, srv, "--query", "virtual_env_type=FusionCompute", "--page-size", "200")
        queries = [r.query for r in srv.image_requests]
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, wanted)
    assert all("virtual_env_type=FusionCompute" in q for q in queries)


def test_repeated_marker_is_a_loop_exit_3(tmp_path):
    with FakeIMS(FLEET, faults=[Fault("next_loop", page=1, path=PATH)]) as srv:
        proc, report = cloud(tmp_path, srv, "--page-size", "100")
        n = len(srv.image_requests)
    assert_incomplete(proc, report, FLEET, pages_seen=2, page=100)
    assert "pagination loop" in proc.stderr and "page_info.next_marker" in proc.stderr
    assert n == 2


def test_duplicates_are_judged_once(tmp_path):
    with FakeIMS(FLEET, faults=[Fault("duplicate", page=2, path=PATH)]) as srv:
        proc, report = cloud(tmp_path, srv, "--page-size", "300")
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert proc.stderr.count("was listed again") == 1


def test_retries_then_success(tmp_path):
    faults = [Fault("status", page=1, status=503, path=PATH), Fault("reset", page=2, path=PATH)]
    with FakeIMS(FLEET, faults=faults) as srv:
        proc, report = cloud(tmp_path, srv, "--page-size", "400")
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert report["source"]["details"]["retries"] == 2


@pytest.mark.parametrize("kind", ["no_images", "invalid_json", "html"])
def test_bad_pages_fail_closed(tmp_path, kind):
    with FakeIMS(FLEET, faults=[Fault(kind, page=1, path=PATH)]) as srv:
        proc, report = cloud(tmp_path, srv, "--page-size", "400")
    assert_incomplete(proc, report, FLEET, pages_seen=1, page=400)


def test_query_table_has_did_you_mean_and_names_the_api(tmp_path):
    proc = run("check", "--endpoint", "http://127.0.0.1:9", "--api", "cloudimages", "--query", "architecure=x86")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "--query architecure=x86: unknown query parameter 'architecure' (did you mean architecture?)"
    )
    proc = run("check", "--endpoint", "http://127.0.0.1:9", "--query", "flavor_id=s3.large.2")
    assert proc.returncode == 2 and "add --api cloudimages" in proc.stderr
    proc = run("check", "--endpoint", "http://127.0.0.1:9", "--api", "cloudimages", "--query", "architecture=mips")
    assert proc.returncode == 2 and "architecture=mips" in proc.stderr and "x86" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fetch_writes_the_same_images(tmp_path):
    out = tmp_path / "snap.json"
    with FakeIMS(FLEET[:90]) as srv:
        proc = run("fetch", "--endpoint", srv.url, "--api", "cloudimages", "--page-size", "25", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    ids = [img["id"] for img in json.loads(out.read_text())["images"]]
    assert sorted(ids) == sorted(img["id"] for img in FLEET[:90]) and len(set(ids)) == 90
