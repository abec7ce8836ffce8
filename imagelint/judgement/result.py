"""The result model: the one currency that reporters see.

Everything here is a frozen dataclass built by the evaluator. ``as_dict`` turns a ``RunResult`` into the
documented JSON result object (README, "JSON result format"); the JSON reporter serialises it and the
template-driven reporters receive exactly that dict as their context, so a user's own template and our
JSON output can never drift apart.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar


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


_T = TypeVar("_T")


def built(cls: type[_T], **values: Any) -> _T:
    """A frozen dataclass instance from all its field values, without its ``__init__``, which sets each
    field through the frozen class's own ``__setattr__`` check (1.8 µs for a ``Finding``, made for every
    failure of every image). Every field must be given."""
    made = object.__new__(cls)
    for name, value in values.items():
        _SET(made, name, value)
    return made


_SET = object.__setattr__  # past the frozen dataclass's refusal, into the slot
_NEW = object.__new__


@dataclass(frozen=True, slots=True)
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
        get = image.get
        ident, name, visibility, owner = image["id"], get("name"), get("visibility"), get("owner")
        made = _NEW(cls)  # into the slots: one per image with a finding (see built)
        _SET(made, "id", ident if type(ident) is str else str(ident))
        _SET(made, "name", name if type(name) is str or name is None else str(name))
        _SET(made, "visibility", visibility if type(visibility) is str or visibility is None else str(visibility))
        _SET(made, "owner", owner if type(owner) is str or owner is None else str(owner))
        return made


IMAGE_REF_FIELDS = ("id", "name", "visibility", "owner")
"""The attributes ``ImageRef.of`` reads."""

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
    parts = _TEMPLATES.get(template)
    if parts is None:
        parts = _parts(template)
        if len(_TEMPLATES) < 1024:  # the policies' templates: a few dozen
            _TEMPLATES[template] = parts
    out = []
    for text, name in parts:
        out.append(text)
        if name is not None:
            out.append(shell_word(getattr(image, name), name))
    return "".join(out)


def _parts(template: str) -> tuple[tuple[str, str | None], ...]:
    """``"set {id} x"`` -> ``(("set ", "id"), (" x", None))``: a template split once at its placeholders,
    not matched again for every finding that a report fills it for."""
    pieces = _PLACEHOLDER.split(template)  # text, name, text, name, ..., text
    names: list[str | None] = [*pieces[1::2], None]
    return tuple((text, name) for text, name in zip(pieces[::2], names, strict=True) if text or name)


_TEMPLATES: dict[str, tuple[tuple[str, str | None], ...]] = {}


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


@dataclass(frozen=True, slots=True)
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
    target: str | None = None
    """The audit target (``targets.yaml`` name) the image was seen through; ``None`` for ``check``. Part of
    the finding's identity: one public or shared image is seen, and judged, from every project it is in."""
    state: str | None = None
    """With ``--compare``: ``new`` (not in the previous run) or ``unchanged``; else ``None``."""
    remediation: Remediation | None = None
    """The policy's remediation (shared by its findings; filled for the image when reported)."""

    @property
    def suppressed(self) -> bool:
        """Waived or baselined: reported apart, and never a reason for exit 1."""
        return self.waiver is not None or self.baselined


def new_finding(
    policy: str,
    severity: Severity,
    status: Status,
    validation: int | None,
    message: str,
    image: ImageRef,
    attributes: Mapping[str, Any],
    target: str | None,
    remediation: Remediation | None,
) -> Finding:
    """A finding as the evaluator makes one (not waived, baselined or compared yet), straight into its slots:
    this runs for every failure of every image, and a slot's own setter costs less than the frozen
    ``__init__`` or ``built``'s loop over keyword arguments."""
    made = _NEW(Finding)
    _policy(made, policy)
    _severity(made, severity)
    _status(made, status)
    _validation(made, validation)
    _message(made, message)
    _image(made, image)
    _attributes(made, attributes)
    _waiver(made, None)
    _baselined(made, False)
    _target(made, target)
    _state(made, None)
    _remediation(made, remediation)
    return made


