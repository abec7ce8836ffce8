"""Every format against a fleet of hostile image names (tests/reportdata.PAYLOADS) and a hostile image id.

One real CLI run writes all eight formats; each test then reads its report with a real parser of that
syntax (GitHub's own cmark-gfm for Markdown, html.parser, ElementTree and the XSD, the csv module) and
checks that every payload came out as inert text: no element, link, cell border, workflow command or
formula was created by image data.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tests.reportdata import DATA, HOSTILE_ID, PAYLOADS, run_formats, write_hostile

FORMATS = ["text", "json", "markdown", "html", "junit", "sarif", "csv", "github"]
COUNT = len(PAYLOADS) + 1  # every image fails the one policy once


def _clean(text: str) -> str:
    """What a payload looks like after the unavoidable repair: lone surrogates cannot be UTF-8."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    fleet, policy = write_hostile(tmp)
    result, texts = run_formats(tmp, fleet, policy, FORMATS)
    assert result.returncode == 1, result.stderr
    assert all(texts[f] for f in FORMATS), [f for f in FORMATS if not texts[f]]
    return texts


def test_text_has_no_terminal_controls(reports):
    text = reports["text"]
    for char in ("\x1b", "\x07", "\x00", "\r", "\u202e"):
        assert char not in text
    # a newline in a name does not start a line of its own: one FAIL line per finding
    assert sum(1 for line in text.splitlines() if line.startswith("  FAIL ")) == COUNT
    assert "new\\x0aline and\\x0d\\x0acarriage return" in text


def test_json_round_trips_every_name(reports):
    report = json.loads(reports["json"])
    names = [f["image"]["name"] for f in report["findings"]]
    assert sorted(names) == sorted([_clean(p) for p in PAYLOADS] + ["hostile id"])


