"""The cel-cpp engine's memos must never change an answer.

A policy's code (and the messages of its failures) is memoized on the values of the attributes it reads.
The oracle here is the same engine with ``memoize=False``: same verdicts, same findings, same messages,
image by image, over values that Python's ``==`` confuses but CEL does not (``true``/``1``/``1.0``,
``0.0``/``-0.0``, null/absent, list and map contents and order).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from imagelint.engines import celcpp
from imagelint.policy import bundled_policy_dir, load_policies
from tests.conftest import policy_yaml
from tests.fleetgen import generate_fleet

pytestmark = pytest.mark.skipif(not celcpp.available(), reason="needs cel-expr-python")

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
ABSENT = object()
# Values equal (or equally hashed) in Python that CEL tells apart, and their neighbours.
TRICKY = [
    True,
    False,
    1,
    0,
    -1,
    1.0,
    0.0,
    -0.0,
    2.5,
    float("inf"),
    float("-inf"),
    float("nan"),
    "1",
    "true",
    "",
    None,
    ABSENT,
    [1],
    [True],
    [1.0],
    [1, 2],
    [2, 1],
    [],
    {"a": 1},
    {"a": True},
    {"a": 1, "b": 2},
    {"b": 2, "a": 1},
    {},
    "64",
    "32",
    64,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    [2**64],
]

POLICIES = [
    policy_yaml(
        "types",
        validations=[
            "has(image.x)",
            "type(image.x) == bool",
            "type(image.x) == int",
            "type(image.x) == double",
            "type(image.x) == string",
            "type(image.x) == list",
            "type(image.x) == map",
            "type(image.x) == null_type",
        ],
    ),
    policy_yaml(
        "values",
        match="has(image.x)",
        validations=[
            "type(image.x) == double ? image.x < 1.0 : true",
            "type(image.x) == double ? string(image.x) != '-0' : true",
            "type(image.x) == list ? image.x.all(v, type(v) == int) : true",
            "type(image.x) == list && size(image.x) > 0 ? image.x[0] == 1 : true",
            "type(image.x) == map ? image.x.exists(k, k == 'b') : true",
            {"expression": "type(image.x) != string || image.x == '64'", "messageExpression": "'x is ' + image.x"},
        ],
    ),
    policy_yaml(
        "unguarded",
        validations=[{"expression": "image.x == 1", "messageExpression": "'x is ' + string(image.x)"}, "image.y > 0"],
    ),
    # x and y only tested for presence and type: memoized on their shape, not their value
    policy_yaml(
        "shapes",
        validations=[
            "has(image.x)",
            "type(image.x) == int",
            "type(image.x) == uint",
            "type(image.y) == list",
            "!('y' in image) || type(image['y']) == null_type",
        ],
    ),
    policy_yaml(
        "constant", validations=["now > timestamp('2020-01-01T00:00:00Z')", "now < timestamp('2020-01-01T00:00:00Z')"]
    ),
    policy_yaml(
        "pair",
        match="has(image.y)",
        validations=[
            {"expression": "string(image.x) == string(image.y)", "messageExpression": "'y is ' + string(image.y)"}
        ],
    ),
]


def _image(rng: random.Random, number: int) -> dict:
    image = {"id": f"img-{number}"}
    for attr in ("x", "y"):
        value = rng.choice(TRICKY)
        if value is not ABSENT:
            image[attr] = value
    return image


def _run(engine: celcpp.CelCppEngine, images: list[dict]) -> list:
    return [engine.evaluate(image, plain=True) for image in images]


def test_memos_answer_exactly_what_evaluation_does(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("\n---\n".join(POLICIES))
    policies = load_policies([path])
    rng = random.Random(20261127)
    images = [_image(rng, n) for n in range(3000)]
    memoized = celcpp.CelCppEngine(policies, NOW)
    plain = celcpp.CelCppEngine(policies, NOW, memoize=False)
    # twice through, the second time in reverse: every key is then first met in another company
    got = _run(memoized, images) + _run(memoized, images[::-1])
    want = _run(plain, images) + _run(plain, images[::-1])
    assert got == want
    # the memos were used (the test proves nothing otherwise) and stay small: one key per value of x
    memos = {p.name: memo for p, memo in zip(policies, memoized.memos, strict=True)}
    assert memos["types"] is not None and 0 < len(memos["types"]) <= len(TRICKY)
    assert memos["constant"] == {(): 2}  # reads no attribute: one key, the second validation fails
    verdicts = {code for codes, _ in want for code in codes}
    assert verdicts == {-1, 0, 1, 2}


def test_attributes_only_tested_are_keyed_on_their_shape(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(next(p for p in POLICIES if '"name": "shapes"' in p))
    policies = load_policies([path])
    assert policies[0].shape_only(messages=False) == {"x", "y"}
    scalars = [True, False, 1, 5, -7, 1.0, -0.0, "a", "b", "", None, ABSENT]  # (big ints: see above)
    rng = random.Random(7)
    images = []
    for n in range(2000):
        image = {"id": f"img-{n}"}
        for attr in ("x", "y"):
            value = rng.choice(scalars)
            if value is not ABSENT:
                image[attr] = value
        images.append(image)
    memoized = celcpp.CelCppEngine(policies, NOW)
    assert _run(memoized, images) == _run(celcpp.CelCppEngine(policies, NOW, memoize=False), images)
    # shapes: bool, int, double, string, null (absent: type() raises, and errors are not memoized):
    # 5 x 5 keys, where the values would give 11 x 11
    assert memoized.memos[0] is not None and len(memoized.memos[0]) == 25


def test_a_policy_on_unique_values_leaves_the_memo(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "\n---\n".join(
            [
                policy_yaml(
                    "by-id",
                    validations=[
                        {"expression": "image.id.endsWith('7')", "messageExpression": "image.id + ' does not end in 7'"}
                    ],
                ),
                policy_yaml(
                    "by-kind",
                    validations=[{"expression": "image.kind == 'a'", "messageExpression": "'kind is ' + image.kind"}],
                ),
            ]
        )
    )
    policies = load_policies([path])
    images = [{"id": f"img-{n}", "kind": "ab"[n % 2]} for n in range(3 * celcpp.REVIEW)]
    memoized = celcpp.CelCppEngine(policies, NOW)
    plain = celcpp.CelCppEngine(policies, NOW, memoize=False)
    assert _run(memoized, images) == _run(plain, images)
    # by-id misses every time: reviewed out of both memos and into the list expression; by-kind stays
    assert memoized.memos[0] is None and memoized.message_memos[0] is None and memoized.rest == [0]
    assert memoized.memos[1] == {"a": 0, "b": 1}
    assert len(memoized.message_memos[1] or {}) == 1  # one failing kind, one message


def test_bundled_pack_with_and_without_memos(tmp_path):
    policies = load_policies([bundled_policy_dir()])
    images = generate_fleet(3000, seed=11, varied=True)
    memoized = celcpp.CelCppEngine(policies, NOW)
    plain = celcpp.CelCppEngine(policies, NOW, memoize=False)
    assert _run(memoized, images) == _run(plain, images)
    assert any(m is not None for m in memoized.memos) and memoized.rest


def test_attributes_only_matched_are_keyed_on_the_match_results(tmp_path):
    # x is read through literal patterns (in a validation and in a variable) and type tests only; y also
    # by value, in a message: the verdict's memo keys x and y on match results, the message memo on y's value
    path = tmp_path / "p.yaml"
    path.write_text(
        policy_yaml(
            "patterns",
            match="!has(image.x) || type(image.x) != list",
            variables=[{"name": "ends", "expression": 'type(image.x) == string && matches(image.x, "b$")'}],
            validations=[
                'type(image.x) == string ? image.x.matches("^a") : type(image.x) == int',
                "variables.ends || !has(image.x)",
                {
                    "expression": '!has(image.y) || type(image.y) != string || image.y.matches("[0-9]")',
                    "messageExpression": "'y is ' + image.y",
                },
            ],
        )
    )
    policies = load_policies([path])
    assert policies[0].matched_only(messages=False) == {"x", "y"}
    assert policies[0].matched_only() == {"x"}
    strings = ["a", "ab", "ba", "b", "", "abc", "xa", "a\n", "é", "aéb", "1", "y2", "zz"]
    others = [1, True, 2.5, None, ABSENT, ["a"]]
    rng = random.Random(11)
    images = []
    for n in range(2000):
        image = {"id": f"img-{n}"}
        for attr in ("x", "y"):
            value = rng.choice(strings + others)
            if value is not ABSENT:
                image[attr] = value
        images.append(image)
    memoized = celcpp.CelCppEngine(policies, NOW)
    assert _run(memoized, images) + _run(memoized, images[::-1]) == _run(
        celcpp.CelCppEngine(policies, NOW, memoize=False), images + images[::-1]
    )
    # x: 4 outcomes of the two patterns on a string, 5 other shapes (an absent x makes the first validation
    # raise, and errors are not memoized); y: 2 outcomes, 6 other shapes. On values: 19 keys each.
    memo = memoized.memos[0]
    assert memo is not None and len(memo) <= 9 * 8
    assert (len({key[0] for key in memo}), len({key[1] for key in memo})) == (9, 8)


@pytest.mark.parametrize("memoize", [False, True])
def test_a_value_that_cannot_convert_errs_only_the_policies_that_read_it(tmp_path, memoize):
    # Messages may reuse the list expression's activation, which holds more attributes than the failing
    # policy reads; cel-expr-python converts a map at its first use, so an unconvertible x must not
    # leak into the message of a policy on y.
    path = tmp_path / "p.yaml"
    path.write_text(
        "\n---\n".join(
            [
                policy_yaml("on-x", validations=["image.x > 0"]),
                policy_yaml(
                    "on-y", validations=[{"expression": "image.y == 'ok'", "messageExpression": "'y is ' + image.y"}]
                ),
            ]
        )
    )
    engine = celcpp.CelCppEngine(load_policies([path]), NOW, memoize=memoize)
    for x in (1, 2**70, 2):  # converts, does not, converts: nothing of one image carries to the next
        codes, details = engine.evaluate({"id": "i", "x": x, "y": "bad"}, plain=True)
        assert details[1] == [(celcpp.FAIL, 0, "y is bad")]
        assert codes == ([celcpp.ERROR, celcpp.FAIL] if x == 2**70 else [celcpp.PASS, celcpp.FAIL])
