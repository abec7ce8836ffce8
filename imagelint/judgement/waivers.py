"""Waivers: explicit, expiring exceptions to policies (``check --waivers FILE``).

A waivers file is YAML: a list of entries, or a mapping whose ``waivers:`` key holds that list::

    waivers:
      - policy: image-max-age          # a policy name or a glob (fnmatch: image-*)
        name: "legacy-*"               # the image: exactly one of id, name (glob) or match (CEL over image)
        reason: replaced by the 2027 build pipeline
        expires: 2026-12-31            # required unless --allow-permanent-waivers
        owner: platform-team           # optional
        ticket: SEC-1234               # optional

A waiver covers the fail/error findings of matching policies on matching images: they are reported as
waived and do not fail the gate. ``expires`` is judged against the run's ``now`` (``--now``), so a run is
reproducible: a date means midnight UTC at the start of that day, i.e. the waiver covers findings *until*
that date. An expired waiver covers nothing and is reported (a warning), so exceptions cannot outlive
their review. A waiver that covered no finding in a complete run is reported as stale: the problem is
fixed or the selector is wrong. The first waiver (in file order) that matches a finding covers it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import celpy
import yaml
from celpy import celtypes

from imagelint.judgement.result import Finding, RunResult, Waiver
from imagelint.policy import celtree
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint.policy.loader import Problem, _offset_mapper
from imagelint.policy.model import Expr
from imagelint.policy.static import check_expression
from imagelint.policy.yamlfile import FileProblems, Reader, compose
from imagelint.times import UTC_RANGE, TimeError, Unreadable, parse_time

ENTRY_KEYS = {
    "policy": True,
    "id": False,
    "name": False,
    "match": False,
    "reason": True,
    "expires": False,
    "owner": False,
    "ticket": False,
    "target": False,
}
SELECTORS = ("id", "name", "match")


class WaiverError(FileProblems):
    """The waivers file is invalid (exit 2)."""


@dataclass(frozen=True, eq=False)
class Rule:
    """One waiver entry, ready to match findings."""

    waiver: Waiver
    """What reports show."""
    expires_at: dt.datetime | None
    image_id: str | None = None
    name_glob: str | None = None
    program: Any = None
    """A compiled cel-python program for ``match``."""
    target_glob: str | None = None
    """``target:``: the audit targets (a glob over their names) the waiver is for; ``None``: every one."""

    def covers(self, image: dict[str, Any], finding: Finding, now: Any) -> bool:
        if not fnmatch.fnmatchcase(finding.policy, self.waiver.policy):
            return False
        if self.target_glob is not None and not fnmatch.fnmatchcase(finding.target or "", self.target_glob):
            return False
        if self.image_id is not None:
            return finding.image.id == self.image_id
        if self.name_glob is not None:
            return fnmatch.fnmatchcase(finding.image.name or "", self.name_glob)
        try:
            value = self.program.evaluate({"image": celpy.json_to_cel(image), "now": now})
        except Exception:  # noqa: BLE001 - an image the expression cannot read is not selected
            return False
        return isinstance(value, celtypes.BoolType) and bool(value)


@dataclass
class WaiverSet:
    """The waivers of one file, and which of them covered something in this run."""

    file: str
    rules: list[Rule]
    used: set[int] = field(default_factory=set)
    """``id()`` of the rules that covered a finding in this run."""

    def expired(self, now: dt.datetime) -> list[Rule]:
        return [r for r in self.rules if r.expires_at is not None and now >= r.expires_at]

    def active(self, now: dt.datetime) -> list[Rule]:
        return [r for r in self.rules if r.expires_at is None or now < r.expires_at]

    def annotator(self, now: dt.datetime) -> Callable[[dict[str, Any], Finding], Finding]:
        """The ``annotate`` hook of ``evaluate``: marks covered findings waived, and remembers the rule."""
        active = self.active(now)
        cel_now = celtypes.TimestampType(now)

        def annotate(image: dict[str, Any], finding: Finding) -> Finding:
            for rule in active:
                if rule.covers(image, finding, cel_now):
                    self.used.add(id(rule))
                    return replace(finding, waiver=rule.waiver)
            return finding

        return annotate

    def finish(self, result: RunResult, now: dt.datetime) -> RunResult:
        """Record expired waivers, and stale ones when the run saw the whole fleet."""
        stale = [r.waiver for r in self.active(now) if id(r) not in self.used] if result.source.complete else []
        return replace(result, expired_waivers=tuple(r.waiver for r in self.expired(now)), stale_waivers=tuple(stale))


def notes(result: RunResult) -> list[str]:
    """The warning lines about waivers for stderr."""
    out = []
    for w in result.expired_waivers:
        out.append(
            f"{w.file}:{w.line}: warning: waiver for {w.policy} ({w.selector}) expired on {w.expires}; "
            "it no longer applies: renew it with a new date or fix the finding"
        )
    for w in result.stale_waivers:
        out.append(
            f"{w.file}:{w.line}: warning: waiver for {w.policy} ({w.selector}) matched no finding "
            "(stale): remove it, or check its policy and selector"
        )
    return out


def parse_expiry(text: str) -> dt.datetime | None:
    """``2026-12-31`` -> midnight UTC of that day; an RFC 3339 time with an offset as given; else ``None``.

    ``OverflowError`` when the time is outside years 1..9999 once in UTC (``0001-01-01T00:00:00+01:00``).
    """
    try:
        return parse_time(text, date_means_midnight=True)
    except TimeError as exc:
        if exc.why is Unreadable.RANGE:
            raise OverflowError(str(exc)) from None
        return None


def load_waivers(
    path: str | Path, *, allow_permanent: bool = False, catalogue: Catalogue = IMAGE_ATTRIBUTES
) -> WaiverSet:
    """Read and check a waivers file; ``WaiverError`` lists every problem with ``FILE:LINE:COL``."""
    node, file, text = compose(Path(path), "waivers file", WaiverError)
    reader = Reader(file)
    if node is None:
        return WaiverSet(file, [])
    entries = node
    if isinstance(node, yaml.MappingNode):
        top = reader.mapping(node, "waivers file", {"waivers": True})
        reader.raise_if_any(WaiverError)
        entries = top["waivers"][1]
    if not isinstance(entries, yaml.SequenceNode):
        reader.problem(entries, "expected a list of waivers (or a mapping with a 'waivers:' list)")
        reader.raise_if_any(WaiverError)
    rules = []
    for index, item in enumerate(entries.value):
        rule = _rule(reader, file, text, item, f"waivers[{index}]", allow_permanent, catalogue)
        if rule is not None:
            rules.append(rule)
    reader.raise_if_any(WaiverError)
    return WaiverSet(file, rules)


def _rule(
    reader: Reader, file: str, text: str, item: Any, where: str, allow_permanent: bool, catalogue: Catalogue
) -> Rule | None:
    before = len(reader.problems)
    entry = reader.mapping(item, where, ENTRY_KEYS)
    if not entry:
        return None
    values = {k: reader.string(v, f"{where}.{k}") for k, (_, v) in entry.items()}
    chosen = [k for k in SELECTORS if k in entry]
    if len(chosen) != 1:
        reader.problem(
            item,
            f"{where}: needs exactly one image selector: id, name (a glob) or match (CEL over "
            f"image); got {', '.join(chosen) or 'none'}",
        )
    expires_at = None
    if "expires" in entry and values["expires"] is not None:
        try:
            expires_at = parse_expiry(values["expires"])
        except OverflowError:
            reader.problem(
                entry["expires"][1],
                f"{where}.expires: {values['expires']!r} is out of range: in UTC it must lie within {UTC_RANGE}",
            )
        else:
            if expires_at is None:
                reader.problem(
                    entry["expires"][1],
                    f"{where}.expires: {values['expires']!r} is not a date "
                    "(YYYY-MM-DD) or an RFC 3339 time with a zone",
                )
    elif "expires" not in entry and not allow_permanent:
        reader.problem(
            item,
            f"{where}: missing 'expires' (a date, e.g. 2026-12-31); a waiver without one needs "
            "--allow-permanent-waivers",
        )
    program = None
    if "match" in entry and values["match"] is not None:
        program = _compile_match(reader, file, text, entry["match"][1], values["match"], f"{where}.match", catalogue)
    if len(reader.problems) > before or len(chosen) != 1:
        return None
    selector = chosen[0]
    waiver = Waiver(
        policy=str(values["policy"]),
        reason=str(values["reason"]),
        expires=values.get("expires"),
        owner=values.get("owner"),
        ticket=values.get("ticket"),
        selector=f"{selector}={values[selector]}" + (f" target={values['target']}" if values.get("target") else ""),
        file=file,
        line=item.start_mark.line + 1,
    )
    return Rule(
        waiver,
        expires_at,
        image_id=values.get("id") if selector == "id" else None,
        name_glob=values.get("name") if selector == "name" else None,
        program=program,
        target_glob=values.get("target"),
    )


def _compile_match(
    reader: Reader, file: str, text: str, node: Any, source: str, where: str, catalogue: Catalogue
) -> Any:
    mapper = _offset_mapper(file, text, node, source)
    try:
        analysis = celtree.analyse(source)
    except RecursionError:  # cel-python's parse tree has about ten levels per parenthesis
        reader.problems.append(Problem(file, *_lc(mapper(0)), f"{where}: expression nested too deeply to read"))
        return None
    problems = [Problem(file, *_lc(mapper(i.offset)), f"{where}: {i.message}") for i in analysis.issues]
    if analysis.tree is not None and not problems:
        for tree in analysis.tree.iter_subtrees():
            if tree.data == "ident" and str(tree.children[0]) in ("params", "variables"):
                pos = mapper(tree.meta.start_pos)
                problems.append(
                    Problem(file, pos.line, pos.column, f"{where}: a waiver's match sees only image and now")
                )
        if not problems:
            expr = Expr(
                source=source,
                where=where,
                position=mapper(0),
                tree=analysis.tree,
                attributes=frozenset(analysis.attributes),
                whole_image=analysis.whole_image,
                variables=frozenset(),
                offset_to_position=mapper,
            )
            problems += [p for p in check_expression(expr, catalogue) if p.level == "error"]
    reader.problems += problems
    if problems:
        return None
    env = celpy.Environment()
    return env.program(env.compile(source))


def _lc(pos: Any) -> tuple[int, int]:
    return pos.line, pos.column
