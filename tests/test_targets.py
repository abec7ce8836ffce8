"""The targets file: expansion, FILE:LINE:COL problems with did-you-mean, no secrets, selection, shards."""

from __future__ import annotations

import textwrap
from collections import Counter

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from imagelint.cli.common import UsageError
from imagelint.cli.sharding import detect, parse_shard
from imagelint.policy.schema import SCHEMAS
from imagelint.sources.targets import AuthRef, Target, TargetsError, load_targets, select, shard, target_settings
from imagelint.sources.transport import ConfigError


def load(tmp_path, text):
    path = tmp_path / "targets.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path, load_targets(path)


def problems(tmp_path, text):
    path = tmp_path / "targets.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(TargetsError) as info:
        load_targets(path)
    return [str(p).replace(str(path), "F") for p in info.value.problems]


EXAMPLE = """\
defaults:
  auth: {token_env: IMS_TOKEN}
  labels: {owner: platform}
  timeout: 20
targets:
  - name: prod
    cloud: prod
    regions: [eu-de, eu-nl]
    projects: [web, batch]
    labels: {env: prod}
  - name: lab
    endpoint: https://ims.lab.example
    auth: {token_file: /run/secrets/lab}
    query: {visibility: private, tag: [a, b]}
    api: images
"""


def test_expansion_defaults_and_schema(tmp_path):
    path, estate = load(tmp_path, EXAMPLE)
    names = [t.name for t in estate.targets]
    assert names == ["prod/eu-de/web", "prod/eu-de/batch", "prod/eu-nl/web", "prod/eu-nl/batch", "lab"]
    first = estate.targets[0]
    assert (first.cloud, first.region, first.project_name, first.timeout) == ("prod", "eu-de", "web", 20.0)
    assert first.labels == {"owner": "platform", "env": "prod"}
    assert first.auth.token_env == "IMS_TOKEN"
    lab = estate.targets[-1]
    assert lab.auth.token_file == "/run/secrets/lab" and lab.auth.token_env is None  # auth replaced whole
    assert lab.query == ("visibility=private", "tag=a", "tag=b")
    assert lab.where == f"{path}:11:5"
    assert len(estate.digest) == 64
    jsonschema.validate(yaml.safe_load(EXAMPLE), SCHEMAS["targets"]())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "targets:\n  - {name: a, endpont: http://x}\n",
            ["F:2:15: targets[0]: unknown key 'endpont'; did you mean 'endpoint'?"],
        ),
        (
            "targets:\n  - {name: a, endpoint: http://x, token: abc}\n",
            [
                (
                    "F:2:35: targets[0].token: no secrets in a targets file; name where the secret is instead "
                    "(auth: {token_env: VARIABLE}, token_file: PATH, ak_env/sk_env, or a cloud in clouds.yaml)"
                )
            ],
        ),
        (
            "targets:\n  - {name: a, endpoint: http://x, auth: {token_env: 'gAAAA-1234'}}\n",
            [
                (
                    "F:2:53: targets[0].auth.token_env: expected the NAME of an environment variable (letters, digits, _), "
                    "not its value"
                )
            ],
        ),
        (
            "targets:\n  - {name: a, endpoint: http://x, auth: {password: hunter2}}\n",
            [
                (
                    "F:2:42: targets[0].auth.password: no secrets in a targets file; name where the secret is instead "
                    "(auth: {token_env: VARIABLE}, token_file: PATH, ak_env/sk_env, or a cloud in clouds.yaml)"
                )
            ],
        ),
        (
            "targets:\n  - {name: a, endpoint: http://x}\n  - {name: a, cloud: c}\n",
            ["F:3:5: target name 'a' is used twice (first at F:2:5)"],
        ),
        ("targets:\n  - {name: a}\n", ["F:2:5: targets[0] (a): needs a cloud (a clouds.yaml name) or an endpoint"]),
        (
            "targets:\n  - {name: a, cloud: c, api: cloudimage}\n",
            [
                (
                    "F:2:30: targets[0].api: unknown API 'cloudimage' (expected images or cloudimages); "
                    "did you mean 'cloudimages'?"
                )
            ],
        ),
        (
            "targest: []\n",
            [
                "F:1:1: targets file: unknown key 'targest'; did you mean 'targets'?",
                "F:1:1: targets file: missing required key 'targets'",
            ],
        ),
        (
            "targets:\n  - {name: a, cloud: c, regions: [x, x]}\n",
            ["F:2:5: targets[0] (a): region 'x' is listed twice"],
        ),
        ("targets: [\n", None),
    ],
)
def test_problems_have_positions(tmp_path, text, expected):
    got = problems(tmp_path, text)
    if expected is None:
        assert len(got) == 1 and got[0].startswith("F:2:1: ")
    else:
        assert got == expected


