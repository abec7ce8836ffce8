"""Helpers for the live-API tests: run the real CLI against the fake IMS server and check that every image
was judged exactly once.

The check is a policy that fails every image (``seen``): its findings then list each evaluated image, so
comparing them with the fleet shows both a lost image and one evaluated twice.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import policy_yaml, run_cli

# Credentials from the developer's shell must not leak into (or change) the tests.
CLEAN_ENV = {
    name: ""
    for name in (
        "OS_AUTH_TOKEN",
        "OS_AUTH_URL",
        "OS_USERNAME",
        "OS_PASSWORD",
        "OS_USER_DOMAIN_NAME",
        "OS_DOMAIN_NAME",
        "OS_PROJECT_NAME",
        "OS_PROJECT_ID",
        "OS_PROJECT_DOMAIN_NAME",
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_SK",
        "HUAWEICLOUD_SDK_PROJECT_ID",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
        "HUAWEICLOUD_SDK_IAM_ENDPOINT",
        "HUAWEICLOUD_SDK_REGIONS_FILE",
        "OS_CLOUD",
        "OS_CLIENT_CONFIG_FILE",
        "OS_CLIENT_SECURE_FILE",
        "OS_REGION_NAME",
        "OS_INTERFACE",
        "OS_APPLICATION_CREDENTIAL_ID",
        "OS_APPLICATION_CREDENTIAL_NAME",
        "OS_APPLICATION_CREDENTIAL_SECRET",
    )
}
CLEAN_ENV.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})


def seen_policy(folder: Path) -> Path:
    """A policy folder with one policy that fails every image (severity info, so only --fail-on decides)."""
    path = folder / "seen-policies"
    path.mkdir(exist_ok=True)
    (path / "seen.yaml").write_text(policy_yaml("seen", severity="info", validations=["false"]), encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**CLEAN_ENV, **(env or {})})


def live_check(
    tmp: Path, *args: str, env: dict[str, str] | None = None, report: str = "report.json"
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``imagelint check ARGS`` with the ``seen`` policy and a JSON report in ``tmp``, never failing the gate
    on findings; the report is ``{}`` when none was written."""
    out = tmp / report
    proc = run(
        "check",
        *args,
        "--policies",
        str(seen_policy(tmp)),
        "--format",
        "json",
        "--output",
        str(out),
        "--fail-on",
        "never",
        env=env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return proc, doc


def check(
    url: str, tmp: Path, *extra: str, env: dict[str, str] | None = None, report: str = "report.json"
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``imagelint check --endpoint URL`` with the ``seen`` policy and a JSON report in ``tmp``."""
    return live_check(tmp, "--endpoint", url, "--retries", "3", *extra, env=env, report=report)


def judged_ids(report: dict[str, Any]) -> Counter[str]:
    """How often each image id was judged (one ``seen`` finding per judgement)."""
    return Counter(f["image"]["id"] for f in report["findings"] if f["policy"] == "seen")


def assert_each_once(report: dict[str, Any], images: list[dict[str, Any]]) -> None:
    """The run saw every image of ``images`` exactly once, and says it is complete."""
    judged = judged_ids(report)
    assert report["source"]["complete"] is True, report["source"]
    assert [i for i, n in judged.items() if n > 1] == [], "an image was evaluated twice"
    assert set(judged) == {img["id"] for img in images}, "an image was lost (or one appeared from nowhere)"
    assert report["source"]["images"] == len(images)
    seen = next(p for p in report["policies"] if p["name"] == "seen")
    assert (seen["fail"], seen["pass"], seen["skip"], seen["error"]) == (len(images), 0, 0, 0)


def assert_incomplete(
    proc: subprocess.CompletedProcess[str],
    report: dict[str, Any],
    images: list[dict[str, Any]],
    *,
    pages_seen: int | None = None,
    page: int = 0,
) -> None:
    """Exit 3, every artefact says incomplete, and what was judged was judged once and is a prefix of the
    listing (``pages_seen`` full pages of ``page`` images when given)."""
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert "INCOMPLETE" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2 + proc.stderr.count("warning:"), proc.stderr
    assert report["source"]["complete"] is False
    assert report["source"]["error"]
    judged = judged_ids(report)
    assert all(n == 1 for n in judged.values()), "an image was evaluated twice"
    assert set(judged) <= {img["id"] for img in images}
    assert report["source"]["images"] == len(judged)
    if pages_seen is not None:
        assert len(judged) == pages_seen * page


def listing(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fake server's default order (created_at desc, id desc): what page N holds."""
    return sorted(images, key=lambda i: (i["created_at"], i["id"]), reverse=True)


def all_text(proc: subprocess.CompletedProcess[str], *paths: Path) -> str:
    """Everything a run left behind: stdout, stderr and the files (all of a folder's files)."""
    parts = [proc.stdout, proc.stderr]
    for path in paths:
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        parts.extend(p.read_text(encoding="utf-8", errors="replace") for p in files if p.exists())
    return "\n".join(parts)


__all__ = [
    "CLEAN_ENV",
    "all_text",
    "assert_each_once",
    "assert_incomplete",
    "check",
    "judged_ids",
    "listing",
    "run",
    "seen_policy",
]
