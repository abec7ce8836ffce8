"""Integration test against real OpenStack Keystone 30 (PyPI ``keystone``) and real Glance on 127.0.0.1.

Keystone is bootstrapped with an admin, a project ``demo`` with its user, two regions and the ``image``
service in its catalog: RegionOne points at Glance's root, RegionTwo at the same Glance mounted under
``/image`` (as devstack mounts it), so a relative ``next`` must keep the prefix. Glance runs behind
keystonemiddleware (``authtoken``, no token cache): every token is validated by this Keystone, and a
revoked one is refused at once. The real CLI then reads ``clouds.yaml`` with a password cloud and with an
application credential created through Keystone's API, finds Glance in the catalog of both regions, and
re-authenticates once after its token is revoked mid-run.

Never skipped: without the Keystone or Glance virtualenv every test here FAILS saying what to run.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import apihelp
from tests.glance.harness import Glance, GlanceUnavailable, running_glance
from tests.keystone.harness import Keystone, KeystoneUnavailable, running_keystone

ALICE, ALICE_PW = "alice", "alice-SECRET-pw-42"
GLANCE_PW = "glance-SECRET-service-pw"
N, PAGE = 37, 10  # not a multiple of the page: a short last page


@dataclass
class Relay:
    """A loopback HTTP relay in front of Glance that revokes, at Keystone, the token of its ``revoke_at``-th
    image request before passing that request on: a real revocation at a known point of a run."""

    keystone: Keystone
    glance: str
    revoke_at: int | None = None
    seen: list[tuple[str, int]] = field(default_factory=list)  # (token, status)
    url: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[Relay]:
        relay = self
        http = requests.Session()
        http.trust_env = False

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                token = self.headers.get("X-Auth-Token", "")
                if relay.revoke_at is not None and len(relay.seen) + 1 == relay.revoke_at:
                    relay.keystone.revoke(token)
                    relay.revoke_at = None
                resp = http.get(relay.glance + self.path, headers={"X-Auth-Token": token, "Accept": "application/json"})
                relay.seen.append((token, resp.status_code))
                self.send_response(resp.status_code)
                self.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class Stack:
    keystone: Keystone
    glance: Glance
    project_id: str
    user_id: str
    image_ids: set[str]


Started = Stack | KeystoneUnavailable | GlanceUnavailable


@pytest.fixture(scope="module")
def started() -> Iterator[Started]:
    stack = contextlib.ExitStack()
    try:
        ks = stack.enter_context(running_keystone())
        ks.identity_service()
        demo = ks.user_with_project(ALICE, ALICE_PW, "demo", ("member", "admin"))
        ks.user_with_project("glance", GLANCE_PW, "service", ("service", "admin"))
        authtoken = {
            "www_authenticate_uri": ks.url,
            "auth_url": ks.url,
            "auth_type": "password",
            "username": "glance",
            "password": GLANCE_PW,
            "project_name": "service",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "token_cache_time": "-1",
            "service_token_roles_required": "false",
        }
        glance = stack.enter_context(running_glance(authtoken=authtoken, mount="/image"))
        token = ks.password_token(ALICE, ALICE_PW, "demo")
        ids = set()
        for i in range(N):
            body = {"name": f"ks-{i:03d}", "container_format": "bare", "disk_format": "qcow2", "visibility": "private"}
            resp = glance.http.post(
                glance.endpoint + "/v2/images", json=body, headers={"X-Auth-Token": token}, timeout=60
            )
            assert resp.status_code == 201, (
                f"seeding Glance: HTTP {resp.status_code} {resp.text[:300]}\n{glance.log_tail()}"
            )
            ids.add(resp.json()["id"])
        ks.image_service({"RegionOne": glance.endpoint, "RegionTwo": glance.endpoint + "/image"})
        yield Stack(ks, glance, demo["project_id"], demo["user_id"], ids)
    except (KeystoneUnavailable, GlanceUnavailable) as exc:
        yield exc
    finally:
        stack.close()


@pytest.fixture
def up(started: Started) -> Stack:
    if not isinstance(started, Stack):
        pytest.fail(
            f"real Keystone/Glance unavailable (run tests/keystone/setup.sh and tests/glance/setup.sh): {started}"
        )
    return started


def write_clouds(tmp_path: Path, clouds: dict[str, Any]) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    path = home / "clouds.yaml"
    path.write_text(json.dumps({"clouds": clouds}), encoding="utf-8")  # JSON is YAML
    return {"OS_CLIENT_CONFIG_FILE": str(path), "HOME": str(home)}


def password_auth(ks: Keystone) -> dict[str, str]:
    return {
        "auth_url": ks.url,
        "username": ALICE,
        "password": ALICE_PW,
        "user_domain_name": "Default",
        "project_name": "demo",
        "project_domain_name": "Default",
    }


def live_check(tmp_path: Path, *args: str, env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    return apihelp.live_check(tmp_path, *args, "--page-size", str(PAGE), env=env)


def assert_all_once(report: dict[str, Any], up: Stack) -> None:
    assert report["source"]["complete"] is True
    assert report["source"]["images"] == N
    seen = next(p for p in report["policies"] if p["name"] == "seen")
    assert seen["fail"] == N and seen["error"] == 0


@pytest.mark.parametrize(("region", "suffix"), [("RegionOne", ""), ("RegionTwo", "/image")])
def test_password_cloud_finds_glance_in_the_catalog_of_each_region(tmp_path, up, region, suffix):
    # ``regions``: the cloud's valid regions, the first the default (openstack.config refuses others)
    env = write_clouds(tmp_path, {"prod": {"auth": password_auth(up.keystone), "regions": ["RegionOne", "RegionTwo"]}})
    proc, report = live_check(tmp_path, "--cloud", "prod", "--region", region, env=env)
    assert proc.returncode == 0, proc.stderr
    assert_all_once(report, up)
    details = report["source"]["details"]
    assert details["endpoint"] == up.glance.endpoint + suffix
    assert (details["cloud"], details["region"], details["project_name"]) == ("prod", region, "demo")
    assert details["project_id"] == up.project_id and details["pages"] == N // PAGE + 1
    assert ALICE_PW not in proc.stderr + json.dumps(report)


def test_region_outside_the_catalog_is_exit_2_naming_both(tmp_path, up):
    env = write_clouds(tmp_path, {"prod": {"auth": password_auth(up.keystone)}})
    proc, _ = live_check(tmp_path, "--cloud", "prod", "--region", "RegionThree", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "--region RegionThree: the service catalog has no public image endpoint there; "
        "regions with one: RegionOne, RegionTwo"
    )


def test_application_credential_cloud_fetches_every_image(tmp_path, up):
    ks = up.keystone
    token = ks.password_token(ALICE, ALICE_PW, "demo")
    cred = ks.application_credential(up.user_id, token, f"ci-{tmp_path.name}")
    cloud = {
        "auth_type": "v3applicationcredential",
        "auth": {
            "auth_url": ks.url,
            "application_credential_id": cred["id"],
            "application_credential_secret": cred["secret"],
        },
        "region_name": "RegionTwo",
    }
    env = write_clouds(tmp_path, {"ci": cloud})
    out = tmp_path / "snap.json"
    proc = apihelp.run("fetch", "--cloud", "ci", "--page-size", str(PAGE), "--output", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    ids = [img["id"] for img in json.loads(out.read_text())["images"]]
    assert sorted(ids) == sorted(up.image_ids)
    assert cred["secret"] not in proc.stderr + out.read_text()


def test_revoked_token_is_replaced_once(tmp_path, up):
    relay = Relay(up.keystone, up.glance.endpoint, revoke_at=3)
    with relay.running():
        cloud = {"auth": password_auth(up.keystone), "image_endpoint_override": relay.url}
        env = write_clouds(tmp_path, {"prod": cloud})
        proc, report = live_check(tmp_path, "--cloud", "prod", env=env)
    assert proc.returncode == 0, proc.stderr
    assert_all_once(report, up)
    tokens = [t for t, _ in relay.seen]
    statuses = [s for _, s in relay.seen]
    assert statuses == [200, 200, 401, 200, 200]
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3] == tokens[4]
    assert all(t not in proc.stderr for t in tokens)
