"""``imagelint schema [KIND]``: JSON Schemas of imagelint's YAML files, for editors.

With the YAML language server (VS Code's YAML extension, and others) a first line
``# yaml-language-server: $schema=imagelint-policy.schema.json`` gives completion, hover text and
checking while typing. The schemas mirror the loaders (``policy.loader``, ``policy.testing``,
``judgement.waivers``, ``cli.config``); ``tests/test_commands.py`` holds them to the loaders by validating
the bundled files. The loaders stay the authority: CEL, names across files and dates are checked only by
``imagelint validate``.
"""

from __future__ import annotations

import json
from typing import Any

from imagelint.judgement.result import CLOUDS, PLACEHOLDERS, Severity
from imagelint.policy.catalogue import TYPES
from imagelint.policy.loader import API_VERSION, NAME_RE, VAR_RE

DRAFT = "http://json-schema.org/draft-07/schema#"
_CEL = {"type": "string", "minLength": 1, "description": "A CEL expression (see the README, policy format)."}
_VERDICT = {"enum": ["pass", "fail", "skip", "error"]}


def policy_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": "https://imagelint.invalid/schemas/policy.json",
        "title": "imagelint policy",
        "description": f"One {API_VERSION} policy document (several may share a file, separated by ---).",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "Policy"},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "severity"],
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": NAME_RE.pattern,
                        "description": "Unique policy name: lower-case letters, digits and dashes.",
                    },
                    "title": {"type": "string", "minLength": 1},
                    "severity": {"enum": [s.label for s in Severity]},
                    "description": {"type": "string"},
                    "references": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "remediation": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["text"],
                        "description": "How to fix a finding: a sentence, and per cloud a command.",
                        "properties": {
                            "text": {"type": "string", "minLength": 1},
                            "commands": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    cloud: {
                                        "type": "string",
                                        "minLength": 1,
                                        "pattern": "^[^\\n\\r]*$",
                                        "description": "One command line; "
                                        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                                        + " are filled from the image, each as one quoted shell word.",
                                    }
                                    for cloud in CLOUDS
                                },
                            },
                        },
                    },
                },
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["validations"],
                "properties": {
                    "params": {
                        "type": "object",
                        "propertyNames": {"pattern": VAR_RE.pattern},
                        "description": "Declared params and their defaults (override: --param NAME.KEY=V).",
                    },
                    "match": {**_CEL, "description": "CEL: the policy applies to images where this is true."},
                    "variables": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "expression"],
                            "properties": {"name": {"type": "string", "pattern": VAR_RE.pattern}, "expression": _CEL},
                        },
                    },
                    "validations": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["expression"],
                            "properties": {
                                "expression": {**_CEL, "description": "CEL: true means pass."},
                                "message": {"type": "string", "minLength": 1},
                                "messageExpression": {**_CEL, "description": "CEL string."},
                            },
                        },
                    },
                },
            },
        },
    }


