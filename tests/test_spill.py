"""Findings spilled to disk come back equal, in the order of the parts asked for, odd strings included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imagelint.judgement.result import Finding, ImageRef, Severity, Status, Waiver
from imagelint.judgement.spill import Spill


def finding(i: int, name: str, target: str) -> Finding:
    return Finding(
        policy=f"p{i % 3}",
        severity=Severity.HIGH,
        status=Status.FAIL if i % 2 else Status.ERROR,
        validation=None if i % 5 == 0 else i % 4,
        message=f"message {name}",
        image=ImageRef(id=f"id-{i}", name=name, visibility="public", owner=None),
        attributes={"name": name, "n": i, "tags": [name, "x"]},
        waiver=Waiver(policy="p*", reason="r", expires="2027-01-01", selector="id=x") if i % 7 == 0 else None,
        target=target,
    )


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
    if expected:
        assert got[-1] == expected[-1] and list(got[1:3]) == expected[1:3]
    spill.close()


def test_lone_surrogates_and_nul_survive():
    spill = Spill()
    odd = finding(1, "bad\ud800name\x00\u2028", "t")
    part = spill.add([odd])
    assert list(spill.findings([part])) == [odd]
