"""``imagelint audit``: an estate of fake IMS servers on loopback, each with its own fleet, latency or fault.

A target that hangs, one that answers 403, one whose pagination loops: each is incomplete with its reason,
the others are judged in full, and the run exits 3. Credentials come by reference (``token_env``) and never
reach a report; the per-endpoint limit holds under load.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import policy_yaml, run_cli
from tests.fakeims import FakeIMS, Fault, generate_images
from tests.test_clouds import FLEET, PASSWORD, clouds_yaml, iam_server, password_cloud

NOW = "2026-12-01T00:00:00Z"
ENV = {"GITHUB_ACTIONS": "", "OS_AUTH_TOKEN": "", "HUAWEICLOUD_SDK_AK": "", "HUAWEICLOUD_SDK_SK": ""}


def public_count(images: list[dict]) -> int:
    return sum(1 for i in images if i.get("visibility") == "public")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "no-public.yaml"
    path.write_text(policy_yaml("no-public", validations=["image.visibility != 'public'"]), encoding="utf-8")
    return path


def targets_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def audit(tmp_path: Path, targets: Path, policy: Path, *extra: str, env: dict[str, str] | None = None):
    out = tmp_path / "r.json"
    run = run_cli(
        "audit",
        "--targets",
        str(targets),
        "--policies",
        str(policy),
        "--now",
        NOW,
        "--format",
        "json",
        "--output",
        str(out),
        *extra,
        env={**ENV, **(env or {})},
    )
    doc = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    return run, doc


def test_failing_targets_are_incomplete_and_the_others_complete(tmp_path, policy):
    fleets = {name: generate_images(n, seed=s) for name, n, s in (("slow", 120, 1), ("fast", 40, 2))}
    with (
        FakeIMS(fleets["slow"], latency=0.05, default_limit=25) as slow,
        FakeIMS(fleets["fast"]) as fast,
        FakeIMS(generate_images(10, seed=3), faults=[Fault("status", status=403, style="apigw", times=None)]) as denied,
        FakeIMS(generate_images(80, seed=4), faults=[Fault("next_loop", page=1, times=None)]) as looping,
        FakeIMS(generate_images(10, seed=5), faults=[Fault("latency", seconds=30, times=None)]) as hanging,
        FakeIMS(generate_images(10, seed=6), faults=[Fault("status", status=503, times=None)]) as failing,
    ):
        targets = targets_file(
            tmp_path,
            f"""
            defaults: {{retries: 0, labels: {{env: prod}}}}
            targets:
              - {{name: slow, endpoint: "{slow.url}", page_size: 25}}
              - {{name: fast, endpoint: "{fast.url}"}}
              - {{name: denied, endpoint: "{denied.url}"}}
              - {{name: looping, endpoint: "{looping.url}", page_size: 20}}
              - {{name: hanging, endpoint: "{hanging.url}", timeout: 0.5}}
              - {{name: failing, endpoint: "{failing.url}", retries: 1}}
            """.replace("\n            ", "\n"),
        )
        started = time.monotonic()
        run, doc = audit(tmp_path, targets, policy)
        took = time.monotonic() - started
    assert run.returncode == 3, run.stderr
    assert took < 20  # the hanging target costs its timeout, not the run
    by = {t["name"]: t for t in doc["targets"]}
    assert [t["name"] for t in doc["targets"]] == ["slow", "fast", "denied", "looping", "hanging", "failing"]
    for name in ("slow", "fast"):
        assert by[name]["complete"] and by[name]["error"] is None
        assert by[name]["images"] == len(fleets[name])
        assert by[name]["verdicts"]["fail"] == public_count(fleets[name])
        assert sum(1 for f in doc["findings"] if f["target"] == name) == public_count(fleets[name])
    assert "HTTP 403" in by["denied"]["error"]
    assert "pagination loop" in by["looping"]["error"]
    assert "timed out" in by["hanging"]["error"].lower() or "timeout" in by["hanging"]["error"].lower()
    assert "HTTP 503" in by["failing"]["error"]  # persistent 5xx: retried, then incomplete
    for name in ("denied", "looping", "hanging", "failing"):
        assert not by[name]["complete"]
        assert f"imagelint: target {name}: INCOMPLETE: " in run.stderr
    assert doc["source"]["complete"] is False
    assert doc["source"]["error"].startswith("4 of 6 targets incomplete")
    assert doc["summary"]["images"] == sum(t["images"] for t in doc["targets"])


def test_a_complete_estate_exits_1_with_findings_and_0_without(tmp_path, policy):
    private = [dict(i, visibility="private") for i in generate_images(30, seed=7)]
    with FakeIMS(generate_images(30, seed=6)) as mixed, FakeIMS(private) as clean:
        targets = targets_file(
            tmp_path,
            f'targets:\n  - {{name: mixed, endpoint: "{mixed.url}"}}\n  - {{name: clean, endpoint: "{clean.url}"}}\n',
        )
        run, doc = audit(tmp_path, targets, policy)
        assert run.returncode == 1, run.stderr
        assert all(t["complete"] for t in doc["targets"])
        run, doc = audit(tmp_path, targets, policy, "--target", "clean")
        assert run.returncode == 0, run.stderr
        assert [t["name"] for t in doc["targets"]] == ["clean"]


def test_projects_expand_and_labels_select(tmp_path, policy):
    with FakeIMS(generate_images(20, seed=8)) as srv:
        targets = targets_file(
            tmp_path,
            f"""defaults:
  endpoint: "{srv.url}"
  labels: {{team: core}}
