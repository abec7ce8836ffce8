"""Characters YAML refuses (NUL, C0/C1 controls), even inside a comment, in every YAML input file: one
``FILE:LINE:COL`` line and exit 2, never a traceback (exit 1) or an internal error (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import policy_yaml

NOW = "2026-11-27T00:00:00Z"
BAD = {"c1": "\x80", "nul": "\x00", "del": "\x7f"}


def one_error(proc, start: str) -> str:
    """The run exited 2 with exactly one stderr line, starting with ``start``."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(start), lines[0]
    return lines[0]


@pytest.fixture
def project(tmp_path: Path, fleet_file) -> Path:
    (tmp_path / "p.yaml").write_text(policy_yaml("p"), encoding="utf-8")
    fleet_file([{"id": "a", "name": "web"}])
    return tmp_path


def check(cli, project: Path, *extra: str):
    return cli(
        "check",
        "--input",
        str(project / "fleet.json"),
        "--policies",
        str(project / "p.yaml"),
        "--now",
        NOW,
        *extra,
        cwd=project,
    )


@pytest.mark.parametrize("char", BAD.values(), ids=BAD.keys())
def test_config_file_with_a_refused_character_in_a_comment(cli, project, char):
    (project / "imagelint.yaml").write_text(f"fail-on: high # {char}\n", encoding="utf-8")
    line = one_error(check(cli, project), f"{project / 'imagelint.yaml'}:1:17: YAML syntax error: character U+00")
    assert "not allowed in YAML" in line


@pytest.mark.parametrize("char", BAD.values(), ids=BAD.keys())
def test_waivers_file_with_a_refused_character(cli, project, char):
    waivers = project / "w.yaml"
    waivers.write_text(f"- policy: p\n  id: a\n  reason: r {char}\n  expires: 2030-01-01\n", encoding="utf-8")
    one_error(check(cli, project, "--waivers", str(waivers)), f"{waivers}:3:13: YAML syntax error: character U+00")


@pytest.mark.parametrize("char", BAD.values(), ids=BAD.keys())
def test_policy_file_with_a_refused_character(cli, project, char):
    policy = project / "bad.yaml"
    policy.write_text(f"# a policy {char}\n" + policy_yaml("q"), encoding="utf-8")
    start = f"{policy}:1:12: YAML syntax error: character U+00"
    one_error(cli("check", "--input", str(project / "fleet.json"), "--policies", str(policy), cwd=project), start)
    one_error(cli("validate", str(policy), cwd=project), start)


def test_baseline_file_with_a_refused_character_outside_a_string(cli, project):
    baseline = project / "b.json"
    baseline.write_text('{"findings": [], "imagelint_baseline": 1}\n\x80\n', encoding="utf-8")
    one_error(check(cli, project, "--baseline", str(baseline)), f"{baseline}:2:1: not a baseline: invalid JSON")


def test_position_counts_characters_not_bytes(cli, project):
    (project / "imagelint.yaml").write_text("# é\nfail-on: héé \x85\x9b\n", encoding="utf-8")
    # U+0085 (NEL) is a YAML line break; U+009B (CSI) is not allowed
    one_error(check(cli, project), f"{project / 'imagelint.yaml'}:2:15: YAML syntax error: character U+009B")
