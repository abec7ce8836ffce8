"""The fast regex path must answer exactly as RE2 does (CEL's ``matches``)."""

from __future__ import annotations

import json
import random
import re

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagelint.engines.celcpp import CelCppEngine
from imagelint.engines.regex import NATIVE, Matcher
from imagelint.policy import bundled_policy_dir, library, load_policies
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


# --- the library's patterns answered in plain Python (regex.NATIVE) ---------------------------------------------

# what the natives' tests turn on: digits and date punctuation, the white space they strip, the characters
# blank() treats as invisible and their neighbours, another script's digit, and a lone surrogate
NATIVE_ALPHABET = (
    "0123456789afAFgT:-+.Z =[]\t\n\r\v\f\x85\xa0\u1680\u1fff\u2000\u200d\u200e\u2028\u205f\u2060\u3000\ufeff٣é"
)


def _search(pattern: str, text: str) -> bool | str:
    """RE2's answer, or "raises" where its path refuses the subject (a lone surrogate)."""
    try:
        return Matcher(pattern).search(text)
    except UnicodeEncodeError:
        return "raises"


def _native(pattern: str, text: str) -> bool | str:
    try:
        return NATIVE[pattern](text)
    except UnicodeEncodeError:
        return "raises"


def _near(pattern: str) -> st.SearchStrategy[str]:
    """Strings that match ``pattern`` (Python's reading of it), then as often edited by one character."""
    matching = st.from_regex(re.compile(pattern, re.ASCII) if pattern.startswith("^") else pattern)
    edit = st.tuples(st.integers(0, 40), st.sampled_from(NATIVE_ALPHABET + "\ud800"), st.sampled_from("ird"))

    def apply(pair: tuple[str, list[tuple[int, str, str]]]) -> str:
        text, edits = pair
        for at, char, how in edits:
            at = min(at, len(text))
            text = text[:at] + char + text[at + (how != "i") :] if how != "d" else text[:at] + text[at + 1 :]
        return text

    return st.tuples(matching, st.lists(edit, max_size=2)).map(apply)


@pytest.mark.parametrize("pattern", sorted(NATIVE), ids=lambda p: p[:24])
@given(data=st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_a_native_pattern_answers_as_re2_does(pattern, data):
    text = data.draw(st.one_of(st.text(NATIVE_ALPHABET + "\ud800", max_size=40), _near(pattern)))
    assert _native(pattern, text) == _search(pattern, text), repr(text)


def test_the_library_patterns_are_answered_natively():
    from imagelint.engines.regex import cel_text

    for pattern in (library.RFC3339, library.RFC3339_UTC, library.SPACED, library.UUID, cel_text(library.VISIBLE)):
        assert Matcher(pattern).test is NATIVE[pattern]
    # blank()'s class, as RE2 reads it, is the set the native strips: checked character by character
    visible = Matcher(cel_text(library.VISIBLE))
    for code in [*range(0x3100), 0xFEFF, 0xFFFF, 0x10FFFF]:
        if not 0xD800 <= code <= 0xDFFF:
            assert visible.test(chr(code)) == visible.search(chr(code)), hex(code)
    other = Matcher(r"^\d+$")  # a pattern not in the table: RE2
    assert other.test == other.search


def test_native_patterns_take_bounded_time_on_long_subjects():
    # a megabyte of digits, dates and white space: an anchored pattern reads a bounded prefix, the others
    # are single passes of str methods (quadratic work here would not end within the suite's time)
    for subject in ("1" * (1 << 20) + "x", "2024-01-01" * (1 << 17), " " * (1 << 20) + "[", "=" + "\t" * (1 << 20)):
        for pattern, test in NATIVE.items():
            assert test(subject) == Matcher(pattern).search(subject)
