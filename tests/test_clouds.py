"""``--cloud``/``OS_CLOUD`` (clouds.yaml read by openstacksdk) and the image endpoint from the token's service
catalog, through the real CLI against the fake IMS server's Keystone-v3 IAM (real HTTP on loopback).

The real Keystone and Glance versions of these paths are in ``test_keystone.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.apihelp import all_text, assert_each_once, live_check, run
from tests.fakeims import FakeIMS, generate_images

USER, PASSWORD, DOMAIN, PROJECT = "alice", "pw-SECRET-clouds-7", "acme", "ap-southeast-1"
FLEET = generate_images(45, seed=12)


def iam_server(**kw):
    return FakeIMS(
        FLEET, auth="token", iam_user=USER, iam_password=PASSWORD, iam_domain=DOMAIN, iam_project=PROJECT, **kw
    )


def clouds_yaml(tmp_path: Path, text: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    path = home / "clouds.yaml"
    path.write_text(text, encoding="utf-8")
    # HOME too: openstacksdk also searches ~/.config/openstack, which must not be the developer's.
    return {"OS_CLIENT_CONFIG_FILE": str(path), "HOME": str(home)}


def password_cloud(srv, name="prod", extra=""):
    return f"""\
clouds:
  {name}:
    auth:
      auth_url: {srv.url}/v3
      username: {USER}
      password: {PASSWORD}
      user_domain_name: {DOMAIN}
      project_name: {PROJECT}
      project_domain_name: {DOMAIN}
    identity_api_version: 3
{extra}"""


def test_cloud_endpoint_from_the_catalog(tmp_path):
    with iam_server() as srv:
        env = clouds_yaml(tmp_path, password_cloud(srv, extra=f"    region_name: {PROJECT}\n"))
        proc, report = live_check(tmp_path, "--cloud", "prod", "--page-size", "10", env=env)
        tokens = [r for r in srv.requests if r.path == "/v3/auth/tokens"]
        issued = srv.issued_tokens
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert len(tokens) == 1
    details = report["source"]["details"]
    assert details["cloud"] == "prod" and details["region"] == PROJECT and details["endpoint"] == srv.url
    assert details["project_name"] == PROJECT and details["project_id"]
    text = all_text(proc, tmp_path / "report.json")
    for secret in (PASSWORD, *issued):
        assert secret not in text


def test_os_cloud_and_the_only_cloud_are_defaults(tmp_path):
    with iam_server() as srv:
        env = clouds_yaml(tmp_path, password_cloud(srv, name="only"))
        by_env, report = live_check(tmp_path, env={**env, "OS_CLOUD": "only"})
        assert by_env.returncode == 0, by_env.stderr
        assert_each_once(report, FLEET)
        fetched = run("fetch", "--cloud", "only", "--output", str(tmp_path / "snap.json"), env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert len(json.loads((tmp_path / "snap.json").read_text())["images"]) == len(FLEET)


def test_region_not_in_the_catalog_is_exit_2_naming_the_regions(tmp_path):
    with iam_server() as srv:
        env = clouds_yaml(tmp_path, password_cloud(srv))
        proc, _ = live_check(tmp_path, "--cloud", "prod", "--region", "eu-west-0", env=env)
        images = srv.image_requests
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"--region eu-west-0: the service catalog has no public image endpoint there; regions with one: {PROJECT}"
    ]
    assert images == []


def test_image_endpoint_override_wins_over_the_catalog(tmp_path):
    with iam_server() as iam, FakeIMS(FLEET) as other:
        env = clouds_yaml(tmp_path, password_cloud(iam, extra=f"    image_endpoint_override: {other.url}/v2\n"))
        proc, report = live_check(tmp_path, "--cloud", "prod", env=env)
        assert iam.image_requests == []
        assert other.image_requests
    assert proc.returncode == 0, proc.stderr
    assert report["source"]["details"]["endpoint"] == other.url


def test_os_password_variables_alone_use_the_catalog(tmp_path):
    with iam_server() as srv:
        env = {
            "OS_AUTH_URL": srv.url + "/v3",
            "OS_USERNAME": USER,
            "OS_PASSWORD": PASSWORD,
            "OS_USER_DOMAIN_NAME": DOMAIN,
            "OS_PROJECT_NAME": PROJECT,
            "HOME": str(tmp_path),
        }
        proc, report = live_check(tmp_path, "--region", PROJECT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert report["source"]["details"]["endpoint"] == srv.url


def test_unknown_cloud_lists_the_known_ones(tmp_path):
    env = clouds_yaml(
        tmp_path,
        "clouds:\n  prod: {auth: {auth_url: 'http://127.0.0.1:9/v3'}}\n  dev: {auth: {auth_url: 'http://127.0.0.1:9'}}\n",
    )
    proc = run("check", "--cloud", "staging", env=env)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("--cloud staging: no such cloud (known clouds: dev, prod")


def test_clouds_yaml_syntax_error_is_file_line_col(tmp_path):
    env = clouds_yaml(tmp_path, "clouds:\n  prod:\n    auth: {auth_url: [\n")
    proc = run("check", "--cloud", "prod", env=env)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith(
        f"{tmp_path / 'home' / 'clouds.yaml'}:4:1: not valid YAML"
    ), line


def test_missing_openstack_extra_is_one_line_with_the_install_command(tmp_path):
    # A real interpreter where openstacksdk cannot be imported (as after `pip install imagelint` alone).
    blocker = tmp_path / "block"
    (blocker / "openstack").mkdir(parents=True)
    (blocker / "openstack" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**clouds_yaml(tmp_path, "clouds: {}\n"), "PYTHONPATH": str(blocker)}
    proc = run("check", "--cloud", "prod", env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "--cloud needs openstacksdk, which is not installed: pip install 'imagelint[openstack]'"
    )


def test_wrong_password_in_the_cloud_is_exit_3_before_any_image_request(tmp_path):
    with iam_server() as srv:
        text = password_cloud(srv).replace(PASSWORD, "nope-SECRET-x")
        env = clouds_yaml(tmp_path, text)
        proc, _ = live_check(tmp_path, "--cloud", "prod", env=env)
        images = srv.image_requests
    assert proc.returncode == 3, proc.stderr
    assert "cannot get a token from the identity service" in proc.stderr and "HTTP 401" in proc.stderr
    assert "nope-SECRET-x" not in proc.stderr and images == []
