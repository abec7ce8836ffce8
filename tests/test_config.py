"""``imagelint.yaml`` end to end through the real CLI: discovery, ``--config``, precedence (flags > file >
defaults), params, extra attributes, options added by other parts, secrets refused, invalid files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagelint.cli import build_parser
from imagelint.cli import config as _config
from tests.conftest import policy_yaml

NOW = "2026-11-27T00:00:00Z"


@pytest.fixture
def project(tmp_path: Path, fleet_file) -> Path:
    """A repository with a policy (severity medium, fails on the fleet) under policies/ and a fleet."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(
        policy_yaml("p", severity="medium", params={"limit": 10}, validations=["image.min_disk <= params.limit"]),
        encoding="utf-8",
    )
    fleet_file([{"id": "a", "min_disk": 40}])
    return tmp_path


def write_config(project: Path, text: str, name: str = "imagelint.yaml") -> Path:
    path = project / name
    path.write_text(text, encoding="utf-8")
    return path


def check(cli, project: Path, *extra: str, cwd: Path | None = None):
    return cli(
        "check", "--input", str(project / "fleet.json"), "--now", NOW, "--format", "json", *extra, cwd=cwd or project
    )


def test_discovered_in_the_working_directory(cli, project):
    write_config(project, "policies: [policies]\nfail-on: high\n")
    run = check(cli, project)
    assert run.returncode == 0, run.stderr  # medium finding, gate at high
    doc = json.loads(run.stdout)
    assert (doc["fail_on"], [p["name"] for p in doc["policies"]]) == ("high", ["p"])


def test_flags_override_the_file_even_when_they_repeat_the_default(cli, project):
    write_config(project, "policies: [policies]\nfail-on: critical\n")
    assert check(cli, project).returncode == 0
    assert check(cli, project, "--fail-on", "low").returncode == 1  # "low" is also the built-in default


def test_policies_flag_replaces_the_files_policies(cli, project, tmp_path):
    write_config(project, "policies: [policies]\n")
    other = tmp_path / "other.yaml"
    other.write_text(policy_yaml("other", validations=["true"]), encoding="utf-8")
    doc = json.loads(check(cli, project, "--policies", str(other)).stdout)
    assert [p["name"] for p in doc["policies"]] == ["other"]


def test_explicit_config_resolves_paths_next_to_it(cli, project, tmp_path):
    conf_dir = project / "conf"
    conf_dir.mkdir()
    write_config(conf_dir, "policies: [../policies]\nfail-on: never\n", name="ci.yaml")
    run = check(cli, project, "--config", str(conf_dir / "ci.yaml"), cwd=tmp_path.parent)
    assert run.returncode == 0 and json.loads(run.stdout)["fail_on"] == "never"


def test_params_from_the_file_and_flags_merge_per_key(cli, project):
    write_config(project, "policies: [policies]\nparams:\n  p: {limit: 50}\n")
    assert check(cli, project).returncode == 0  # 40 <= 50
    assert check(cli, project, "--param", "p.limit=20").returncode == 1


def test_extra_attributes_are_known_to_the_static_checks(cli, project):
    (project / "policies" / "hidden.yaml").write_text(
        policy_yaml("hidden", validations=["!has(image.os_hidden) || image.os_hidden == false"]), encoding="utf-8"
    )
    write_config(project, "policies: [policies]\n")
    run = check(cli, project)
    assert run.returncode == 2 and "unknown image attribute 'os_hidden'" in run.stderr
    write_config(project, "policies: [policies]\nfail-on: never\nattributes:\n  os_hidden: bool\n")
    assert check(cli, project).returncode == 0


def test_reports_from_the_file_are_written(cli, project):
    write_config(project, "policies: [policies]\nreports: {json: out/report.json}\n")
    (project / "out").mkdir()
    run = check(cli, project)
    assert run.returncode == 1
    assert json.loads((project / "out" / "report.json").read_text())["findings"][0]["policy"] == "p"