class _Tags(HTMLParser):
    """Elements, attributes and text of an HTML document, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.script: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.script if self._in_script else self.text).append(data)


def _parse_html(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("chunk", range(0, len(PAYLOADS), 9))
def test_markdown_rendered_by_cmark_gfm_has_no_injected_html_links_or_cells(tmp_path, chunk):
    import cmarkgfm
    from cmarkgfm.cmark import Options

    # Markdown lists 10 findings per policy: one run per 9 payloads shows every payload somewhere
    fleet, policy = write_hostile(tmp_path, PAYLOADS[chunk : chunk + 9])
    result, texts = run_formats(tmp_path, fleet, policy, ["markdown"])
    assert result.returncode == 1, result.stderr
    markdown = texts["markdown"]
    # UNSAFE lets raw HTML through, as a renderer that trusts its input would: only escaping protects here
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    doc = _parse_html(html)
    tags = {tag for tag, _ in doc.tags}
    assert tags <= {
        "h2",
        "h3",
        "h4",
        "p",
        "strong",
        "code",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "ul",
        "li",
        "blockquote",
    }, tags
    assert not any(attrs for _, attrs in doc.tags if set(attrs) - {"align"})
    # every table row has as many cells as its header: no | from a name split a cell
    for table in re.findall(r"<table>.*?</table>", html, flags=re.DOTALL):
        rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.DOTALL)
        widths = {len(re.findall(r"<t[hd][ >]", row)) for row in rows}
        assert len(widths) == 1, table
    text = "".join(doc.text)
    for payload in PAYLOADS[chunk : chunk + 9]:
        # each payload is shown as text, control characters made visible, surrogates repaired
        shown = re.sub(
            r"[\x00-\x1f\u202e]",
            lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
            _clean(payload),
        )
        assert shown in text, payload
    assert "49" not in text  # data is never evaluated as a template


def test_markdown_caps_the_list(reports):
    assert "- … and 17 more" in reports["markdown"]  # 27 findings, 10 listed: the rest are counted


def test_html_report_has_only_its_own_markup(reports):
    html = reports["html"]
    doc = _parse_html(html)
    names = [tag for tag, _ in doc.tags]
    assert names.count("script") == 1
    assert "img" not in names and "injected" not in names
    assert names.count("svg") == 2  # the two charts, nothing from a name
    handlers = [(tag, key) for tag, attrs in doc.tags for key in attrs if key.lower().startswith("on")]
    assert handlers == []
    script = "".join(doc.script)
    assert "PWNED" not in script and "data-pwned" not in script
    text = "".join(doc.text)
    for payload in (
        "<script>document.title='PWNED'</script>",
        "]]><injected>cdata</injected>",
        "=cmd|' /C calc'!A0",
        HOSTILE_ID,
    ):
        assert payload in text
    csp = next(a["content"] for t, a in doc.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp.startswith("default-src 'none'; script-src 'sha256-")


def test_junit_is_valid_and_names_survive_as_text(reports):
    import xmlschema

    junit = reports["junit"]
    xmlschema.XMLSchema(str(DATA / "JUnit.xsd")).validate(io.StringIO(junit))
    root = ET.fromstring(junit.encode("utf-8"))
    assert root.find(".//injected") is None
    names = [case.get("name") for case in root.iter("testcase") if case.find("failure") is not None]
    assert len(names) == COUNT
    # attribute values keep newlines (written as &#10;) and carry XML-illegal characters as visible escapes
    assert "<script>document.title='PWNED'</script> (00000000-0000-4000-8000-000000000000)" in names
    assert "new\nline and\r\ncarriage return (00000000-0000-4000-8000-000000000008)" in names
    assert "nul \\x00 byte (00000000-0000-4000-8000-000000000024)" in names
    messages = [f.get("message") for f in root.iter("failure")]
    assert "image name is ]]><injected>cdata</injected>" in messages


def test_sarif_is_valid_and_messages_escape_links(reports):
    import jsonschema

    log = json.loads(reports["sarif"])
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == COUNT
    texts = [r["message"]["text"] for r in results]
    assert any("\\[link\\](http://evil.example/phish)" in t for t in texts)
    assert not any(re.search(r"(?<!\\)\[link", t) for t in texts)  # no unescaped embedded link
    assert any("{{{{ 7 * 7 }}}}" in t for t in texts)  # braces doubled: no placeholder
    ids = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in results}
    assert f"image/{HOSTILE_ID}" in ids


def test_csv_neutralises_formulas_and_keeps_rows(reports):
    rows = list(csv.reader(io.StringIO(reports["csv"], newline="")))
    header, body = rows[0], rows[1:]
    assert len(body) == COUNT and all(len(row) == len(header) for row in body)
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    names = [row[header.index("image_name")] for row in body]
    for payload in (
        "=cmd|' /C calc'!A0",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "\tTAB at start",
        "\rCR at start",
    ):
        assert "'" + payload in names
    assert "new\nline and\r\ncarriage return" in names  # quoted, not split into rows
    assert reports["csv"].endswith("\r\n")


def test_github_commands_cannot_be_forged(reports):
    lines = reports["github"].split("\n")
    assert lines[-1] == "" and lines[-2].startswith("imagelint: FAIL")
    commands = lines[:-2]
    assert len(commands) == COUNT
    for line in commands:
        assert line.startswith("::error title=")
        assert "\r" not in line and "\x1b" not in line
        head, sep, _ = line[2:].partition("::")
        assert sep and ":" not in head.partition(" ")[2].replace("title=", "", 1)
    messages = [line[2:].partition("::")[2] for line in commands]
    assert "FAIL image ::error title=forged::forged annotation" in " ".join(messages)
    assert any("100%25 of 50%250A::warning::encoded, with: colons" in m for m in messages)
    assert any("new%0Aline and%0D%0Acarriage return" in m for m in messages)
    assert any("\\x1b[31mANSI red" in m for m in messages)
    assert commands[0][2:].partition("::")[0] == "error title=imagelint names-are-plain (high)"


def test_lone_surrogate_does_not_break_any_format(reports):
    # run_formats decoded every file as strict UTF-8 already; the image is still there in each format
    for fmt in FORMATS:
        if fmt != "markdown":  # markdown lists only the first 10 images; its own test covers the rest
            assert "lone surrogate" in reports[fmt], fmt
