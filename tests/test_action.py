"""``action.yml``: its ``run:`` steps, executed as the runner would (``tests/ghsteps.py``) with the inputs as
``${{ inputs.x }}`` values, gate, write valid SARIF and the job summary, and set the action's outputs.

The install step runs too; the test points it at the imagelint already installed here (``python`` and
``package`` inputs, pip offline), so no network is needed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.apihelp import CLEAN_ENV, seen_policy
from tests.fakeims import FakeIMS
from tests.ghsteps import EXPRESSION, run_steps

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
SARIF_SCHEMA = json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
NOW = "--now 2026-11-27T00:00:00Z"
TOKEN = "action-test-token-0001"  # noqa: S105 - the fake server's own


def run_action(tmp_path: Path, env: dict[str, str] | None = None, **given: str) -> tuple[Any, Path, Path]:
    """Run the action's steps in a workspace under ``tmp_path``; (outcome, workspace, step summary)."""
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    unknown = set(given) - set(inputs)
    assert not unknown, unknown
    inputs.update(python=sys.executable, package="imagelint", **given)
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    temp = tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    summary = tmp_path / "step-summary.md"
    summary.write_text("", encoding="utf-8")
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HUAWEICLOUD_", "OS_", "PIP_"))},
        **CLEAN_ENV,
        "HOME": str(tmp_path / "home"),
        "NO_COLOR": "1",
        "PIP_NO_INDEX": "1",  # `pip install imagelint` is satisfied by the installed package
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(temp),
        **(env or {}),
    }
    outcome = run_steps(ACTION["runs"]["steps"], cwd=workspace, env=process_env, contexts={"inputs": inputs})
    return outcome, workspace, summary


def assert_valid_sarif(path: Path) -> dict[str, Any]:
    log = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(log)]
    assert not errors, errors[:5]
    return log


def test_the_action_is_a_composite_whose_inputs_reach_the_scripts_only_through_env():
    assert ACTION["runs"]["using"] == "composite"
    steps = ACTION["runs"]["steps"]
    assert all("run" in s for s in steps)  # nothing here needs another action
    used: set[str] = set()
    for step in steps:
        assert step["shell"] == "bash"
        # an input pasted into a script would be shell code: script injection
        assert not EXPRESSION.search(step["run"]), step["name"]
        for value in step.get("env", {}).values():
            used.update(re.findall(r"\$\{\{\s*inputs\.([a-z-]+)\s*\}\}", str(value)))
    assert used == set(ACTION["inputs"])  # every input is used, and none that is not declared
    outputs = {n: o["value"] for n, o in ACTION["outputs"].items()}
    assert outputs == {
        "exit-code": "${{ steps.check.outputs.exit-code }}",
        "sarif": "${{ steps.check.outputs.sarif }}",
    }


def test_the_sample_fleet_fails_the_gate_with_sarif_and_a_summary(tmp_path):
    outcome, workspace, summary = run_action(tmp_path, sample="true", args=NOW)
    assert outcome.returncode == 1, outcome.stderr
    install, check = outcome.outputs
    assert "Requirement already satisfied: imagelint" not in install.stdout  # --quiet
    assert install.returncode == 0, install.stderr
    assert check.stdout.startswith("imagelint check --sample --format github --report sarif=imagelint.sarif")
    assert "\n::error title=imagelint public-owner-allowed (critical)::FAIL image " in check.stdout
    log = assert_valid_sarif(workspace / "imagelint.sarif")
    assert len(log["runs"][0]["results"]) > 100
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## ❌ imagelint: FAIL")
    assert outcome.step_outputs["check"] == {"exit-code": "1", "sarif": "imagelint.sarif"}


def test_fail_on_never_passes_and_writes_every_report_asked_for(tmp_path):
    outcome, workspace, summary = run_action(
        tmp_path,
        sample="true",
        **{"fail-on": "never"},
        sarif="out/imagelint.sarif",
        junit="out/junit.xml",
        json="out/result.json",
        html="out/report.html",
        markdown="out/report.md",
        annotations="false",
        args=NOW,
    )
    assert outcome.returncode == 0, outcome.stderr
    # the text report in the log
    assert "GATE OFF: --fail-on never: no finding fails this run (610 not gating)." in outcome.stdout  # was PASS
    assert_valid_sarif(workspace / "out/imagelint.sarif")
    assert ET.parse(workspace / "out/junit.xml").getroot().tag == "testsuites"
    result = json.loads((workspace / "out/result.json").read_text(encoding="utf-8"))
    assert result["fail_on"] == "never" and result["summary"]["images"] == 300
    assert (workspace / "out/report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # the Markdown report and the step summary are the same report
    assert (workspace / "out/report.md").read_text(encoding="utf-8") == summary.read_text(encoding="utf-8")
    assert outcome.step_outputs["check"] == {"exit-code": "0", "sarif": "out/imagelint.sarif"}


def test_a_bad_input_is_exit_2_and_the_summary_says_there_is_no_verdict(tmp_path):
    outcome, workspace, summary = run_action(tmp_path, sample="true", **{"fail-on": "urgent"})
    assert outcome.returncode == 2
    assert "invalid choice: 'urgent'" in outcome.stderr
    assert summary.read_text(encoding="utf-8") == "## imagelint: no verdict (exit 2)\n\nThe step log says why.\n"
    assert outcome.step_outputs["check"] == {"exit-code": "2", "sarif": ""}
    assert not (workspace / "imagelint.sarif").exists()


def test_live_endpoint_with_query_policies_and_credentials_from_env(tmp_path):
    fleet = [
        {"id": f"00000000-0000-4000-8000-00000000000{i}", "name": f"img-{i}", "visibility": v}
        for i, v in enumerate(["private", "public", "private"])
    ]
    policies = seen_policy(tmp_path)  # fails every image it sees, at severity info
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        outcome, workspace, summary = run_action(
            tmp_path,
            env={"OS_AUTH_TOKEN": TOKEN},
            endpoint=srv.url,
            query="visibility=private\n\n",
            policies=f"{policies}\n",
            json="result.json",
            **{"fail-on": "info"},
        )
        queries = [dict(r.params) for r in srv.image_requests]
    assert outcome.returncode == 1, outcome.stderr
    assert [q.get("visibility") for q in queries] == ["private"]
    result = json.loads((workspace / "result.json").read_text(encoding="utf-8"))
    assert sorted(f["image"]["name"] for f in result["findings"]) == ["img-0", "img-2"]
    assert result["source"]["details"]["auth"] == "token"
    assert TOKEN not in outcome.stdout + outcome.stderr + summary.read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["a b", "$(touch pwned)", "x; touch pwned", "`touch pwned`"])
def test_input_values_are_data_not_shell(tmp_path, value):
    outcome, workspace, _ = run_action(tmp_path, input=value)
    assert outcome.returncode == 3  # imagelint could not read a snapshot of that name
    assert not list(tmp_path.rglob("pwned"))
