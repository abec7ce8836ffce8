"""Baselines: gate a legacy fleet on *new* findings only (``--write-baseline FILE``, ``--baseline FILE``).

A baseline records the fail/error findings of a run, each keyed by (policy, image id, validation index).
The key is exact on all three parts — never a policy alone, never a validation index alone — so accepting
one image's finding cannot hide the same problem on another image or under another policy (Checkov's
baselines, keyed more loosely, had exactly that leak). The file is sorted JSON with one entry per finding
and only stable fields (the image name is there for reviewers, never for matching), so it diffs well::

    {
      "findings": [
        {"image_id": "0b1c...", "image_name": "web-2019", "policy": "image-max-age", "validation": 0}
      ],
      "imagelint_baseline": 1
    }

Waived findings are not recorded: when a waiver expires, its finding must come back, not stay accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from imagelint.atomic import json_bytes, replacing
from imagelint.judgement.result import BaselineKey, RunResult, key_dict, key_of
from imagelint.policy.loader import Problem
from imagelint.policy.yamlfile import FileProblems, Reader, compose_json

FORMAT_VERSION = 1


class BaselineError(FileProblems):
    """A baseline file cannot be read or written (exit 2)."""


@dataclass(frozen=True)
class Baseline:
    file: str
    keys: frozenset[BaselineKey]


def _order(key: BaselineKey) -> tuple[str, str, str, int]:
    return key.target or "", key.policy, key.image_id, -1 if key.validation is None else key.validation


def render(result: RunResult) -> str:
    """The baseline file for a run's (unwaived) findings: stable, sorted JSON."""
    names: dict[BaselineKey, str | None] = {}
    for f in result.findings:
        if f.waiver is None:
            names.setdefault(key_of(f), f.image.name)
    entries = [{**key_dict(k), "image_name": names[k]} for k in sorted(names, key=_order)]
    return (
        json_bytes({"imagelint_baseline": FORMAT_VERSION, "findings": entries}, indent=2, sort_keys=True).decode(
            "utf-8"
        )
        + "\n"
    )


def write_baseline(path: str | Path, result: RunResult) -> None:
    """Write the baseline whole or not at all: a failed write keeps the previous baseline."""
    data = render(result).encode("utf-8")
    try:
        with replacing(Path(path), durable=True) as out:
            out.write(data)
    except OSError as exc:
        raise BaselineError([Problem(str(path), 1, 1, f"cannot write baseline: {exc.strerror or exc}")]) from None


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline; ``BaselineError`` with ``FILE:LINE:COL`` when it is not one."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        json.loads(text)
        # JSON, not YAML: PyYAML would refuse valid JSON (tab indents, U+0080 in a name); this keeps positions
        node = compose_json(text, file)
    except json.JSONDecodeError as exc:
        problem = Problem(file, exc.lineno, exc.colno, f"not a baseline: invalid JSON: {exc.msg}")
        raise BaselineError([problem]) from None
    except RecursionError:
        raise BaselineError([Problem(file, 1, 1, "not a baseline: invalid JSON: nested too deeply")]) from None
    except FileNotFoundError:
        raise BaselineError([Problem(file, 1, 1, "no such baseline file (create one with --write-baseline)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError([Problem(file, 1, 1, f"cannot read baseline: {exc}")]) from None
    reader = Reader(file)
    top = reader.mapping(node, "baseline", {"imagelint_baseline": True, "findings": True})
    reader.raise_if_any(BaselineError)
    version = top["imagelint_baseline"][1]
    if not (isinstance(version, yaml.ScalarNode) and version.value == str(FORMAT_VERSION)):
        reader.problem(
            version,
            f"imagelint_baseline: unsupported version {version.value!r} (expected {FORMAT_VERSION})"
            if isinstance(version, yaml.ScalarNode)
            else "imagelint_baseline: expected a number",
        )
    entries = top["findings"][1]
    keys: set[BaselineKey] = set()
    if not isinstance(entries, yaml.SequenceNode):
        reader.problem(entries, "findings: expected a list")
    else:
        for i, item in enumerate(entries.value):
            key = _entry(reader, item, f"findings[{i}]")
            if key is not None:
                keys.add(key)
    reader.raise_if_any(BaselineError)
    return Baseline(file, frozenset(keys))


def _entry(reader: Reader, item: Any, where: str) -> BaselineKey | None:
    entry = reader.mapping(
        item, where, {"policy": True, "image_id": True, "validation": True, "image_name": False, "target": False}
    )
    if not {"policy", "image_id", "validation"} <= set(entry):
        return None
    target = reader.string(entry["target"][1], f"{where}.target") if "target" in entry else None
    policy = reader.string(entry["policy"][1], f"{where}.policy")
    image_id = reader.string(entry["image_id"][1], f"{where}.image_id")
    vnode = entry["validation"][1]
    validation: int | None = None
    if not (isinstance(vnode, yaml.ScalarNode) and vnode.tag.endswith(":null")):
        validation = reader.integer(vnode, f"{where}.validation")
        if validation is None:
            return None
    if policy is None or image_id is None:
        return None
    return BaselineKey(policy=policy, image_id=image_id, validation=validation, target=target)


def apply_baseline(result: RunResult, baseline: Baseline) -> RunResult:
    """Mark recorded findings baselined; list recorded keys with no finding as fixed (complete runs only)."""
    seen: set[BaselineKey] = set()
    findings = []
    for f in result.findings:
        key = key_of(f)
        seen.add(key)
        findings.append(replace(f, baselined=True) if f.waiver is None and key in baseline.keys else f)
    fixed: tuple[BaselineKey, ...] = ()
    if result.source.complete:
        # an audit (or one shard of it) can say "fixed" only of the targets it read
        judged = {t.name for t in result.targets if t.complete} if result.targets else {None}
        fixed = tuple(sorted((k for k in baseline.keys - seen if k.target in judged), key=_order))
    return replace(result, findings=tuple(findings), fixed=fixed, baseline_file=baseline.file)


def notes(result: RunResult) -> list[str]:
    """Lines for stderr: what the baseline did in this run."""
    if result.baseline_file is None:
        return []
    baselined = sum(1 for f in result.findings if f.baselined)
    new = sum(1 for f in result.findings if not f.suppressed)
    return [f"imagelint: baseline {result.baseline_file}: {baselined} baselined, {new} new, {len(result.fixed)} fixed"]
