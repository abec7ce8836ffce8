"""The HTML report in a real headless Chromium: no script from an image name runs, the page's own script
does (so its CSP hash is right), and the numbers a reader sees equal the JSON result of the same run.

The sample-fleet test also takes the screenshot in the docs: with ``IMAGELINT_UPDATE_GOLDEN=1`` it copies its
PNG to docs/html-report.png.
"""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser

from tests import browser
from tests.conftest import ROOT, run_cli
from tests.reportdata import NEUTRAL_ENV, NOW, run_formats, write_hostile


class _Dom(HTMLParser):
    """Title, body attributes, ``data-metric`` values and elements of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.body: dict[str, str | None] = {}
        self.metrics: dict[str, str] = {}
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "body":
            self.body = attributes
        key = attributes.get("data-metric") or attributes.get("id")
        self._open.append(
            f"metric:{attributes['data-metric']}" if attributes.get("data-metric") else f"id:{key}" if key else tag
        )

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        if not self._open:
            return
        top = self._open[-1]
        if top == "title":
            self.title += data
        elif top.startswith("metric:"):
            self.metrics[top[7:]] = self.metrics.get(top[7:], "") + data
        elif top.startswith("id:"):
            self.texts[top[3:]] = self.texts.get(top[3:], "") + data


def _dom(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


def _check_numbers(dom: _Dom, report: dict) -> None:
    summary = report["summary"]
    for key in ("images", "policies", "pass", "fail", "error", "skip", "waived", "baselined"):
        assert int(dom.metrics[key]) == summary[key], key
    gating = sum(1 for f in report["findings"] if not f["waived"] and not f["baselined"])  # --fail-on info below
    assert int(dom.metrics["gating"]) == gating


def test_hostile_names_run_no_script(tmp_path):
    fleet, policy = write_hostile(tmp_path)
    result, texts = run_formats(tmp_path, fleet, policy, ["html", "json"], "--fail-on", "info")
    assert result.returncode == 1, result.stderr
    page = tmp_path / "reports" / "report.html"
    dom = _dom(browser.dump_dom(page, tmp_path / "profile"))
    # what the payloads would have changed, had one run
    assert dom.title == "imagelint report: FAIL"
    assert "data-pwned" not in dom.body
    assert "PWNED" not in dom.title
    # what our own script changes: it ran, so the CSP let it and only it run
    assert dom.body.get("data-script") == "ready"
    assert dom.texts["policy-count"] == "1 of 1 policies shown"
    tags = [tag for tag, _ in dom.elements]
    assert tags.count("script") == 1 and "img" not in tags and "injected" not in tags
    assert not [a for _, attrs in dom.elements for a in attrs if a.startswith("on")]
    _check_numbers(dom, json.loads(texts["json"]))
    browser.screenshot(page, tmp_path / "hostile.png", tmp_path / "profile")


def test_sample_fleet_numbers_and_screenshot(tmp_path):
    out = tmp_path / "reports"
    result = run_cli(
        "check",
        "--sample",
        "--now",
        NOW,
        "--fail-on",
        "info",
        "--report",
        f"html={out / 'r.html'}",
        "--report",
        f"json={out / 'r.json'}",
        env=NEUTRAL_ENV,
    )
    assert result.returncode == 1, result.stderr
    page = out / "r.html"
    dom = _dom(browser.dump_dom(page, tmp_path / "profile"))
    report = json.loads((out / "r.json").read_text(encoding="utf-8"))
    _check_numbers(dom, report)
    assert dom.body.get("data-script") == "ready"
    assert dom.texts["verdict"] == "FAIL"
    n = len(report["policies"])
    assert dom.texts["policy-count"] == f"{n} of {n} policies shown"
    png = browser.screenshot(page, tmp_path / "html-report.png", tmp_path / "profile")
    assert png.stat().st_size > 20_000  # a rendered page, not a blank one
    if os.environ.get("IMAGELINT_UPDATE_GOLDEN") == "1":
        shutil.copyfile(png, ROOT / "docs" / "html-report.png")


class _Rows(HTMLParser):
    """The policy table's rows in DOM order: (name, hidden, data-fail)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, bool, int]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-name" in a:
            self.rows.append((a["data-name"], "hidden" in a, int(a["data-fail"])))


def test_policy_table_sorts_and_filters_from_a_link(tmp_path):
    out = tmp_path / "r.html"
    result = run_cli("check", "--sample", "--now", NOW, "--format", "html", "--output", str(out), env=NEUTRAL_ENV)
    assert result.returncode == 1, result.stderr
    rows = _Rows()
    rows.feed(browser.dump_dom(out, tmp_path / "profile", fragment="q=owner&failing=1&sort=fail&order=desc"))
    shown = [(name, fail) for name, hidden, fail in rows.rows if not hidden]
    assert [name for name, _ in shown] == ["shared-owner-allowed", "public-owner-allowed"]
    assert [fail for _, fail in shown] == sorted((fail for _, fail in shown), reverse=True)
    assert len(rows.rows) == 31  # filtered rows are hidden, not removed