(_policy, _severity, _status, _validation, _message, _image, _attributes, _waiver, _baselined, _target, _state,
 _remediation) = (
    Finding.__dict__[name].__set__
    for name in ("policy", "severity", "status", "validation", "message", "image", "attributes", "waiver",
                 "baselined", "target", "state", "remediation")
)  # fmt: skip


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
    """What identifies a finding across runs: never shared between images, policies or audit targets."""

    policy: str
    image_id: str
    validation: int | None
    target: str | None = None
    """The audit target; ``None`` for ``check`` (one source, so no target)."""


def key_of(finding: Finding) -> BaselineKey:
    """A finding's identity across runs (baselines, comparisons, SARIF fingerprints)."""
    return BaselineKey(
        policy=finding.policy, image_id=finding.image.id, validation=finding.validation, target=finding.target
    )


@dataclass(frozen=True)
class TargetInfo:
    """One audit target as the report shows it: where it points and how much of it was judged."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    cloud: str | None = None
    region: str | None = None
    project: str | None = None
    """Project id or name, as the targets file gives it."""
    api: str = "images"
    endpoint: str | None = None
    """The endpoint URL (never with credentials), when known."""
    complete: bool = False
    """False when the target could not be read whole (or was never reached): the estate is incomplete."""
    error: str | None = None
    """Why it is incomplete (one line), else ``None``."""
    images: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errored: int = 0
    findings: int = 0
    """Fail/error findings of this target (waived and baselined included)."""
    seconds: float = 0.0
    """Wall time spent on the target (fetch and judgement)."""


@dataclass(frozen=True)
class AuditInfo:
    """What ties the results of one estate together, so that shards merge only with their own kind."""

    targets_file: str
    targets_digest: str
    """SHA-256 of the targets file's text."""
    policies_digest: str
    """SHA-256 over the policies (their names, files' text) and the params in effect."""
    shard: tuple[int, int] | None = None
    """``(index, total)`` (1-based) of a sharded run; ``None`` for all targets (or a merge)."""
    selection: tuple[str, ...] = ()
    """``--target``/``--label`` as given: a merge refuses shards of different selections."""
    expected_targets: int = 0
    """Targets the (selected, sharded) estate has: ``len(targets)`` unless the run was interrupted."""


@dataclass(frozen=True)
class Comparison:
    """``--compare PREVIOUS.json``: this run's findings against the previous run's, keyed by ``key_of``."""

    previous: str
    """The previous result file, as given."""
    new: int
    unchanged: int
    resolved: tuple[Finding, ...]
    """Previous findings gone now, where their target was complete in both runs."""
    unknown: tuple[Finding, ...]
    """Previous findings of a target incomplete now or then: neither resolved nor still there."""
    by_policy: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Policy -> ``{"new", "unchanged", "resolved", "unknown"}`` counts."""
    by_target: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Target (``""`` for ``check``) -> the same counts."""


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
    findings: Sequence[Finding]
    """A tuple, or for an audit the findings spilled to disk (``spill.SpilledFindings``): read-only either way."""
    fail_on: str = "low"
    """The gate threshold the run was judged with (``never`` for audits)."""
    expired_waivers: tuple[Waiver, ...] = ()
    """Waivers past their ``expires`` date at ``now``: they no longer apply (each is a warning)."""
    stale_waivers: tuple[Waiver, ...] = ()
    """Waivers that matched no finding in a complete run."""
    fixed: tuple[BaselineKey, ...] = ()
    """Baseline entries with no finding in this (complete) run: fixed since the baseline was written."""
    baseline_file: str | None = None
    targets: tuple[TargetInfo, ...] = ()
    """The audit's targets (``imagelint audit``/``merge``); empty for ``check``."""
    audit: AuditInfo | None = None
    comparison: Comparison | None = None


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


SEVERITY_LABELS = {s: s.label for s in Severity}
"""``severity.label`` by lookup: an enum's name and value are properties, and a report reads them per finding."""
STATUS_VALUES = {s: s.value for s in Status}


