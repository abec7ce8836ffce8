"""The report options as a user meets them: --format (auto included), --output, --report FORMAT=PATH,
--template; their usage errors (exit 2, one line on stderr, nothing read) and where each report goes."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys

import pytest

from imagelint.formats import FORMAT_CHOICES, OutputFormat
from tests.conftest import ROOT, policy_yaml, run_cli
from tests.reportdata import NEUTRAL_ENV, NOW

IMAGES = [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "web-<b>", "status": "active"},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "db", "status": "active"},
]


@pytest.fixture
def setup(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"images": IMAGES}), encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text(
        policy_yaml("short-names", severity="high", validations=["!has(image.name) || size(image.name) < 5"]),
        encoding="utf-8",
    )
    return tmp_path


def check(setup, *args, env=None):
    return run_cli(
        "check",
        "--input",
        str(setup / "fleet.json"),
        "--policies",
        str(setup / "p.yaml"),
        "--now",
        NOW,
        *args,
        env={**NEUTRAL_ENV, **(env or {})},
        cwd=setup,
    )


def test_every_format_maps_to_a_reporter():
    assert set(FORMAT_CHOICES) == {"auto", *(f.value for f in OutputFormat)}
    for fmt in OutputFormat:
        assert fmt.reporter().chunks.__qualname__.split(".")[0] != "Reporter", fmt


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--format", "xml"],
            (
                "error: --format 'xml': unknown format (expected one of: auto, text, json, markdown, "
                "html, junit, sarif, csv, github)"
            ),
        ),
        (["--report", "pdf=r.pdf"], "error: --report 'pdf': unknown format"),
        (["--report", "json="], "error: --report 'json=': empty PATH"),
        (["--report", "json", "--report", "sarif"], "error: more than one report on stdout (json, sarif)"),
        (["--format", "text", "--report", "json"], "error: more than one report on stdout (text, json)"),
        (["--report", "json=r", "--report", "sarif=r"], "error: reports json and sarif would both be written to r"),
        (["--template", "t.j2", "--format", "json"], "error: --template replaces --format"),
        (["--template", "missing.j2"], "error: --template missing.j2: no such file"),
        # a report must not replace a file the run reads or writes otherwise (check() reads fleet.json)
        (["--output", "fleet.json"], "error: the main report (--format auto) would be written over the --input file"),
        (
            ["--report", "json=./p.yaml", "--write-baseline", "p.yaml"],
            "error: report json would be written over the --write-baseline file ./p.yaml",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(setup, args, message):
    result = check(setup, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr


def test_template_syntax_error_stops_before_reading_images(setup):
    (setup / "t.j2").write_text("ok\n{% for x in findings %}\n", encoding="utf-8")
    result = run_cli(
        "check",
        "--input",
        str(setup / "no-such-fleet.json"),
        "--policies",
        str(setup / "p.yaml"),
        "--template",
        str(setup / "t.j2"),
        env=NEUTRAL_ENV,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {setup / 't.j2'}:2: template syntax error")
    assert "no-such-fleet" not in result.stderr


def test_reports_to_files_and_stdout_in_one_run(setup):
    result = check(setup, "--report", "sarif=out/r.sarif", "--report", "junit=out/deep/r.xml", "--report", "markdown")
    assert result.returncode == 1
    assert result.stdout.startswith("## ❌ imagelint: FAIL")  # FORMAT alone: stdout
    assert json.loads((setup / "out" / "r.sarif").read_text())["version"] == "2.1.0"
    assert (setup / "out" / "deep" / "r.xml").read_text().startswith("<?xml")  # parent folders created
    assert "imagelint: 2 images x 1 policies" in result.stderr


def test_report_alone_does_not_also_print_text(setup):
    result = check(setup, "--report", "csv=r.csv")
    assert result.returncode == 1 and result.stdout == ""
    assert (setup / "r.csv").read_text().startswith("policy,severity,status")


def test_format_output_shorthand_beside_reports(setup):
    result = check(setup, "--format", "json", "--output", "r.json", "--report", "github")
    assert result.returncode == 1
    # the policy file is below the working directory (the repository root here): the annotation points at the failing expression
    assert result.stdout.startswith(
        "::error file=p.yaml,line=12,title=imagelint short-names (high)::FAIL image web-<b>"
    )
    assert json.loads((setup / "r.json").read_text())["summary"]["fail"] == 1


def test_auto_is_github_under_actions(setup):
    default = check(setup, env={"GITHUB_ACTIONS": "true"})
    explicit = check(setup, "--format", "auto", env={"GITHUB_ACTIONS": "true"})
    assert default.stdout == explicit.stdout
    assert default.stdout.splitlines()[0].startswith("::error ")


def test_auto_is_plain_text_off_a_terminal(setup):
    result = check(setup, env={"NO_COLOR": ""})
    assert result.stdout.startswith("short-names [high]") and "\x1b[" not in result.stdout


def test_auto_is_coloured_text_on_a_terminal(setup):
    master, slave = pty.openpty()
    env = {**os.environ, **NEUTRAL_ENV, "NO_COLOR": ""}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagelint",
            "check",
            "--input",
            str(setup / "fleet.json"),
            "--policies",
            str(setup / "p.yaml"),
            "--now",
            NOW,
        ],
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        cwd=setup,
        timeout=120,
        check=False,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the terminal's writer is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out = b"".join(chunks).decode("utf-8")
    assert done.returncode == 1
    assert "\x1b[1mshort-names\x1b[0m" in out and "\x1b[31;1mFAIL\x1b[0m" in out


def test_user_template_gets_exactly_the_json_result(setup):
    (setup / "t.txt.j2").write_text(
        "{{ summary.images }} images, verdict input: complete={{ source.complete }}\n"
        "{% for f in findings %}{{ f.policy }} {{ f.image.name }}\n{% endfor %}"
        "{{ (tool.name, engine, fail_on, policies[0].name, waivers.expired, baseline.fixed) }}\n",
        encoding="utf-8",
    )
    result = check(setup, "--template", "t.txt.j2", "--engine", "cel-python")
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        "2 images, verdict input: complete=True\nshort-names web-<b>\n"
        "('imagelint', 'cel-python', 'low', 'short-names', [], [])\n"
    )


def test_user_html_template_is_autoescaped_and_strict(setup):
    (setup / "t.html.j2").write_text(
        "{% for f in findings %}<li>{{ f.image.name }}</li>{% endfor %}\n", encoding="utf-8"
    )
    result = check(setup, "--template", "t.html.j2")
    assert result.returncode == 1 and result.stdout == "<li>web-&lt;b&gt;</li>"  # trim_blocks ate the newline
    # our own templates' extras are not part of the documented context: a typo or a private key fails
    (setup / "u.j2").write_text("line one\n{{ view.verdict }}\n", encoding="utf-8")
    result = check(setup, "--template", "u.j2")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "u.j2:2: template error: 'view' is undefined" in result.stderr


def test_unwritable_report_path_is_exit_2(setup):
    (setup / "file").write_text("x")
    result = check(setup, "--report", "json=file/r.json", "--report", "csv=ok.csv")
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot write report file/r.json")
    assert (setup / "ok.csv").exists()  # the other report was still written


def test_docs_example_writes_every_format(tmp_path):
    # the example of docs/reports.md, as written there: one run of the sample fleet feeding every consumer
    page = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    command = page.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    argv = shlex.split(command)
    assert argv[:3] == ["imagelint", "check", "--sample"]
    result = run_cli(*argv[1:], "--now", NOW, cwd=tmp_path, env=NEUTRAL_ENV)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("## ❌ imagelint: FAIL")  # markdown, the one without a PATH
    written = {p.name: p.stat().st_size for p in (tmp_path / "reports").iterdir()}
    assert len(written) == 7 and min(written.values()) > 1000, written
    assert {f.value for f in OutputFormat} == {arg.partition("=")[0] for arg in argv if "=" in arg or arg == "markdown"}


def test_a_report_that_fails_half_way_leaves_the_file_as_it_was(setup):
    # reports are written to a temporary file and renamed over the target at the end
    (setup / "out.txt").write_text("the last good report\n", encoding="utf-8")
    (setup / "bad.j2").write_text("line one\n{{ view.verdict }}\n", encoding="utf-8")
    result = check(setup, "--template", "bad.j2", "--output", "out.txt")
    assert result.returncode == 2 and "template error" in result.stderr
    assert (setup / "out.txt").read_text(encoding="utf-8") == "the last good report\n"
    assert not [p.name for p in setup.iterdir() if p.name.endswith(".partial")]


def test_reports_replace_files_but_write_through_links(setup):
    (setup / "real").mkdir()
    (setup / "link.json").symlink_to(setup / "real" / "r.json")
    result = check(setup, "--report", "json=link.json", "--report", "csv=new.csv")
    assert result.returncode == 1, result.stderr
    assert (setup / "link.json").is_symlink()
    assert json.loads((setup / "real" / "r.json").read_text(encoding="utf-8"))["summary"]["images"] == 2
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(setup / "new.csv").st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    assert not [p.name for p in setup.iterdir() if p.name.endswith(".partial")]


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    # `imagelint check ... | head`: the report is written in pieces, and the reader leaves after the first
    from tests.fleetgen import generate_fleet

    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"images": generate_fleet(3000, seed=5)}), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagelint", "check", "--input", str(fleet), "--format", "json", "--now", NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **NEUTRAL_ENV},
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"{")
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8")
    assert proc.wait(timeout=300) == 1  # the verdict (the fleet fails), not a crash
    assert "Traceback" not in stderr and stderr.strip().endswith("exit 1"), stderr


def test_annotations_and_sarif_point_at_the_failing_expression(tmp_path):
    (tmp_path / ".git").mkdir()  # the repository root that annotation paths are relative to
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "\n".join(
            [
                "apiVersion: imagelint/v1",  # 1
                "kind: Policy",  # 2
                "metadata: {name: where, title: t, severity: high}",
                "spec:",  # 4
                "  match: int(image.min_ram) >= 0",  # 5: errors on 'x'
                "  validations:",  # 6
                "    - expression: image.status == 'active'",
                "      message: not active",  # 8
                "    - expression: >-",  # 9
                "        has(image.name)",  # 10
                "      message: no name",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    images = [
        {"id": "a", "name": "n", "status": "queued", "min_ram": 1},  # validation 0
        {"id": "b", "status": "active", "min_ram": 1},  # validation 1
        {"id": "c", "name": "n", "status": "active", "min_ram": "x"},
    ]  # match errors
    (tmp_path / "fleet.json").write_text(json.dumps(images), encoding="utf-8")
    run = run_cli(
        "check",
        "--input",
        "fleet.json",
        "--policies",
        "p.yaml",
        "--now",
        NOW,
        "--format",
        "github",
        "--report",
        "sarif=out.sarif",
        env=NEUTRAL_ENV,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr
    # "::error file=p.yaml,line=N,title=...::FAIL image NAME (ID): message"
    lines = {
        re.search(r" \((\w)\): ", line).group(1): line.split(",")[1]
        for line in run.stdout.splitlines()
        if line.startswith("::")
    }
    assert lines == {"a": "line=7", "b": "line=10", "c": "line=5"}
    results = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    regions = {r["properties"]["image"]["id"]: r["locations"][0]["physicalLocation"]["region"] for r in results}
    assert regions == {"a": {"startLine": 7}, "b": {"startLine": 10}, "c": {"startLine": 5}}