def test_cli_reports_problems_and_exits_2(tmp_path):
    from tests.conftest import run_cli

    path = tmp_path / "t.yaml"
    path.write_text("targets:\n  - {name: a, endpont: http://x}\n", encoding="utf-8")
    run = run_cli("audit", "--targets", str(path))
    assert run.returncode == 2
    assert run.stderr.strip() == f"{path}:2:15: targets[0]: unknown key 'endpont'; did you mean 'endpoint'?"
    schema = run_cli("schema", "targets")
    assert schema.returncode == 0 and '"imagelint targets' in schema.stdout


def test_auth_sees_only_what_it_names():
    target = Target(
        name="t",
        endpoint="http://x",
        auth=AuthRef(ak_env="MY_AK", sk_env="MY_SK"),
    )
    env = {"MY_AK": "ak1", "MY_SK": "sk1", "OS_AUTH_TOKEN": "process-token", "PATH": "/bin"}
    settings, environment = target_settings(target, env)
    assert environment == {
        "HUAWEICLOUD_SDK_AK": "ak1",
        "HUAWEICLOUD_SDK_SK": "sk1",
        "MY_AK": "ak1",
        "MY_SK": "sk1",
        "PATH": "/bin",
    }
    assert settings.endpoint == "http://x"
    plain = Target(name="t", endpoint="http://x")
    assert target_settings(plain, env)[1] == env  # without auth: the process's environment, as check


def test_selection():
    targets = [
        Target(name=n, endpoint="http://x", labels=labels)
        for n, labels in (("prod/eu", {"env": "prod"}), ("prod/us", {"env": "prod"}), ("lab", {"env": "lab"}))
    ]
    assert [t.name for t in select(targets, ["prod"], [])] == ["prod/eu", "prod/us"]
    assert [t.name for t in select(targets, [], [("env", "lab")])] == ["lab"]
    with pytest.raises(ConfigError, match="no target of the targets file is selected"):
        select(targets, ["lab"], [("env", "prod")])


@given(st.lists(st.text("abcdefg/-", min_size=1, max_size=6), unique=True, max_size=40), st.integers(1, 12))
def test_shards_partition_the_targets_and_are_balanced(names, total):
    targets = [Target(name="x" + n, endpoint="http://x") for n in names]
    shards = [shard(targets, i, total) for i in range(1, total + 1)]
    seen = Counter(t.name for s in shards for t in s)
    assert set(seen) == {t.name for t in targets} and set(seen.values()) <= {1}
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    # the order of the file does not matter: the same names give the same shards
    assert [shard(list(reversed(targets)), i, total) for i in range(1, total + 1)] == shards


@pytest.mark.parametrize(
    ("env", "shards", "expected"),
    [
        ({"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"}, None, (1, 3)),  # GitLab: 1-based
        ({"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "4"}, None, (1, 4)),  # CircleCI: 0-based
        ({"BUILDKITE_PARALLEL_JOB": "4", "BUILDKITE_PARALLEL_JOB_COUNT": "5"}, None, (5, 5)),
        ({"JOB_COMPLETION_INDEX": "2"}, 3, (3, 3)),  # Kubernetes: 0-based, N given
        ({}, None, None),
    ],
)
def test_shard_from_the_ci(env, shards, expected):
    assert detect(None, shards, env) == expected
    assert detect("2/7", None, env) == (2, 7)  # an explicit --shard wins


@pytest.mark.parametrize(
    ("shard_text", "shards", "env", "message"),
    [
        ("0/3", None, {}, "shards are numbered from 1"),
        ("3", None, {}, "expected I/N"),
        (None, None, {"JOB_COMPLETION_INDEX": "0"}, "give --shards N"),
        (None, 2, {"JOB_COMPLETION_INDEX": "2"}, "is not below --shards 2"),
        (None, 4, {"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"}, "--shards 4 but GitLab's CI_NODE_TOTAL is 3"),
        (None, 3, {}, "which shard is this?"),
    ],
)
def test_bad_shards(shard_text, shards, env, message):
    with pytest.raises(UsageError, match=message.replace("?", r"\?")):
        detect(shard_text, shards, env)
    if shard_text == "0/3":
        with pytest.raises(UsageError):
            parse_shard("4/3")