def finding_dict(f: Finding) -> dict[str, Any]:
    """The JSON shape of one finding."""
    return {
        "policy": f.policy,
        "severity": SEVERITY_LABELS[f.severity],
        "status": STATUS_VALUES[f.status],
        "validation": f.validation,
        "message": f.message,
        "image": {"id": f.image.id, "name": f.image.name, "visibility": f.image.visibility, "owner": f.image.owner},
        "attributes": dict(f.attributes),
        "waived": f.waiver is not None,
        "waiver": waiver_dict(f.waiver) if f.waiver else None,
        "baselined": f.baselined,
        "remediation": remediation_dict(f.remediation, f.image),
        **({"target": f.target} if f.target is not None else {}),
        **({"state": f.state} if f.state is not None else {}),
    }


def target_dict(t: TargetInfo) -> dict[str, Any]:
    """The JSON shape of one audit target."""
    return {
        "name": t.name,
        "labels": dict(t.labels),
        "cloud": t.cloud,
        "region": t.region,
        "project": t.project,
        "api": t.api,
        "endpoint": t.endpoint,
        "complete": t.complete,
        "error": t.error,
        "images": t.images,
        "verdicts": {"pass": t.passed, "fail": t.failed, "skip": t.skipped, "error": t.errored},
        "findings": t.findings,
        "seconds": round(t.seconds, 3),
    }


def key_dict(k: BaselineKey) -> dict[str, Any]:
    return {
        "policy": k.policy,
        "image_id": k.image_id,
        "validation": k.validation,
        **({"target": k.target} if k.target is not None else {}),
    }


def _audit_dict(result: RunResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if result.audit is not None:
        a = result.audit
        out["audit"] = {
            "targets_file": a.targets_file,
            "targets_digest": a.targets_digest,
            "policies_digest": a.policies_digest,
            "shard": None if a.shard is None else {"index": a.shard[0], "total": a.shard[1]},
            "selection": list(a.selection),
            "expected_targets": a.expected_targets,
        }
    if result.audit is not None or result.targets:
        out["targets"] = [target_dict(t) for t in result.targets]
    if result.comparison is not None:
        c = result.comparison
        out["comparison"] = {
            "previous": c.previous,
            "new": c.new,
            "unchanged": c.unchanged,
            "resolved": len(c.resolved),
            "unknown": len(c.unknown),
            "by_policy": {k: dict(v) for k, v in c.by_policy.items()},
            "by_target": {k: dict(v) for k, v in c.by_target.items()},
            "resolved_findings": [finding_dict(f) for f in c.resolved],
            "unknown_findings": [finding_dict(f) for f in c.unknown],
        }
    return out


@dataclass(frozen=True)
class Tally:
    """What a result counts of its findings."""

    by_severity: dict[str, int]
    waived: int
    baselined: int


def tally(findings: Sequence[Finding]) -> Tally:
    """The counts of ``findings``, in one pass, or none for spilled findings (they noted them when written)."""
    counted = getattr(findings, "tally", None)
    if counted is not None:
        return counted()  # type: ignore[no-any-return]
    by_severity = {s.label: 0 for s in reversed(Severity)}
    waived = baselined = 0
    for f in findings:
        by_severity[f.severity.label] += 1
        waived += f.waiver is not None
        baselined += f.baselined
    return Tally(by_severity, waived, baselined)


def as_dict(result: RunResult, *, findings: bool = True) -> dict[str, Any]:
    """The documented, stable JSON result object (see README "JSON result format").

    ``findings=False`` leaves the ``findings`` list empty (the summary still counts them), for reporters
    that serialise the findings one by one.
    """
    s = result.summary
    counts = tally(result.findings)
    waived, baselined = counts.waived, counts.baselined
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
            "waived": waived,
            "baselined": baselined,
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
            "fixed": [key_dict(k) for k in result.fixed],
        },
        **_audit_dict(result),
    }
