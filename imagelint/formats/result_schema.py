"""The JSON Schema of the JSON result (``--format json``, ``judgement.result.as_dict``), for consumers.

Fields may be added (docs/json-format.md: none renamed or removed), so objects allow more properties; what
is here is what a consumer can rely on. tests/test_format_schemas.py validates real reports against it.
"""

from __future__ import annotations

from typing import Any

from imagelint.judgement.result import CLOUDS, Severity

_STR_OR_NULL = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}


def _remediation(filled: bool) -> dict[str, Any]:
    what = "the commands filled for this finding's image" if filled else "command templates ({id}, {name}...)"
    return {
        "type": ["object", "null"],
        "required": ["text", "commands"],
        "properties": {
            "text": {"type": "string", "minLength": 1},
            "commands": {
                "type": "object",
                "description": f"Per cloud, {what}.",
                "propertyNames": {"enum": list(CLOUDS)},
                "additionalProperties": {"type": "string"},
            },
        },
    }


def result_schema() -> dict[str, Any]:
    severity = {"enum": [s.label for s in Severity]}
    waiver = {"type": ["object", "null"], "required": ["policy", "reason"]}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://imagelint.invalid/schemas/result.json",
        "title": "imagelint JSON result",
        "type": "object",
        "required": ["tool", "engine", "now", "fail_on", "source", "summary", "policies", "findings", "waivers"],
        "properties": {
            "tool": {"type": "object", "required": ["name", "version"]},
            "engine": {"type": "string"},
            "now": {"type": "string"},
            "fail_on": {"type": "string"},
            "source": {
                "type": "object",
                "required": ["kind", "location", "images", "complete", "error"],
                "properties": {"complete": {"type": "boolean"}, "images": _COUNT, "error": _STR_OR_NULL},
            },
            "summary": {
                "type": "object",
                "required": ["images", "policies", "pass", "fail", "skip", "error", "by_severity"],
                "properties": {k: _COUNT for k in ("images", "policies", "pass", "fail", "skip", "error")},
            },
            "policies": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "title", "severity", "file", "line", "validation_lines", "remediation"],
                    "properties": {
                        "name": {"type": "string"},
                        "severity": severity,
                        "references": {"type": "array", "items": {"type": "string"}},
                        "validation_lines": {"type": "array", "items": {"type": "integer"}},
                        "remediation": _remediation(filled=False),
                        **{k: _COUNT for k in ("pass", "fail", "skip", "error")},
                    },
                },
            },
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["policy", "severity", "status", "validation", "message", "image", "remediation"],
                    "properties": {
                        "severity": severity,
                        "status": {"enum": ["fail", "error"]},
                        "validation": {"type": ["integer", "null"]},
                        "message": {"type": "string"},
                        "image": {
                            "type": "object",
                            "required": ["id", "name", "visibility", "owner"],
                            "properties": {
                                "id": {"type": "string"},
                                "name": _STR_OR_NULL,
                                "visibility": _STR_OR_NULL,
                                "owner": _STR_OR_NULL,
                            },
                        },
                        "waived": {"type": "boolean"},
                        "waiver": waiver,
                        "baselined": {"type": "boolean"},
                        "remediation": _remediation(filled=True),
                    },
                },
            },
            "waivers": {"type": "object", "required": ["expired", "stale"]},
        },
    }
