"""Param values that CEL cannot hold (binary data, sets, recursive aliases, ints beyond 64 bits) or that the
safe loader refuses (``!!python/...``), from ``--param``, ``imagelint.yaml`` and a policy's own
``spec.params``: one line naming the flag or ``FILE:LINE:COL``, exit 2, and nothing executed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import policy_yaml

NOW = "2026-11-27T00:00:00Z"
# aliases of aliases: 20 levels of two stand for 2**20 strings (main hung inlining or converting them)
# ten levels: 2**10 strings, within the cap
ALIASES = "[&l0 [x, x], " + ", ".join(f"&l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 10)) + "]"
LAUGHS = "[&l0 [x, x], " + ", ".join(f"&l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 20)) + ", [*l19, *l19]]"
BAD = {
    "binary": ("!!binary AAAA", "binary data (!!binary) is not a param value"),
    "set": ("!!set {a, b}", "a set (!!set) is not a param value"),
    "python-name": ("!!python/name:os.system x", "could not determine a constructor for the tag"),
    "python-apply": ('!!python/object/apply:os.system ["touch PWNED"]', "could not determine a constructor"),
    "recursive": ("&a [*a]", "the value contains itself (a recursive alias)"),
    "recursive-map": ("&a {x: *a}", "the value contains itself (a recursive alias)"),
    "beyond-int64": ("99999999999999999999999", "integer out of range: CEL ints are 64-bit"),
    "below-int64": ("-9223372036854775809", "integer out of range: CEL ints are 64-bit"),
    "bad-int": ("!!int x", "invalid literal for int()"),
    "timestamp": ("!!timestamp 2026-01-01", "a date is not a param value"),
    "lone-surrogate": ('"a\\ud800"', "a string with a lone surrogate"),
    "billion-laughs": (LAUGHS, "the value expands to more than 100,000 values through YAML aliases"),
}


@pytest.fixture
def project(tmp_path: Path, fleet_file) -> Path:
    (tmp_path / "p.yaml").write_text(
        policy_yaml("p", params={"v": 1}, validations=["params.v == params.v"]), encoding="utf-8"
    )
    fleet_file([{"id": "a", "name": "web"}])
    return tmp_path


def check(cli, project: Path, *extra: str, engine: str = "cel-python"):
    return cli(
        "check",
        "--input",
        str(project / "fleet.json"),
        "--policies",
        str(project / "p.yaml"),
        "--now",
        NOW,
        "--engine",
        engine,
        *extra,
        cwd=project,
    )


def one_error(proc, start: str, text: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(start) and text in proc.stderr, proc.stderr


@pytest.mark.parametrize(("value", "message"), BAD.values(), ids=BAD.keys())
def test_param_flag(cli, project, value, message):
    one_error(check(cli, project, "--param", f"p.v={value}"), f"--param {f'p.v={value}'!r}: ", message)
    assert not (project / "PWNED").exists()


@pytest.mark.parametrize(("value", "message"), BAD.values(), ids=BAD.keys())
def test_config_file_params(cli, project, value, message):
    (project / "imagelint.yaml").write_text(f"params:\n  p: {{v: {value}}}\n", encoding="utf-8")
    one_error(check(cli, project), f"{project / 'imagelint.yaml'}:2:10: params.p.v: ", message)
    assert not (project / "PWNED").exists()


@pytest.mark.parametrize(("value", "message"), BAD.values(), ids=BAD.keys())
def test_policy_spec_params(cli, project, value, message):
    policy = project / "q.yaml"
    policy.write_text(
        "apiVersion: imagelint/v1\nkind: Policy\nmetadata: {name: q, severity: high}\nspec:\n"
        f"  params: {{v: {value}}}\n  validations: [{{expression: params.v == params.v}}]\n",
        encoding="utf-8",
    )
    for args in (
        ["check", "--input", str(project / "fleet.json"), "--policies", str(policy)],
        ["validate", str(policy)],
    ):
        one_error(cli(*args, cwd=project), f"{policy}:5:15: spec.params.v: ", message)
    assert not (project / "PWNED").exists()


@pytest.mark.parametrize("engine", ["cel-python", "cel-cpp", "compiled"])
def test_aliases_within_the_cap_are_accepted(cli, project, engine):
    # a default of [] takes any list (the fixture's int default would refuse a list, and say so in one line)
    (project / "p.yaml").write_text(
        policy_yaml("p", params={"v": []}, validations=["params.v == params.v"]), encoding="utf-8"
    )
    proc = check(cli, project, "--param", f"p.v={ALIASES}", engine=engine)
    assert proc.returncode == 0, proc.stderr


def test_a_param_of_the_wrong_type_is_shown_cut_short(cli, project):
    proc = check(cli, project, "--param", f"p.v={ALIASES}")
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("--param:1:1: p.v: expected an int like its default 1; got list [['x', 'x'], ")
    assert line.endswith("...") and len(line) < 160, line


@pytest.mark.parametrize("engine", ["cel-python", "cel-cpp", "compiled"])
def test_int64_limits_are_accepted(cli, project, engine):
    for value in ("9223372036854775807", "-9223372036854775808"):
        proc = check(cli, project, "--param", f"p.v={value}", engine=engine)
        assert proc.returncode == 0, proc.stderr


CONFIG_VALUES = {
    "emoji": ('"web-\\U0001F600"', "web-\U0001f600"),
    "nel": ('"a\\x85b"', "a\x85b"),
    "nan-text": ("NaN", "NaN"),
    "date-text": ("2026-01-01", "2026-01-01"),
    "colon": ('"x: y"', "x: y"),
    "quotes": ("\"'q'\"", "'q'"),
}


@pytest.mark.parametrize(("written", "value"), CONFIG_VALUES.values(), ids=CONFIG_VALUES.keys())
def test_config_params_reach_the_policy_unchanged(cli, tmp_path, fleet_file, written, value):
    (tmp_path / "p.yaml").write_text(
        policy_yaml("p", params={"v": ""}, validations=["image.name == params.v"]), encoding="utf-8"
    )
    fleet_file([{"id": "a", "name": value}])
    (tmp_path / "imagelint.yaml").write_text(f"params:\n  p: {{v: {written}}}\n", encoding="utf-8")
    proc = check(cli, tmp_path)  # cel-python: cel-cpp cannot take an emoji in a param (celtree.cel_literal)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("engine", ["cel-python", "cel-cpp", "compiled"])
def test_params_beyond_the_basic_plane_reach_both_engines(cli, tmp_path, fleet_file, engine):
    # params are inlined as CEL literals; cel-cpp refused JSON's escaped surrogate pair for an emoji
    (tmp_path / "p.yaml").write_text(
        policy_yaml("p", params={"want": "web😀é"}, validations=["image.name == params.want"]), encoding="utf-8"
    )
    fleet_file([{"id": "a", "name": "web😀é"}, {"id": "b", "name": "web"}])
    proc = cli(
        "check",
        "--input",
        str(tmp_path / "fleet.json"),
        "--policies",
        str(tmp_path / "p.yaml"),
        "--now",
        NOW,
        "--engine",
        engine,
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "1 pass, 1 fail" in proc.stderr
