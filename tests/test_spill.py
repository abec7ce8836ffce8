"""Findings spilled to disk come back equal, in the order of the parts asked for, odd strings included."""

from __future__ import annotations

import gc
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from imagelint.formats import OutputFormat
from imagelint.formats.view import context_with_view
from imagelint.judgement.estate import assemble
from imagelint.judgement.result import (
    AuditInfo,
    Finding,
    ImageRef,
    PolicyInfo,
    Remediation,
    RunResult,
    Severity,
    Status,
    TargetInfo,
    Waiver,
    tally,
)
from imagelint.judgement.spill import Spill


def finding(i: int, name: str, target: str) -> Finding:
    return Finding(
        policy=f"p{i % 3}",
        severity=Severity(i % 5),
        status=Status.FAIL if i % 2 else Status.ERROR,
        validation=None if i % 5 == 0 else i % 4,
        message=f"message {name}",
        image=ImageRef(id=f"id-{i}", name=name, visibility="public", owner=None),
        attributes={"name": name, "n": i, "tags": [name, "x"]},
        waiver=Waiver(policy="p*", reason="r", expires="2027-01-01", selector="id=x") if i % 7 == 0 else None,
        baselined=i % 6 == 1,
        target=target,
        state=("new", "unchanged", None)[i % 3],
        remediation=FIX if i % 2 else None,
    )


class Attributes(dict):
    """A mapping marshal does not write."""


FIX = Remediation(text="Protect it.", commands={"openstack": "openstack image set --protected {id}"})


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), max_size=8), min_size=1, max_size=6))
def test_round_trip_in_part_order(groups):
    spill = Spill()
    parts, expected = [], []
    for g, names in enumerate(groups):
        batch = [finding(i, name, f"t{g}") for i, name in enumerate(names)]
        parts.append((spill.add(batch), batch))
    for _part, batch in reversed(parts):  # asked for in another order than written
        expected.extend(batch)
    got = spill.findings(part for part, _ in reversed(parts))
    assert len(got) == len(expected)
    assert list(got) == expected
    assert [got[i] for i in range(len(got))] == expected
    # the counts noted when written are those of the findings read back (severities, waived, baselined)
    assert got.tally() == tally(list(got)) == tally(expected)
    if expected:
        assert got[-1] == expected[-1] and list(got[1:3]) == expected[1:3]
    spill.close()


def test_lone_surrogates_and_nul_survive():
    spill = Spill()
    odd = finding(1, "bad\ud800name\x00\u2028", "t")
    part = spill.add([odd])
    assert list(spill.findings([part])) == [odd]


def test_deep_values_and_what_marshal_does_not_write_come_back_equal():
    deep: object = "leaf"
    for _ in range(1200):  # deeper than json.loads reads (about 1,000) and than pickle writes
        deep = [deep]
    odd = [
        replace(finding(1, "deep", "t"), attributes={"x": deep}),
        replace(finding(2, "subclass", "t"), attributes=Attributes(a=1)),  # not a dict to marshal: pickled
        finding(3, "plain", "t"),
    ]
    spill = Spill()
    got = list(spill.findings([spill.add(odd)]))
    assert got[1:] == odd[1:]
    depth, value = 0, got[0].attributes["x"]
    while isinstance(value, list):  # not ==: comparing 1,200 nested lists recurses past Python's limit
        depth, value = depth + 1, value[0]
    assert (depth, value) == (1200, "leaf") and got[0].image == odd[0].image
    assert isinstance(got[2].severity, Severity) and isinstance(got[2].status, Status)
    assert got[2].remediation is FIX  # shared objects come back as themselves, written once


def spilled_estate(n: int) -> tuple[RunResult, list[Finding]]:
    """An audit's result of ``n`` findings over two targets, its findings spilled as ``run_estate`` spills them."""
    spill = Spill()
    made = [finding(i, f"img-{i}", f"t{i % 2}") for i in range(n)]
    parts = [spill.add([f for f in made if f.target == t]) for t in ("t0", "t1")]
    policies = [
        PolicyInfo(f"p{k}", f"title {k}", Severity.HIGH, "", (), {}, "p.yaml", 1, failed=n // 3) for k in range(3)
    ]
    result = assemble(
        tuple(TargetInfo(name=t, complete=True, images=n // 2) for t in ("t0", "t1")),
        policies,
        policies,
        spill.findings(parts),
        engine="compiled",
        now="2026-01-01T00:00:00Z",
        fail_on="low",
        audit=AuditInfo(targets_file="targets.yaml", targets_digest="d", policies_digest="d", expected_targets=2),
    )
    return result, [f for t in ("t0", "t1") for f in made if f.target == t]


def test_the_reports_group_spilled_findings_without_reading_them_all_into_memory():
    """Markdown, HTML and text group an estate's findings by policy (``formats.view``); the groups hold
    indexes into the spill file, so a report of 200 targets does not hold their findings as objects (it
    did: 154 MB more than the JSON report alone at 40,000 images, docs/benchmarks.md)."""
    result, made = spilled_estate(3000)
    del made
    gc.collect()
    before = sum(1 for o in gc.get_objects() if isinstance(o, Finding))
    context = context_with_view(result)
    gc.collect()
    held = sum(1 for o in gc.get_objects() if isinstance(o, Finding)) - before
    assert held < 10, held
    groups = context["view"]["groups"]
    assert sum(len(g["open"]) + len(g["waived"]) + len(g["baselined"]) for g in groups.values()) == 3000


def test_grouped_spilled_findings_read_back_as_the_findings_in_memory():
    result, made = spilled_estate(300)
    in_memory = replace(result, findings=tuple(made))
    spilled_view = context_with_view(result)["view"]
    memory_view = context_with_view(in_memory)["view"]
    for name, group in memory_view["groups"].items():
        for kind, dicts in group.items():
            assert list(spilled_view["groups"][name][kind]) == list(dicts)
            assert spilled_view["groups"][name][kind][2:9] == dicts[2:9]
    assert list(spilled_view["waived"]) == list(memory_view["waived"])
    for fmt in ("markdown", "text", "html", "junit"):
        assert "".join(OutputFormat(fmt).reporter().chunks(result)) == "".join(
            OutputFormat(fmt).reporter().chunks(in_memory)
        )
