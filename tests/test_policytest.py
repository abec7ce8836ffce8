"""``imagelint test``: the runner's output and exit codes, engine disagreements, coverage warnings, invalid
test files, and the bundled pack's own tests on every available engine."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from imagelint.engines import celcpp
from imagelint.policy import bundled_policy_dir
from imagelint.policy.testing import engines, run
from tests.conftest import policy_yaml

ENGINES = ", ".join(engines())


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A directory with one policy: private images need a name starting with "ok"."""
    d = tmp_path / "pack"
    d.mkdir()
    (d / "named.yaml").write_text(
        policy_yaml(
            "named",
            match='image.visibility == "private"',
            validations=[
                {
                    "expression": 'has(image.name) && image.name.startsWith("ok")',
                    "messageExpression": '"bad name " + (has(image.name) ? image.name : "(none)")',
                }
            ],
        ),
        encoding="utf-8",
    )
    return d


def write_tests(pack: Path, text: str, name: str = "named.test.yaml") -> Path:
    path = pack / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


GOOD = """\
    policy: named
    images:
      priv: {id: a1, name: ok-1, visibility: private}
    cases:
      - name: a good name passes
        base: priv
        expect: pass
      - name: a bad name fails
        base: priv
        image: {name: web}
        expect: fail
        message: bad name web
      - name: public images are skipped
        image: {id: b, visibility: public}
        expect: skip
      - name: no name fails too
        base: priv
        unset: [name]
        expect: {named: {verdict: fail, message: "(none)"}}
    """


def test_all_cases_pass(cli, pack):
    write_tests(pack, GOOD)
    result = cli("test", str(pack))
    assert (result.returncode, result.stdout, result.stderr) == (0, "4 passed, 0 failed\n", f"engines: {ENGINES}\n")


def test_failures_are_one_line_each_with_file_and_line(cli, pack):
    path = write_tests(
        pack,
        GOOD.rstrip(" ")
        + """\
      - name: wrong verdict
        base: priv
        expect: fail
      - name: wrong message
        base: priv
        image: {name: web}
        expect: fail
        message: nope
    """,
    )
    result = cli("test", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:20: case 'wrong verdict': named: expected fail, got pass ({ENGINES})",
        f"{path}:23: case 'wrong message': named: no fail message contains 'nope' (cel-python: bad name web)",
        "4 passed, 2 failed",
    ]


def test_a_policy_file_runs_its_sibling_test_file(cli, pack):
    write_tests(pack, GOOD)
    assert cli("test", str(pack / "named.yaml")).stdout == "4 passed, 0 failed\n"


@pytest.mark.skipif(not celcpp.available(), reason="needs both engines")
def test_engine_disagreement_is_a_failure(cli, tmp_path):
    d = tmp_path / "diff"
    d.mkdir()
    # size() of null: cel-python answers 0, cel-cpp has no such overload (a documented engine difference)
    (d / "owner.yaml").write_text(policy_yaml("owner", validations=["image.owner.size() == 0"]), encoding="utf-8")
    path = write_tests(
        d,
        """\
        policy: owner
        cases:
          - name: null owner
            image: {id: a, owner: null}
            expect: pass
        """,
        name="owner.test.yaml",
    )
    result = cli("test", str(d))
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(
        f"{path}:3: case 'null owner': owner: engines disagree: cel-python pass, cel-cpp error ("
    )


def test_params_and_now_per_case(tmp_path):
    d = tmp_path / "age"
    d.mkdir()
    (d / "age.yaml").write_text(
        policy_yaml(
            "age",
            params={"days": 10},
            validations=["now - timestamp(image.created_at) <= duration(string(params.days * 86400) + 's')"],
        ),
        encoding="utf-8",
    )
    write_tests(
        d,
        """\
        policy: age
        now: 2026-01-20T00:00:00Z
        images:
          img: {id: a, created_at: "2026-01-01T00:00:00Z"}
        cases:
          - {name: old by default, base: img, expect: fail}
          - {name: a larger limit, base: img, params: {days: 30}, expect: pass}
          - {name: an earlier now, base: img, now: "2026-01-05T00:00:00Z", expect: pass}
        """,
        name="age.test.yaml",
    )
    outcome = run([d])
    assert (outcome.passed, outcome.failed, outcome.lines) == (3, 0, [])


