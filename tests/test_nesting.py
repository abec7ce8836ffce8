"""Input nested deeper than Python's recursion limit, in every file and response imagelint reads: ``json``,
PyYAML and cel-python's parser all recurse per level, and a ``RecursionError`` had reached the user as a
traceback (exit 1, the findings code). Each must be a one-line error naming the file (and where it
could tell, the line and column), with the input's exit code: 3 for images, 2 for the user's own files.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from imagelint.sources.api import _json_body
from imagelint.sources.interface import SourceError
from tests.conftest import policy_yaml

DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_CEL = "(" * 300 + 'image.name == "x"' + ")" * 300


def one_line_error(proc, code: int) -> str:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    return proc.stderr


@pytest.mark.parametrize(
    "name, text, where",
    [
        (
            "deep.json",
            '{"images": [{"id": "a", "x": ' + DEEP_JSON + "}]}",
            "deep.json:1:13: not valid JSON: nested too deeply",
        ),
        ("deep.json", "\n\n[" + DEEP_JSON + "]", "deep.json:3:2: not valid JSON: nested too deeply"),
        (
            "deep.jsonl",
            '{"id": "a"}\n{"id": "b", "x": ' + DEEP_JSON + "}\n",
            "deep.jsonl:2: not valid JSON: nested too deeply",
        ),
    ],
)
def test_a_snapshot_nested_too_deeply_is_incomplete(tmp_path, cli, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    proc = cli("check", "--input", str(path), "--format", "json", "--output", str(tmp_path / "r.json"))
    assert f"INCOMPLETE: {path.parent}/{where}" in one_line_error(proc, 3)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["source"]["complete"] is False
    assert report["summary"]["images"] == (1 if name.endswith("jsonl") else 0)


def test_an_api_response_nested_too_deeply_is_a_source_error():
    response = requests.Response()
    response.status_code = 200
    response._content = ('{"images": ' + DEEP_JSON + "}").encode()
    response.headers["Content-Type"] = "application/json"
    with pytest.raises(SourceError) as info:
        _json_body(response, "GET https://ims.example.test/v2/images")
    assert str(info.value) == (
        "GET https://ims.example.test/v2/images: HTTP 200 but the body is not valid JSON "
        f"(Content-Type application/json, {len(response.content)} bytes): nested too deeply"
    )


def test_a_baseline_nested_too_deeply(tmp_path, cli):
    path = tmp_path / "baseline.json"
    path.write_text(DEEP_JSON)
    proc = cli("check", "--sample", "--baseline", str(path))
    assert f"{path}:1:1: not a baseline: invalid JSON: nested too deeply" in one_line_error(proc, 2)


@pytest.mark.parametrize("what", ["yaml", "params", "expression"])
def test_a_policy_nested_too_deeply(tmp_path, cli, what):
    path = tmp_path / "deep.yaml"
    if what == "yaml":
        path.write_text(policy_yaml("deep") + "\n---\n" + "[" * 5000 + "]" * 5000 + "\n")
        line = 18
    elif what == "params":
        path.write_text(
            policy_yaml("deep").replace('"spec": {', '"spec": {\n"params": {"p": ' + "[" * 5000 + "]" * 5000 + "},", 1)
        )
        line = 10
    else:
        path.write_text(policy_yaml("deep", validations=[DEEP_CEL]))
    proc = cli("validate", str(path))
    if what == "expression":  # the position of the expression
        assert f"{path}:12:24: spec.validations[0].expression: expression nested too deeply to read" in one_line_error(
            proc, 2
        )
    else:  # the line where reading stopped (the column depends on the stack already in use)
        assert re.search(rf"{re.escape(str(path))}:{line}:\d+: YAML nested too deeply", one_line_error(proc, 2))


def test_a_policy_nested_within_reach_of_the_parser_meets_cel_cpps_limit(tmp_path, cli):
    # ~70 parentheses parse, but cel-python would recurse too deeply evaluating them; cel-cpp's checker,
    # which runs for both engines, refuses more than 32 levels first
    path = tmp_path / "deep.yaml"
    path.write_text(policy_yaml("deep", validations=["(" * 70 + 'image.name == "x"' + ")" * 70]))
    for engine in ("cel-python", "cel-cpp", "compiled"):
        proc = cli("check", "--sample", "--policies", str(path), "--engine", engine)
        assert "Expression recursion limit exceeded. limit: 32" in one_line_error(proc, 2)


def test_waivers_and_config_nested_too_deeply(tmp_path, cli):
    deep = tmp_path / "waivers.yaml"
    deep.write_text("waivers:\n  - policy: x\n    reason: " + "[" * 5000 + "]" * 5000 + "\n")
    proc = cli("check", "--sample", "--waivers", str(deep))
    assert re.search(rf"{re.escape(str(deep))}:3:\d+: YAML nested too deeply", one_line_error(proc, 2))
    match = tmp_path / "match.yaml"
    match.write_text(
        "waivers:\n  - policy: image-has-name\n    match: '" + DEEP_CEL + "'\n    reason: r\n    expires: 2099-01-01\n"
    )
    assert f"{match}:3:13: waivers[0].match: expression nested too deeply to read" in one_line_error(
        cli("check", "--sample", "--waivers", str(match)), 2
    )
    config = tmp_path / "imagelint.yaml"
    config.write_text("policies: " + "[" * 5000 + "]" * 5000 + "\n")
    proc = cli("check", "--sample", cwd=tmp_path)
    assert re.search(r"imagelint\.yaml:1:\d+: YAML nested too deeply", one_line_error(proc, 2))


def test_a_policy_test_file_nested_too_deeply(tmp_path, cli):
    (tmp_path / "p.yaml").write_text(policy_yaml("p"))
    tests = tmp_path / "p.test.yaml"
    tests.write_text("cases: " + "[" * 5000 + "]" * 5000 + "\n")
    proc = cli("test", str(tmp_path))
    assert re.search(rf"{re.escape(str(tests))}:1:\d+: YAML nested too deeply", one_line_error(proc, 2))