targets:
  - name: prod
    projects: [web, batch]
    labels: {{env: prod}}
  - name: lab
    project_id: 0123abcd
    labels: {{env: lab}}
""",
        )
        run, doc = audit(tmp_path, targets, policy, "--label", "env=prod")
    assert run.returncode == 1, run.stderr
    assert [(t["name"], t["project"], t["labels"]) for t in doc["targets"]] == [
        ("prod/web", "web", {"team": "core", "env": "prod"}),
        ("prod/batch", "batch", {"team": "core", "env": "prod"}),
    ]


def test_token_by_reference_never_reaches_the_report(tmp_path, policy):
    secret = "tok-s3cr3t-0123456789"
    with FakeIMS(generate_images(15, seed=9), auth="token", token=secret) as srv:
        targets = targets_file(
            tmp_path, f'targets:\n  - {{name: t, endpoint: "{srv.url}", auth: {{token_env: LAB_TOKEN}}}}\n'
        )
        missing, _ = audit(tmp_path, targets, policy)
        assert missing.returncode == 2
        assert (
            missing.stderr.strip()
            .splitlines()[-1]
            .endswith("target t: auth.token_env: environment variable LAB_TOKEN is not set")
        )
        assert srv.image_requests == []  # refused before any request
        run, doc = audit(
            tmp_path, targets, policy, "--report", f"html={tmp_path / 'r.html'}", env={"LAB_TOKEN": secret}
        )
        assert run.returncode == 1, run.stderr
        # the process's own OS_AUTH_TOKEN is not what the target uses
        assert {r.headers["X-Auth-Token"] for r in srv.image_requests} == {secret}
    assert doc["targets"][0]["complete"]
    for text in (run.stderr, (tmp_path / "r.json").read_text(), (tmp_path / "r.html").read_text()):
        assert secret not in text


def test_per_endpoint_limit(tmp_path, policy):
    latency = 0.3
    with FakeIMS(generate_images(5, seed=10), latency=latency) as srv:
        names = "\n".join(f"  - {{name: p{i}, project: p{i}}}" for i in range(6))
        targets = targets_file(tmp_path, f'defaults: {{endpoint: "{srv.url}"}}\ntargets:\n{names}\n')
        run, doc = audit(tmp_path, targets, policy, "--jobs", "6", "--per-endpoint", "2")
        times = sorted(r.time for r in srv.image_requests)
    assert run.returncode == 1, run.stderr
    assert len(times) == 6
    # no more than two requests are ever in flight: any three arrivals span at least one response time
    assert all(times[i + 2] - times[i] >= latency * 0.8 for i in range(len(times) - 2)), times


def test_a_cloud_target_naming_an_unknown_cloud_is_one_line_at_its_place(tmp_path, policy):
    targets = targets_file(tmp_path, "targets:\n  - {name: prod, cloud: prod, regions: [eu-de, eu-nl]}\n")
    home = tmp_path / "home"
    home.mkdir()
    run, _ = audit(tmp_path, targets, policy, env={"HOME": str(home), "OS_CLIENT_CONFIG_FILE": str(home / "none.yaml")})
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "targets.yaml:2:5: target prod/eu-de: --cloud prod: no such cloud" in lines[0]


def test_a_cloud_target_reads_clouds_yaml_and_the_catalog(tmp_path, policy):
    """A target named by its clouds.yaml cloud: Keystone-v3 auth and the image endpoint from the token's
    catalog (the fake IAM beside the fake IMS), judged like an endpoint target."""
    with iam_server() as srv:
        env = clouds_yaml(tmp_path, password_cloud(srv))
        targets = targets_file(tmp_path, "targets:\n  - {name: prod, cloud: prod}\n")
        run, doc = audit(tmp_path, targets, policy, env=env)
        tokens = [r for r in srv.requests if r.path == "/v3/auth/tokens"]
        sent = {r.headers["X-Auth-Token"] for r in srv.image_requests}
    assert run.returncode == 1, run.stderr
    (target,) = doc["targets"]
    assert target["name"] == "prod" and target["cloud"] == "prod" and target["complete"]
    assert target["images"] == len(FLEET)
    # one token: the one got at start-up to find the endpoint in its catalog also lists the images
    assert len(tokens) == 1 and sent == set(srv.issued_tokens), (len(tokens), sent)
    assert PASSWORD not in run.stderr + json.dumps(doc)


def test_a_target_that_lists_no_image_is_incomplete_unless_allowed(tmp_path, policy):
    """check's empty-fleet rule, per target: an empty project is what a mistyped project id or a token scoped
    to the wrong project looks like, so it is incomplete (exit 3) unless --allow-empty, --min-images 0 or
    the target's own min_images: 0 says it is expected; the other targets are complete either way."""
    with FakeIMS(generate_images(10, seed=20)) as full, FakeIMS([]) as empty:
        text = f'targets:\n  - {{name: full, endpoint: "{full.url}"}}\n  - {{name: empty, endpoint: "{empty.url}"}}\n'
        targets = targets_file(tmp_path, text)
        run, doc = audit(tmp_path, targets, policy)
        assert run.returncode == 3, run.stderr
        by = {t["name"]: t for t in doc["targets"]}
        assert by["full"]["complete"] and by["full"]["images"] == 10
        assert not by["empty"]["complete"]
        assert by["empty"]["error"] == (
            "no image was judged: the source listed none (--allow-empty or min_images: 0 if an empty fleet is expected)"
        )
        assert f"imagelint: target empty: INCOMPLETE: {by['empty']['error']}" in run.stderr
        assert doc["source"]["error"].startswith("1 of 2 targets incomplete: empty: no image was judged")

        for flags in (["--allow-empty"], ["--min-images", "0"]):
            run, doc = audit(tmp_path, targets, policy, *flags)
            assert run.returncode == 1, run.stderr  # complete: the full target's public images fail
            assert all(t["complete"] for t in doc["targets"])

        # the floor is each target's, not the estate's: 10 images in all does not satisfy --min-images 5
        run, doc = audit(tmp_path, targets, policy, "--min-images", "5")
        assert run.returncode == 3, run.stderr
        by = {t["name"]: t for t in doc["targets"]}
        assert by["full"]["complete"]
        assert by["empty"]["error"] == "0 images judged, fewer than --min-images 5"

        # the target's own min_images wins over the command line, in both directions
        text = (
            f'targets:\n  - {{name: full, endpoint: "{full.url}", min_images: 11}}\n'
            f'  - {{name: empty, endpoint: "{empty.url}", min_images: 0}}\n'
        )
        targets = targets_file(tmp_path, text)
        run, doc = audit(tmp_path, targets, policy, "--allow-empty")
        assert run.returncode == 3, run.stderr
        by = {t["name"]: t for t in doc["targets"]}
        assert by["empty"]["complete"] and by["empty"]["images"] == 0
        assert by["full"]["error"] == "10 images judged, fewer than min_images: 11"


