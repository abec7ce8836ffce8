"""The result model: the one currency that reporters see.

Everything here is a frozen dataclass built by the evaluator. ``as_dict`` turns a ``RunResult`` into the
documented JSON result object (README, "JSON result format"); the JSON reporter serialises it and the
template-driven reporters receive exactly that dict as their context, so a user's own template and our
JSON output can never drift apart.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Policy severity, ordered so that ``--fail-on`` can compare."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``"high"`` -> ``Severity.HIGH``; raises ``ValueError`` naming the allowed values."""
        try:
            return cls[text.upper()]
        except KeyError:
            allowed = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {allowed})") from None


class Status(str, enum.Enum):
    """Verdict of one (policy, image) pair, and the status of a finding (only FAIL or ERROR)."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True)
class ImageRef:
    """The identifying attributes of an image, as reported in every finding."""

    id: str
    """The image id (always a string: sources reject images without one)."""
    name: str | None
    """The image name, untrusted: it comes from whoever created the image."""
    visibility: str | None
    """``public``, ``private`` or ``shared`` as the API returned it (not validated here)."""
    owner: str | None
    """The owning tenant (project) id."""

    @classmethod
    def of(cls, image: Mapping[str, Any]) -> ImageRef:
        def text(key: str) -> str | None:
            value = image.get(key)
            return None if value is None else str(value)

        return cls(id=str(image["id"]), name=text("name"), visibility=text("visibility"), owner=text("owner"))


CLOUDS = ("openstack", "huaweicloud")
"""Clouds a remediation can give a command for: the ``openstack`` client, Huawei Cloud's KooCLI ``hcloud``."""
PLACEHOLDERS = ("id", "name", "owner", "visibility")
"""What a remediation command can name of the image (``{id}``): the fields of ``ImageRef``."""
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SHELL_SAFE = re.compile(r"[A-Za-z0-9._:/=@%+-]+")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@dataclass(frozen=True)
class Remediation:
    """How to fix a policy's findings: a sentence, and per cloud a command with placeholders (``{id}``)."""

    text: str
    commands: Mapping[str, str] = field(default_factory=dict)
    """Cloud (one of ``CLOUDS``) -> command template; placeholders are ``PLACEHOLDERS`` in braces."""

    def filled(self, image: ImageRef) -> dict[str, str]:
        """The commands for one image. Image values come from other tenants: each is one shell word (quoted
        unless it is plainly safe), and a value with control or bidi characters is not inserted at all."""
        return {cloud: fill(template, image) for cloud, template in self.commands.items()}


def fill(template: str, image: ImageRef) -> str:
    return _PLACEHOLDER.sub(lambda m: shell_word(getattr(image, m.group(1)), m.group(1)), template)


def shell_word(value: str | None, name: str = "value") -> str:
    """``value`` as one inert POSIX shell word."""
    if value is None:
        return f"'<no {name}>'"
    if _SHELL_SAFE.fullmatch(value):
        return value
    if _UNPRINTABLE.search(value):
        return f"'<{name} with unprintable characters>'"
    return "'" + value.replace("'", "'\"'\"'") + "'"


def remediation_dict(remediation: Remediation | None, image: ImageRef | None = None) -> dict[str, Any] | None:
    """The JSON shape: the command templates, or with ``image`` the commands filled for it."""
    if remediation is None:
        return None
    commands = remediation.filled(image) if image is not None else dict(remediation.commands)
    return {"text": remediation.text, "commands": commands}


@dataclass(frozen=True)
class Finding:
    """One failed or erroring validation of one policy on one image."""

    policy: str
    """Name of the policy (``metadata.name``)."""
    severity: Severity
    """The policy's severity."""
    status: Status
    """``Status.FAIL`` (a validation was false) or ``Status.ERROR`` (an expression raised or was not bool)."""
    validation: int | None
    """Index of the validation in ``spec.validations``; ``None`` when ``spec.match`` itself errored."""
    message: str
    """Human message: from messageExpression, else message, else the expression text (or the error)."""
    image: ImageRef
    """The image the finding is about."""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    """The image attributes the policy reads (present ones only), for reports that show evidence."""
    waiver: Waiver | None = None
    """The waiver that covers this finding (it then does not fail the gate), else ``None``."""
    baselined: bool = False
    """True when ``--baseline`` already recorded this finding (it then does not fail the gate)."""
    remediation: Remediation | None = None
    """The policy's remediation (shared by its findings; filled for the image when reported)."""

    @property
    def suppressed(self) -> bool:
        """Waived or baselined: reported apart, and never a reason for exit 1."""
        return self.waiver is not None or self.baselined


@dataclass(frozen=True)
class Waiver:
    """An accepted exception from a waivers file, as reports show it."""

    policy: str
    """Policy name or glob."""
    reason: str
    expires: str | None
    """ISO date (``None`` only with ``--allow-permanent-waivers``)."""
    owner: str | None = None
    ticket: str | None = None
    selector: str = ""
    """How the waiver picks images, for display: ``id=...``, ``name=glob`` or ``match=CEL``."""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class BaselineKey:
    """What identifies a finding across runs: never shared between images or policies."""

    policy: str
    image_id: str
    validation: int | None


