"""Shared test set-up: the repository root on sys.path (for ``tests.fakeims``, ``tests.fleetgen``) and
small builders for policy files and fleets, so tests state their inputs as short dicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests (tests/test_properties.py): few examples each, so the suite stays quick; no per-example
# deadline (two cores shared by xdist workers make timings noise). HYPOTHESIS_PROFILE=thorough for more.
settings.register_profile("imagelint", max_examples=25, deadline=None, derandomize=False)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "imagelint"))

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def policy_yaml(
    name: str = "p",
    *,
    severity: str = "high",
    validations: list[Any] | None = None,
    match: str | None = None,
    variables: list[dict[str, str]] | None = None,
    params: dict[str, Any] | None = None,
    title: str | None = None,
    remediation: dict[str, Any] | None = None,
) -> str:
    """One ``imagelint/v1`` document built from arguments (validations: expressions or dicts)."""
    doc: dict[str, Any] = {
        "apiVersion": "imagelint/v1",
        "kind": "Policy",
        "metadata": {"name": name, "title": title or f"title of {name}", "severity": severity},
        "spec": {},
    }
    if remediation is not None:
        doc["metadata"]["remediation"] = remediation
    if params is not None:
        doc["spec"]["params"] = params
    if match is not None:
        doc["spec"]["match"] = match
    if variables is not None:
        doc["spec"]["variables"] = variables
    doc["spec"]["validations"] = [v if isinstance(v, dict) else {"expression": v} for v in (validations or ["true"])]
    return json.dumps(doc, indent=2)  # JSON is YAML; keeps quoting of CEL text exact


@pytest.fixture
def write(tmp_path: Path):
    """write("name.yaml", text) -> path, with text dedented."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def fleet_file(tmp_path: Path):
    """fleet_file([images...]) -> path of a {"images": [...]} snapshot."""

    def _fleet(images: list[dict[str, Any]], name: str = "fleet.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"images": images}), encoding="utf-8")
        return path

    return _fleet


def run_cli(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``python -m imagelint`` in a subprocess: exit code, stdout and stderr as a user sees them."""
    import os

    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "imagelint", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
