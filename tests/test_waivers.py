"""Waivers end to end through the real CLI: selectors, expiry against --now, stale waivers, permanent
waivers, and invalid waiver files (exit 2 with FILE:LINE:COL)."""

from __future__ import annotations

import json

import pytest

from imagelint.judgement.waivers import parse_expiry
from tests.conftest import policy_yaml

NOW = "2026-11-27T00:00:00Z"
FLEET = [
    {"id": "a1", "name": "legacy-1", "visibility": "private", "owner": "o1"},
    {"id": "a2", "name": "legacy-2", "visibility": "private", "owner": "o2"},
    {"id": "b1", "name": "ok-1", "visibility": "private", "owner": "o1"},
    {"id": "c1", "name": "web", "visibility": "private", "owner": "o3"},
]


@pytest.fixture
def setup(tmp_path, fleet_file):
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        policy_yaml("named-ok", validations=[{"expression": 'image.name.startsWith("ok")', "message": "bad name"}])
        + "\n---\n"
        + policy_yaml("other", severity="low", validations=['image.owner != "o2"']),
        encoding="utf-8",
    )
    return policies, fleet_file(FLEET)


def run_check(cli, setup, waivers_text, *extra):
    policies, fleet = setup
    waivers = fleet.parent / "waivers.yaml"
    waivers.write_text(waivers_text, encoding="utf-8")
    run = cli(
        "check",
        "--input",
        str(fleet),
        "--policies",
        str(policies),
        "--waivers",
        str(waivers),
        "--format",
        "json",
        "--now",
        NOW,
        *extra,
    )
    return run, waivers


def waived(run) -> dict[tuple[str, str], bool]:
    return {(f["policy"], f["image"]["id"]): f["waived"] for f in json.loads(run.stdout)["findings"]}


def test_waived_findings_do_not_fail_the_gate(cli, setup):
    run, _ = run_check(
        cli,
        setup,
        """\
        waivers:
          - policy: named-ok
            name: "legacy-*"
            reason: replaced in Q1
            expires: 2027-01-01
            owner: platform
            ticket: SEC-1
          - policy: "*"
            id: c1
            reason: web is special
            expires: 2027-01-01
          - policy: other
            match: image.owner == "o2"
            reason: o2 is being migrated
            expires: 2027-01-01
        """.replace("        ", ""),
    )
    assert run.returncode == 0, run.stderr
    assert waived(run) == {
        ("named-ok", "a1"): True,
        ("named-ok", "a2"): True,
        ("named-ok", "c1"): True,
        ("other", "a2"): True,
    }
    doc = json.loads(run.stdout)
    first = doc["findings"][0]
    assert first["waiver"]["reason"] == "replaced in Q1" and first["waiver"]["expires"] == "2027-01-01"
    assert first["waiver"]["owner"] == "platform" and first["waiver"]["ticket"] == "SEC-1"
    assert doc["summary"]["waived"] == 4 and doc["waivers"] == {"expired": [], "stale": []}


def test_unwaived_finding_still_fails(cli, setup):
    run, _ = run_check(cli, setup, "- {policy: named-ok, id: a1, reason: r, expires: 2027-01-01}\n")
    assert run.returncode == 1
    assert waived(run) == {
        ("named-ok", "a1"): True,
        ("named-ok", "a2"): False,
        ("named-ok", "c1"): False,
        ("other", "a2"): False,
    }


def test_expiry_is_judged_against_now(cli, setup):
    text = "- {policy: named-ok, name: '*', reason: r, expires: 2026-11-28}\n- {policy: other, id: a2, reason: r, expires: 2027-01-01}\n"
    before, waivers = run_check(cli, setup, text)  # --now 2026-11-27: still valid
    assert before.returncode == 0
    after, _ = run_check(cli, setup, text, "--now", "2026-11-28T00:00:00Z")  # the last --now wins
    assert after.returncode == 1
    assert not any(waived(after)[("named-ok", i)] for i in ("a2", "a1", "c1"))
    assert json.loads(after.stdout)["waivers"]["expired"][0]["line"] == 1
    assert (
        f"{waivers}:1: warning: waiver for named-ok (name=*) expired on 2026-11-28; it no longer applies: "
        "renew it with a new date or fix the finding"
    ) in after.stderr.splitlines()


