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
            "reports": pairs,
            "attributes": {"type": "object", "additionalProperties": attribute},
        },
    }


SCHEMAS = {"policy": policy_schema, "test": policy_test_schema, "waivers": waivers_schema, "config": config_schema}


def render(kind: str = "policy") -> str:
    return json.dumps(SCHEMAS[kind](), indent=2) + "\n"
