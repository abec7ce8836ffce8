"""Inputs shared by the report tests: the hostile payloads, a fleet and policies that put them into every
field a report shows, and a helper that runs the real CLI for several formats at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import policy_yaml, run_cli

DATA = Path(__file__).resolve().parent / "data"
GOLDEN_INPUT = DATA / "golden"
NOW = "2026-01-01T00:00:00Z"
# Neither the runner's nor the developer's GitHub variables may change what a report looks like here.
NEUTRAL_ENV = {"GITHUB_ACTIONS": "", "GITHUB_WORKSPACE": ""}

# Each payload attacks some syntax; every format must render every one of them inert.
PAYLOADS: tuple[str, ...] = (
    "<script>document.title='PWNED'</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">",
    "</script><script>document.body.setAttribute('data-pwned','breakout')</script>",
    "<svg onload=\"document.body.setAttribute('data-pwned','svg')\"></svg>",
    "]]><injected>cdata</injected>",
    "\"double\" 'single' &amp; quotes",
    "pipe | in | a | table",
    "back`tick ``double`` ```triple",
    "new\nline and\r\ncarriage return",
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\tTAB at start",
    "\rCR at start",
    "[link](http://evil.example/phish)",
    "![img](http://evil.example/track.png)",
    "http://autolink.evil.example www.evil.example",
    "::error title=forged::forged annotation",
    "100% of 50%0A::warning::encoded, with: colons",
    "\x1b[31mANSI red\x1b[0m and bell\x07",
    "right-to-left \u202eoverride",
    "{{ 7 * 7 }} {% if true %}jinja{% endif %}",
    "ünïcödé " + "\U0001d518\U0001d52b\U0001d526" * 300,
    "nul \x00 byte",
    "lone surrogate \ud800 here",
)

HOSTILE_ID = "<script>document.title='PWNED-ID'</script>"
REMEDIATION = {
    "text": "Rename the image <b>now</b> [docs](http://e.test).",
    "commands": {
        "openstack": "openstack image set --name plain-{id} {name}",
        "huaweicloud": "hcloud IMS GlanceUpdateImage --image_id={id} --name={name}",
    },
}


def hostile_images(payloads: tuple[str, ...] = PAYLOADS) -> list[dict[str, Any]]:
    images = [
        {
            "id": f"00000000-0000-4000-8000-{PAYLOADS.index(p):012d}",
            "name": p,
            "visibility": "private",
            "status": "active",
        }
        for p in payloads
    ]
    images.append({"id": HOSTILE_ID, "name": "hostile id", "visibility": "public", "status": "active"})
    return images


def write_hostile(tmp_path: Path, payloads: tuple[str, ...] = PAYLOADS) -> tuple[Path, Path]:
    """A hostile fleet and a policy that fails every image with a message that repeats its name."""
    fleet = tmp_path / "hostile.json"
    # ensure_ascii keeps the lone surrogate as the escape "\ud800", as an API response would carry it
    fleet.write_text(json.dumps({"images": hostile_images(payloads)}), encoding="utf-8")
    policy = tmp_path / "names.yaml"
    policy.write_text(
        policy_yaml(
            "names-are-plain",
            severity="high",
            validations=[
                {
                    "expression": "!has(image.name)",
                    "messageExpression": "'image name is ' + image.name",
                }
            ],
            # the filled commands carry the hostile id and names into every format too
            remediation=REMEDIATION,
        ),
        encoding="utf-8",
    )
    return fleet, policy


def run_formats(
    tmp_path: Path, fleet: Path, policies: Path, formats: list[str], *extra: str, env: dict[str, str] | None = None
) -> tuple[Any, dict[str, str]]:
    """Run one ``imagelint check`` writing every format in ``formats`` with ``--report``; returns the
    completed process and the text of each report."""
    out = tmp_path / "reports"
    args = [arg for fmt in formats for arg in ("--report", f"{fmt}={out / ('report.' + fmt)}")]
    result = run_cli(
        "check",
        "--input",
        str(fleet),
        "--policies",
        str(policies),
        "--now",
        NOW,
        "--engine",
        "cel-python",
        *args,
        *extra,
        env={**NEUTRAL_ENV, **(env or {})},
    )
    texts = {}
    for fmt in formats:
        path = out / f"report.{fmt}"
        texts[fmt] = path.read_bytes().decode("utf-8") if path.exists() else ""
    return result, texts
