"""``imagelint list``, ``explain NAME`` and ``schema [KIND]`` through the real CLI; the schemas held to the
loaders (the bundled policies and their tests validate, documents the loader rejects do not)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from imagelint.policy import bundled_pack, bundled_policy_dir, load_policies
from imagelint.policy.loader import METADATA_KEYS, SPEC_KEYS, TOP_KEYS, VALIDATION_KEYS
from imagelint.policy.schema import SCHEMAS
from tests.conftest import policy_yaml


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    d = tmp_path / "pack"
    d.mkdir()
    (d / "a.yaml").write_text(
        policy_yaml(
            "named",
            severity="medium",
            title="Private images have good names",
            params={"prefix": "ok"},
            match='image.visibility == "private"',
            validations=[
                {"expression": "has(image.name) && image.name.startsWith(params.prefix)", "message": "bad name"}
            ],
        ),
        encoding="utf-8",
    )
    (d / "b.yaml").write_text(policy_yaml("another", severity="critical", title="Always true"), encoding="utf-8")
    (d / "a.test.yaml").write_text(
        textwrap.dedent("""\
        policy: named
        now: 2026-11-27T00:00:00Z
        cases:
          - name: a good name
            image: {id: i1, name: ok-1, visibility: private}
            expect: pass
          - name: another prefix
            image: {id: i2, name: web, visibility: private}
            params: {prefix: we}
            expect: pass
          - name: a bad name
            image: {id: i3, name: web, visibility: private}
            expect: fail
            message: bad name
        """),
        encoding="utf-8",
    )
    return d


def test_list(cli, pack):
    run = cli("list", "--policies", str(pack))
    assert (run.returncode, run.stdout) == (
        0,
        ("another  critical  compiled  Always true\nnamed    medium    compiled  Private images have good names\n"),
    )


def test_list_bundled_pack(cli):
    run = cli("list")
    names = [line.split()[0] for line in run.stdout.splitlines()]
    assert run.returncode == 0 and names == sorted(p.name for p in load_policies([bundled_pack()]))


def test_explain_shows_the_policy_and_its_tests_as_examples(cli, pack):
    run = cli("explain", "named", "--policies", str(pack))
    assert run.returncode == 0
    test_file = pack / "a.test.yaml"
    assert run.stdout == textwrap.dedent(f"""\
        named (medium): Private images have good names
          defined at {pack / "a.yaml"}:1:1
          judged by the compiled engine under --engine auto

        Params (override with --param named.KEY=VALUE):
          prefix = "ok"

        Applies to images where (match):
          image.visibility == "private"

        Validation 0:
          has(image.name) && image.name.startsWith(params.prefix)
          message: bad name

        Examples (3 test cases):
          - a good name: pass  [now 2026-11-27T00:00:00Z]
              image {{"id": "i1", "name": "ok-1", "visibility": "private"}}
              ({test_file}:4)
          - another prefix: pass  [params {{"prefix": "we"}}; now 2026-11-27T00:00:00Z]
              image {{"id": "i2", "name": "web", "visibility": "private"}}
              ({test_file}:7)
          - a bad name: fail ('bad name')  [now 2026-11-27T00:00:00Z]
              image {{"id": "i3", "name": "web", "visibility": "private"}}
              ({test_file}:11)
        """)


def test_explain_unknown_name(cli, pack):
    run = cli("explain", "nmed", "--policies", str(pack))
    assert (run.returncode, run.stdout, run.stderr) == (
        2,
        "",
        "no loaded policy is named 'nmed'; did you mean 'named'?\n",
    )


def test_explain_a_bundled_policy(cli):
    name = load_policies([bundled_pack()])[0].name
    run = cli("explain", name)
    assert run.returncode == 0 and run.stdout.startswith(f"{name} (")
    assert "Examples (" in run.stdout  # every bundled policy ships with test cases


@pytest.mark.parametrize("kind", list(SCHEMAS))
def test_schema_is_json_schema(cli, kind):
    jsonschema = pytest.importorskip("jsonschema")
    run = cli("schema", kind)
    assert run.returncode == 0
    schema = json.loads(run.stdout)
    jsonschema.Draft7Validator.check_schema(schema)


def test_policy_schema_keys_are_the_loaders():
    props = SCHEMAS["policy"]()["properties"]
    assert set(props) == set(TOP_KEYS)
    assert set(props["metadata"]["properties"]) == set(METADATA_KEYS)
    assert set(props["spec"]["properties"]) == set(SPEC_KEYS)
    assert set(props["spec"]["properties"]["validations"]["items"]["properties"]) == set(VALIDATION_KEYS)


def test_bundled_files_validate_against_the_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    policy = jsonschema.Draft7Validator(SCHEMAS["policy"]())
    tests = jsonschema.Draft7Validator(SCHEMAS["test"]())
    for path in sorted(bundled_policy_dir().rglob("*.yaml")):  # every pack
        for doc in yaml.safe_load_all(path.read_text()):
            validator = tests if path.name.endswith(".test.yaml") else policy
            errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(doc, default=str)))]
            assert errors == [], path


@pytest.mark.parametrize(
    "doc",
    [
        {
            "apiVersion": "imagelint/v1",
            "kind": "Policy",
            "metadata": {"name": "Bad_Name", "severity": "high"},
            "spec": {"validations": [{"expression": "true"}]},
        },
        {
            "apiVersion": "imagelint/v1",
            "kind": "Policy",
            "metadata": {"name": "p", "severity": "urgent"},
            "spec": {"validations": [{"expression": "true"}]},
        },
        {
            "apiVersion": "imagelint/v1",
            "kind": "Policy",
            "metadata": {"name": "p", "severity": "high"},
            "spec": {"validations": []},
        },
        {
            "apiVersion": "imagelint/v1",
            "kind": "Policy",
            "metadata": {"name": "p", "severity": "high"},
            "spec": {"validations": [{"expression": "true", "msg": "x"}]},
        },
    ],
)
def test_schema_rejects_what_the_loader_rejects(tmp_path, doc):
    jsonschema = pytest.importorskip("jsonschema")
    assert list(jsonschema.Draft7Validator(SCHEMAS["policy"]()).iter_errors(doc))
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(Exception, match="p.yaml:"):
        load_policies([path])
