"""The CSV reporter: one row per finding (waived and baselined ones flagged), RFC 4180 quoting.

Built with the ``csv`` module (quoting, embedded newlines, CRLF line ends) rather than a template. Every
cell passes through ``escape.csv_cell``, which neutralises spreadsheet formulas. CSV has no place for a
verdict, so an incomplete run gets a first row with status ``incomplete`` and the reason: a spreadsheet
of an incomplete run must not look like the whole fleet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from imagelint.formats.escape import csv_cell
from imagelint.formats.interface import BATCH, Reporter
from imagelint.judgement.result import RunResult, finding_dict

COLUMNS = (
    "policy",
    "severity",
    "status",
    "validation",
    "image_id",
    "image_name",
    "visibility",
    "owner",
    "message",
    "attributes",
    "waived",
    "waiver_reason",
    "waiver_expires",
    "baselined",
    "policy_file",
    "policy_line",
    "remediation",
)


class CsvReporter(Reporter):
    def chunks(self, result: RunResult) -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")  # QUOTE_MINIMAL quotes , " CR LF as RFC 4180 asks
        writer.writerow(COLUMNS)
        if not result.source.complete:
            writer.writerow(csv_cell(v) for v in _incomplete_row(result))
        where = {p.name: (p.file, p.line) for p in result.policies}
        for number, finding in enumerate(result.findings, 1):
            d = finding_dict(finding)
            waiver = d["waiver"] or {}
            file, line = where.get(finding.policy, ("", 0))
            row = (
                d["policy"],
                d["severity"],
                d["status"],
                d["validation"],
                d["image"]["id"],
                d["image"]["name"],
                d["image"]["visibility"],
                d["image"]["owner"],
                d["message"],
                _attributes(d["attributes"]),
                d["waived"],
                waiver.get("reason"),
                waiver.get("expires"),
                d["baselined"],
                file,
                line,
                _remediation(d["remediation"]),
            )
            writer.writerow(csv_cell(v) for v in row)
            if number % BATCH == 0:  # written piece by piece: a large fleet's report is never whole in memory
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


def _incomplete_row(result: RunResult) -> tuple[Any, ...]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    row["status"] = "incomplete"
    row["message"] = f"INCOMPLETE: the fleet was not read completely: {result.source.error}"
    return tuple(row.values())


def _remediation(fix: dict[str, Any] | None) -> str:
    """The remediation text, then each cloud's command for this image, one per line."""
    if not fix:
        return ""
    return "\n".join([fix["text"], *(f"{cloud}: {command}" for cloud, command in fix["commands"].items())])


def _attributes(attributes: dict[str, Any]) -> str:
    return json.dumps(attributes, ensure_ascii=False, sort_keys=True) if attributes else ""