def test_missing_coverage_is_a_warning(cli, pack):
    write_tests(
        pack,
        """\
        policy: named
        cases:
          - {name: only a pass, image: {id: a, name: ok, visibility: private}, expect: pass}
        """,
    )
    result = cli("test", str(pack))
    assert result.returncode == 0
    assert f"{pack / 'named.yaml'}:1: warning: policy named has no test case expecting fail or skip" in result.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "cases:\n  - {name: x, image: {id: a}, expect: pass}\n",
            "2:39: cases[0].expect: a bare verdict needs a file-level 'policy:'; else write {POLICY: VERDICT}",
        ),
        (
            "policy: named\ncases:\n  - {name: x, image: {id: a}, expect: passes}\n",
            "3:39: cases[0].expect: 'passes' is not a verdict (expected one of: pass, fail, skip, error)",
        ),
        (
            "cases:\n  - {name: x, image: {id: a}, expect: {nameless: pass}}\n",
            "2:40: cases[0].expect: no policy named 'nameless' next to this file",
        ),
        (
            "policy: named\ncases:\n  - {name: x, base: nope, expect: pass}\n",
            "3:21: cases[0].base: no image named 'nope' under images: (named: none)",
        ),
        (
            "policy: named\ncases:\n  - {name: x, expect: pass}\n",
            "3:5: cases[0]: needs an image: 'image:', or 'base:' with optional 'image:' overrides",
        ),
        (
            "policy: named\ncases:\n  - {name: x, image: {id: a}, params: {limit: 3}, expect: pass}\n",
            "3:39: cases[0].params: no expected policy declares a param 'limit'",
        ),
        (
            "policy: named\ncases:\n  - {name: x, image: {id: a}, expect: pass, message: m}\n",
            "3:39: cases[0].expect: a message can only be expected with fail or error, not pass",
        ),
        (
            "policy: named\nnow: yesterday\ncases:\n  - {name: x, image: {id: a}, expect: pass}\n",
            (
                "2:6: now: 'yesterday' is not an RFC 3339 time with a zone within years 1..9999 in UTC, "
                "e.g. 2026-01-31T00:00:00Z"
            ),
        ),
        # year 0 once in UTC: Python's OverflowError was an internal error (exit 4)
        (
            'policy: named\nnow: "0001-01-01T00:00:00+01:00"\ncases:\n  - {name: x, image: {id: a}, expect: pass}\n',
            (
                "2:6: now: '0001-01-01T00:00:00+01:00' is not an RFC 3339 time with a zone within years 1..9999 in UTC, "
                "e.g. 2026-01-31T00:00:00Z"
            ),
        ),
        ("policy: named\ncases: []\n", "2:8: cases: expected a non-empty list of cases"),
    ],
)
def test_invalid_test_file_exits_2_with_position(cli, pack, text, message):
    path = write_tests(pack, text)
    result = cli("test", str(pack))
    assert (result.returncode, result.stderr.strip()) == (2, f"{path}:{message}")


def test_invalid_policy_next_to_the_tests_exits_2(cli, pack):
    (pack / "broken.yaml").write_text(policy_yaml("broken", validations=["image.nme == 'x'"]), encoding="utf-8")
    write_tests(pack, GOOD)
    result = cli("test", str(pack))
    assert result.returncode == 2 and "unknown image attribute 'nme' (did you mean 'name'?)" in result.stderr


@pytest.mark.skipif(not celcpp.available(), reason="cel-cpp's type checker")
def test_type_errors_stop_the_tests_like_they_stop_check(cli, pack):
    (pack / "typed.yaml").write_text(policy_yaml("typed", validations=['1 + "a" == "1a"']), encoding="utf-8")
    write_tests(pack, GOOD)
    result = cli("test", str(pack))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{pack / 'typed.yaml'}:") and "no matching overload" in result.stderr


def test_bundled_pack_tests_pass_on_every_engine_and_cover_every_policy():
    outcome = run([bundled_policy_dir()])
    assert outcome.lines == []
    assert outcome.warnings == []
    assert outcome.failed == 0 and outcome.passed > 0
