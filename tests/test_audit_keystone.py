"""``imagelint audit`` of cloud targets whose image endpoints come from a real Keystone's service catalog.

Real OpenStack Keystone (``tests/keystone``, its own virtualenv) on 127.0.0.1 holds a project ``demo``
with its user and an ``image`` service whose public endpoints are two fake IMS servers, one per region,
each with its own fleet. The targets file names clouds of a ``clouds.yaml`` (password auth against that
Keystone): one target over both regions finds each region's endpoint in the catalog of the token it got
and judges that region's images; a cloud whose password is wrong is one incomplete target with a one-line
reason, and the others are still complete (exit 3). The fake IMS servers record the tokens they were sent,
and Keystone itself confirms they are the tokens it issued to the demo project.

Never skipped: without the Keystone virtualenv every test here FAILS saying what to run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import policy_yaml, run_cli
from tests.fakeims import FakeIMS, generate_images
from tests.keystone.harness import Keystone, KeystoneUnavailable, running_keystone

ALICE, ALICE_PW = "alice", "alice-SECRET-audit-pw-7"
WRONG_PW = "not-alices-SECRET-pw-9"
NOW = "2026-12-01T00:00:00Z"
ENV = {"GITHUB_ACTIONS": "", "OS_AUTH_TOKEN": "", "OS_CLOUD": "", "HUAWEICLOUD_SDK_AK": "", "HUAWEICLOUD_SDK_SK": ""}


@dataclass
class Estate:
    keystone: Keystone
    project_id: str
    regions: dict[str, FakeIMS]
    fleets: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def started() -> Iterator[Estate | KeystoneUnavailable]:
    fleets = {"RegionOne": generate_images(23, seed=31), "RegionTwo": generate_images(17, seed=32)}
    with contextlib.ExitStack() as stack:
        try:
            ks = stack.enter_context(running_keystone())
        except KeystoneUnavailable as exc:
            yield exc
            return
        ks.identity_service()
        demo = ks.user_with_project(ALICE, ALICE_PW, "demo", ("member",))
        regions = {name: stack.enter_context(FakeIMS(images)) for name, images in fleets.items()}
        ks.image_service({name: srv.url for name, srv in regions.items()})
        yield Estate(ks, demo["project_id"], regions, fleets)


@pytest.fixture
def estate(started: Estate | KeystoneUnavailable) -> Estate:
    if not isinstance(started, Estate):
        pytest.fail(f"real Keystone unavailable (run tests/keystone/setup.sh): {started}")
    for srv in started.regions.values():
        srv.clear_requests()
    return started


def cloud(ks: Keystone, password: str) -> dict[str, Any]:
    return {
        "auth": {
            "auth_url": ks.url,
            "username": ALICE,
            "password": password,
            "user_domain_name": "Default",
            "project_name": "demo",
            "project_domain_name": "Default",
        },
        "regions": ["RegionOne", "RegionTwo"],
    }


def audit(tmp_path: Path, estate: Estate, targets: str) -> tuple[Any, dict[str, Any]]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    clouds = {"prod": cloud(estate.keystone, ALICE_PW), "broken": cloud(estate.keystone, WRONG_PW)}
    clouds["anywhere"] = {"auth": clouds["prod"]["auth"]}  # no regions list: only the catalog says which exist
    (home / "clouds.yaml").write_text(json.dumps({"clouds": clouds}), encoding="utf-8")  # JSON is YAML
    (tmp_path / "targets.yaml").write_text(targets, encoding="utf-8")
    policy = tmp_path / "no-public.yaml"
    policy.write_text(policy_yaml("no-public", validations=["image.visibility != 'public'"]), encoding="utf-8")
    out = tmp_path / "r.json"
    run = run_cli(
        *("audit", "--targets", str(tmp_path / "targets.yaml"), "--policies", str(policy), "--now", NOW),
        *("--format", "json", "--output", str(out)),
        env={**ENV, "HOME": str(home), "OS_CLIENT_CONFIG_FILE": str(home / "clouds.yaml")},
    )
    assert "Traceback" not in run.stderr, run.stderr
    doc = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return run, doc


def public(images: list[dict[str, Any]]) -> int:
    return sum(1 for i in images if i.get("visibility") == "public")


def test_each_region_is_found_in_the_catalog_and_judged(tmp_path, estate):
    targets = "defaults: {page_size: 10}\ntargets:\n  - {name: prod, cloud: prod, regions: [RegionOne, RegionTwo]}\n"
    run, doc = audit(tmp_path, estate, targets)
    assert run.returncode == 1, run.stderr  # complete; the fleets' public images fail the policy
    assert [t["name"] for t in doc["targets"]] == ["prod/RegionOne", "prod/RegionTwo"]
    for target in doc["targets"]:
        region = target["region"]
        srv, fleet = estate.regions[region], estate.fleets[region]
        assert target["complete"] and target["error"] is None, target
        assert (target["cloud"], target["endpoint"]) == ("prod", srv.url)  # from the catalog, not the file
        assert target["images"] == len(fleet)
        assert target["verdicts"]["fail"] == public(fleet)
        found = {f["image"]["id"] for f in doc["findings"] if f["target"] == target["name"]}
        assert found == {i["id"] for i in fleet if i["visibility"] == "public"}
        # every page was fetched with a token this Keystone issued to alice in project demo
        tokens = {r.headers["X-Auth-Token"] for r in srv.image_requests}
        assert len(srv.image_requests) == len(fleet) // 10 + 1 and len(tokens) == 1
        (token,) = tokens
        body = estate.keystone.call("GET", "/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]
        assert (body["user"]["name"], body["project"]["id"]) == (ALICE, estate.project_id)
        assert token not in run.stderr + json.dumps(doc)
    assert ALICE_PW not in run.stderr + json.dumps(doc)


def test_wrong_credentials_make_one_target_incomplete_and_the_others_complete(tmp_path, estate):
    targets = (
        "defaults: {page_size: 10}\ntargets:\n"
        "  - {name: prod, cloud: prod, region: RegionOne}\n"
        "  - {name: broken, cloud: broken, region: RegionTwo}\n"
        "  - {name: other, cloud: prod, region: RegionTwo}\n"
    )
    run, doc = audit(tmp_path, estate, targets)
    assert run.returncode == 3, run.stderr
    by = {t["name"]: t for t in doc["targets"]}
    for name, region in (("prod", "RegionOne"), ("other", "RegionTwo")):
        assert by[name]["complete"], by[name]
        assert by[name]["images"] == len(estate.fleets[region])
    broken = by["broken"]
    assert not broken["complete"] and broken["images"] == 0
    reason = broken["error"]
    assert "\n" not in reason and len(reason) < 400, reason
    assert reason.startswith("cannot get a token") and "HTTP 401" in reason, reason
    assert f"imagelint: target broken: INCOMPLETE: {reason}" in run.stderr.splitlines()
    assert doc["source"]["error"].startswith("1 of 3 targets incomplete: broken: ")
    # the broken cloud never reached an image endpoint: no token, no request
    assert len(estate.regions["RegionTwo"].image_requests) == len(estate.fleets["RegionTwo"]) // 10 + 1
    for secret in (ALICE_PW, WRONG_PW):
        assert secret not in run.stderr + json.dumps(doc)


def test_a_region_without_the_image_service_is_one_incomplete_target_and_the_others_are_judged(tmp_path, estate):
    # The "a region without the service" case: exit 3 with that target's reason, not exit 2 for the
    # estate (c7n-org aborting a whole run on one account is what the audit must not do).
    targets = (
        "defaults: {page_size: 10}\ntargets:\n  - {name: prod, cloud: anywhere, regions: [RegionOne, RegionThree]}\n"
    )
    run, doc = audit(tmp_path, estate, targets)
    assert run.returncode == 3, run.stderr
    by = {t["name"]: t for t in doc["targets"]}
    assert by["prod/RegionOne"]["complete"] and by["prod/RegionOne"]["images"] == len(estate.fleets["RegionOne"])
    missing = by["prod/RegionThree"]
    assert not missing["complete"] and missing["images"] == 0 and missing["endpoint"] is None
    assert missing["error"].endswith(
        "targets.yaml:3:5: target prod/RegionThree: --region RegionThree: the service catalog has no public image "
        "endpoint there; regions with one: RegionOne, RegionTwo"
    ), missing["error"]
    assert f"imagelint: target prod/RegionThree: INCOMPLETE: {missing['error']}" in run.stderr.splitlines()
    assert estate.regions["RegionTwo"].image_requests == []  # no request to a region the target did not name
