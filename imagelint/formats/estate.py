"""The per-target view of an audit, shared by the template formats (Markdown, HTML, text).

``view.targets`` is each target with its verdict and open findings; ``view.repeats`` says how much of the
report is one image seen from several targets. imagelint judges a public or shared image in every target
that lists it (each target's verdict must stand on its own, and a shard cannot know what another shard
saw), so an image public to 100 projects is 100 findings: reports then group them (``view.repeated``: the
identities seen from more than one target, most targets first) rather than let them drown the rest.
``view.compare`` holds ``--compare``'s counts in table form.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from imagelint.judgement.result import RunResult, target_dict

REPEATED_SHOWN = 20


def estate_view(result: RunResult) -> dict[str, Any]:
    open_by_target: Counter[str] = Counter()
    seen_in: dict[tuple[str, str, int | None], set[str]] = {}
    names: dict[tuple[str, str, int | None], tuple[str | None, str | None]] = {}
    for f in result.findings:
        if f.target is None:
            continue
        if not f.suppressed:
            open_by_target[f.target] += 1
        key = (f.policy, f.image.id, f.validation)
        seen_in.setdefault(key, set()).add(f.target)
        names.setdefault(key, (f.image.name, f.image.visibility))
    targets = []
    for t in result.targets:
        row = target_dict(t)
        row["open"] = open_by_target[t.name]
        row["verdict"] = "incomplete" if not t.complete else "fail" if row["open"] else "pass"
        targets.append(row)
    repeated = sorted(
        ((key, len(where)) for key, where in seen_in.items() if len(where) > 1), key=lambda kv: (-kv[1], kv[0][:2])
    )
    out: dict[str, Any] = {
        "targets": targets,
        "targets_incomplete": sum(1 for t in result.targets if not t.complete),
        "repeats": sum(n - 1 for _, n in repeated),
        "repeated": [
            {
                "policy": key[0],
                "image_id": key[1],
                "validation": key[2],
                "image_name": names[key][0],
                "visibility": names[key][1],
                "targets": n,
            }
            for key, n in repeated[:REPEATED_SHOWN]
        ],
        "repeated_total": len(repeated),
        "compare": None,
    }
    if result.comparison is not None:
        c = result.comparison
        out["compare"] = {
            "previous": c.previous,
            "new": c.new,
            "unchanged": c.unchanged,
            "resolved": len(c.resolved),
            "unknown": len(c.unknown),
            "by_policy": [{"name": k, **v} for k, v in c.by_policy.items()],
            "by_target": [{"name": k or "(check)", **v} for k, v in c.by_target.items()],
        }
    return out
