"""Huawei Cloud as its users configure it: ``--region``, the SDK's endpoint overrides and regions file, the
credentials file, and the project id looked up at IAM, through the real CLI against the fake IMS and the
fake IAM (real HTTP on loopback, signatures checked by the independent ``sigv``)."""

from __future__ import annotations

import os

from imagelint.sources import huawei
from tests.apihelp import all_text, assert_each_once, live_check, run
from tests.fakeims import FakeIMS, generate_images
from tests.fakeims.iam import FakeIAM

AK, SK = "AKHUAWEI0123456789", "SK-huawei-SECRET-0123456789abcdef"
REGION, PID = "cn-north-4", "5f3c0a1b2c3d4e5f60718293a4b5c6d7"
FLEET = generate_images(30, seed=4)


def credentials(tmp_path, text=None, mode=0o600):
    path = tmp_path / "home" / ".huaweicloud" / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else f"[basic]\nak = {AK}\nsk = {SK}\n", encoding="utf-8")
    os.chmod(path, mode)
    return path


def region_env(tmp_path, srv, iam):
    variable = "HUAWEICLOUD_SDK_REGION_IMS_" + REGION.upper().replace("-", "_")
    return {"HOME": str(tmp_path / "home"), variable: srv.url, "HUAWEICLOUD_SDK_IAM_ENDPOINT": iam.url}


def test_region_credentials_file_and_project_lookup(tmp_path):
    credentials(tmp_path)
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv, FakeIAM(AK, SK, projects={REGION: PID, "x": "1"}) as iam:
        proc, report = live_check(tmp_path, "--region", REGION, "--page-size", "8", env=region_env(tmp_path, srv, iam))
        projects = {r.headers.get("X-Project-Id") for r in srv.image_requests}
        looked_up = [(r.target, r.status) for r in iam.requests]
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert looked_up == [(f"/v3/projects?name={REGION}", 200)]
    assert projects == {PID}
    details = report["source"]["details"]
    assert details["region"] == REGION and details["project_id"] == PID and details["auth"] == "aksk"
    assert "readable" not in proc.stderr
    assert SK not in all_text(proc, tmp_path / "report.json")


def test_project_id_in_the_file_needs_no_lookup_and_a_readable_file_warns(tmp_path):
    path = credentials(tmp_path, f"[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PID}\n", mode=0o644)
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv, FakeIAM(AK, SK, projects={}) as iam:
        proc, report = live_check(tmp_path, "--region", REGION, env=region_env(tmp_path, srv, iam))
        assert iam.requests == []
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)
    assert f"{path} holds a secret key but is readable by others (mode 644); chmod 600 {path}" in proc.stderr


def test_credentials_file_from_the_environment_variable(tmp_path):
    other = tmp_path / "elsewhere.ini"
    other.write_text(f"[basic]\nak={AK}\nsk={SK}\nproject_id={PID}\n")
    os.chmod(other, 0o600)
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv:
        env = {"HOME": str(tmp_path), "HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(other)}
        proc, report = live_check(tmp_path, "--endpoint", srv.url, env=env)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, FLEET)


def test_region_with_no_project_of_that_name_is_exit_2(tmp_path):
    credentials(tmp_path)
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv, FakeIAM(AK, SK, projects={"eu-west-0": "9"}) as iam:
        proc, _ = live_check(tmp_path, "--region", REGION, env=region_env(tmp_path, srv, iam))
        assert srv.image_requests == []
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"--region {REGION}: IAM lists 0 projects named {REGION} for this AK/SK "
        "(give --project-id or HUAWEICLOUD_SDK_PROJECT_ID)"
    )


def test_wrong_secret_at_iam_is_exit_3_without_the_secret(tmp_path):
    credentials(tmp_path, f"[basic]\nak = {AK}\nsk = SK-wrong-SECRET-1\n")
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv, FakeIAM(AK, SK, projects={REGION: PID}) as iam:
        proc, _ = live_check(tmp_path, "--region", REGION, "--retries", "0", env=region_env(tmp_path, srv, iam))
    assert proc.returncode == 3, proc.stderr
    assert f"cannot look up the project of region {REGION} at IAM" in proc.stderr and "HTTP 401" in proc.stderr
    assert "SK-wrong-SECRET-1" not in proc.stderr


def test_broken_credentials_file_is_one_line_exit_2(tmp_path):
    path = credentials(tmp_path, "[profile]\nak = x\n")
    proc = run("check", "--region", REGION, env={"HOME": str(tmp_path / "home")})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{path}: no [basic] section (expected ak, sk and optionally project_id, security_token)"
    ]


def test_endpoints_are_data_with_the_sdk_overrides(tmp_path):
    assert huawei.ims_endpoint(REGION, {"HOME": str(tmp_path)}) == "https://ims.cn-north-4.myhuaweicloud.com"
    assert huawei.iam_endpoint("ap-southeast-1", {}) == "https://iam.ap-southeast-1.myhuaweicloud.com"
    regions = tmp_path / "regions.yaml"
    regions.write_text(f"IMS:\n  - id: {REGION}\n    endpoint: https://ims.internal.example\n")
    env = {"HUAWEICLOUD_SDK_REGIONS_FILE": str(regions)}
    assert huawei.ims_endpoint(REGION, env) == "https://ims.internal.example"
    env["HUAWEICLOUD_SDK_REGION_IMS_CN_NORTH_4"] = "https://ims.from-env.example"
    assert huawei.ims_endpoint(REGION, env) == "https://ims.from-env.example"
    assert huawei.iam_endpoint(REGION, {"HUAWEICLOUD_SDK_IAM_ENDPOINT": "https://iam.x/"}) == "https://iam.x"
