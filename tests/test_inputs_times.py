"""Times that are valid RFC 3339 but fall outside years 1..9999 once converted to UTC, in ``--now`` and in a
waiver's ``expires``: one line naming the flag or ``FILE:LINE:COL``, exit 2 (it was an OverflowError, exit 4);
the extreme UTC times themselves are accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import policy_yaml

OUT = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
EDGE = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T01:00:00+01:00"]


@pytest.fixture
def project(tmp_path: Path, fleet_file) -> Path:
    (tmp_path / "p.yaml").write_text(policy_yaml("p", validations=["image.id == 'a'"]), encoding="utf-8")
    fleet_file([{"id": "a"}])
    return tmp_path


def check(cli, project: Path, *extra: str):
    return cli(
        "check", "--input", str(project / "fleet.json"), "--policies", str(project / "p.yaml"), *extra, cwd=project
    )


@pytest.mark.parametrize("now", OUT)
def test_now_out_of_range(cli, project, now):
    proc = check(cli, project, "--now", now)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        (f"--now {now!r}: out of range: in UTC it must lie within 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z")
    ]


@pytest.mark.parametrize("now", EDGE)
def test_now_at_the_edges(cli, project, now):
    proc = check(cli, project, "--now", now)
    assert proc.returncode == 0, proc.stderr


def check_waiver(cli, project, expires: str):
    """A run with one waiver of ``expires``, and the waivers file."""
    waivers = project / "w.yaml"
    waivers.write_text(f"- policy: p\n  id: a\n  reason: r\n  expires: {expires}\n", encoding="utf-8")
    return check(cli, project, "--now", "2026-01-01T00:00:00Z", "--waivers", str(waivers)), waivers


@pytest.mark.parametrize("expires", OUT)
def test_waiver_expiry_out_of_range(cli, project, expires):
    proc, waivers = check_waiver(cli, project, expires)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        (
            f"{waivers}:4:12: waivers[0].expires: {expires!r} is out of range: in UTC "
            "it must lie within 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z"
        )
    ]


@pytest.mark.parametrize("expires", EDGE)
def test_waiver_expiry_at_the_edges(cli, project, expires):
    proc, _ = check_waiver(cli, project, expires)
    assert proc.returncode == 0, proc.stderr


def test_bad_expiry_is_reported_next_to_a_selector_problem(cli, project):
    waivers = project / "w.yaml"
    waivers.write_text("- policy: p\n  reason: r\n  expires: tomorrow\n", encoding="utf-8")
    proc = check(cli, project, "--waivers", str(waivers))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 2 and "'tomorrow' is not a date" in proc.stderr, proc.stderr
