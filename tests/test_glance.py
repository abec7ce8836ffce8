"""Integration test against real OpenStack Glance 33 (PyPI ``glance``) on 127.0.0.1.

Glance is the reference implementation of ``GET /v2/images``: whatever the fake IMS server gets wrong
about pagination (relative ``next`` links, the clamped ``limit``, the empty page after an exactly full
last page, ``member_status`` semantics), this test does not.  Glance is seeded with a few hundred images
carrying IMS extra properties, and the real CLI (``python -m imagelint fetch`` / ``check --endpoint``)
must see each of them exactly once through Glance's own pagination.

This test is part of the normal suite and is never skipped: if the Glance virtualenv is missing or
Glance will not start, every test here FAILS with a message saying to run ``tests/glance/setup.sh``.
A gate whose integration test silently skipped would prove nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import policy_yaml, run_cli
from tests.glance.harness import Glance, GlanceUnavailable, Seeded, running_glance

OWNER = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"  # IMS project ids are 32 hex digits
READER = "9f8e7d6c5b4a43219087f6e5d4c3b2a1"  # a second project, for what a non-admin sees
N = 321  # not a multiple of the page size: the last page is short and has no next
PUBLIC = 100  # a multiple of 50: the filtered listing ends on Glance's empty page
PAGE = 50
MAX = 100  # Glance's api_limit_max here: a bigger --page-size is clamped to it
READER_OWN = 12  # images of the second project
# Memberships of the second project in the owner's shared images: (how many, status set by the member).
SHARES = (("accepted", 5), ("rejected", 2), ("pending", 3))


@dataclass
class Fleet:
    glance: Glance
    owner: list[Seeded]
    reader: list[Seeded]
    member: dict[str, str]  # image id of an owner's shared image -> the reader's member status
    seconds: float


Started = Fleet | GlanceUnavailable  # what the module fixture yields


@pytest.fixture(scope="module")
def started() -> Iterator[Fleet | GlanceUnavailable]:
    """Glance up and seeded once for the module, or the reason it is not (each test then fails with it)."""
    stack = contextlib.ExitStack()
    try:
        glance = stack.enter_context(running_glance(api_limit_max=MAX))
        t0 = time.monotonic()
        owner = glance.seed(OWNER, N, public_limit=PUBLIC)
        reader = glance.seed(READER, READER_OWN, prefix="reader", public_limit=0)
        shared = [s for s in owner if s.visibility == "shared"]
        member: dict[str, str] = {}
        for status, count in SHARES:
            for image in shared[len(member) : len(member) + count]:
                glance.share(image.id, OWNER, READER, status)
                member[image.id] = status
        seconds = time.monotonic() - t0
    except GlanceUnavailable as exc:
        stack.close()
        yield exc
        return
    except BaseException:
        stack.close()
        raise
    with stack:
        yield Fleet(glance, owner, reader, member, seconds)


def ready(started: Started) -> Fleet:
    """The running fleet, or a test FAILURE (not a fixture error, not a skip) saying how to get Glance."""
    if isinstance(started, GlanceUnavailable):
        pytest.fail(f"real Glance is not available, so the integration test cannot run:\n{started}", pytrace=False)
    return started


def fetch(
    fleet: Fleet, tmp: Path, *extra: str, project: str = OWNER, roles: str = "admin", page_size: int = PAGE
) -> tuple[dict[str, Any], Counter[str]]:
    """``imagelint fetch`` through the real CLI; the snapshot's metadata and how often each id came."""
    out = tmp / f"snap-{time.monotonic_ns()}.json"
    proc = run_cli(
        "fetch",
        "--endpoint",
        fleet.glance.endpoint,
        *fleet.glance.identity_args(project, roles),
        "--page-size",
        str(page_size),
        *extra,
        "--output",
        str(out),
    )
    assert proc.returncode == 0, (
        f"fetch exit {proc.returncode}\n{proc.stderr}\n--- end of Glance's log ---\n{fleet.glance.log_tail()}"
    )
    data = json.loads(out.read_text())
    return data["snapshot"], Counter(image["id"] for image in data["images"])