def test_min_images_in_the_targets_file_is_checked_at_its_place(tmp_path, policy):
    targets = targets_file(tmp_path, 'targets:\n  - {name: t, endpoint: "http://127.0.0.1:9", min_images: -1}\n')
    run, _ = audit(tmp_path, targets, policy)
    assert run.returncode == 2
    assert run.stderr.strip().endswith("targets.yaml:2:59: targets[0].min_images: expected 0 or more"), run.stderr


def test_allow_empty_from_the_config_file_is_announced_and_applies_per_target(tmp_path, policy):
    with FakeIMS([]) as empty:
        targets = targets_file(tmp_path, f'targets:\n  - {{name: empty, endpoint: "{empty.url}"}}\n')
        config = tmp_path / "imagelint.yaml"
        config.write_text("allow-empty: true\n", encoding="utf-8")
        run, doc = audit(tmp_path, targets, policy, "--config", str(config))
    assert run.returncode == 0, run.stderr
    assert doc["targets"][0]["complete"]
    assert "imagelint.yaml:1:14: allow-empty: a run that judged no image passes" in run.stderr


def test_unknown_target_has_a_did_you_mean(tmp_path, policy):
    targets = targets_file(tmp_path, 'targets:\n  - {name: production, endpoint: "http://127.0.0.1:9"}\n')
    run, _ = audit(tmp_path, targets, policy, "--target", "prodution")
    assert run.returncode == 2
    assert run.stderr.strip() == "--target 'prodution': no such target in the targets file; did you mean 'production'?"


