"""Shards and merge: merging every shard equals the unsharded run; results of another estate are refused;
a missing or repeated shard leaves the estate incomplete. And ``--compare`` over two generated estates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagelint.cli import main
from tests.conftest import policy_yaml, run_cli
from tests.fakeims import FakeIMS, Fault, generate_images

NOW = "2026-12-01T00:00:00Z"


@pytest.fixture(scope="module")
def servers():
    """Three fleets and one endpoint that always answers 403."""
    with (
        FakeIMS(generate_images(40, seed=21)) as a,
        FakeIMS(generate_images(25, seed=22)) as b,
        FakeIMS(generate_images(60, seed=23), default_limit=20) as c,
        FakeIMS([], faults=[Fault("status", status=403, times=None)]) as denied,
    ):
        yield [a.url, b.url, c.url, denied.url]


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("policies")
    (folder / "no-public.yaml").write_text(
        policy_yaml("no-public", validations=["image.visibility != 'public'"]), encoding="utf-8"
    )
    (folder / "min-disk.yaml").write_text(
        policy_yaml("min-disk", severity="low", validations=["image.min_disk >= 40"]), encoding="utf-8"
    )
    return folder


def comparable(doc: dict) -> dict:
    """What must be equal between the merged and the unsharded run (timings and file names aside)."""

    def target(t: dict) -> dict:
        # each request of a failing target has its own X-Request-Id
        error = t["error"] and re.sub(r"X-Request-Id: \w+", "X-Request-Id: *", t["error"])
        return {**{k: v for k, v in t.items() if k != "seconds"}, "error": error}

    targets = sorted((target(t) for t in doc["targets"]), key=lambda t: t["name"])
    findings = sorted(json.dumps(f, sort_keys=True) for f in doc["findings"])
    return {
        "targets": targets,
        "findings": findings,
        "summary": doc["summary"],
        "policies": doc["policies"],
        "complete": doc["source"]["complete"],
    }


def in_process(capsys, *args: str) -> int:
    code = main(list(args))
    capsys.readouterr()
    return code


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.integers(0, 3), min_size=1, max_size=7),
    total=st.integers(1, 4),
)
def test_merging_all_shards_equals_the_unsharded_run(tmp_path_factory, capsys, servers, policies, picks, total):
    tmp = tmp_path_factory.mktemp("estate")
    entries = "\n".join(f'  - {{name: t{i}, endpoint: "{servers[s]}", project: p{i}}}' for i, s in enumerate(picks))
    targets = tmp / "targets.yaml"
    targets.write_text(f"defaults: {{retries: 0}}\ntargets:\n{entries}\n", encoding="utf-8")
    common = ["--targets", str(targets), "--policies", str(policies), "--now", NOW, "--format", "json"]
    whole = in_process(capsys, "audit", *common, "--output", str(tmp / "all.json"))
    shards = []
    for i in range(1, total + 1):
        out = tmp / f"shard-{i}.json"
        in_process(capsys, "audit", *common, "--shard", f"{i}/{total}", "--output", str(out))
        shards.append(str(out))
    merged = in_process(capsys, "merge", *shards, "--format", "json", "--output", str(tmp / "merged.json"))
    read = lambda name: json.loads((tmp / name).read_text(encoding="utf-8"))  # noqa: E731
    assert merged == whole
    assert comparable(read("merged.json")) == comparable(read("all.json"))


def _estate(
    tmp_path: Path, servers: list[str], policies: Path | str, *extra: str, name: str = "r.json", more: str = ""
) -> Path:
    entries = "\n".join(f'  - {{name: t{i}, endpoint: "{url}"}}' for i, url in enumerate(servers[:3])) + more
    targets = tmp_path / "targets.yaml"
    targets.write_text(f"targets:\n{entries}\n", encoding="utf-8")
    out = tmp_path / name
    run = run_cli(
        "audit", "--targets", str(targets), "--policies", str(policies), "--now", NOW, "--format", "json",
        "--output", str(out), *extra,
    )  # fmt: skip
    assert run.returncode in (1, 3), run.stderr
    return out


def test_missing_and_repeated_shards_make_the_estate_incomplete(tmp_path, servers, policies):
    one = _estate(tmp_path, servers, policies, "--shard", "1/3", name="s1.json")
    two = _estate(tmp_path, servers, policies, "--shard", "2/3", name="s2.json")
    run = run_cli("merge", str(one), str(two), "--format", "json")
    assert run.returncode == 3
    assert "shard 3 of 3 missing" in run.stderr
    run = run_cli("merge", str(one), str(two), str(two), "--format", "json")
    assert run.returncode == 3
    assert "shard 2 of 3 given twice" in run.stderr and "shard 3 of 3 missing" in run.stderr
    assert (
        json.loads(run.stdout)["summary"]["images"]
        == json.loads(one.read_text())["summary"]["images"] + json.loads(two.read_text())["summary"]["images"]
    )


def test_results_of_another_estate_are_refused(tmp_path, servers, policies):
    one = _estate(tmp_path, servers, policies, "--shard", "1/2", name="s1.json")
    other = tmp_path / "other"
    other.mkdir()
    only = other / "policies"
    only.mkdir()
    (only / "no-public.yaml").write_text((policies / "no-public.yaml").read_text(), encoding="utf-8")
    two = _estate(other, servers, only, "--shard", "2/2", name="s2.json")
    run = run_cli("merge", str(one), str(two))
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"{two}: made with different policies and params than {one}: the results are not of one estate"
    )
    three = _estate(
        other, servers, policies, "--shard", "2/2", name="s3.json", more="\n  - {name: x, endpoint: http://h}"
    )
    run = run_cli("merge", str(one), str(three))
    assert run.returncode == 2 and "made with different targets file" in run.stderr
    check_result = tmp_path / "check.json"
    run_cli("check", "--sample", "--format", "json", "--output", str(check_result))
    run = run_cli("merge", str(one), str(check_result))
    assert run.returncode == 2 and "not an audit result" in run.stderr
    (tmp_path / "junk.json").write_text("{\n  nope", encoding="utf-8")
    run = run_cli("merge", str(tmp_path / "junk.json"))
    assert run.returncode == 2
    assert run.stderr.strip().startswith(f"{tmp_path / 'junk.json'}:2:3: not a JSON result")


def test_compare_two_estates(tmp_path, policies):
    fleet_a = [dict(i, min_disk=40) for i in generate_images(30, seed=31)]
    fleet_b = [dict(i, min_disk=40) for i in generate_images(20, seed=32)]
    public_a = [i for i in fleet_a if i["visibility"] == "public"]
    public_b = [i for i in fleet_b if i["visibility"] == "public"]
    assert len(public_a) >= 3 and public_b
    with FakeIMS(fleet_a) as a, FakeIMS(fleet_b) as b, FakeIMS(fleet_b) as c:
        urls = [a.url, b.url, c.url]
        last_night = _estate(tmp_path, urls, policies, name="last.json")
        # tonight: in t0 one public image is fixed (made private), one removed, one new public image added;
        # t1 answers 403; t2 is unchanged
        fixed, removed = public_a[0], public_a[1]
        a.add_image(dict(fixed, visibility="private"))
        a.remove_image(removed["id"])
        added = dict(public_a[2], id="00000000-0000-4000-8000-00000000beef", name="new-public")
        a.add_image(added)
        b.add_fault(Fault("status", status=403, times=None))
        tonight = _estate(
            tmp_path,
            urls,
            policies,
            "--compare",
            str(last_night),
            "--report",
            f"sarif={tmp_path / 'r.sarif'}",
            name="tonight.json",
        )
    doc = json.loads(tonight.read_text(encoding="utf-8"))
    c = doc["comparison"]
    assert c["previous"] == str(last_night)
    assert (c["new"], c["resolved"], c["unknown"]) == (1, 2, len(public_b))
    assert c["unchanged"] == (len(public_a) - 2) + len(public_b)
    assert sorted(f["image"]["id"] for f in c["resolved_findings"]) == sorted([fixed["id"], removed["id"]])
    assert {f["target"] for f in c["unknown_findings"]} == {"t1"}  # failed tonight: never "resolved"
    assert c["by_target"]["t0"] == {"new": 1, "unchanged": len(public_a) - 2, "resolved": 2, "unknown": 0}
    assert c["by_target"]["t1"] == {"new": 0, "unchanged": 0, "resolved": 0, "unknown": len(public_b)}
    assert c["by_policy"]["no-public"]["new"] == 1
    states = {f["image"]["id"]: f["state"] for f in doc["findings"] if f["target"] == "t0"}
    assert states[added["id"]] == "new" and set(states.values()) == {"new", "unchanged"}
    sarif = json.loads((tmp_path / "r.sarif").read_text(encoding="utf-8"))
    results = sarif["runs"][0]["results"]
    assert sum(1 for r in results if r.get("baselineState") == "new") == 1
    assert sum(1 for r in results if r.get("baselineState") == "absent") == 2
