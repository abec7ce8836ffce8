"""SARIF and JUnit checked against the published schemas (copies in tests/data, from the SARIF TC and the
Ant JUnit schema), plus what GitHub code scanning needs beyond the schema; and the JSON report's finding
lines, written directly, against the encoder's text of each finding's dict."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
import xmlschema
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from imagelint.judgement.result import Severity, Status
from imagelint.policy.schema import result_schema
from tests.conftest import run_cli
from tests.reportdata import DATA, NEUTRAL_ENV, NOW, run_formats, write_hostile

SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
JUNIT_SCHEMA = xmlschema.XMLSchema(str(DATA / "JUnit.xsd"))


def _validate_sarif(log: dict) -> None:
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """One run of the sample fleet writing SARIF, JUnit and JSON, from a repository-like folder."""
    tmp = tmp_path_factory.mktemp("sample")
    (tmp / ".git").mkdir()  # the repository root that SARIF locations are relative to
    policies = tmp / "policies"
    policies.mkdir()
    for src in (Path(__file__).resolve().parent.parent / "policies" / "ims").glob("*.yaml"):
        (policies / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    args = (
        "check",
        "--sample",
        "--policies",
        "policies",
        "--now",
        NOW,
        "--format",
        "json",
        "--output",
        "out/r.json",
        "--report",
        "sarif=out/r.sarif",
        "--report",
        "junit=out/r.xml",
    )
    result = run_cli(*args, cwd=tmp, env=NEUTRAL_ENV)
    assert result.returncode == 1, result.stderr
    again = run_cli(*args[:-6], "--format", "sarif", "--output", "out/again.sarif", cwd=tmp, env=NEUTRAL_ENV)
    assert again.returncode == 1, again.stderr
    read = lambda name: (tmp / "out" / name).read_text(encoding="utf-8")
    return {
        "json": json.loads(read("r.json")),
        "sarif": json.loads(read("r.sarif")),
        "junit": read("r.xml"),
        "again": json.loads(read("again.sarif")),
    }


def test_sarif_sample_is_valid(sample):
    _validate_sarif(sample["sarif"])


def test_sarif_rules_for_github(sample):
    run = sample["sarif"]["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    policies = sample["json"]["policies"]
    assert [r["id"] for r in rules] == [p["name"] for p in policies]
    expected = {
        "critical": ("9.5", "error"),
        "high": ("8.0", "error"),
        "medium": ("5.5", "error"),
        "low": ("2.0", "warning"),
        "info": ("0.0", "note"),
    }
    for rule, policy in zip(rules, policies, strict=True):
        severity, level = expected[policy["severity"]]
        assert rule["properties"]["security-severity"] == severity  # a string, as GitHub requires
        assert "security" in rule["properties"]["tags"]
        assert rule["defaultConfiguration"]["level"] == level
        assert rule["shortDescription"]["text"] == policy["title"]
        assert rule["fullDescription"]["text"] == policy["description"]
        for reference in policy["references"]:
            assert reference in rule["help"]["text"]


def test_sarif_results_locations_and_fingerprints(sample):
    run = sample["sarif"]["runs"][0]
    findings = sample["json"]["findings"]
    results = run["results"]
    assert len(results) == len(findings)
    rules = run["tool"]["driver"]["rules"]
    policies = {p["name"]: p for p in sample["json"]["policies"]}
    pack = Path(__file__).resolve().parent.parent / "policies" / "ims"
    placed = set()
    for result, finding in zip(results, findings, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding["policy"]
        location = result["locations"][0]
        physical = location["physicalLocation"]
        # relative to the repository root, on the line where the failing validation's expression starts
        assert physical["artifactLocation"] == {"uri": f"policies/{finding['policy']}.yaml", "uriBaseId": "%SRCROOT%"}
        line = physical["region"]["startLine"]
        assert line == policies[finding["policy"]]["validation_lines"][finding["validation"]]
        text = (pack / f"{finding['policy']}.yaml").read_text(encoding="utf-8")
        expression = yaml.safe_load(text)["spec"]["validations"][finding["validation"]]["expression"]
        assert expression[:15] in text.splitlines()[line - 1], (finding["policy"], finding["validation"], line)
        placed.add((finding["policy"], finding["validation"]))
        assert location["logicalLocations"][0]["fullyQualifiedName"] == f"image/{finding['image']['id']}"
        assert finding["image"]["id"] in result["message"]["text"]
    assert ("image-not-stuck", 0) in placed and ("image-not-stuck", 1) in placed  # two lines of one file
    prints = [r["partialFingerprints"]["imagelint/v1"] for r in results]
    assert len(set(prints)) == len(prints)  # one alert per policy, image and validation
    # stable across runs (and independent of the message, which for image-max-age holds the age)
    assert prints == [r["partialFingerprints"]["imagelint/v1"] for r in sample["again"]["runs"][0]["results"]]


def test_sarif_fingerprint_ignores_message_and_line():
    from imagelint.formats.sarif import fingerprint
    from imagelint.judgement.result import Finding, ImageRef, Severity, Status

    image = ImageRef(id="i-1", name="n", visibility="private", owner=None)
    base = Finding("p", Severity.HIGH, Status.FAIL, 0, "image is 400 days old", image)
    assert fingerprint(base) == fingerprint(Finding("p", Severity.HIGH, Status.FAIL, 0, "image is 401 days old", image))
    assert fingerprint(base) != fingerprint(Finding("p", Severity.HIGH, Status.FAIL, 1, "x", image))
    assert fingerprint(base) != fingerprint(Finding("q", Severity.HIGH, Status.FAIL, 0, "x", image))


def test_junit_sample_is_valid_and_counts_match(sample):
    JUNIT_SCHEMA.validate(io.StringIO(sample["junit"]))
    import xml.etree.ElementTree as ET

    root = ET.fromstring(sample["junit"])
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites[1:]] == [p["name"] for p in sample["json"]["policies"]]
    for suite, policy in zip(suites[1:], sample["json"]["policies"], strict=True):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        failing_images = {f["image"]["id"] for f in sample["json"]["findings"] if f["policy"] == policy["name"]}
        assert int(suite.get("failures")) + int(suite.get("errors")) == len(failing_images)
        # one aggregate case for the passes, named with the count
        if policy["pass"]:
            assert any(c.get("name").startswith(f"{policy['pass']} image") for c in cases)
    total = sum(int(s.get("tests")) for s in suites)
    assert total < len(sample["json"]["findings"]) + 3 * len(suites)  # bounded by findings, not by images


def _incomplete(tmp_path: Path, formats: list[str]):
    snapshot = tmp_path / "partial.jsonl"
    snapshot.write_text('{"id": "a", "name": "x"}\nnot json\n', encoding="utf-8")
    return run_formats(tmp_path, snapshot, Path(__file__).resolve().parent.parent / "policies" / "ims", formats)


def test_incomplete_run_in_sarif_and_junit(tmp_path):
    result, texts = _incomplete(tmp_path, ["sarif", "junit"])
    assert result.returncode == 3
    log = json.loads(texts["sarif"])
    _validate_sarif(log)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "INCOMPLETE" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert log["runs"][0]["properties"]["verdict"] == "incomplete"
    JUNIT_SCHEMA.validate(io.StringIO(texts["junit"]))
    assert '<error type="incomplete" message="INCOMPLETE: ' in texts["junit"]


def test_hostile_sarif_and_junit_are_valid(tmp_path):
    fleet, policy = write_hostile(tmp_path)
    result, texts = run_formats(tmp_path, fleet, policy, ["sarif", "junit"])
    assert result.returncode == 1
    _validate_sarif(json.loads(texts["sarif"]))
    JUNIT_SCHEMA.validate(io.StringIO(texts["junit"]))


def test_json_results_are_valid_against_the_result_schema(sample, tmp_path):
    """The bundled pack's sample run (every policy with a remediation) and the hostile fleet's run."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(result_schema())
    jsonschema.Draft7Validator.check_schema(result_schema())
    assert list(validator.iter_errors(sample["json"])) == []
    assert all(p["remediation"] for p in sample["json"]["policies"])
    assert sample["json"]["findings"] and all(f["remediation"] for f in sample["json"]["findings"])
    fleet, policy = write_hostile(tmp_path)
    result, texts = run_formats(tmp_path, fleet, policy, ["json"])
    assert result.returncode == 1
    assert list(validator.iter_errors(json.loads(texts["json"]))) == []
    # a finding without a remediation is null, and a wrong shape is caught
    broken = json.loads(texts["json"])
    broken["findings"][0]["remediation"] = {"text": "x", "commands": {"aws": "x"}}
    assert list(validator.iter_errors(broken))