def pages_for(n: int, page: int) -> int:
    """Requests Glance needs: full pages carry ``next``, so an exact multiple ends on an empty page."""
    return n // page + 1


def assert_exactly(seen: Counter[str], expected: list[Seeded] | set[str]) -> None:
    ids = {s.id if isinstance(s, Seeded) else s for s in expected}
    twice = sorted(i for i, c in seen.items() if c > 1)
    assert not twice, f"{len(twice)} images came more than once, e.g. {twice[:3]}"
    missing, extra = ids - set(seen), set(seen) - ids
    assert not missing and not extra, (
        f"{len(missing)} missing (e.g. {sorted(missing)[:3]}), {len(extra)} unexpected (e.g. {sorted(extra)[:3]})"
    )


def test_seeded_fleet_is_as_planned(started: Started):
    fleet = ready(started)
    # Seeding time is printed, not asserted: serial creates cost ~40-100 ms each on this machine.
    print(f"seeded {N + READER_OWN} images and {len(fleet.member)} memberships in {fleet.seconds:.1f}s")
    assert len(fleet.owner) == N and sum(s.visibility == "public" for s in fleet.owner) == PUBLIC


def test_fetch_sees_every_image_exactly_once(started: Started, tmp_path: Path):
    fleet = ready(started)
    meta, seen = fetch(fleet, tmp_path)
    assert_exactly(seen, fleet.owner + fleet.reader)  # an admin lists every project's images
    total = N + READER_OWN
    assert meta["complete"] is True
    assert meta["images"] == total
    assert meta["pages"] == math.ceil(total / PAGE) == pages_for(total, PAGE)  # 333 is not a multiple
    assert meta["duplicates"] in (0, [], None), meta["duplicates"]


def test_total_a_multiple_of_the_page_size_ends_on_the_empty_page(started: Started, tmp_path: Path):
    fleet = ready(started)
    # 333 = 9 x 37: nine full pages, each with next, then Glance's {"images": []} without next.
    total = N + READER_OWN
    assert total % 37 == 0
    meta, seen = fetch(fleet, tmp_path, page_size=37)
    assert_exactly(seen, fleet.owner + fleet.reader)
    assert meta["complete"] is True and meta["images"] == total
    assert meta["pages"] == total // 37 + 1


def test_page_size_above_glance_maximum_is_clamped_and_short_pages_are_not_the_end(started: Started, tmp_path: Path):
    fleet = ready(started)
    # The CLI's default page size (1000) against a Glance that serves at most MAX: pages of 100, 100,
    # 100, 33; a client that took "fewer than I asked for" as the end would stop after the first.
    assert fleet.glance.api_limit_max == MAX
    meta, seen = fetch(fleet, tmp_path, page_size=1000)
    assert_exactly(seen, fleet.owner + fleet.reader)
    assert meta["complete"] is True
    assert meta["pages"] == math.ceil((N + READER_OWN) / MAX)


def test_glance_side_visibility_filter_returns_exactly_the_public_subset(started: Started, tmp_path: Path):
    fleet = ready(started)
    public = [s for s in fleet.owner if s.visibility == "public"]
    meta, seen = fetch(fleet, tmp_path, "--query", "visibility=public")
    assert_exactly(seen, public)
    assert "visibility=public" in meta["query"]
    assert meta["pages"] == pages_for(PUBLIC, PAGE) == PUBLIC // PAGE + 1  # 100: ends on the empty page


def test_property_filter_and_sort_are_passed_through(started: Started, tmp_path: Path):
    fleet = ready(started)
    # IMS extra properties are filterable in Glance too (any unknown query key is a property filter).
    windows = [s for s in fleet.owner + fleet.reader if s.properties["__os_type"] == "Windows"]
    meta, seen = fetch(
        fleet, tmp_path, "--query", "__os_type=Windows", "--query", "sort_key=name", "--query", "sort_dir=asc"
    )
    assert_exactly(seen, windows)
    assert meta["pages"] == pages_for(len(windows), PAGE)


