"""Authentication against the fake IMS server (token, IAM password, AK/SK) through the real CLI, and the
rule that no secret ever appears in anything a run leaves behind."""

from __future__ import annotations

import re

import pytest

from imagelint.formats import OutputFormat
from tests.apihelp import all_text, assert_each_once, assert_incomplete, check, run
from tests.fakeims import FakeIMS, Fault, generate_images
from tests.fakeims.sigv import parse_authorization

TOKEN = "tok-auth-SECRET-0123456789"
AK, SK = "AKTEST0123456789", "SK-very-SECRET-abcdef0123456789"
PROJECT_ID = "0123456789abcdef0123456789abcdef"
SECURITY_TOKEN = "sectok-SECRET-xyz"
USER, PASSWORD, DOMAIN, PROJECT = "alice", "pw-SECRET-Tr0ub4dor&3", "acme", "ap-southeast-1"


@pytest.fixture(scope="module")
def fleet():
    return generate_images(120, seed=6)


def password_env(srv, **over):
    env = {
        "OS_AUTH_URL": srv.url + "/v3",
        "OS_USERNAME": USER,
        "OS_PASSWORD": PASSWORD,
        "OS_USER_DOMAIN_NAME": DOMAIN,
        "OS_PROJECT_NAME": PROJECT,
    }
    env.update(over)
    return env


def iam_server(fleet, **kw):
    return FakeIMS(
        fleet, auth="token", iam_user=USER, iam_password=PASSWORD, iam_domain=DOMAIN, iam_project=PROJECT, **kw
    )


def assert_no_secret(text, *secrets):
    for secret in secrets:
        assert secret and secret not in text, f"secret {secret[:6]}... leaked"


# -- token ------------------------------------------------------------------------------------------------


def test_token_from_environment(tmp_path, fleet):
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env={"OS_AUTH_TOKEN": TOKEN})
        sent = {r.headers["X-Auth-Token"] for r in srv.image_requests}
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert sent == {TOKEN}
    assert report["source"]["details"]["auth"] == "token"
    assert_no_secret(all_text(proc, tmp_path), TOKEN)


def test_token_file(tmp_path, fleet):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        proc, report = check(srv.url, tmp_path, "--token-file", str(token_file), env={"OS_AUTH_TOKEN": "other"})
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)


def test_token_on_the_command_line_works_but_warns(tmp_path, fleet):
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        proc, report = check(srv.url, tmp_path, "--token", TOKEN)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert "warning: --token puts the token on the command line" in proc.stderr
    assert_no_secret(proc.stderr + proc.stdout + (tmp_path / "report.json").read_text(), TOKEN)


def test_no_credentials_is_a_401_with_a_hint(tmp_path, fleet):
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        proc, report = check(srv.url, tmp_path)
    assert_incomplete(proc, report, fleet, pages_seen=0)
    assert "HTTP 401 Unauthorized: APIGW.0301" in proc.stderr
    assert "no credentials were given: set OS_AUTH_TOKEN" in proc.stderr


def test_wrong_token_is_exit_3_and_not_printed(tmp_path, fleet):
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        proc, report = check(srv.url, tmp_path, env={"OS_AUTH_TOKEN": "wrong-SECRET-token"})
    assert_incomplete(proc, report, fleet, pages_seen=0)
    assert "the token was refused" in proc.stderr
    assert_no_secret(all_text(proc, tmp_path), "wrong-SECRET-token")


def test_a_secret_echoed_by_the_server_is_scrubbed(tmp_path, fleet):
    fault = Fault("status", status=403, style="ims", page=1, message=f"token {TOKEN} may not list images")
    with FakeIMS(fleet, auth="token", token=TOKEN, faults=[fault]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "50", env={"OS_AUTH_TOKEN": TOKEN})
    assert_incomplete(proc, report, fleet, pages_seen=1, page=50)
    assert "token *** may not list images" in proc.stderr
    assert_no_secret(all_text(proc, tmp_path), TOKEN)


# -- password -> IAM token ----------------------------------------------------------------------------------


def test_password_gets_one_token_for_the_whole_run(tmp_path, fleet):
    with iam_server(fleet) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "20", env=password_env(srv))
        iam = [r for r in srv.requests if r.path == "/v3/auth/tokens"]
        issued = srv.issued_tokens
        sent = {r.headers["X-Auth-Token"] for r in srv.image_requests}
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert len(iam) == 1 and len(issued) == 1 and sent == set(issued)
    assert report["source"]["details"]["auth"] == "password"
    assert_no_secret(all_text(proc, tmp_path), PASSWORD, *issued)


def test_a_5xx_from_the_identity_service_is_retried_like_an_image_request(tmp_path, fleet):
    # keystoneauth1 retries no status by default: one busy moment of Keystone would fail the run (or, in an
    # audit, a target) for good. A 401 is not retried (the wrong-password test below sees one request).
    busy = Fault("status", status=500, path="/v3/auth/tokens", style="html", times=1)
    with iam_server(fleet, faults=[busy]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "20", env=password_env(srv))
        iam = [r.status for r in srv.requests if r.path == "/v3/auth/tokens"]
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert iam == [500, 201], iam
    assert_no_secret(all_text(proc, tmp_path), PASSWORD)