# --- a finding's JSON line, written directly ------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=()), max_size=12)  # any code point: lone surrogates, controls
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    names=st.tuples(_text, _text, st.sampled_from(list(Severity)), st.sampled_from([Status.FAIL, Status.ERROR])),
    validation=st.none() | st.integers(min_value=0, max_value=70),
    # a result file read back (merge, --compare) may hold any JSON value where a string belongs
    image=st.tuples(_text, _json_values, _json_values, _json_values),
    attributes=st.dictionaries(_text, _json_values, max_size=4),
    flags=st.tuples(st.booleans(), st.booleans(), _json_values, _json_values, st.booleans()),
    command=_text,
)
def test_a_findings_json_line_is_the_encoders_text_of_its_dict(names, validation, image, attributes, flags, command):
    from imagelint.formats.json import _COMPACT, finding_json
    from imagelint.judgement.result import Finding, ImageRef, Remediation, Waiver, finding_dict

    waived, baselined, target, state, remedied = flags
    waiver = Waiver(
        policy="p*", reason=names[1], expires="2027-01-01", owner=names[0], selector="name=x", file="w", line=3
    )
    remediation = Remediation(text=names[1], commands={"openstack": "openstack image set " + command + " {id} {name}"})
    finding = Finding(
        policy=names[0],
        severity=names[2],
        status=names[3],
        validation=validation,
        message=names[1],
        # a finding with a remediation is one this run made, whose ImageRef.of gave strings
        image=ImageRef(*(v if v is None or isinstance(v, str) or not remedied else str(v) for v in image)),
        attributes=attributes,
        waiver=waiver if waived else None,
        baselined=baselined,
        target=target,
        state=state,
        remediation=remediation if remedied else None,
    )
    assert finding_json(finding) == _COMPACT.encode(finding_dict(finding))


def test_the_packs_findings_json_lines_are_the_encoders_text_of_their_dicts():
    import datetime as dt

    from imagelint.engines import create_engine
    from imagelint.formats.json import _COMPACT, finding_json
    from imagelint.judgement.evaluate import evaluate
    from imagelint.judgement.result import finding_dict
    from imagelint.policy import bundled_pack, load_policies
    from imagelint.sources.interface import ImageSource
    from tests.fleetgen import generate_fleet

    class Fleet(ImageSource):
        def location(self) -> str:
            return "fleet"

        def details(self) -> dict:
            return {}

        def pages(self):
            yield generate_fleet(1500, seed=5, varied=True)

    policies = load_policies([bundled_pack("ims")])
    engine = create_engine("auto", policies, dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    result = evaluate(Fleet(), policies, engine, now="2026-11-27T00:00:00Z", target="t")
    assert len(result.findings) > 1000
    for finding in result.findings:
        assert finding_json(finding) == _COMPACT.encode(finding_dict(finding))
