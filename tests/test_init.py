"""``imagelint init``: the scaffold validates and tests clean, its CI files do what they say when their steps
run, its pre-commit hooks run under the real pre-commit, and it never overwrites anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from imagelint import __version__
from imagelint.cli import main
from imagelint.cli.init import SCAFFOLD
from tests.apihelp import CLEAN_ENV
from tests.conftest import run_cli
from tests.fakeims import FakeIMS
from tests.ghsteps import run_steps

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)
FILES = [relative for relative, _ in SCAFFOLD]
AK, SK = "AKSCAFFOLDTEST0000001", "sk-scaffold-test-secret-0001"  # noqa: S105 - the fake server's own

FLEET = [
    {"id": "0b8a6c1e-0000-4000-8000-000000000001", "name": "web", "visibility": "private", "tags": ["owner=web"]},
    {"id": "0b8a6c1e-0000-4000-8000-000000000002", "name": "db", "visibility": "private", "tags": []},
    {"id": "0b8a6c1e-0000-4000-8000-000000000003", "name": "base", "visibility": "public", "tags": []},
]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment with this interpreter's imagelint first on PATH; pip offline (already installed)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HUAWEICLOUD_", "OS_", "PIP_"))},
        **CLEAN_ENV,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path / "home"),
        "NO_COLOR": "1",
        # the CI files `pip install imagelint==VERSION`: satisfied by the installed package, no network
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **extra,
    }


@pytest.fixture
def repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    # in-process (a CLI start-up is a second here); test_init_from_the_command_line runs the real command
    assert main(["init", str(tmp_path / "repo")]) == 0
    out, errors = capsys.readouterr()
    assert out.splitlines() == [f"created {tmp_path / 'repo' / f}" for f in FILES]
    assert errors == f"next: cd {tmp_path / 'repo'} && imagelint validate --strict && imagelint test\n"
    return tmp_path / "repo"


def test_init_from_the_command_line(tmp_path):
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"created {f}" for f in FILES]
    assert result.stderr == "next: imagelint validate --strict && imagelint test\n"
    assert (tmp_path / ".github/workflows/imagelint.yml").is_file()


def test_scaffold_validates_strictly_and_its_tests_pass(repo):
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()) == sorted(FILES)
    validate = run_cli("validate", "--strict", cwd=repo)  # imagelint.yaml names policies/
    assert (validate.returncode, validate.stderr) == (0, "1 policies OK\n")
    tested = run_cli("test", cwd=repo)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout == "5 passed, 0 failed\n"
    assert "warning" not in tested.stderr  # pass, fail and skip are all covered
    listed = run_cli("list", cwd=repo)
    assert listed.returncode == 0 and listed.stdout.split()[:2] == ["private-images-have-owner", "medium"]


def test_ci_files_parse_with_the_expected_jobs(repo):
    github = yaml.safe_load((repo / ".github/workflows/imagelint.yml").read_text(encoding="utf-8"))
    assert set(github["jobs"]) == {"policies", "check"}
    assert github["env"]["IMAGELINT_PIP"] == f"imagelint=={__version__}"
    runs = [s.get("run", "") for s in github["jobs"]["policies"]["steps"]]
    assert "imagelint validate --strict" in runs and "imagelint test" in runs
    check = github["jobs"]["check"]
    assert check["needs"] == "policies" and check["if"] == "vars.IMS_ENDPOINT != ''"
    assert check["permissions"]["security-events"] == "write"  # upload-sarif needs it
    [command] = [s["run"] for s in check["steps"] if "imagelint check" in s.get("run", "")]
    assert "--report sarif=reports/imagelint.sarif" in command and "--report junit=reports/junit.xml" in command
    assert [s["with"]["sarif_file"] for s in check["steps"] if "upload-sarif" in s.get("uses", "")] == [
        "reports/imagelint.sarif"
    ]

    gitlab = yaml.safe_load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert gitlab["stages"] == ["validate", "check"]
    jobs = {k: v for k, v in gitlab.items() if isinstance(v, dict) and "script" in v}
    assert set(jobs) == {"imagelint-policies", "imagelint-check"}
    assert jobs["imagelint-policies"]["script"] == ["imagelint validate --strict", "imagelint test"]
    assert jobs["imagelint-check"]["rules"] == [{"if": "$IMS_ENDPOINT"}]
    assert jobs["imagelint-check"]["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    [command] = jobs["imagelint-check"]["script"]
    assert "--report sarif=reports/imagelint.sarif" in command and "--report junit=reports/junit.xml" in command

    pre_commit = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for r in pre_commit["repos"] for h in r["hooks"]] == ["imagelint-validate", "imagelint-test"]


def test_github_workflow_steps_run_as_written(repo, tmp_path):
    workflow = yaml.safe_load((repo / ".github/workflows/imagelint.yml").read_text(encoding="utf-8"))
    summary = tmp_path / "step-summary.md"
    summary.write_text("", encoding="utf-8")
    env = environment(tmp_path, GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(repo), GITHUB_STEP_SUMMARY=str(summary))
    env.update({k: str(v) for k, v in workflow["env"].items()})

    policies = run_steps(workflow["jobs"]["policies"]["steps"], cwd=repo, env=env, contexts={})
    assert policies.returncode == 0, policies.stdout + policies.stderr
    assert policies.skipped_uses == ["actions/checkout@v4", "actions/setup-python@v5"]
    assert "Requirement already satisfied: imagelint==" in policies.stdout
    assert "5 passed, 0 failed" in policies.stdout

    job = workflow["jobs"]["check"]
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv:
        contexts = {"vars": {"IMS_ENDPOINT": srv.url}, "secrets": {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}}
        checked = run_steps(job["steps"], cwd=repo, env=env, contexts=contexts, job_env=job["env"])
        requests = len(srv.image_requests)
    assert requests == 1
    # the gate: one private image has no owner tag; the later steps still ran (if: always())
    assert checked.returncode == 1, checked.stderr
    assert len(checked.outputs) == 3
    assert "::error" in checked.stdout and "private image has no tag owner=VALUE" in checked.stdout
    assert checked.skipped_uses[-2:] == ["github/codeql-action/upload-sarif@v3", "actions/upload-artifact@v4"]
    sarif = json.loads((repo / "reports/imagelint.sarif").read_text(encoding="utf-8"))
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "private-images-have-owner"
    # the policy is in the repository, so code scanning shows the finding on the policy's line
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == "policies/private-images-have-owner.yaml"
    suites = ET.parse(repo / "reports/junit.xml").getroot()
    assert {s.get("name") for s in suites.iter("testsuite")} >= {"private-images-have-owner"}
    assert (repo / "reports/imagelint.html").stat().st_size > 1000
    assert "imagelint: FAIL" in summary.read_text(encoding="utf-8")
    assert SK not in checked.stdout + checked.stderr


def test_gitlab_jobs_run_as_written(repo, tmp_path):
    pipeline = yaml.safe_load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    env = environment(tmp_path, **{k: str(v) for k, v in pipeline["variables"].items()})

    def job(name: str, **extra: str) -> subprocess.CompletedProcess[str]:
        # GitLab runs before_script and script as one shell session that stops at the first failing line
        lines = pipeline["default"]["before_script"] + pipeline[name]["script"]
        return subprocess.run(
            ["bash", "-e", "-c", "\n".join(lines)], cwd=repo, env={**env, **extra}, capture_output=True, text=True
        )

    policies = job("imagelint-policies")
    assert policies.returncode == 0, policies.stdout + policies.stderr
    assert policies.stdout.rstrip().endswith("5 passed, 0 failed")
    with FakeIMS(FLEET, auth="aksk", ak=AK, sk=SK) as srv:
        checked = job("imagelint-check", IMS_ENDPOINT=srv.url, HUAWEICLOUD_SDK_AK=AK, HUAWEICLOUD_SDK_SK=SK)
    assert checked.returncode == 1, checked.stderr
    assert "private image has no tag owner=VALUE" in checked.stdout  # --format text in the job log
    junit = ET.parse(repo / "reports/junit.xml").getroot()
    assert junit.tag == "testsuites"
    assert json.loads((repo / "reports/imagelint.sarif").read_text(encoding="utf-8"))["version"] == "2.1.0"


def test_pre_commit_config_runs_under_pre_commit(repo, tmp_path):
    # language: system hooks need no hook environment, so this is quick
    env = environment(tmp_path, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "."], cwd=repo, env=env, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, env=env, check=True)
    ok = subprocess.run([f"{BIN}/pre-commit", "run", "--all-files"], cwd=repo, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "imagelint validate" in ok.stdout and "imagelint test" in ok.stdout and "Failed" not in ok.stdout
    # a broken policy stops the commit at its line
    policy = repo / "policies/private-images-have-owner.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("severity: medium", "severity: urgent"))
    subprocess.run([*git, "add", "-A"], cwd=repo, env=env, check=True)
    bad = subprocess.run([f"{BIN}/pre-commit", "run", "--all-files"], cwd=repo, env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "policies/private-images-have-owner.yaml:8:13: metadata.severity: unknown severity 'urgent'" in bad.stdout
    # and so does a policy test that fails
    policy.write_text(policy.read_text(encoding="utf-8").replace("severity: urgent", "severity: medium"))
    test = repo / "policies/private-images-have-owner.test.yaml"
    test.write_text(test.read_text(encoding="utf-8").replace("expect: skip", "expect: pass"), encoding="utf-8")
    subprocess.run([*git, "add", "-A"], cwd=repo, env=env, check=True)
    failing = subprocess.run(
        [f"{BIN}/pre-commit", "run", "--all-files"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert failing.returncode == 1
    assert "imagelint validate" in failing.stdout and "Passed" in failing.stdout
    assert "case 'public images are skipped': private-images-have-owner: expected pass, got skip" in failing.stdout
    assert "4 passed, 1 failed" in failing.stdout


def test_the_local_hooks_mirror_the_published_ones(repo):
    # the scaffold runs the hooks of .pre-commit-hooks.yaml with the imagelint on PATH: same settings otherwise
    published = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    local = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))["repos"][0]
    assert local["repo"] == "local"
    for hook in local["hooks"]:
        assert hook.pop("language") == "system"
        expected = {k: v for k, v in published[hook["id"]].items() if k not in ("language", "description")}
        assert hook == expected


def test_it_never_overwrites(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "imagelint.yaml").write_text("mine\n", encoding="utf-8")
    (tmp_path / ".gitlab-ci.yml").symlink_to(tmp_path / "nowhere")  # a dangling link is in the way too
    (tmp_path / ".github").write_text("a file where a folder goes\n", encoding="utf-8")
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    # .github/workflows/imagelint.yml cannot exist under a file: .github is the one line for it
    assert result.stderr.splitlines() == [
        "init: nothing was written: 3 paths in the way (move them, or choose another folder):",
        "  imagelint.yaml: exists",
        "  .github: exists and is not a folder",
        "  .gitlab-ci.yml: exists",
    ]
    assert (tmp_path / "imagelint.yaml").read_text(encoding="utf-8") == "mine\n"
    assert list((tmp_path / "policies").iterdir()) == []
    assert not (tmp_path / ".pre-commit-config.yaml").exists()


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("f", "init: f exists and is not a folder"),
        ("f/sub", "init: cannot write f/sub/imagelint.yaml: Not a directory"),
    ],
)
def test_bad_folders_are_one_line_and_exit_2(tmp_path, argument, message):
    (tmp_path / "f").write_text("a file\n", encoding="utf-8")
    result = run_cli("init", argument, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")


def test_a_broken_config_in_the_folder_does_not_stop_init(tmp_path):
    # init writes the config; it must not need a valid one to start
    (tmp_path / "imagelint.yaml").write_text("fail-on: [\n", encoding="utf-8")
    result = run_cli("init", "new", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "imagelint.yaml").is_file()
