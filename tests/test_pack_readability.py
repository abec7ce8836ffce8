"""The bundled packs stay readable: their CEL in all and their longest expression, measured as written.

    python -m tests.test_pack_readability      # prints each pack's totals and its five longest expressions

Targets (issue "Policies that read like the rule"): at most 8,000 characters of CEL per pack, no expression
over 200 characters. Counted: every ``match``, variable, validation and ``messageExpression`` as the YAML
scalar's value (what a reader reads; fixed ``message`` texts and comments are not CEL).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imagelint.policy import bundled_packs, load_policies

MAX_TOTAL = 8000
MAX_EXPRESSION = 200


def measure(directory: Path) -> tuple[int, list[tuple[int, str, str]]]:
    """(total characters, [(length, policy, where)] longest first) of the pack in ``directory``."""
    rows = []
    for policy in load_policies([directory]):
        for expr in policy.expressions():
            rows.append((len(expr.text), policy.name, expr.where))
    rows.sort(reverse=True)
    return sum(r[0] for r in rows), rows


def packs() -> dict[str, Path]:
    return bundled_packs()


@pytest.mark.parametrize("pack", sorted(packs()))
def test_pack_within_readability_targets(pack):
    total, rows = measure(packs()[pack])
    assert rows, pack
    assert total <= MAX_TOTAL, f"{pack}: {total} characters of CEL"
    too_long = [r for r in rows if r[0] > MAX_EXPRESSION]
    assert too_long == [], too_long


def main() -> int:
    for name, directory in sorted(packs().items()):
        total, rows = measure(directory)
        print(f"{name}: {total} characters of CEL in {len(rows)} expressions; longest:")
        for length, policy, where in rows[:5]:
            print(f"  {length:4d}  {policy}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