def test_auth_url_without_v3_and_project_id(tmp_path, fleet):
    with FakeIMS(
        fleet, auth="token", iam_user=USER, iam_password=PASSWORD, iam_domain=DOMAIN, iam_project_id=PROJECT_ID
    ) as srv:
        env = password_env(
            srv,
            OS_AUTH_URL=srv.url,
            OS_PROJECT_NAME="",
            OS_PROJECT_ID=PROJECT_ID,
            OS_USER_DOMAIN_NAME="",
            OS_DOMAIN_NAME=DOMAIN,
        )
        proc, report = check(srv.url, tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)


def test_expired_token_is_refreshed_once(tmp_path, fleet):
    with iam_server(fleet, faults=[Fault("expire_token", page=2)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "20", env=password_env(srv))
        iam = [r for r in srv.requests if r.path == "/v3/auth/tokens"]
        page2 = [r.status for r in srv.image_requests if r.page == 2]
        issued = srv.issued_tokens
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert len(iam) == 2 and page2 == [401, 200]
    assert_no_secret(all_text(proc, tmp_path), PASSWORD, *issued)


def test_a_second_401_is_final(tmp_path, fleet):
    with iam_server(fleet, faults=[Fault("expire_token", page=1), Fault("expire_token", page=3)]) as srv:
        proc, report = check(srv.url, tmp_path, "--page-size", "20", env=password_env(srv))
        iam = [r for r in srv.requests if r.path == "/v3/auth/tokens"]
        issued = srv.issued_tokens
    assert_incomplete(proc, report, fleet, pages_seen=3, page=20)
    assert len(iam) == 2
    assert "HTTP 401" in proc.stderr and "refused even after getting a fresh one" in proc.stderr
    assert_no_secret(all_text(proc, tmp_path), PASSWORD, *issued)


def test_wrong_password(tmp_path, fleet):
    with iam_server(fleet) as srv:
        proc, report = check(srv.url, tmp_path, env=password_env(srv, OS_PASSWORD="nope-SECRET-pw"))
        images = srv.image_requests
        iam = [r.status for r in srv.requests if r.path == "/v3/auth/tokens"]
    assert_incomplete(proc, report, fleet, pages_seen=0)
    assert images == []
    assert iam == [401]  # never retried: each try would count towards a lockout
    assert (
        f"cannot get a token from the identity service: POST {srv.url}/v3/auth/tokens: HTTP 401 Unauthorized: 401: The request "
        "you have made requires authentication."
    ) in proc.stderr
    assert_no_secret(all_text(proc, tmp_path), "nope-SECRET-pw")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"OS_USERNAME": USER, "OS_PASSWORD": PASSWORD, "OS_USER_DOMAIN_NAME": DOMAIN, "OS_PROJECT_NAME": PROJECT},
            "password authentication: missing OS_AUTH_URL",
        ),
        (
            {
                "OS_AUTH_URL": "http://127.0.0.1:9/v3",
                "OS_USERNAME": USER,
                "OS_PASSWORD": PASSWORD,
                "OS_PROJECT_NAME": PROJECT,
            },
            "missing OS_USER_DOMAIN_NAME (or OS_DOMAIN_NAME)",
        ),
        (
            {
                "OS_AUTH_URL": "http://127.0.0.1:9/v3",
                "OS_USERNAME": USER,
                "OS_PASSWORD": PASSWORD,
                "OS_DOMAIN_NAME": DOMAIN,
            },
            "missing OS_PROJECT_NAME or OS_PROJECT_ID",
        ),
        ({"HUAWEICLOUD_SDK_AK": AK}, "HUAWEICLOUD_SDK_SK is not set"),
        ({"HUAWEICLOUD_SDK_SK": SK}, "HUAWEICLOUD_SDK_AK is not set"),
    ],
)
def test_half_configured_credentials_are_exit_2(env, says):
    proc = run("check", "--endpoint", "http://127.0.0.1:9", env=env)
    assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert_no_secret(proc.stderr, PASSWORD, SK)


def test_token_file_problems_are_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path, says in ((tmp_path / "missing", "cannot read"), (empty, "expected one token on one line")):
        proc = run("check", "--endpoint", "http://127.0.0.1:9", "--token-file", str(path))
        assert proc.returncode == 2 and says in proc.stderr


# -- AK/SK ----------------------------------------------------------------------------------------------------


def aksk_env(**over):
    return {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT_ID, **over}


def signatures(srv):
    return [parse_authorization(r.headers["Authorization"])["Signature"] for r in srv.image_requests]