def policy_test_schema() -> dict[str, Any]:
    expectation = {
        "oneOf": [
            _VERDICT,
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["verdict"],
                "properties": {"verdict": _VERDICT, "message": {"type": "string"}},
            },
        ]
    }
    return {
        "$schema": DRAFT,
        "$id": "https://imagelint.invalid/schemas/policy-test.json",
        "title": "imagelint policy test file (*.test.yaml)",
        "type": "object",
        "additionalProperties": False,
        "required": ["cases"],
        "properties": {
            "policy": {"type": "string"},
            "now": {"type": "string"},
            "images": {"type": "object", "additionalProperties": {"type": "object"}},
            "cases": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "expect"],
                    "properties": {
                        "name": {"type": "string"},
                        "base": {"type": "string"},
                        "image": {"type": "object"},
                        "unset": {"type": "array", "items": {"type": "string"}},
                        "params": {"type": "object"},
                        "now": {"type": "string"},
                        "expect": {"oneOf": [_VERDICT, {"type": "object", "additionalProperties": expectation}]},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    }


def waivers_schema() -> dict[str, Any]:
    entry = {
        "type": "object",
        "additionalProperties": False,
        "required": ["policy", "reason"],
        "oneOf": [{"required": ["id"]}, {"required": ["name"]}, {"required": ["match"]}],
        "properties": {
            "policy": {"type": "string", "description": "Policy name or glob."},
            "id": {"type": "string"},
            "name": {"type": "string", "description": "Image name glob."},
            "match": {**_CEL, "description": "CEL over image (and now)."},
            "reason": {"type": "string", "minLength": 1},
            "expires": {"type": "string", "description": "YYYY-MM-DD (midnight UTC) or RFC 3339."},
            "owner": {"type": "string"},
            "ticket": {"type": "string"},
            "target": {"type": "string", "description": "Audit targets (a glob over their names); default: all."},
        },
    }
    return {
        "$schema": DRAFT,
        "$id": "https://imagelint.invalid/schemas/waivers.json",
        "title": "imagelint waivers",
        "oneOf": [
            {"type": "array", "items": entry},
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["waivers"],
                "properties": {"waivers": {"type": "array", "items": entry}},
            },
        ],
    }


def config_schema() -> dict[str, Any]:
    strings = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    pairs = {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "string", "pattern": "="}}]}
    attribute = {
        "oneOf": [
            {"enum": list(TYPES)},
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["type"],
                "properties": {
                    "type": {"enum": list(TYPES)},
                    "values": {"type": "array", "items": {"type": "string"}},
                    "always": {"type": "boolean"},
                    "nullable": {"type": "boolean"},
                },
            },
        ]
    }
    return {
        "$schema": DRAFT,
        "$id": "https://imagelint.invalid/schemas/config.json",
        "title": "imagelint.yaml",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "policies": strings,
            "pack": strings,
            "params": {"type": "object", "additionalProperties": {"type": "object"}},
            "waivers": {"type": "string"},
            "allow-permanent-waivers": {"type": "boolean"},
            "baseline": {"type": "string"},
            "fail-on": {"enum": ["never", *(s.label for s in Severity)]},
            "engine": {"enum": ["auto", "cel-python", "cel-cpp"]},
            "endpoint": {"type": "string"},
            "query": pairs,
            "page-size": {"type": "integer", "minimum": 1},
            "allow-empty": {"type": "boolean"},
            "min-images": {"type": "integer", "minimum": 0},
            "reports": pairs,
            "attributes": {"type": "object", "additionalProperties": attribute},
        },
    }


def targets_schema() -> dict[str, Any]:
    """The targets file of ``imagelint audit`` (``sources/targets.py`` is the reader of record)."""
    strings = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
    env_name = {
        "type": "string",
        "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        "description": "An environment variable's NAME.",
    }
    settings: dict[str, Any] = {
        "cloud": {"type": "string", "description": "A cloud of clouds.yaml."},
        "endpoint": {"type": "string", "description": "The image service root, e.g. https://ims.eu-de.example"},
        "region": {"type": "string"},
        "regions": {**strings, "description": "One target per region."},
        "project": {"type": "string", "description": "Project name."},
        "projects": {**strings, "description": "One target per project (by name)."},
        "project_id": {"type": "string"},
        "project_ids": {**strings, "description": "One target per project (by id)."},
        "api": {"enum": ["images", "cloudimages"]},
        "query": {
            "oneOf": [
                {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "array"]}},
                {"type": "array", "items": {"type": "string", "pattern": "="}},
            ]
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "auth": {
            "type": "object",
            "additionalProperties": False,
            "description": "Where the credentials are: never the credentials themselves.",
            "properties": {
                "token_env": env_name,
                "token_file": {"type": "string"},
                "ak_env": env_name,
                "sk_env": env_name,
                "security_token_env": env_name,
                "project_id_env": env_name,
                "none": {"type": "boolean"},
            },
        },
        "page_size": {"type": "integer", "minimum": 1},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "retries": {"type": "integer", "minimum": 0},
        "ca_bundle": {"type": "string"},
        "insecure": {"type": "boolean"},
        "min_images": {
            "type": "integer",
            "minimum": 0,
            "description": "Fewer images judged makes the target incomplete (default: --min-images, else 1); 0 lets "
            "an empty target pass.",
        },
    }
    target = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"}, **settings},
    }
    return {
        "$schema": DRAFT,
        "$id": "https://imagelint.invalid/schemas/targets.json",
        "title": "imagelint targets (imagelint audit --targets)",
        "type": "object",
        "additionalProperties": False,
        "required": ["targets"],
        "properties": {
            "defaults": {"type": "object", "additionalProperties": False, "properties": settings},
            "targets": {"type": "array", "minItems": 1, "items": target},
        },
    }


