"""The fast regex path must answer exactly as RE2 does (CEL's ``matches``)."""

from __future__ import annotations

import json
import random

import pytest
import re2

from imagelint.engines.celcpp import CelCppEngine
from imagelint.engines.regex import Matcher
from imagelint.policy import bundled_policy_dir, load_policies
from imagelint.policy.celtree import regex_sites
from tests.conftest import policy_yaml

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


# Patterns that make a backtracking matcher take time exponential in the subject; RE2 is linear.
BACKTRACKING = [r"^(a+)+$", r"^(a|a)*$", r"^(a|aa)+$", r"(\w+\s?)+$", r"^(([a-z])+.)+[A-Z]([a-z])+$"]
HOSTILE_NAME = "a" * 64 + "!"


@pytest.mark.parametrize("pattern", BACKTRACKING)
def test_backtracking_patterns_answer_as_re2_does(pattern):
    matcher = Matcher(pattern)
    for subject in (HOSTILE_NAME, "a" * 10, "aaaa bbbb!", ""):
        assert matcher(subject) == (re2.compile(pattern).search(subject) is not None)


@pytest.mark.parametrize("engine", ["cel-cpp", "cel-python"])
def test_a_hostile_image_name_cannot_stall_matches(tmp_path, cli, fleet_file, engine):
    """Every matches() on every engine is RE2: a name chosen to make a backtracking matcher run for 2**64
    steps is judged at once (the 120 s bound is a hang detector, not a speed target)."""
    validations = [f"image.name.matches({json.dumps(p)}) == false" for p in BACKTRACKING]
    validations.append("image.name.matches(image.owner) == false")  # a pattern the image itself supplies
    policy = tmp_path / "p.yaml"
    policy.write_text(policy_yaml("no-backtracking", validations=validations))
    fleet = fleet_file([{"id": "i-1", "name": HOSTILE_NAME, "owner": "^(a+)+$"}])
    result = cli(
        "check", "--input", str(fleet), "--policies", str(policy), "--engine", engine, "--format", "json", timeout=120
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert (summary["images"], summary["pass"], summary["fail"], summary["error"]) == (1, 1, 0, 0)


def test_the_matcher_never_backtracks_for_long_subjects():
    # 2**20 "a"s and a "!": quadratic or worse work here would not end within the suite's time
    subject = "a" * (1 << 20) + "!"
    assert Matcher(r"^(a+)+$")(subject) is False
    assert Matcher(r"a*a*a*a*b")(subject) is False
    assert Matcher(r"!$")(subject) is True


def test_bundled_pack_regexes_all_use_the_matcher():
    import datetime as dt

    engine = CelCppEngine(load_policies([bundled_policy_dir()]), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert engine.regexes and all(isinstance(m, Matcher) for _, _, m in engine.regexes)