def test_aksk_every_request_signed_and_verified_by_the_fake(tmp_path, fleet):
    # strict_query: the server also demands that the wire query is exactly the canonical one.
    with FakeIMS(fleet, auth="aksk", ak=AK, sk=SK, strict_query=True) as srv:
        proc, report = check(
            srv.url,
            tmp_path,
            "--page-size",
            "5",
            "--query",
            "created_at=gt:2018-01-01 00:00:00",
            "--query",
            "__platform=Ubuntu",  # (was Oracle Linux, which this fleet lacks: the run judged no image)
            "--header",
            "X-Api-Version=2",
            env=aksk_env(),
        )
        statuses = {r.status for r in srv.image_requests}
        projects = {r.headers["X-Project-Id"] for r in srv.image_requests}
        sigs = signatures(srv)
    assert proc.returncode == 0, proc.stderr
    oracle = [i for i in fleet if i["__platform"] == "Ubuntu" and i["created_at"] > "2018-01-01T00:00:00Z"]
    assert len(oracle) > 5  # several pages, each signed
    assert_each_once(report, oracle)
    assert statuses == {200} and projects == {PROJECT_ID}
    assert report["source"]["details"]["auth"] == "aksk"
    assert_no_secret(all_text(proc, tmp_path), SK, *sigs)


def test_aksk_paging_with_special_characters_in_next(tmp_path, fleet):
    with FakeIMS(fleet, auth="aksk", ak=AK, sk=SK, strict_query=True) as srv:
        proc, report = check(
            srv.url,
            tmp_path,
            "--page-size",
            "10",
            "--query",
            "updated_at=gte:2018-01-01 00:00:00",
            "--query",
            "sort_key=name",
            env=aksk_env(),
        )
        n = len(srv.image_requests)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert n == 13


def test_aksk_with_security_token(tmp_path, fleet):
    with FakeIMS(fleet, auth="aksk", ak=AK, sk=SK, security_token=SECURITY_TOKEN) as srv:
        proc, report = check(srv.url, tmp_path, env=aksk_env(HUAWEICLOUD_SDK_SECURITY_TOKEN=SECURITY_TOKEN))
        sigs = signatures(srv)
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, fleet)
    assert_no_secret(all_text(proc, tmp_path), SK, SECURITY_TOKEN, *sigs)


def test_aksk_wrong_secret(tmp_path, fleet):
    with FakeIMS(fleet, auth="aksk", ak=AK, sk=SK) as srv:
        proc, report = check(srv.url, tmp_path, env=aksk_env(HUAWEICLOUD_SDK_SK="wrong-SECRET-sk"))
        sigs = signatures(srv)
    assert_incomplete(proc, report, fleet, pages_seen=0)
    assert "HTTP 401 Unauthorized: APIGW.0301" in proc.stderr and "AK/SK signature was refused" in proc.stderr
    assert_no_secret(all_text(proc, tmp_path), "wrong-SECRET-sk", *sigs)


# -- credentials never go anywhere else -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["token", "aksk", "password"])
def test_foreign_next_gets_no_credentials(tmp_path, fleet, method):
    with FakeIMS(fleet) as foreign:
        fault = Fault("foreign_next", page=1, base=foreign.url)
        if method == "aksk":
            srv, env = FakeIMS(fleet, auth="aksk", ak=AK, sk=SK, faults=[fault]), aksk_env()
        elif method == "password":
            srv = iam_server(fleet, faults=[fault])
            env = None
        else:
            srv, env = FakeIMS(fleet, auth="token", token=TOKEN, faults=[fault]), {"OS_AUTH_TOKEN": TOKEN}
        with srv:
            proc, report = check(srv.url, tmp_path, "--page-size", "50", env=env or password_env(srv))
            secrets = [TOKEN, SK, PASSWORD, *srv.issued_tokens]
        assert foreign.requests == []
    assert_incomplete(proc, report, fleet, pages_seen=2, page=50)
    assert "another origin" in proc.stderr
    assert_no_secret(all_text(proc, tmp_path), *secrets)


def test_every_artefact_of_a_fetch_and_check_is_free_of_secrets(tmp_path, fleet):
    """All four credential kinds and a sensitive --header in one place, a fetch and checks in every format."""
    with iam_server(fleet, faults=[Fault("expire_token", page=1), Fault("status", status=503, page=2)]) as srv:
        env = password_env(srv)
        out = tmp_path / "out"
        out.mkdir()
        runs = [
            run(
                "fetch",
                "--endpoint",
                srv.url,
                "--page-size",
                "30",
                "--output",
                str(out / "snap.json"),
                "--header",
                "X-Gateway-Key=gwkey-SECRET-1",
                "--progress",
                env=env,
            ),
            run(
                "fetch",
                "--endpoint",
                srv.url,
                "--page-size",
                "30",
                "--output",
                str(out / "snap.jsonl"),
                "--jsonl",
                env=env,
            ),
        ]
        for fmt in [f.value for f in OutputFormat]:
            runs.append(
                run(
                    "check",
                    "--endpoint",
                    srv.url,
                    "--format",
                    fmt,
                    "--output",
                    str(out / f"r.{fmt}"),
                    "--fail-on",
                    "never",
                    env=env,
                )
            )
        issued = srv.issued_tokens
    assert [p.returncode for p in runs] == [0] * len(runs), [p.stderr for p in runs]
    text = "\n".join(all_text(p) for p in runs) + all_text(runs[0], out)
    assert_no_secret(text, PASSWORD, "gwkey-SECRET-1", *issued)
    assert not re.search(r"SECRET", text)