def test_stale_waiver_is_reported(cli, setup):
    run, waivers = run_check(
        cli,
        setup,
        "- {policy: named-ok, name: 'legacy-*', reason: r, expires: 2027-01-01}\n"
        "- {policy: named-ok, id: no-such-image, reason: r, expires: 2027-01-01}\n",
    )
    assert run.returncode == 1  # c1 and other/a2 are not waived
    stale = json.loads(run.stdout)["waivers"]["stale"]
    assert [(w["selector"], w["line"]) for w in stale] == [("id=no-such-image", 2)]
    assert (
        f"{waivers}:2: warning: waiver for named-ok (id=no-such-image) matched no finding (stale): remove it, "
        "or check its policy and selector"
    ) in run.stderr.splitlines()


def test_permanent_waivers_need_the_flag(cli, setup):
    text = "waivers:\n  - {policy: named-ok, name: '*', reason: forever}\n"
    run, waivers = run_check(cli, setup, text)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"{waivers}:2:5: waivers[0]: missing 'expires' (a date, e.g. 2026-12-31); "
        "a waiver without one needs --allow-permanent-waivers"
    )
    run, _ = run_check(cli, setup, text, "--allow-permanent-waivers")
    assert run.returncode == 1 and waived(run)[("named-ok", "a1")] is True


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "- {policy: p, reason: r, expires: 2027-01-01}\n",
            "1:3: waivers[0]: needs exactly one image selector: id, name (a glob) or match (CEL over image); got none",
        ),
        (
            "- {policy: p, id: x, name: y, reason: r, expires: 2027-01-01}\n",
            "1:3: waivers[0]: needs exactly one image selector: id, name (a glob) or match (CEL over image); got id, name",
        ),
        ("- {policy: p, id: x, expires: 2027-01-01}\n", "1:3: waivers[0]: missing required key 'reason'"),
        (
            "- {policy: p, id: x, reason: r, expires: 31.12.2026}\n",
            "1:42: waivers[0].expires: '31.12.2026' is not a date (YYYY-MM-DD) or an RFC 3339 time with a zone",
        ),
        (
            "- {policy: p, id: x, reason: r, expires: 2027-01-01, until: x}\n",
            "1:54: waivers[0]: unknown key 'until' (allowed: policy, id, name, match, reason, expires, owner, ticket, target)",
        ),
        (
            "- policy: p\n  match: image.__system_cmkid == 'k'\n  reason: r\n  expires: 2027-01-01\n",
            "2:10: waivers[0].match: unknown image attribute '__system_cmkid' (did you mean '__system__cmkid'?)",
        ),
        (
            "- policy: p\n  match: params.x == 1\n  reason: r\n  expires: 2027-01-01\n",
            "2:10: waivers[0].match: a waiver's match sees only image and now",
        ),
        (
            "- policy: p\n  match: 'image.name =='\n  reason: r\n  expires: 2027-01-01\n",
            "2:22: waivers[0].match: CEL syntax error: unexpected end of expression",
        ),
        ("waivers: {policy: p}\n", "1:10: expected a list of waivers (or a mapping with a 'waivers:' list)"),
        ("- [unclosed\n", "2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
    ],
)
def test_invalid_waiver_file_exits_2_with_position(cli, setup, text, message):
    run, waivers = run_check(cli, setup, text)
    assert run.returncode == 2
    assert run.stderr.strip() == f"{waivers}:{message}"
    assert run.stdout == ""  # nothing evaluated


def test_missing_waiver_file(cli, setup):
    policies, fleet = setup
    run = cli("check", "--input", str(fleet), "--policies", str(policies), "--waivers", str(fleet.parent / "nope.yaml"))
    assert (run.returncode, run.stderr.strip()) == (2, f"{fleet.parent / 'nope.yaml'}:1:1: no such waivers file")


def test_expiry_dates():
    assert parse_expiry("2026-12-31").isoformat() == "2026-12-31T00:00:00+00:00"
    assert parse_expiry("2026-12-31T12:00:00+02:00").isoformat() == "2026-12-31T10:00:00+00:00"
    assert parse_expiry("2026-12-31T12:00:00") is None  # a time needs a zone to be judged reproducibly
    assert parse_expiry("tomorrow") is None