def test_a_reader_of_another_project_sees_public_own_and_accepted_shares(started: Started, tmp_path: Path):
    fleet = ready(started)
    accepted = {i for i, status in fleet.member.items() if status == "accepted"}
    expected = {s.id for s in fleet.owner if s.visibility == "public"} | {s.id for s in fleet.reader} | accepted
    meta, seen = fetch(fleet, tmp_path, project=READER, roles="reader")
    assert_exactly(seen, expected)
    assert meta["pages"] == pages_for(len(expected), PAGE)


def test_member_status_filter_on_shared_images(started: Started, tmp_path: Path):
    fleet = ready(started)
    # visibility=shared with member_status=pending: the shares still pending for this project, plus the
    # project's own shared images (an owner is not a member of its own images; Glance lists them anyway).
    pending = {i for i, status in fleet.member.items() if status == "pending"}
    own_shared = {s.id for s in fleet.reader if s.visibility == "shared"}
    _, seen = fetch(
        fleet,
        tmp_path,
        "--query",
        "visibility=shared",
        "--query",
        "member_status=pending",
        project=READER,
        roles="reader",
    )
    assert_exactly(seen, pending | own_shared)


def test_check_endpoint_evaluates_every_image_once(started: Started, tmp_path: Path):
    fleet = ready(started)
    # A policy that fails on every image makes the JSON report list each evaluated image once.
    policy = tmp_path / "every.yaml"
    policy.write_text(
        policy_yaml("every-image", severity="info", validations=[{"expression": "false", "message": "seen"}])
    )
    out = tmp_path / "report.json"
    proc = run_cli(
        "check",
        "--endpoint",
        fleet.glance.endpoint,
        *fleet.glance.identity_args(OWNER),
        "--page-size",
        str(PAGE),
        "--policies",
        str(policy),
        "--format",
        "json",
        "--fail-on",
        "never",
        "--output",
        str(out),
    )
    assert proc.returncode == 0, (
        f"check exit {proc.returncode}\n{proc.stderr}\n--- end of Glance's log ---\n{fleet.glance.log_tail()}"
    )
    report = json.loads(out.read_text())
    total = N + READER_OWN
    assert report["source"]["complete"] is True
    assert report["source"]["images"] == report["summary"]["images"] == total
    assert_exactly(Counter(f["image"]["id"] for f in report["findings"]), fleet.owner + fleet.reader)
    assert report["summary"]["fail"] == total


def test_bundled_policies_run_over_glance_images(started: Started, tmp_path: Path):
    fleet = ready(started)
    # The bundled pack over what real Glance returns (queued images, string properties, null sizes):
    # no evaluation errors, and the gate's verdict is a policy verdict (0 or 1), never a crash.
    out = tmp_path / "report.json"
    proc = run_cli(
        "check",
        "--endpoint",
        fleet.glance.endpoint,
        *fleet.glance.identity_args(OWNER),
        "--page-size",
        str(PAGE),
        "--query",
        "visibility=public",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert proc.returncode in (0, 1), f"check exit {proc.returncode}\n{proc.stderr}"
    report = json.loads(out.read_text())
    assert report["source"]["complete"] is True and report["summary"]["images"] == PUBLIC
    assert report["summary"]["error"] == 0, [f for f in report["findings"] if f["status"] == "error"][:3]


def test_identity_is_required_and_a_refusal_is_exit_3(started: Started, tmp_path: Path):
    fleet = ready(started)
    # Without X-Identity-Status: Confirmed Glance answers 401: the fetch fails closed, writes nothing.
    out = tmp_path / "snap.json"
    proc = run_cli(
        "fetch",
        "--endpoint",
        fleet.glance.endpoint,
        "--header",
        f"X-Project-Id={OWNER}",
        "--retries",
        "0",
        "--output",
        str(out),
    )
    assert proc.returncode == 3, proc.stderr
    assert "401" in proc.stderr and "GET" in proc.stderr
    assert not out.exists()
