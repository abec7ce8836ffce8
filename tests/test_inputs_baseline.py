"""Baselines with unusual strings and layouts: whatever the API sent, ``--write-baseline`` writes a UTF-8
file atomically that the next ``--baseline`` reads back to the same keys, and a valid JSON baseline laid
out by hand (tabs) is read, with ``FILE:LINE:COL`` in its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import policy_yaml

NOW = "2026-11-27T00:00:00Z"
NAMES = {
    "c1": "legacy\u0080web",
    "csi": "x\u009b31m",
    "del": "a\u007fb",
    "line-separator": "\u2028x",
    "lone-surrogate": "\ud800",
    "emoji": "web-\U0001f600",
    "nul": "a\u0000b",
}


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(policy_yaml("p", validations=["false"]), encoding="utf-8")
    return path


def fleet(tmp_path: Path, images: list[dict]) -> Path:
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"images": images}), encoding="utf-8")  # ensure_ascii: "\ud800" stays an escape
    return path


def check(cli, fleet_path: Path, policy: Path, *extra: str):
    return cli("check", "--input", str(fleet_path), "--policies", str(policy), "--now", NOW, "--format", "json", *extra)


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_written_baseline_reads_back(cli, tmp_path, policy, name):
    images = fleet(tmp_path, [{"id": name, "name": name}, {"id": "plain", "name": name}])
    baseline = tmp_path / "keep.json"
    baseline.write_text("the previous baseline\n", encoding="utf-8")
    written = check(cli, images, policy, "--write-baseline", str(baseline))
    assert written.returncode == 0, written.stderr
    raw = baseline.read_bytes()
    text = raw.decode("utf-8")  # valid UTF-8, lone surrogate or not
    assert all(not ("\u007f" <= c <= "\u009f" or c in "\u2028\u2029") for c in text)  # escaped, visible in review
    assert {(e["image_id"], e["image_name"]) for e in json.loads(text)["findings"]} == {(name, name), ("plain", name)}
    again = check(cli, images, policy, "--baseline", str(baseline))
    assert again.returncode == 0, again.stderr
    assert f"imagelint: baseline {baseline}: 2 baselined, 0 new, 0 fixed" in again.stderr
    assert all(f["baselined"] for f in json.loads(again.stdout)["findings"])


def test_raw_c1_and_emoji_pair_in_a_hand_written_baseline(cli, tmp_path, policy):
    images = fleet(tmp_path, [{"id": "legacy\u0080web"}, {"id": "web-\U0001f600"}])
    baseline = tmp_path / "b.json"
    # raw U+0080 (valid JSON, refused by YAML) and an emoji as the escaped surrogate pair json.dumps writes
    baseline.write_text(
        '{"findings": [{"image_id": "legacy\u0080web", "policy": "p", "validation": 0},\n'
        '{"image_id": "web-\\ud83d\\ude00", "policy": "p", "validation": 0}],\n'
        '"imagelint_baseline": 1}\n',
        encoding="utf-8",
    )
    proc = check(cli, images, policy, "--baseline", str(baseline))
    assert proc.returncode == 0, proc.stderr
    assert f"imagelint: baseline {baseline}: 2 baselined, 0 new, 0 fixed" in proc.stderr


def check_tabbed(cli, tmp_path, policy, validation: str, version: int):
    """A run with a tab-indented baseline of one entry, and the baseline file."""
    images = fleet(tmp_path, [{"id": "a"}])
    baseline = tmp_path / "b.json"
    baseline.write_text(
        '{\n\t"findings": [\n\t\t{"image_id": "a",\t"policy": "p", "validation": '
        f'{validation}}}\n\t],\n\t"imagelint_baseline": {version}\n}}\n',
        encoding="utf-8",
    )
    return check(cli, images, policy, "--baseline", str(baseline)), baseline


def test_tab_indented_baseline_is_read(cli, tmp_path, policy):
    proc, baseline = check_tabbed(cli, tmp_path, policy, "0", 1)
    assert proc.returncode == 0, proc.stderr
    assert f"imagelint: baseline {baseline}: 1 baselined, 0 new, 0 fixed" in proc.stderr


def test_tab_indented_baseline_errors_keep_their_positions(cli, tmp_path, policy):
    proc, baseline = check_tabbed(cli, tmp_path, policy, '"x"', 2)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"{baseline}:5:24: imagelint_baseline: unsupported version '2' (expected 1)",
        f"{baseline}:3:50: findings[0].validation: expected an integer, got a str ('x')",
    ]


def test_deeply_nested_baseline_is_a_usage_error(cli, tmp_path, policy):
    images = fleet(tmp_path, [{"id": "a"}])
    baseline = tmp_path / "b.json"
    baseline.write_text('{"findings": ' + "[" * 900 + "]" * 900 + ', "imagelint_baseline": 1}', encoding="utf-8")
    proc = check(cli, images, policy, "--baseline", str(baseline))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(f"{baseline}:"), proc.stderr


def test_an_entry_with_a_misspelt_key_and_a_name_is_a_usage_error(cli, tmp_path, policy):
    # found by the fuzzer: three keys, but not the three required ones (main: KeyError, exit 4)
    entry = {"pol---icy": "p", "image_id": "a", "validation": 0, "image_name": "x"}
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps({"imagelint_baseline": 1, "findings": [entry]}, indent=2))
    run = check(cli, fleet(tmp_path, [{"id": "a"}]), policy, "--baseline", str(baseline))
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"{baseline}:5:7: findings[0]: unknown key 'pol---icy' (allowed: policy, image_id, validation, image_name, target)",
        f"{baseline}:4:5: findings[0]: missing required key 'policy'",
    ]