def start_audit(targets: Path, policy: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "imagelint", "audit", "--targets", str(targets), "--policies", str(policy)]
        + ["--now", NOW, "--format", "json", "--output", str(out), *extra],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ENV},
    )


def wait_for_requests(srv: FakeIMS, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(srv.image_requests) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(srv.image_requests) >= n, "the audit never reached the slow server"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_what_was_judged_marked_incomplete_and_exits_128_plus_it(tmp_path, policy, sig, code):
    with FakeIMS(generate_images(10, seed=11)) as quick, FakeIMS(generate_images(400, seed=12), latency=0.2) as slow:
        targets = targets_file(
            tmp_path,
            f'targets:\n  - {{name: quick, endpoint: "{quick.url}"}}\n'
            f'  - {{name: slow, endpoint: "{slow.url}", page_size: 10}}\n'
            f'  - {{name: later, endpoint: "{quick.url}"}}\n',
        )
        out = tmp_path / "r.json"
        # --jobs 1: the targets run one after another, so "later" is never started
        proc = start_audit(targets, policy, out, "--jobs", "1")
        wait_for_requests(slow, 3)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    by = {t["name"]: t for t in doc["targets"]}
    assert by["quick"]["complete"] and by["quick"]["images"] == 10
    assert not by["slow"]["complete"] and "interrupted" in by["slow"]["error"]
    assert 0 < by["slow"]["images"] < 400  # what was judged of it is kept
    assert not by["later"]["complete"] and by["later"]["error"] == "not started: the run was interrupted"
    name = signal.Signals(sig).name
    assert doc["source"]["complete"] is False and doc["source"]["error"].startswith(f"stopped by {name}; ")
    assert f"imagelint: stopped by {name}: the report holds what was judged, marked incomplete" in stderr
    assert stderr.rstrip().endswith(f"; exit {code}")
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_check_exits_with_the_same_codes_on_the_same_signals(tmp_path, policy, sig, code):
    with FakeIMS(generate_images(400, seed=12), latency=0.2) as slow:
        proc = subprocess.Popen(
            [sys.executable, "-m", "imagelint", "check", "--endpoint", slow.url, "--page-size", "10"]
            + ["--policies", str(policy), "--now", NOW, "--format", "json", "--output", str(tmp_path / "r.json")],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **ENV},
        )
        wait_for_requests(slow, 3)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    name = signal.Signals(sig).name
    word = "interrupted" if sig == signal.SIGINT else "terminated"
    assert stderr.strip().splitlines()[-1] == f"imagelint: {word} ({name}): no report; exit {code}"
    assert not (tmp_path / "r.json").exists()


def test_the_audit_asks_glibc_for_two_malloc_arenas_unless_told_otherwise():
    import sys

    from imagelint.cli.audit import fewer_malloc_arenas

    assert fewer_malloc_arenas({"MALLOC_ARENA_MAX": "8"}) is False  # the operator's own setting is kept
    assert fewer_malloc_arenas({}) is sys.platform.startswith("linux")  # glibc here: mallopt() accepted it
