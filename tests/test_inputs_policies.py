"""Loading zero policies is a usage error (exit 2) wherever the nothing comes from: an empty file, one of
comments or ``---`` only, a policy test file, a directory of such files — as an empty directory always was.
A gate over no policy would pass every fleet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import policy_yaml

FILE = "no policies loaded: no policy document in this file (it is empty, comments or '---' only)"
EMPTY = {"empty": "", "comments": "# nothing yet\n", "dashes": "---\n", "dashes-and-comments": "# a\n---\n---\n# b\n"}


@pytest.fixture
def fleet(fleet_file) -> Path:
    return fleet_file([{"id": "a"}])


def runs(cli, fleet: Path, path: Path):
    """check, validate and list over ``path``."""
    return [
        cli("check", "--input", str(fleet), "--policies", str(path)),
        cli("validate", str(path)),
        cli("list", "--policies", str(path)),
    ]


@pytest.mark.parametrize("text", EMPTY.values(), ids=EMPTY.keys())
def test_file_without_policies(cli, tmp_path, fleet, text):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    for proc in runs(cli, fleet, path):
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [f"{path}:1:1: {FILE}"]


def test_policy_test_file_alone(cli, tmp_path, fleet):
    path = tmp_path / "p.test.yaml"
    path.write_text("policy: p\ncases: []\n", encoding="utf-8")
    for proc in runs(cli, fleet, path):
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [
            (
                f"{path}:1:1: no policies loaded: a policy test file (*.test.yaml) "
                "holds no policies; give the policy files or their directory"
            )
        ]


def test_directory_of_empty_files(cli, tmp_path, fleet):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "a.yaml").write_text("# soon\n", encoding="utf-8")
    (folder / "a.test.yaml").write_text("policy: a\ncases: []\n", encoding="utf-8")
    for proc in runs(cli, fleet, folder):
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [
            (f"{folder}:1:1: no policies loaded: no policy document in the files of this directory")
        ]


def test_an_empty_file_beside_real_policies_is_fine(cli, tmp_path, fleet):
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(policy_yaml("p"), encoding="utf-8")
    proc = cli(
        "check",
        "--input",
        str(fleet),
        "--policies",
        str(tmp_path / "empty.yaml"),
        "--policies",
        str(tmp_path / "p.yaml"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 images x 1 policies" in proc.stderr
