"""The CLI as a user sees it: exit codes, stdout/stderr split, colour, usage errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import policy_yaml

IMAGES = [
    {"id": "a", "name": "ok", "status": "active", "min_disk": 40},
    {"id": "b", "name": "big", "status": "active", "min_disk": 4000},
    {"id": "c", "name": "\x1b[2Jevil\x07", "status": "killed", "min_disk": 40},
]


@pytest.fixture
def setup(tmp_path, fleet_file):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "disk.yaml").write_text(
        policy_yaml(
            "disk",
            severity="medium",
            validations=[
                {"expression": "image.min_disk <= 1024", "messageExpression": "'min_disk ' + string(image.min_disk)"}
            ],
        )
    )
    (policies / "status.yaml").write_text(
        policy_yaml("status", severity="low", validations=['image.status == "active"'])
    )
    return str(fleet_file(IMAGES)), str(policies)


def test_findings_exit_1_with_text_report_and_summary_on_stderr(setup, cli):
    fleet, policies = setup
    result = cli("check", "--input", fleet, "--policies", policies, "--now", "2026-01-01T00:00:00Z")
    assert result.returncode == 1
    assert result.stdout.splitlines()[:5] == [
        "disk [medium] title of disk",
        "  FAIL  b big: min_disk 4000",
        "",
        "status [low] title of status",
        '  FAIL  c \\x1b[2Jevil\\x07: image.status == "active"',
    ]
    assert "\x1b" not in result.stdout  # NO_COLOR, and the hostile name is made visible
    assert "disk    medium        2      1      0      0" in result.stdout
    assert result.stderr == ("imagelint: 3 images x 2 policies: 4 pass, 2 fail, 0 skip, 0 error (compiled); exit 1\n")


@pytest.mark.parametrize(
    "fail_on, code", [("low", 1), ("medium", 1), ("high", 0), ("critical", 0), ("never", 0), ("info", 1)]
)
def test_fail_on_threshold(setup, cli, fail_on, code):
    fleet, policies = setup
    assert cli("check", "--input", fleet, "--policies", policies, "--fail-on", fail_on).returncode == code


def test_clean_fleet_exits_0(setup, cli, fleet_file):
    _, policies = setup
    result = cli("check", "--input", str(fleet_file(IMAGES[:1], "clean.json")), "--policies", policies)
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, "POLICY  SEVERITY   PASS   FAIL   SKIP  ERROR")


def test_errors_count_like_failures(tmp_path, cli, fleet_file):
    (tmp_path / "p.yaml").write_text(policy_yaml("p", severity="low", validations=['image.__backup_id == "b"']))
    result = cli(
        "check", "--input", str(fleet_file(IMAGES)), "--policies", str(tmp_path / "p.yaml"), "--format", "json"
    )
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["summary"]["error"] == 3 and {f["status"] for f in report["findings"]} == {"error"}


def test_json_report_to_output_file(setup, cli, tmp_path):
    fleet, policies = setup
    out = tmp_path / "report.json"
    result = cli(
        "check",
        "--input",
        fleet,
        "--policies",
        policies,
        "--format",
        "json",
        "--output",
        str(out),
        "--now",
        "2026-01-01T00:00:00Z",
        "--engine",
        "cel-python",
    )
    assert result.returncode == 1 and result.stdout == ""
    report = json.loads(out.read_text())
    assert report["engine"] == "cel-python" and report["now"] == "2026-01-01T00:00:00Z"
    assert report["source"] == {
        "kind": "file",
        "location": fleet,
        "images": 3,
        "complete": True,
        "error": None,
        "details": {"format": "json"},
    }
    assert report["summary"]["by_severity"] == {"critical": 0, "high": 0, "medium": 1, "low": 1, "info": 0}
    assert [(p["name"], p["pass"], p["fail"]) for p in report["policies"]] == [("disk", 2, 1), ("status", 2, 1)]
    assert report["findings"][0]["image"] == {"id": "b", "name": "big", "visibility": None, "owner": None}
    assert report["findings"][0]["attributes"] == {"min_disk": 4000}


def test_color_always_paints(setup, cli):
    fleet, policies = setup
    result = cli("check", "--input", fleet, "--policies", policies, "--color", "always")
    assert "\x1b[31mFAIL \x1b[0m" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "disk"], "--param 'disk': expected NAME.KEY=VALUE, e.g. image-max-age.max_age_days=180"),
        (["--param", "nope.x=1"], "--param:1:1: no loaded policy is named 'nope'"),
        (["--now", "yesterday"], "--now 'yesterday': expected an RFC 3339 time, e.g. 2026-01-31T00:00:00Z"),
        (["--now", "2026-01-01T00:00:00"], "--now '2026-01-01T00:00:00': needs a time zone, e.g. 2026-01-31T00:00:00Z"),
    ],
)
def test_usage_errors_exit_2_with_one_line(setup, cli, args, message):
    fleet, policies = setup
    result = cli("check", "--input", fleet, "--policies", policies, *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip() == message


def test_policy_error_stops_before_reading_the_fleet(tmp_path, cli):
    (tmp_path / "p.yaml").write_text("apiVersion: imagelint/v1\nkind: Policy\n")
    # the input does not exist: a policy error must win (exit 2), the source is never opened
    result = cli("check", "--input", str(tmp_path / "missing.json"), "--policies", str(tmp_path / "p.yaml"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'p.yaml'}:1:1: document: missing required key 'metadata'",
        f"{tmp_path / 'p.yaml'}:1:1: document: missing required key 'spec'",
    ]


def test_validate_bundled_pack_is_clean(cli):
    result = cli("validate")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("policies OK")


def test_sample_fleet_shows_real_failures_of_several_policies(cli):
    result = cli("check", "--sample", "--format", "json", "--now", "2026-11-27T00:00:00Z")
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["source"]["images"] >= 200 and report["summary"]["policies"] >= 20
    failing = {p["name"] for p in report["policies"] if p["fail"]}
    assert len(failing) >= 8
    assert report["summary"]["error"] == 0


def test_python_dash_m_and_version(cli):
    result = cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, "imagelint 0.1.0")


def test_json_report_one_line_per_finding(setup, cli):
    fleet, policies = setup
    result = cli("check", "--input", fleet, "--policies", policies, "--format", "json")
    lines = result.stdout.splitlines()
    start = lines.index('  "findings": [')
    assert [json.loads(line.rstrip(","))["image"]["id"] for line in lines[start + 1 : start + 3]] == ["b", "c"]
    assert lines[start + 3] == "  ],"


def test_an_internal_error_is_one_line_and_exit_4(monkeypatch, capsys):
    # a bug must not look like a verdict: Python's own traceback exits 1, the findings code. The fault is
    # injected (no input is known to cause one); the name of the image it carries must not reach the terminal raw
    from imagelint import cli as cli_module

    def broken(args):
        raise RuntimeError("boom on image \x1b[31mred\x1b[0m\nsecond line")

    monkeypatch.setitem(cli_module.COMMANDS, "check", broken)
    monkeypatch.delenv("IMAGELINT_DEBUG", raising=False)
    assert cli_module.main(["check", "--sample"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "\x1b" not in err
    assert err.startswith("imagelint: internal error: RuntimeError: boom on image ")
    assert "second line (a bug in imagelint; IMAGELINT_DEBUG=1 shows the traceback)" in err
    monkeypatch.setenv("IMAGELINT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli_module.main(["check", "--sample"])
