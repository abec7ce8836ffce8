"""``imagelint.yaml`` as docs/config.md documents it: the file's ``query`` goes with the file's ``endpoint`` only
(never narrowing a command-line ``--endpoint``), and a value the option cannot take (a list of waivers or
baselines, an empty policy list, a query without an endpoint) is refused at its line instead of being used
in part or ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apihelp import run
from tests.conftest import policy_yaml
from tests.fakeims import FakeIMS, generate_images

TOKEN = "tok-config-0123456789"
ENV = {"OS_AUTH_TOKEN": TOKEN}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(policy_yaml("p"), encoding="utf-8")
    return tmp_path


def images_checked(proc) -> int:
    assert proc.returncode == 0, proc.stderr
    summary = proc.stderr.strip().splitlines()[-1]
    return int(summary.split("imagelint: ", 1)[1].split(" images", 1)[0])


def test_file_query_goes_with_the_file_endpoint_only(project):
    fleet = generate_images(40, seed=11)
    private = sum(1 for i in fleet if i.get("visibility") == "private")
    assert 0 < private < len(fleet)
    config = project / "imagelint.yaml"
    with FakeIMS(fleet, auth="token", token=TOKEN) as srv:
        config.write_text(
            f"policies: [p.yaml]\nendpoint: {srv.url}\nquery: {{visibility: private}}\npage-size: 7\n", encoding="utf-8"
        )
        from_file = run("check", "--config", str(config), env=ENV)
        from_flag = run("check", "--config", str(config), "--endpoint", srv.url, env=ENV)
        both = run("check", "--config", str(config), "--endpoint", srv.url, "--query", "visibility=private", env=ENV)
    assert images_checked(from_file) == private
    assert images_checked(from_flag) == len(fleet)  # the file's query narrowed this endpoint too
    assert images_checked(both) == private


def refused(cli, project: Path, text: str, start: str, message: str) -> None:
    config = project / "imagelint.yaml"
    config.write_text(text, encoding="utf-8")
    proc = cli("check", "--sample", "--config", str(config), cwd=project)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"{config}:{start}: {message}"]


@pytest.mark.parametrize("key", ["waivers", "baseline"])
def test_one_file_options_refuse_a_list(cli, project, key):
    option = f"--{key}"
    refused(
        cli,
        project,
        f"fail-on: high\n{key}: [a.yaml, b.yaml]\n",
        f"2:{len(key) + 3}",
        f"{key}: expected one file name ({option} takes one file), got a list",
    )


def test_empty_policy_list_is_refused(cli, project):
    refused(
        cli,
        project,
        "policies: []\n",
        "1:11",
        "policies: an empty list; list policy files or directories, or remove the key to use the bundled pack",
    )


def test_query_without_the_file_endpoint_is_refused(cli, project):
    refused(
        cli,
        project,
        "policies: [p.yaml]\nquery: {visibility: private}\n",
        "2:1",
        "query: applies only with the file's endpoint, and this file has none: add endpoint:, or give --query "
        "with --endpoint on the command line",
    )


def test_policy_list_still_works(cli, project):
    (project / "q.yaml").write_text(policy_yaml("q"), encoding="utf-8")
    config = project / "imagelint.yaml"
    config.write_text("policies: [p.yaml, q.yaml]\n", encoding="utf-8")
    proc = cli("list", "--config", str(config), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["p", "q"]
