"""What the gate may never do silently, through the real CLI: pass a run that judged no image (or fewer than
``--min-images``), let an ``imagelint.yaml`` picked up from the working directory weaken it without a word,
call a run with ``--fail-on never`` a pass, or blame a flag for a value the config file set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apihelp import run as run_live
from tests.conftest import policy_yaml
from tests.fakeims import FakeIMS, generate_images

NOW = "2026-11-27T00:00:00Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a policy that fails every image (severity medium) and a two-image fleet."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(
        policy_yaml("p", severity="medium", validations=["image.min_disk <= 10"]), encoding="utf-8"
    )
    (tmp_path / "fleet.json").write_text(json.dumps({"images": [{"id": "a", "min_disk": 40}, {"id": "b"}]}))
    (tmp_path / "empty.json").write_text('{"images": []}')
    return tmp_path


def check(cli, project: Path, *extra: str, fleet: str = "fleet.json"):
    args = ["check", "--input", str(project / fleet), "--policies", str(project / "policies"), "--now", NOW]
    return cli(*args, "--format", "json", *extra, cwd=project)


# -- 4. an empty fleet -------------------------------------------------------------------------------------


def test_an_empty_snapshot_does_not_pass(cli, project):
    run = check(cli, project, fleet="empty.json")
    assert run.returncode == 3, run.stderr
    assert "INCOMPLETE: no image was judged: the source listed none (--allow-empty" in run.stderr
    source = json.loads(run.stdout)["source"]
    assert source["complete"] is False and "no image was judged" in source["error"]


def test_allow_empty_lets_an_empty_fleet_pass(cli, project):
    run = check(cli, project, "--allow-empty", fleet="empty.json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["source"]["complete"] is True


@pytest.mark.parametrize(("floor", "code"), [("3", 3), ("2", 1), ("0", 1)])
def test_min_images_sets_the_floor(cli, project, floor, code):
    run = check(cli, project, "--min-images", floor)
    assert run.returncode == code, run.stderr
    if code == 3:
        assert "INCOMPLETE: 2 images judged, fewer than --min-images 3" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-images", "-1"], "--min-images -1: expected 0 or more"),
        (["--allow-empty", "--min-images", "2"], "--allow-empty and --min-images 2: give one"),
    ],
)
def test_contradictory_floors_are_usage_errors(cli, project, args, message):
    run = check(cli, project, *args)
    assert (run.returncode, run.stderr.strip()) == (2, message)


def test_a_live_query_that_matches_nothing_does_not_pass(tmp_path):
    # a mistyped image id in a pre-deployment gate: the listing is complete, and empty
    with FakeIMS(generate_images(30, seed=4)) as srv:
        run = run_live("check", "--endpoint", srv.url, "--query", "id=00000000-0000-0000-0000-000000000000")
    assert run.returncode == 3, run.stderr
    assert "no image was judged" in run.stderr


# -- 5. a config file that weakens the gate ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("fail-on: never\n", "imagelint.yaml:1:10: fail-on: never turns the gate off: no finding fails the run"),
        ("fail-on: high\n", "imagelint.yaml:1:10: fail-on: high: findings below high do not fail the run"),
        ("waivers: w.yaml\n", "imagelint.yaml:1:10: waivers: waived findings do not fail the run"),
        ("baseline: b.json\n", "imagelint.yaml:1:11: baseline: findings recorded in the baseline do not fail"),
        ("allow-permanent-waivers: true\n", "imagelint.yaml:1:26: allow-permanent-waivers: waivers that never"),
        ("allow-empty: true\n", "imagelint.yaml:1:14: allow-empty: a run that judged no image passes"),
        ("min-images: 0\n", "imagelint.yaml:1:13: min-images: 0: a run that judged no image passes"),
    ],
)
def test_a_weakening_setting_from_the_config_file_is_announced(cli, project, text, warning):
    (project / "w.yaml").write_text("[]\n")
    (project / "b.json").write_text(json.dumps({"version": 1, "findings": []}))
    (project / "imagelint.yaml").write_text(text)
    run = check(cli, project)
    warnings = [line for line in run.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1, run.stderr
    assert warnings[0].startswith("imagelint: warning: ") and warning in warnings[0]


@pytest.mark.parametrize("text", ["fail-on: info\n", "fail-on: low\n", "min-images: 5\n", "allow-empty: false\n"])
def test_settings_that_keep_or_tighten_the_gate_are_not_announced(cli, project, text):
    (project / "imagelint.yaml").write_text(text)
    assert "warning:" not in check(cli, project).stderr


def test_a_weakening_setting_overridden_by_a_flag_is_not_announced(cli, project):
    (project / "imagelint.yaml").write_text("fail-on: never\n")
    run = check(cli, project, "--fail-on", "low")
    assert run.returncode == 1 and "warning:" not in run.stderr


def test_fail_on_never_from_the_file_says_the_gate_is_off_not_pass(cli, project):
    """main: exit 0, not a word on stderr, and the text report read PASS."""
    (project / "imagelint.yaml").write_text("policies: [policies]\nfail-on: never\n")
    args = ["check", "--input", str(project / "fleet.json"), "--now", NOW, "--format", "text"]
    run = cli(*args, cwd=project)
    assert run.returncode == 0
    assert "imagelint.yaml:2:10: fail-on: never turns the gate off" in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("imagelint: GATE OFF (--fail-on never: no finding fails the run): 2 images")
    assert "GATE OFF: --fail-on never: no finding fails this run (2 not gating)." in run.stdout
    assert "PASS" not in run.stdout.replace("PASS   FAIL", "")  # the table header's column name aside


def test_fail_on_never_as_a_flag_is_not_a_warning_but_still_not_a_pass(cli, project):
    run = check(cli, project, "--fail-on", "never")
    assert run.returncode == 0 and "warning:" not in run.stderr
    assert "GATE OFF" in run.stderr


# -- 7. errors in the config file's values are told at their position -----------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "endpoint: http://127.0.0.1:9\npage-size: 0\n",
            "imagelint.yaml:2:12: page-size 0: expected a positive integer",
        ),
        (
            "endpoint: http://127.0.0.1:9\nquery:\n  visibility: public\n  limit: abc\n",
            "imagelint.yaml:4:10: query limit=abc: expected a positive integer",
        ),
        (
            "params:\n  p: {}\n  nosuch: {a: 1}\n",
            "imagelint.yaml:3:15: param: no loaded policy is named 'nosuch'",
        ),
        ("min-images: -2\n", "imagelint.yaml:1:13: min-images -2: expected 0 or more"),
        ("endpoint: ftp://x\n", "imagelint.yaml:1:11: endpoint 'ftp://x': expected an http(s) URL"),
    ],
)
def test_a_bad_value_in_the_config_file_is_told_at_its_position(cli, project, text, message):
    (project / "imagelint.yaml").write_text(f"policies: [policies]\n{text}")
    line, col, rest = message.split(":", 3)[1:]
    expected = f"{project / 'imagelint.yaml'}:{int(line) + 1}:{col}:{rest}"
    args = ["check", "--now", NOW] + ([] if "endpoint" in text else ["--input", str(project / "fleet.json")])
    run = cli(*args, cwd=project)
    assert run.returncode == 2
    assert run.stderr.strip().startswith(expected), run.stderr


def test_the_same_bad_value_as_a_flag_names_the_flag(cli, project):
    run = check(cli, project, "--min-images", "-2")
    assert run.stderr.strip() == "--min-images -2: expected 0 or more"
