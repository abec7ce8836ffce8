"""The CSV reporter: one row per finding (waived and baselined ones flagged), RFC 4180 quoting.

Built with the ``csv`` module (quoting, embedded newlines, CRLF line ends) rather than a template. Every
cell passes through ``escape.csv_cell``, which neutralises spreadsheet formulas. CSV has no place for a
verdict, so an incomplete run gets a first row with status ``incomplete`` and the reason: a spreadsheet
of an incomplete run must not look like the whole fleet.
"""

from __future__ import annotations

import csv
import io
import itertools
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


TARGET_COLUMNS = ("target", "cloud", "region", "project")
"""Appended for an audit (``check``'s columns stay as they were)."""
STATE_COLUMN = "state"
"""Appended with ``--compare``: new, unchanged, resolved or unknown (the last two: previous findings)."""


class CsvReporter(Reporter):
    def chunks(self, result: RunResult) -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")  # QUOTE_MINIMAL quotes , " CR LF as RFC 4180 asks
        audit = bool(result.targets) or result.audit is not None
        compared = result.comparison is not None
        writer.writerow((*COLUMNS, *(TARGET_COLUMNS if audit else ()), *((STATE_COLUMN,) if compared else ())))
        targets = {t.name: t for t in result.targets}

        def extra(target: str | None, state: str | None) -> tuple[Any, ...]:
            t = targets.get(target or "")
            cells = (target, t.cloud, t.region, t.project) if t else (target, None, None, None)
            return (*(cells if audit else ()), *((state,) if compared else ()))

        if not result.source.complete:
            writer.writerow(csv_cell(v) for v in (*_incomplete_row(result), *extra(None, None)))
        for t in result.targets:
            if not t.complete:
                cells = dict.fromkeys(COLUMNS, "")
                cells["status"] = "incomplete"
                cells["message"] = f"INCOMPLETE: target {t.name} was not read completely: {t.error}"
                writer.writerow(csv_cell(v) for v in (*cells.values(), *extra(t.name, None)))
        where = {p.name: (p.file, p.line) for p in result.policies}
        previous = [*result.comparison.resolved, *result.comparison.unknown] if result.comparison else []
        for number, finding in enumerate(itertools.chain(result.findings, previous), 1):
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
                *extra(finding.target, finding.state),
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
