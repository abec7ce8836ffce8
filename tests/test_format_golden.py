"""Golden files for the textual formats: a small fixed fleet (tests/data/golden) with ``--now`` and the
engine pinned, so every change in what markdown, JUnit, GitHub annotations and text look like is reviewed
as a diff of tests/golden/*. Regenerate with ``IMAGELINT_UPDATE_GOLDEN=1 python -m pytest
tests/test_format_golden.py`` and read the diff before committing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.reportdata import GOLDEN_INPUT, NEUTRAL_ENV, NOW

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("IMAGELINT_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("fmt, suffix", [("markdown", "md"), ("junit", "xml"), ("github", "txt"), ("text", "txt")])
def test_golden(fmt, suffix):
    # run inside the golden folder: paths in the reports are then the same on every machine
    result = run_cli(
        "check",
        "--input",
        "fleet.json",
        "--policies",
        "policies",
        "--now",
        NOW,
        "--engine",
        "cel-python",
        "--format",
        fmt,
        cwd=GOLDEN_INPUT,
        env=NEUTRAL_ENV,
    )
    assert result.returncode == 1, result.stderr
    golden = GOLDEN / f"small-fleet.{fmt}.{suffix}"
    if UPDATE:
        golden.write_text(result.stdout, encoding="utf-8", newline="")
    assert golden.exists(), f"{golden} missing: run with IMAGELINT_UPDATE_GOLDEN=1 to create it"
    assert result.stdout == golden.read_text(encoding="utf-8")
