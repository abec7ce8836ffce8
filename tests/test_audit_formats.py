"""Every format shows the per-target view of an audit (and ``--compare``'s states), valid against the
published SARIF and JUnit schemas; and ``check``'s own output keeps its shape (no target columns)."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import xmlschema

from tests.conftest import policy_yaml, run_cli
from tests.fakeims import FakeIMS, Fault, generate_images
from tests.reportdata import DATA

NOW = "2026-12-01T00:00:00Z"
FORMATS = ("json", "sarif", "junit", "csv", "markdown", "html", "text", "github")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formats")
    (tmp / "p.yaml").write_text(policy_yaml("no-public", validations=["image.visibility != 'public'"]))
    shared = generate_images(12, seed=41)  # the same images from two projects: repeats
    with FakeIMS(shared) as a, FakeIMS([], faults=[Fault("status", status=403, times=None)]) as denied:
        (tmp / "targets.yaml").write_text(
            f'defaults: {{retries: 0}}\ntargets:\n  - {{name: web, endpoint: "{a.url}", projects: [p1, p2], '
            f'region: eu-de, labels: {{env: prod}}}}\n  - {{name: denied, endpoint: "{denied.url}"}}\n',
            encoding="utf-8",
        )
        args = ["audit", "--targets", str(tmp / "targets.yaml"), "--policies", str(tmp / "p.yaml"), "--now", NOW]
        first = run_cli(*args, "--format", "json", "--output", str(tmp / "previous.json"), env={"GITHUB_ACTIONS": ""})
        assert first.returncode == 3, first.stderr
        a.add_image(dict(shared[0], id="00000000-0000-4000-8000-000000000001", visibility="public"))
        outputs = [f"--report={f}={tmp / ('out.' + f)}" for f in FORMATS]
        run = run_cli(*args, "--compare", str(tmp / "previous.json"), *outputs, env={"GITHUB_ACTIONS": ""})
        assert run.returncode == 3, run.stderr
    return {f: (tmp / f"out.{f}").read_text(encoding="utf-8") for f in FORMATS}, shared


def test_json_targets_and_findings(reports):
    out, shared = reports
    doc = json.loads(out["json"])
    assert [t["name"] for t in doc["targets"]] == ["web/p1", "web/p2", "denied"]
    web = doc["targets"][0]
    assert (web["region"], web["project"], web["labels"], web["complete"]) == ("eu-de", "p1", {"env": "prod"}, True)
    assert set(web) >= {"name", "labels", "cloud", "region", "project", "api", "endpoint", "complete", "error"}
    assert set(web["verdicts"]) == {"pass", "fail", "skip", "error"}
    public = sum(1 for i in shared if i["visibility"] == "public")
    assert sum(1 for f in doc["findings"] if f["target"] == "web/p1") == public + 1
    assert {f["state"] for f in doc["findings"]} == {"new", "unchanged"}
    assert doc["comparison"]["by_target"]["web/p2"]["new"] == 1
    assert doc["audit"]["targets_digest"] and doc["audit"]["expected_targets"] == 3


def test_sarif_has_the_target_and_baseline_state(reports):
    out, _ = reports
    log = json.loads(out["sarif"])
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert {r["properties"]["target"] for r in results} == {"web/p1", "web/p2"}
    assert {r["baselineState"] for r in results} == {"new", "unchanged"}
    # the same image from two projects is two alerts, not one
    by_image: dict[str, set[str]] = {}
    for r in results:
        by_image.setdefault(r["properties"]["image"]["id"], set()).add(r["partialFingerprints"]["imagelint/v1"])
    assert all(len(prints) == 2 for prints in by_image.values())
    assert [t["name"] for t in log["runs"][0]["properties"]["targets"]] == ["web/p1", "web/p2", "denied"]


def test_junit_has_a_suite_per_target(reports):
    out, _ = reports
    xmlschema.XMLSchema(str(DATA / "JUnit.xsd")).validate(out["junit"])
    suites = ET.fromstring(out["junit"]).findall("testsuite")
    targets = [s for s in suites if s.get("package") == "imagelint.targets"]
    assert [s.get("name") for s in targets] == ["web/p1", "web/p2", "denied"]
    denied = targets[2]
    assert denied.get("errors") == "1" and "403" in denied.find("testcase/error").get("message")
    assert targets[0].get("failures") == "1"
    assert len({s.get("id") for s in suites}) == len(suites)


def test_csv_has_target_columns(reports):
    out, _ = reports
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert {"target", "cloud", "region", "project", "state"} <= set(rows[0])
    assert {r["target"] for r in rows if r["status"] == "fail"} == {"web/p1", "web/p2"}
    assert [r["target"] for r in rows if r["status"] == "incomplete" and r["target"]] == ["denied"]
    assert {r["region"] for r in rows if r["target"] == "web/p1"} == {"eu-de"}


def test_markdown_html_text_github_show_the_targets(reports):
    out, _ = reports
    md = out["markdown"]
    assert "### Targets: 3, 1 incomplete" in md
    assert re.search(r"\| ` denied ` \| ⚠️ incomplete \|", md)
    assert "repeat an image already reported from another target" in md
    assert "### Compared with" in md and "**2** new" in md
    html = out["html"]
    assert '<table id="target-table">' in html and 'data-verdict="incomplete"' in html
    assert 'id="target-filter"' in html and 'id="comparison"' in html
    assert "TARGET" in out["text"] and "denied  INCOMPLETE" in out["text"]
    assert "::error title=imagelint%3A target denied INCOMPLETE::" in out["github"]


def test_check_output_has_no_target_fields(tmp_path):
    run = run_cli("check", "--sample", "--format", "json", env={"GITHUB_ACTIONS": ""})
    doc = json.loads(run.stdout)
    assert "targets" not in doc and "audit" not in doc and "comparison" not in doc
    assert all("target" not in f and "state" not in f for f in doc["findings"])
    header = run_cli("check", "--sample", "--format", "csv").stdout.splitlines()[0]
    assert not header.endswith(("project", "state"))


def test_json_results_match_the_result_schema(reports, tmp_path):
    from imagelint.policy.schema import SCHEMAS

    validator = jsonschema.Draft7Validator(SCHEMAS["result"]())
    out, _ = reports
    audit = json.loads(out["json"])
    check = json.loads(run_cli("check", "--sample", "--format", "json", env={"GITHUB_ACTIONS": ""}).stdout)
    (tmp_path / "prev.json").write_text(json.dumps(check), encoding="utf-8")
    compared = run_cli(
        "check", "--sample", "--format", "json", "--compare", str(tmp_path / "prev.json"), env={"GITHUB_ACTIONS": ""}
    )
    assert "compared with" in compared.stderr
    for doc in (audit, check, json.loads(compared.stdout)):
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == []
    assert json.loads(compared.stdout)["comparison"]["unchanged"] == len(check["findings"])
    assert "targets" in audit and "comparison" in audit
