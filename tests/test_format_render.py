"""Reporters on hand-built results: what the CLI cannot easily produce in one run (waived, baselined,
expired and stale waivers, fixed baseline entries, an incomplete run without findings) rendered by every
format. Waived and baselined findings must be shown apart and never count against the gate; an incomplete
run must say INCOMPLETE and never show a pass verdict."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from imagelint.formats import OutputFormat
from imagelint.judgement.result import (
    BaselineKey,
    Finding,
    ImageRef,
    PolicyInfo,
    RunResult,
    RunSummary,
    Severity,
    SourceInfo,
    Status,
    Waiver,
)

WAIVER = Waiver(
    policy="p-high",
    reason="legacy image, replaced in Q3",
    expires="2026-09-30",
    owner="ops",
    selector="id=w-1",
    file="waivers.yaml",
    line=4,
)
EXPIRED = Waiver(
    policy="p-high", reason="old", expires="2025-01-01", selector="name=old-*", file="waivers.yaml", line=9
)
STALE = Waiver(policy="p-low", reason="gone", expires="2026-12-31", selector="id=gone-1", file="waivers.yaml", line=14)


def _finding(image_id: str, name: str, **extra) -> Finding:
    return Finding(
        policy="p-high",
        severity=Severity.HIGH,
        status=Status.FAIL,
        validation=0,
        message=f"{name} is bad",
        image=ImageRef(id=image_id, name=name, visibility="private", owner="o"),
        attributes={"name": name},
        **extra,
    )


def make_result(*, findings: tuple[Finding, ...] | None = None, complete: bool = True) -> RunResult:
    if findings is None:
        findings = (
            _finding("o-1", "open-image"),
            _finding("w-1", "waived-image", waiver=WAIVER),
            _finding("b-1", "baselined-image", baselined=True),
        )
    policies = (
        PolicyInfo(
            name="p-high",
            title="High policy",
            severity=Severity.HIGH,
            description="why it matters",
            references=("ref",),
            labels={},
            file="policies/p-high.yaml",
            line=1,
            passed=2,
            failed=len(findings),
        ),
        PolicyInfo(
            name="p-low",
            title="Low policy",
            severity=Severity.LOW,
            description="",
            references=(),
            labels={},
            file="policies/p-low.yaml",
            line=1,
            passed=5,
        ),
    )
    by_severity = {s.label: 0 for s in sorted(Severity, reverse=True)}
    by_severity["high"] = len(findings)
    return RunResult(
        tool_version="0.1.0",
        engine="cel-python",
        now="2026-01-01T00:00:00Z",
        source=SourceInfo(
            kind="api",
            location="https://ims.example.test",
            images=5,
            complete=complete,
            error=None if complete else "page 3: HTTP 503 after 5 tries",
            details={"endpoint": "https://ims.example.test", "query": {"visibility": "private"}},
        ),
        summary=RunSummary(
            images=5, policies=2, passed=7, failed=len(findings), skipped=0, errored=0, by_severity=by_severity
        ),
        policies=policies,
        findings=findings,
        expired_waivers=(EXPIRED,),
        stale_waivers=(STALE,),
        fixed=(BaselineKey(policy="p-low", image_id="fixed-1", validation=0),),
        baseline_file="baseline.json",
    )


def render(fmt: str, result: RunResult) -> str:
    return OutputFormat(fmt).reporter().render(result)


ALL = [f.value for f in OutputFormat]


def test_text_shows_suppressed_findings_apart():
    text = render("text", make_result())
    listing, _, rest = text.partition("Waived (1, not failing the gate):")
    assert "o-1 open-image" in listing and "waived-image" not in listing and "baselined-image" not in listing
    assert "  p-high w-1 waived-image: legacy image, replaced in Q3 (until 2026-09-30)" in rest
    assert "Baselined (1, in baseline.json, not failing the gate):\n  p-high: 1" in rest
    assert "expired waiver waivers.yaml:9 p-high name=old-* (expired 2025-01-01): no longer applies" in rest
    assert "stale waiver waivers.yaml:14 p-low id=gone-1: matched no finding" in rest
    assert "Fixed since the baseline (1):\n  p-low fixed-1" in rest
    assert text.rstrip().endswith("FAIL: 1 finding at or above --fail-on low.")


def test_markdown_counts_suppressed_findings_apart():
    md = render("markdown", make_result())
    assert "**1** finding at or above" in md
    assert "#### p\\-high (high): 1 finding\n" in md and "waived-image" not in md
    assert "- 1 waived finding\n- 1 baselined finding" in md
    assert "- expired waiver ` p-high ` ` name=old-* `" in md and "- stale waiver ` p-low `" in md
    assert "- 1 baseline entry fixed since the baseline was written" in md


def test_html_shows_suppressed_findings_in_their_own_sections():
    html = render("html", make_result())
    failing = html.split('<details id="policy-1"', 1)[1].split("</details>", 1)[0]
    assert "open-image" in failing and "waived-image" not in failing
    waived = html.split('<details id="waived">', 1)[1].split("</details>", 1)[0]
    assert "waived-image" in waived and "waived: legacy image, replaced in Q3 (until 2026-09-30)" in waived
    assert "baselined-image" in html.split('<details id="baselined">', 1)[1].split("</details>", 1)[0]
    for section in ('id="expired-waivers"', 'id="stale-waivers"', 'id="fixed"'):
        assert section in html
    assert '<div class="num" data-metric="gating">1</div>' in html
    # the live API's endpoint and query are in the run header
    assert "https://ims.example.test" in html and "{&#34;visibility&#34;: &#34;private&#34;}" in html


def test_junit_skips_suppressed_images():
    xml = render("junit", make_result())
    assert '<skipped message="waived: legacy image, replaced in Q3">' in xml
    assert '<skipped message="baselined: recorded in the baseline">' in xml
    assert 'failures="1" errors="0" skipped="2"' in xml
    assert 'hostname="ims.example.test"' in xml  # the API host the images came from


def test_sarif_marks_suppressions():
    log = json.loads(render("sarif", make_result()))
    results = {r["properties"]["image"]["id"]: r for r in log["runs"][0]["results"]}
    assert "suppressions" not in results["o-1"]
    assert results["w-1"]["suppressions"][0]["justification"] == "legacy image, replaced in Q3"
    assert results["w-1"]["suppressions"][0]["location"]["physicalLocation"]["region"]["startLine"] == 4
    assert results["b-1"]["suppressions"] == [{"kind": "external", "status": "accepted", "justification": "baselined"}]


def test_csv_flags_suppressed_rows():
    rows = list(csv.DictReader(io.StringIO(render("csv", make_result()), newline="")))
    flags = {r["image_id"]: (r["waived"], r["waiver_reason"], r["baselined"]) for r in rows}
    assert flags == {
        "o-1": ("false", "", "false"),
        "w-1": ("true", "legacy image, replaced in Q3", "false"),
        "b-1": ("false", "", "true"),
    }


def test_github_annotates_only_open_findings_and_waiver_problems():
    lines = render("github", make_result()).splitlines()
    annotated = [line for line in lines if "image " in line and line.startswith("::")]
    assert len(annotated) == 1 and annotated[0].startswith("::error ")
    assert annotated[0].endswith("title=imagelint p-high (high)::FAIL image open-image (o-1): open-image is bad")
    # on the waiver's own line in the waivers file
    assert (
        "::warning file=waivers.yaml,line=9,title=imagelint%3A expired waiver::waiver for p-high name=old-* "
        "expired on 2025-01-01 and no longer applies"
    ) in lines
    assert (
        "::notice file=waivers.yaml,line=14,title=imagelint%3A stale waiver::waiver for p-low id=gone-1 "
        "matched no finding" in lines
    )


def test_github_annotates_at_most_50_findings_per_policy_and_counts_the_rest():
    # GitHub shows 10 annotations of a kind per step and 50 per job: the rest would only flood the log
    findings = tuple(_finding(f"i-{n:03d}", f"name-{n}") for n in range(120))
    lines = render("github", make_result(findings=findings)).splitlines()
    annotated = [line for line in lines if line.startswith("::error ")]
    assert [a.rsplit("(", 1)[1].split(")")[0] for a in annotated] == [f"i-{n:03d}" for n in range(50)]
    assert (
        "::notice file=policies/p-high.yaml,line=1,title=imagelint p-high (high)::70 more findings of "
        "p-high are not annotated (120 in all); every finding is in the json, sarif, csv and html "
        "reports"
    ) in lines
    assert lines[-1].startswith("imagelint: FAIL: 5 images, 2 policies: 7 pass, 120 fail")
    exactly = render("github", make_result(findings=findings[:50])).splitlines()
    assert sum(line.startswith("::error ") for line in exactly) == 50
    assert not any("more findings of" in line for line in exactly)


def test_all_suppressed_is_a_pass_everywhere():
    findings = (_finding("w-1", "waived-image", waiver=WAIVER), _finding("b-1", "baselined-image", baselined=True))
    result = make_result(findings=findings)
    assert "PASS: no finding at or above --fail-on low." in render("text", result)
    assert render("markdown", result).startswith("## ✅ imagelint: PASS")
    assert '<span id="verdict" class="verdict verdict-pass">PASS</span>' in render("html", result)
    assert render("github", result).splitlines()[-1].startswith("imagelint: PASS")


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize("findings", [(), None], ids=["no-findings", "findings"])
def test_incomplete_is_said_and_never_passes(fmt, findings):
    result = make_result(findings=findings, complete=False)
    out = render(fmt, result)
    assert "INCOMPLETE" in out or fmt in ("json", "sarif"), out[:500]
    # no format's pass verdict: text's "PASS:", markdown's tick, html's badge, junit's property, github's line
    for verdict in ("PASS:", "✅", 'class="verdict verdict-pass"', 'value="pass"', "imagelint: PASS"):
        assert verdict not in out, verdict
    if fmt == "json":
        assert json.loads(out)["source"]["complete"] is False
    elif fmt == "sarif":
        run = json.loads(out)["runs"][0]
        assert run["invocations"][0]["executionSuccessful"] is False
        assert run["properties"]["verdict"] == "incomplete"
    elif fmt == "csv":
        row = next(csv.DictReader(io.StringIO(out, newline="")))
        assert row["status"] == "incomplete" and "HTTP 503" in row["message"]
    elif fmt == "github":
        assert out.startswith("::error title=imagelint%3A INCOMPLETE::")
    elif fmt == "html":
        assert '<div id="incomplete" class="banner" role="alert"><strong>INCOMPLETE</strong>' in out
        assert "<title>imagelint report: INCOMPLETE</title>" in out
    elif fmt == "junit":
        assert '<error type="incomplete" message="INCOMPLETE: page 3: HTTP 503 after 5 tries">' in out
    elif fmt == "markdown":
        assert out.startswith("## ⚠️ imagelint: INCOMPLETE")


def test_fail_on_never_says_the_gate_is_off_not_pass():
    # (was "PASS: no finding at or above --fail-on never": a gate turned off must not read as a pass)
    result = replace(make_result(), fail_on="never")
    text = render("text", result)
    assert "GATE OFF: --fail-on never: no finding fails this run (1 not gating)." in text and "PASS:" not in text
    assert "imagelint: GATE OFF" in render("markdown", result)


def test_reports_for_people_stay_small_at_10000_findings():
    findings = tuple(_finding(f"i-{n:05d}", f"image-{n:05d}") for n in range(10_000))
    result = make_result(findings=findings)
    html = render("html", result)
    # the DOM stays bounded: 100 rows for the policy, the rest counted
    assert html.count('<tr><td class="status-fail">') == 100
    assert "… and 9900 more not shown here" in html
    assert len(html.encode("utf-8")) < 500_000
    markdown = render("markdown", result)
    assert "- … and 9990 more" in markdown and len(markdown.encode("utf-8")) < 20_000
    # machine formats keep everything
    assert len(json.loads(render("sarif", result))["runs"][0]["results"]) == 10_000
    assert render("csv", result).count("\r\n") == 10_001


@pytest.mark.parametrize("count", [0, 1, 2500])
def test_json_comes_in_pieces_that_join_to_the_report(count):
    # the CLI writes a report piece by piece (Reporter.chunks): JSON's are batches of finding lines, so
    # 200,000 findings never sit in memory as one string; the pieces must still make the same document
    findings = tuple(_finding(f"i-{n}", f"name-{n}\ud800") for n in range(count))  # a lone surrogate too
    result = make_result(findings=findings)
    reporter = OutputFormat("json").reporter()
    pieces = list(reporter.chunks(result))
    assert "".join(pieces) == reporter.render(result)
    assert len(pieces) == (1 if count == 0 else 3 + (count - 1) // 1000)
    doc = json.loads("".join(pieces))
    assert [f["image"]["id"] for f in doc["findings"]] == [f"i-{n}" for n in range(count)]


@pytest.mark.parametrize("count", [0, 3, 2500])
def test_sarif_comes_in_pieces_that_make_the_same_log(count):
    from imagelint.formats.sarif import sarif_log

    findings = tuple(_finding(f"i-{n}", f"name-{n}") for n in range(count)) if count != 3 else None
    result = make_result(findings=findings)  # 3: the default, with waived and baselined findings
    reporter = OutputFormat("sarif").reporter()
    pieces = list(reporter.chunks(result))
    assert "".join(pieces) == reporter.render(result)
    assert len(pieces) == (1 if count == 0 else 3 + (count - 1) // 1000)
    assert json.loads("".join(pieces)) == json.loads(json.dumps(sarif_log(result)))


def test_csv_comes_in_pieces_that_join_to_the_report():
    findings = tuple(_finding(f"i-{n}", f'name,{n}\n"') for n in range(2500))  # quoting across pieces
    result = make_result(findings=findings, complete=False)
    reporter = OutputFormat("csv").reporter()
    pieces = list(reporter.chunks(result))
    assert len(pieces) == 3 and "".join(pieces) == reporter.render(result)
    rows = list(csv.reader(io.StringIO("".join(pieces), newline="")))
    assert rows[1][2] == "incomplete" and [r[4] for r in rows[2:]] == [f"i-{n}" for n in range(2500)]


@pytest.mark.parametrize("name", ["text", "junit"])
def test_template_reports_come_in_pieces_that_join_to_the_report(name):
    # the template-driven formats are written as Jinja produces them (2,500 findings: a few pieces of
    # about 64 KiB each), and the pieces make the same report as rendering it whole
    findings = tuple(_finding(f"i-{n:04d}", f"name-{n}-" + "x" * 40) for n in range(2500))
    result = make_result(findings=(*findings, _finding("w-1", "waived-image", waiver=WAIVER)))
    reporter = OutputFormat(name).reporter()
    pieces = list(reporter.chunks(result))
    assert len(pieces) > 1 and all(pieces)
    text = "".join(pieces)
    assert text == reporter.render(result)
    assert text.count("i-0000") == 1 and "i-2499" in text and "waived-image" in text


def test_template_context_converts_findings_only_when_reached():
    # built-in templates see findings as their JSON dicts, made when reached (a list of 200,000 dicts had
    # cost 140-180 MB at 100,000 images); used as a list, the sequence is that list
    from imagelint.formats.view import FindingDicts, context_with_view
    from imagelint.judgement.result import as_dict, finding_dict

    result = make_result()
    context = context_with_view(result)
    assert isinstance(context["findings"], FindingDicts)
    assert list(context["findings"]) == as_dict(result)["findings"]
    assert {k: v for k, v in context.items() if k not in ("findings", "view")} == {
        k: v for k, v in as_dict(result).items() if k != "findings"
    }
    groups = context["view"]["groups"]["p-high"]
    assert [f["image"]["id"] for f in groups["open"]] == ["o-1"]
    assert [f["image"]["id"] for f in context["view"]["waived"]] == ["w-1"]
    assert [f["image"]["id"] for f in context["view"]["baselined"]] == ["b-1"]
    assert not context["view"]["groups"]["p-low"]["open"] and len(context["findings"]) == 3
    lazy = FindingDicts(result.findings)
    assert lazy[1] == finding_dict(result.findings[1]) and lazy[-1]["image"]["id"] == "b-1"
    assert lazy[:2] == [finding_dict(f) for f in result.findings[:2]] and lazy[5:] == []
    assert lazy[0] is not lazy[0]  # made afresh: a template cannot change the result through it
    with pytest.raises(IndexError):
        lazy[3]