@dataclass(frozen=True)
class PolicyInfo:
    """What reporters need to know about a policy, and its counters for this run."""

    name: str
    title: str
    severity: Severity
    description: str
    references: tuple[str, ...]
    labels: Mapping[str, str]
    file: str
    """The policy file (as given, or ``<bundled>/NAME.yaml`` for the bundled pack)."""
    line: int
    """1-based line of the policy document's ``apiVersion`` in ``file``."""
    match_line: int | None = None
    """Line where ``spec.match``'s expression starts, ``None`` without a match."""
    validation_lines: tuple[int, ...] = ()
    """Line where each validation's expression starts, by validation index."""
    remediation: Remediation | None = None
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errored: int = 0

    def line_of(self, validation: int | None) -> int:
        """The line a finding of ``validation`` points at: its expression's, or ``spec.match``'s for ``None``
        (the match errored); the document's line when that is unknown."""
        if validation is None:
            return self.match_line or self.line
        if 0 <= validation < len(self.validation_lines):
            return self.validation_lines[validation]
        return self.line


@dataclass(frozen=True)
class SourceInfo:
    """Where the images came from and whether every image was seen."""

    kind: str
    """``file`` for snapshots, ``api`` for the live API."""
    location: str
    """File path (``-`` for stdin) or the endpoint URL (never with credentials)."""
    images: int
    """Images read (and evaluated)."""
    complete: bool
    """False when the source failed part way: the gate must not pass such a run."""
    error: str | None = None
    """Why the source is incomplete (one line), else ``None``."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Source-specific extras (endpoint query, pages, snapshot metadata)."""


@dataclass(frozen=True)
class RunSummary:
    """Counters over all (policy, image) pairs of the run."""

    images: int
    policies: int
    passed: int
    failed: int
    skipped: int
    errored: int
    by_severity: Mapping[str, int]
    """Number of fail/error findings per severity label (every label present, zeros included; waived and
    baselined findings included: they are still findings, only the gate ignores them)."""


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced: what reporters render and what ``exit_code`` judges."""

    tool_version: str
    engine: str
    now: str
    """The run's fixed ``now`` in RFC 3339 (UTC)."""
    source: SourceInfo
    summary: RunSummary
    policies: tuple[PolicyInfo, ...]
    findings: tuple[Finding, ...]
    fail_on: str = "low"
    """The gate threshold the run was judged with (``never`` for audits)."""
    expired_waivers: tuple[Waiver, ...] = ()
    """Waivers past their ``expires`` date at ``now``: they no longer apply (each is a warning)."""
    stale_waivers: tuple[Waiver, ...] = ()
    """Waivers that matched no finding in a complete run."""
    fixed: tuple[BaselineKey, ...] = ()
    """Baseline entries with no finding in this (complete) run: fixed since the baseline was written."""
    baseline_file: str | None = None


def waiver_dict(w: Waiver) -> dict[str, Any]:
    return {
        "policy": w.policy,
        "selector": w.selector,
        "reason": w.reason,
        "expires": w.expires,
        "owner": w.owner,
        "ticket": w.ticket,
        "file": w.file,
        "line": w.line,
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    """The JSON shape of one finding."""
    return {
        "policy": f.policy,
        "severity": f.severity.label,
        "status": f.status.value,
        "validation": f.validation,
        "message": f.message,
        "image": {"id": f.image.id, "name": f.image.name, "visibility": f.image.visibility, "owner": f.image.owner},
        "attributes": dict(f.attributes),
        "waived": f.waiver is not None,
        "waiver": waiver_dict(f.waiver) if f.waiver else None,
        "baselined": f.baselined,
        "remediation": remediation_dict(f.remediation, f.image),
    }


def as_dict(result: RunResult, *, findings: bool = True) -> dict[str, Any]:
    """The documented, stable JSON result object (see README "JSON result format").

    ``findings=False`` leaves the ``findings`` list empty (the summary still counts them), for reporters
    that serialise the findings one by one.
    """
    s = result.summary
    return {
        "tool": {"name": "imagelint", "version": result.tool_version},
        "engine": result.engine,
        "now": result.now,
        "fail_on": result.fail_on,
        "source": {
            "kind": result.source.kind,
            "location": result.source.location,
            "images": result.source.images,
            "complete": result.source.complete,
            "error": result.source.error,
            **({"details": dict(result.source.details)} if result.source.details else {}),
        },
        "summary": {
            "images": s.images,
            "policies": s.policies,
            "pass": s.passed,
            "fail": s.failed,
            "skip": s.skipped,
            "error": s.errored,
            "by_severity": dict(s.by_severity),
            "waived": sum(1 for f in result.findings if f.waiver is not None),
            "baselined": sum(1 for f in result.findings if f.baselined),
        },
        "policies": [
            {
                "name": p.name,
                "title": p.title,
                "severity": p.severity.label,
                "description": p.description,
                "references": list(p.references),
                "labels": dict(p.labels),
                "file": p.file,
                "line": p.line,
                "match_line": p.match_line,
                "validation_lines": list(p.validation_lines),
                "remediation": remediation_dict(p.remediation),
                "pass": p.passed,
                "fail": p.failed,
                "skip": p.skipped,
                "error": p.errored,
            }
            for p in result.policies
        ],
        "findings": [finding_dict(f) for f in result.findings] if findings else [],
        "waivers": {
            "expired": [waiver_dict(w) for w in result.expired_waivers],
            "stale": [waiver_dict(w) for w in result.stale_waivers],
        },
        "baseline": {
            "file": result.baseline_file,
            "fixed": [{"policy": k.policy, "image_id": k.image_id, "validation": k.validation} for k in result.fixed],
        },
    }