def _remediation(filled: bool) -> dict[str, Any]:
    """A policy's ``remediation`` in the JSON result: command templates on a policy, filled on a finding."""
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
    """The JSON result (``--format json``) of check, audit and merge; ``judgement.result.as_dict`` writes it."""
    nullable_str = {"type": ["string", "null"]}
    severity = {"enum": [s.label for s in Severity]}
    count = {"type": "integer", "minimum": 0}
    counts = {k: count for k in ("pass", "fail", "skip", "error")}
    waiver = {
        "type": "object",
        "required": ["policy", "selector", "reason", "expires", "file", "line"],
        "properties": {
            "policy": {"type": "string"},
            "selector": {"type": "string"},
            "reason": {"type": "string"},
            "expires": nullable_str,
            "owner": nullable_str,
            "ticket": nullable_str,
            "file": {"type": "string"},
            "line": count,
        },
    }
    finding = {
        "type": "object",
        "required": [
            "policy",
            "severity",
            "status",
            "validation",
            "message",
            "image",
            "attributes",
            "waived",
            "waiver",
            "baselined",
            "remediation",
        ],
        "properties": {
            "policy": {"type": "string"},
            "severity": severity,
            "status": {"enum": ["fail", "error"]},
            "validation": {"type": ["integer", "null"], "minimum": 0},
            "message": {"type": "string"},
            "image": {
                "type": "object",
                "required": ["id", "name", "visibility", "owner"],
                "properties": {
                    "id": {"type": "string"},
                    "name": nullable_str,
                    "visibility": nullable_str,
                    "owner": nullable_str,
                },
            },
            "attributes": {"type": "object"},
            "waived": {"type": "boolean"},
            "waiver": {"oneOf": [{"type": "null"}, waiver]},
            "baselined": {"type": "boolean"},
            "remediation": _remediation(filled=True),
            "target": {"type": "string", "description": "The audit target (audit and merge only)."},
            "state": {"enum": ["new", "unchanged", "resolved", "unknown"], "description": "With --compare."},
        },
    }
    key = {
        "type": "object",
        "required": ["policy", "image_id", "validation"],
        "properties": {
            "policy": {"type": "string"},
            "image_id": {"type": "string"},
            "validation": {"type": ["integer", "null"]},
            "target": {"type": "string"},
        },
    }
    target = {
        "type": "object",
        "required": [
            "name",
            "labels",
            "cloud",
            "region",
            "project",
            "api",
            "endpoint",
            "complete",
            "error",
            "images",
            "verdicts",
            "findings",
        ],
        "properties": {
            "name": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "cloud": nullable_str,
            "region": nullable_str,
            "project": nullable_str,
            "api": {"enum": ["images", "cloudimages"]},
            "endpoint": nullable_str,
            "complete": {"type": "boolean"},
            "error": nullable_str,
            "images": count,
            "verdicts": {"type": "object", "required": list(counts), "properties": counts},
            "findings": count,
            "seconds": {"type": "number", "minimum": 0},
        },
    }
    state_counts = {
        "type": "object",
        "additionalProperties": {"type": "object", "required": ["new", "unchanged", "resolved", "unknown"]},
    }
    return {
        "$schema": DRAFT,
        "$id": "https://imagelint.invalid/schemas/result.json",
        "title": "imagelint JSON result (check, audit, merge)",
        "type": "object",
        "required": [
            "tool",
            "engine",
            "now",
            "fail_on",
            "source",
            "summary",
            "policies",
            "findings",
            "waivers",
            "baseline",
        ],
        "properties": {
            "tool": {"type": "object", "required": ["name", "version"], "properties": {"name": {"const": "imagelint"}}},
            "engine": {"type": "string"},
            "now": {"type": "string"},
            "fail_on": {"type": "string"},
            "source": {
                "type": "object",
                "required": ["kind", "location", "images", "complete", "error"],
                "properties": {
                    "kind": {"enum": ["file", "api", "targets"]},
                    "location": {"type": "string"},
                    "images": count,
                    "complete": {"type": "boolean"},
                    "error": nullable_str,
                    "details": {"type": "object"},
                },
            },
            "summary": {
                "type": "object",
                "required": ["images", "policies", *counts, "by_severity", "waived", "baselined"],
                "properties": {
                    "images": count,
                    "policies": count,
                    **counts,
                    "by_severity": {"type": "object", "additionalProperties": count},
                    "waived": count,
                    "baselined": count,
                },
            },
            "policies": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "name",
                        "title",
                        "severity",
                        "file",
                        "line",
                        "validation_lines",
                        "remediation",
                        *counts,
                    ],
                    "properties": {
                        "name": {"type": "string"},
                        "severity": severity,
                        "references": {"type": "array", "items": {"type": "string"}},
                        "validation_lines": {"type": "array", "items": {"type": "integer"}},
                        "remediation": _remediation(filled=False),
                        **counts,
                    },
                },
            },
            "findings": {"type": "array", "items": finding},
            "waivers": {
                "type": "object",
                "required": ["expired", "stale"],
                "properties": {
                    "expired": {"type": "array", "items": waiver},
                    "stale": {"type": "array", "items": waiver},
                },
            },
            "baseline": {
                "type": "object",
                "required": ["file", "fixed"],
                "properties": {"file": nullable_str, "fixed": {"type": "array", "items": key}},
            },
            "audit": {
                "type": "object",
                "required": [
                    "targets_file",
                    "targets_digest",
                    "policies_digest",
                    "shard",
                    "selection",
                    "expected_targets",
                ],
                "properties": {
                    "shard": {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["index", "total"],
                                "properties": {
                                    "index": {"type": "integer", "minimum": 1},
                                    "total": {"type": "integer", "minimum": 1},
                                },
                            },
                        ]
                    },
                    "selection": {"type": "array", "items": {"type": "string"}},
                    "expected_targets": count,
                },
            },
            "targets": {"type": "array", "items": target},
            "comparison": {
                "type": "object",
                "required": [
                    "previous",
                    "new",
                    "unchanged",
                    "resolved",
                    "unknown",
                    "by_policy",
                    "by_target",
                    "resolved_findings",
                    "unknown_findings",
                ],
                "properties": {
                    "by_policy": state_counts,
                    "by_target": state_counts,
                    "resolved_findings": {"type": "array", "items": finding},
                    "unknown_findings": {"type": "array", "items": finding},
                },
            },
        },
    }


SCHEMAS = {
    "policy": policy_schema,
    "test": policy_test_schema,
    "waivers": waivers_schema,
    "config": config_schema,
    "targets": targets_schema,
    "result": result_schema,
}


def render(kind: str = "policy") -> str:
    return json.dumps(SCHEMAS[kind](), indent=2) + "\n"