def test_file_endpoint_yields_to_a_source_flag(cli, project):
    # --input, --sample and --endpoint exclude each other: a source on the command line wins over the file's
    write_config(project, "policies: [policies]\nendpoint: http://127.0.0.1:9\nquery: {__imagetype: private}\n")
    assert check(cli, project).returncode == 1  # judged from --input, no network call


def test_api_options_become_arguments(tmp_path):
    config = write_config(
        tmp_path,
        "endpoint: https://ims.example.com\nquery: {__imagetype: private, limit: 5}\n"
        "page-size: 500\nreports: [sarif=x.sarif]\nwaivers: w.yaml\nbaseline: b.json\n"
        "allow-permanent-waivers: true\nengine: cel-python\n",
    )
    argv, loaded = _config.apply(build_parser(), ["check", "--config", str(config), "--fail-on", "high"])
    assert loaded.file == str(config)
    assert argv == [
        "check",
        "--endpoint=https://ims.example.com",
        "--query=__imagetype=private",
        "--query=limit=5",
        "--page-size=500",
        "--engine=cel-python",
        f"--report=sarif={tmp_path / 'x.sarif'}",
        f"--waivers={tmp_path / 'w.yaml'}",
        "--allow-permanent-waivers",
        f"--baseline={tmp_path / 'b.json'}",
        "--config",
        str(config),
        "--fail-on",
        "high",
    ]
    args = build_parser().parse_args(argv)
    assert (args.endpoint, args.page_size, args.query, args.fail_on) == (
        "https://ims.example.com",
        500,
        ["__imagetype=private", "limit=5"],
        "high",
    )


def test_no_config_changes_nothing(tmp_path):
    argv = ["check", "--sample"]
    assert _config.apply(build_parser(), argv, cwd=tmp_path) == (argv, _config.Config(None))


def test_validate_and_list_use_the_files_policies(cli, project):
    write_config(project, "policies: [policies]\n")
    assert cli("validate", cwd=project).stderr.strip() == "1 policies OK"
    assert cli("list", cwd=project).stdout.split() == ["p", "medium", "compiled", "title", "of", "p"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("password: hunter2\n", "1:1: password: refusing a key that looks like a secret"),
        ("query:\n  X-Auth-Token: abc\n", "2:3: query.X-Auth-Token: refusing a key that looks like a secret"),
        ("params:\n  p: {api_key: k}\n", "2:7: params.p.api_key: refusing a key that looks like a secret"),
        (
            "endpoint: https://user:pw@ims.example.com\n",
            (
                "1:11: endpoint: refusing a URL with credentials; config files get committed: put credentials in the "
                "environment"
            ),
        ),
    ],
)
def test_secrets_are_refused(cli, project, text, message):
    config = write_config(project, text)
    run = check(cli, project)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.strip().startswith(f"{config}:{message}")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "fail_on: high\n",
            (
                "1:1: config: unknown key 'fail_on' (allowed: policies, params, waivers, "
                "allow-permanent-waivers, baseline, fail-on, engine, endpoint, query, page-size, reports, "
                "attributes)"
            ),
        ),
        ("fail-on: hgh\n", "1:10: fail-on: 'hgh' is not one of: never, info, low, medium, high, critical"),
        ("page-size: many\n", "1:12: page-size: expected an integer, got a str ('many')"),
        (
            "attributes: {os_hidden: boolean}\n",
            "1:25: attributes.os_hidden: unknown type 'boolean' (expected one of: string, int, bool, list, dyn)",
        ),
        ("policies: [a\n", "2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("- policies\n", "1:1: config: expected a mapping, got a list"),
    ],
)
def test_invalid_config_exits_2_with_position(cli, project, text, message):
    config = write_config(project, text)
    run = check(cli, project)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.strip() == f"{config}:{message}"


def test_missing_explicit_config(cli, project):
    run = check(cli, project, "--config", "nope.yaml")
    assert (run.returncode, run.stderr.strip()) == (2, "nope.yaml:1:1: no such config file")


def test_schema_needs_no_config(cli, project):
    write_config(project, "fail-on: [broken\n")
    assert cli("schema", cwd=project).returncode == 0
    assert cli("list", cwd=project).returncode == 2
