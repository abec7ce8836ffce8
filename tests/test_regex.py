"""The fast regex path must answer exactly as RE2 does (CEL's ``matches``)."""

from __future__ import annotations

import random

import pytest
import re2

from imagelint.engines.celcpp import CelCppEngine
from imagelint.engines.regex import Matcher
from imagelint.policy import bundled_policy_dir, load_policies
from imagelint.policy.celtree import regex_sites

ADVERSARIAL = [
    r"^abc$",
    r"^\d+$",
    r"\w+",
    r"\s",
    r"\bword\b",
    r"^[[:alpha:]]+$",
    r"^a{,2}$",
    r"^(a|b)*c$",
    r"[.]",
    r"(?i)ABC",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T",
    r"^\[.*\]$",
    r"^\s*\[",
    r"é",
    r"^.$",
]
SUBJECTS = [
    "abc",
    "abc\n",
    "123",
    "١٢٣",
    "a b",
    "a\vb",
    "word",
    "a-word-b",
    "alpha",
    "a{,2}",
    "",
    "aa",
    "abc\r",
    "ABC",
    "2024-01-01T00:00:00Z",
    "[1, 2]",
    " [x]",
    "é",
    "\u00e9\n",
    "x" * 300,
    "{,}",
    "tab\there",
]


def pack_patterns() -> list[str]:
    patterns = []
    engine_env = None
    for policy in load_policies([bundled_policy_dir()]):
        for expr in policy.expressions():
            for _, _, _, literal in regex_sites(expr.tree):
                from cel_expr_python import cel

                engine_env = engine_env or cel.NewEnv()
                patterns.append(engine_env.compile(literal, True).eval().value())
    return patterns


def random_subjects(rng: random.Random, n: int) -> list[str]:
    alphabet = "0123456789abcdefABCDEF-:TZ.+[] \"',\n\t\v{}é٣"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)]


@pytest.mark.parametrize("pattern", ADVERSARIAL + pack_patterns())
def test_matcher_agrees_with_re2(pattern):
    matcher = Matcher(pattern)
    compiled = re2.compile(pattern)
    subjects = SUBJECTS + random_subjects(random.Random(pattern), 300)
    wrong = [s for s in subjects if matcher(s) != (compiled.search(s) is not None)]
    assert wrong == []


def test_constructs_read_differently_never_take_the_fast_path():
    assert Matcher(r"^[[:alpha:]]+$").fast is None
    assert Matcher(r"^a{,2}$").fast is None
    assert Matcher(r"^\d+$").fast is not None


def test_bundled_pack_regexes_take_the_fast_path():
    import datetime as dt

    engine = CelCppEngine(load_policies([bundled_policy_dir()]), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert engine.regexes and all(m.fast is not None for _, _, m in engine.regexes)
