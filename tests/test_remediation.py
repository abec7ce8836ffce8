"""Remediation (metadata.remediation): validated at load, shown by explain, carried into every format with
the image's values filled in as inert shell words.

The per-format injection tests are tests/test_format_hostile.py: its policy has a remediation whose
commands fill in the hostile ids and names (tests/reportdata.REMEDIATION).
"""

from __future__ import annotations

import csv
import io
import json
import shlex
import xml.etree.ElementTree as ET

import pytest

from imagelint.judgement.result import ImageRef, Remediation, shell_word
from imagelint.policy import bundled_policy_dir, load_policies
from tests.conftest import policy_yaml, run_cli
from tests.reportdata import HOSTILE_ID, PAYLOADS, REMEDIATION, run_formats, write_hostile

GOOD = {"text": "Protect it.", "commands": {"openstack": "openstack image set --protected {id}"}}


def _problems(tmp_path, remediation):
    path = tmp_path / "p.yaml"
    path.write_text(policy_yaml("p", remediation=remediation), encoding="utf-8")
    out = run_cli("validate", str(path))
    return out.returncode, out.stderr.strip().splitlines()


@pytest.mark.parametrize(
    "remediation, message",
    [
        ({"commands": GOOD["commands"]}, "metadata.remediation: missing required key 'text'"),
        ({"text": ""}, "metadata.remediation.text: must not be empty"),
        ({"text": "x", "commands": {"aws": "aws ec2"}}, "unknown key 'aws' (allowed: openstack, huaweicloud)"),
        ({"text": "x", "commands": {"openstack": "set {image_id}"}}, "unknown placeholder '{image_id}'"),
        ({"text": "x", "commands": {"openstack": "set {id"}}, "unknown placeholder '{id'"),
        ({"text": "x", "commands": {"openstack": "a\nb {id}"}}, "must be one line of printable text"),
        ({"text": "x", "commands": {"openstack": 3}}, "metadata.remediation.commands.openstack: expected a string"),
        ("fix it", "metadata.remediation: expected a mapping"),
    ],
)
def test_bad_remediation_is_a_located_error(tmp_path, remediation, message):
    code, lines = _problems(tmp_path, remediation)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'p.yaml'}:"), lines
    assert message in lines[0], lines


def test_good_remediation_loads_and_explain_shows_it(tmp_path):
    code, lines = _problems(tmp_path, GOOD)
    assert code == 0, lines
    (policy,) = load_policies([tmp_path / "p.yaml"])
    assert policy.remediation == Remediation("Protect it.", {"openstack": "openstack image set --protected {id}"})
    out = run_cli("explain", "p", "--policies", str(tmp_path / "p.yaml"))
    assert "Remediation:\n  Protect it.\n  openstack: openstack image set --protected {id}" in out.stdout


@pytest.mark.parametrize("value", [*PAYLOADS, HOSTILE_ID, "$(reboot)", "`id`", "a'b", "-rf", "", "x;y&&z"])
def test_filled_values_are_one_inert_shell_word(value):
    """A printable value comes back from the shell as exactly itself, one argument; anything with control
    or bidi characters is not inserted (a terminal or a log viewer would interpret it)."""
    image = ImageRef(id="i-1", name=value, visibility=None, owner=None)
    command = Remediation("x", {"openstack": "openstack image set --name {name} {id}"}).filled(image)["openstack"]
    words = shlex.split(command)
    assert words[:4] == ["openstack", "image", "set", "--name"] and words[-1] == "i-1" and len(words) == 6
    printable = value.isprintable() and "\ud800" not in value
    assert words[4] == (value if printable else "<name with unprintable characters>")
    assert shell_word(None, "owner") == "'<no owner>'"


def test_every_bundled_policy_says_how_to_fix_it():
    policies = load_policies([bundled_policy_dir()])
    missing = [p.name for p in policies if p.remediation is None or not p.remediation.text.strip()]
    assert missing == []
    # and a command where one fixes it: placeholders only from the image reference
    assert sum(1 for p in policies if p.remediation and p.remediation.commands) >= len(policies) * 2 // 3


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("remediation")
    fleet, policy = write_hostile(tmp)
    formats = ["text", "json", "markdown", "html", "junit", "sarif", "csv", "github"]
    result, texts = run_formats(tmp, fleet, policy, formats)
    assert result.returncode == 1, result.stderr
    return texts


def _expected(image_id: str, name: str) -> list[str]:
    image = ImageRef(id=image_id, name=name, visibility=None, owner=None)
    return list(Remediation(REMEDIATION["text"], REMEDIATION["commands"]).filled(image).values())


def test_json_carries_the_templates_and_each_finding_its_commands(reports):
    report = json.loads(reports["json"])
    (policy,) = report["policies"]
    assert policy["remediation"] == REMEDIATION
    for finding in report["findings"]:
        fix = finding["remediation"]
        assert fix["text"] == REMEDIATION["text"]
        image_id = finding["image"]["id"]
        # the report repairs a lone surrogate in the name; the command was filled from the name as read
        name = "hostile id" if image_id == HOSTILE_ID else PAYLOADS[int(image_id[-12:])]
        assert list(fix["commands"].values()) == _expected(image_id, name)
        # the hostile id reaches the shell as one word, never as markup or a second command
        assert shlex.split(fix["commands"]["openstack"])[:4] == ["openstack", "image", "set", "--name"]


def test_sarif_rule_help_and_result_properties(reports):
    run = json.loads(reports["sarif"])["runs"][0]
    (rule,) = run["tool"]["driver"]["rules"]
    assert "How to fix: Rename the image <b>now</b>" in rule["help"]["text"]
    # in Markdown the policy's own text is escaped too and the commands are code spans
    assert "\\<b\\>now\\<\\/b\\>" in rule["help"]["markdown"] and "` openstack image set" in rule["help"]["markdown"]
    for result in run["results"]:
        assert result["properties"]["remediation"]["commands"]["huaweicloud"].startswith("hcloud IMS ")


def test_csv_and_junit_carry_the_filled_commands(reports):
    rows = list(csv.DictReader(io.StringIO(reports["csv"])))
    hostile = next(r for r in rows if r["image_name"] == "hostile id")
    assert hostile["remediation"].splitlines()[0] == REMEDIATION["text"]
    assert "openstack: " + _expected(HOSTILE_ID, "hostile id")[0] in hostile["remediation"]
    tree = ET.fromstring(reports["junit"])
    texts = [f.text or "" for f in tree.iter("failure")]
    assert len(texts) == len(PAYLOADS) + 1 and all("How to fix: Rename the image" in t for t in texts)


def test_human_formats_show_the_fix(reports):
    assert reports["text"].count("how to fix: Rename the image") == 1
    assert reports["text"].count("        openstack: openstack image set --name plain-") == len(PAYLOADS) + 1
    assert "**How to fix:** Rename the image" in reports["markdown"]
    assert "<strong>How to fix:</strong> Rename the image &lt;b&gt;now&lt;/b&gt;" in reports["html"]
    annotations = [line for line in reports["github"].splitlines() if line.startswith("::")]
    assert all("How to fix: Rename the image" in line for line in annotations if "names-are-plain" in line)
