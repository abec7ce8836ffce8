"""Baselines end to end through the real CLI: write, gate on new findings only, report fixed ones; keys that
never leak across images, policies or validations; stable files; invalid files (exit 2 with position)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import policy_yaml

NOW = "2026-11-27T00:00:00Z"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(
        policy_yaml("p", validations=['image.name.startsWith("ok")', "image.min_disk >= 10"])
        + "\n---\n"
        + policy_yaml("q", validations=['image.name.startsWith("ok")']),
        encoding="utf-8",
    )
    return path


def check(cli, fleet: Path, policies: Path, *extra: str):
    return cli("check", "--input", str(fleet), "--policies", str(policies), "--format", "json", "--now", NOW, *extra)


def marks(run) -> dict[tuple[str, str, int | None], bool]:
    return {
        (f["policy"], f["image"]["id"], f["validation"]): f["baselined"] for f in json.loads(run.stdout)["findings"]
    }


def test_write_then_gate_on_new_findings_only(cli, tmp_path, fleet_file, policies):
    baseline = tmp_path / "baseline.json"
    old = fleet_file([{"id": "a", "name": "legacy", "min_disk": 40}, {"id": "b", "name": "ok", "min_disk": 1}])
    run = check(cli, old, policies, "--write-baseline", str(baseline))
    assert run.returncode == 0, run.stderr  # what was just recorded is accepted
    assert all(marks(run).values())
    assert f"imagelint: wrote baseline {baseline} (3 findings)" in run.stderr.splitlines()

    new = fleet_file(
        [
            {"id": "a", "name": "ok-now", "min_disk": 40},  # p/a/0 and q/a/0 fixed
            {"id": "b", "name": "ok", "min_disk": 1},  # p/b/1 still there: baselined
            {"id": "c", "name": "new", "min_disk": 40},
        ],
        name="new.json",
    )  # new findings
    run = check(cli, new, policies, "--baseline", str(baseline))
    assert run.returncode == 1
    assert marks(run) == {("p", "b", 1): True, ("p", "c", 0): False, ("q", "c", 0): False}
    doc = json.loads(run.stdout)
    assert doc["summary"]["baselined"] == 1
    assert doc["baseline"] == {
        "file": str(baseline),
        "fixed": [{"policy": "p", "image_id": "a", "validation": 0}, {"policy": "q", "image_id": "a", "validation": 0}],
    }
    assert f"imagelint: baseline {baseline}: 1 baselined, 2 new, 2 fixed" in run.stderr.splitlines()


def test_only_baselined_findings_pass_the_gate(cli, tmp_path, fleet_file, policies):
    baseline = tmp_path / "baseline.json"
    fleet = fleet_file([{"id": "a", "name": "legacy", "min_disk": 40}])
    check(cli, fleet, policies, "--write-baseline", str(baseline))
    run = check(cli, fleet, policies, "--baseline", str(baseline))
    assert (run.returncode, set(marks(run).values())) == (0, {True})


def test_keys_do_not_leak_across_images_policies_or_validations(cli, tmp_path, fleet_file, policies):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"imagelint_baseline": 1, "findings": [{"policy": "p", "image_id": "a", "validation": 0}]}),
        encoding="utf-8",
    )
    # same policy and validation index, another image; another policy, same image and index; same policy and
    # image, another validation index: none of them is the recorded finding
    fleet = fleet_file([{"id": "a", "name": "x", "min_disk": 1}, {"id": "b", "name": "x", "min_disk": 40}])
    run = check(cli, fleet, policies, "--baseline", str(baseline))
    assert run.returncode == 1
    assert marks(run) == {
        ("p", "a", 0): True,
        ("p", "a", 1): False,
        ("q", "a", 0): False,
        ("p", "b", 0): False,
        ("q", "b", 0): False,
    }


def test_baseline_file_is_sorted_stable_and_leaves_out_waived_findings(cli, tmp_path, fleet_file, policies):
    images = [{"id": i, "name": "bad", "min_disk": 40} for i in ("c", "a", "b")]
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    check(cli, fleet_file(images), policies, "--write-baseline", str(first))
    check(cli, fleet_file(images[::-1], name="rev.json"), policies, "--write-baseline", str(second))
    assert first.read_bytes() == second.read_bytes()
    doc = json.loads(first.read_text())
    keys = [(e["policy"], e["image_id"], e["validation"]) for e in doc["findings"]]
    assert keys == [("p", "a", 0), ("p", "b", 0), ("p", "c", 0), ("q", "a", 0), ("q", "b", 0), ("q", "c", 0)]
    assert first.read_text().endswith("}\n") and '  "findings": [' in first.read_text()

    waivers = tmp_path / "w.yaml"
    waivers.write_text("- {policy: q, name: '*', reason: r, expires: 2027-01-01}\n", encoding="utf-8")
    third = tmp_path / "three.json"
    check(cli, fleet_file(images), policies, "--waivers", str(waivers), "--write-baseline", str(third))
    assert {e["policy"] for e in json.loads(third.read_text())["findings"]} == {"p"}


def test_incomplete_run_writes_no_baseline_and_reports_nothing_fixed(cli, tmp_path, policies):
    snapshot = tmp_path / "partial.json"
    snapshot.write_text(
        json.dumps({"images": [{"id": "a", "name": "bad", "min_disk": 40}], "snapshot": {"complete": False}}),
        encoding="utf-8",
    )
    baseline = tmp_path / "baseline.json"
    run = check(cli, snapshot, policies, "--write-baseline", str(baseline))
    assert run.returncode == 3 and not baseline.exists()
    assert f"imagelint: not writing baseline {baseline}: the run did not see the whole fleet" in run.stderr.splitlines()
    baseline.write_text(
        json.dumps({"imagelint_baseline": 1, "findings": [{"policy": "p", "image_id": "gone", "validation": 0}]}),
        encoding="utf-8",
    )
    run = check(cli, snapshot, policies, "--baseline", str(baseline))
    assert run.returncode == 3 and json.loads(run.stdout)["baseline"]["fixed"] == []


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"imagelint_baseline": 1, "findings": [\n  {"policy": "p"\n]}',
            ("3:1: not a baseline: invalid JSON: Expecting ',' delimiter"),
        ),
        (
            '{"imagelint_baseline": 1, "findings": [\n  {"policy": "p", "image_id": "a", "validation": "0"}\n]}',
            "2:50: findings[0].validation: expected an integer, got a str ('0')",
        ),
        (
            '{"imagelint_baseline": 1, "findings": [\n  {"policy": "p", "validation": 0}\n]}',
            "2:3: findings[0]: missing required key 'image_id'",
        ),
        ('{"imagelint_baseline": 2, "findings": []}', "1:24: imagelint_baseline: unsupported version '2' (expected 1)"),
        ("[]", "1:1: baseline: expected a mapping, got a list"),
    ],
)
def test_invalid_baseline_exits_2_with_position(cli, tmp_path, fleet_file, policies, text, message):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(text, encoding="utf-8")
    run = check(cli, fleet_file([{"id": "a", "name": "ok", "min_disk": 40}]), policies, "--baseline", str(baseline))
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.strip() == f"{baseline}:{message}"


def test_missing_baseline_file(cli, tmp_path, fleet_file, policies):
    run = check(
        cli,
        fleet_file([{"id": "a", "name": "ok", "min_disk": 40}]),
        policies,
        "--baseline",
        str(tmp_path / "none.json"),
    )
    assert run.returncode == 2
    assert (
        run.stderr.strip() == f"{tmp_path / 'none.json'}:1:1: no such baseline file (create one with --write-baseline)"
    )
