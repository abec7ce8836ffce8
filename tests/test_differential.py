"""Differential test: the bundled pack over a generated fleet on all three engines, verdict for verdict.

cel-python is the reference; cel-cpp (with our inlining, attribute subsetting and combined fast path) and
the compiled engine (CEL compiled to Python) must agree on every (policy, image) pair: the verdict, which validations failed or errored, and the failure
messages. Error *texts* differ by engine and are not compared. Deliberate differences are documented in
docs/engines.md and pinned by ``test_documented_differences`` so that a change in either engine
shows up here.
"""

from __future__ import annotations

import datetime as dt

import pytest

from imagelint.engines import EngineName, create_engine
from imagelint.policy import bundled_policy_dir, load_policies
from tests.conftest import policy_yaml
from tests.fleetgen import generate_fleet

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
FLEET_SIZE = 2000


def verdicts(engine_name: EngineName, policies, fleet):
    engine = create_engine(engine_name, policies, NOW)
    out = {}
    for image in fleet:
        codes, details = engine.evaluate(image)
        for index, code in enumerate(codes):
            found = details.get(index, [])
            # messages of failures must match too, unless they embed an engine's error text
            shape = tuple((s, v, m if "messageExpression failed" not in m and s == 1 else None) for s, v, m in found)
            out[(policies[index].name, image["id"])] = (code, shape)
    return out


@pytest.fixture(scope="module")
def fleet():
    images = generate_fleet(FLEET_SIZE, seed=20261127, varied=True)
    assert len({i["id"] for i in images}) == FLEET_SIZE
    return images


def test_bundled_pack_same_verdicts_on_both_engines(fleet):
    policies = load_policies([bundled_policy_dir()])
    assert len(policies) >= 20
    reference = verdicts(EngineName.CEL_PYTHON, policies, fleet)
    assert len(reference) == len(policies) * FLEET_SIZE
    for other in (EngineName.CEL_CPP, EngineName.COMPILED):
        fast = verdicts(other, policies, fleet)
        differences = [(key, reference[key], fast[key]) for key in reference if reference[key] != fast[key]]
        assert differences == [], f"{other.value}: {len(differences)} differences, first: {differences[:3]}"
    # the generated fleet must exercise every verdict, or the comparison proves little
    codes = {code for code, _ in reference.values()}
    assert codes == {-1, 0, 1, 2} or codes == {-1, 0, 1}, codes


def test_strings_cel_cpp_cannot_hold_are_judged_alike(fleet):
    """NUL and lone surrogates, put into every kind of attribute of 300 images (and into a key, and deep in
    a list): cel-expr-python cuts the first and fails part way on the second, so the cel-cpp engine hands
    such images to cel-python; the verdicts and messages must be the reference's, and nothing may raise."""
    import random

    rng = random.Random(7)
    odd = ["ok-approved\x00-not", "\ud800", "lone \udfff end", "\x00", "\ud83d", "true\x00"]
    images = [dict(image) for image in fleet[:300]]
    for image in images:
        for key in rng.sample(sorted(image), min(3, len(image))):
            if key != "id":
                image[key] = rng.choice(odd)
        if rng.random() < 0.2:
            image["tags"] = ["owner=x", rng.choice(odd)]
        if rng.random() < 0.1:
            image[rng.choice(odd)] = "value under an odd key"
    policies = load_policies([bundled_policy_dir()])
    reference = verdicts(EngineName.CEL_PYTHON, policies, images)
    for other in (EngineName.CEL_CPP, EngineName.COMPILED):
        fast = verdicts(other, policies, images)
        differences = [(key, reference[key], fast[key]) for key in reference if reference[key] != fast[key]]
        assert differences == [], f"{other.value}: {len(differences)} differences, first: {differences[:3]}"
    assert {code for code, _ in reference.values()} >= {0, 1}


def test_fast_engine_agrees_on_errors_too(tmp_path, fleet):
    """Policies that error on many images (no guards) force the fast engine down every fallback path."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "\n---\n".join(
            [
                # type-guarded (see test_documented_differences) but not has()-guarded: missing keys error
                policy_yaml(
                    "unguarded",
                    validations=[
                        "type(image.min_disk) == int && image.min_disk >= 1",
                        "type(image.__os_bit) == string && image.__os_bit == '64'",
                        {
                            "expression": "type(image.status) == string && image.status == 'active'",
                            "messageExpression": "'status is ' + image.status",
                        },
                    ],
                ),
                policy_yaml(
                    "typed",
                    match="has(image.name)",
                    validations=[
                        "type(image.name) == string && image.name.size() < 64",
                        "type(image.tags) == list ? image.tags.all(t, type(t) == string && t.contains('=')) : false",
                    ],
                ),
                policy_yaml(
                    "var",
                    variables=[{"name": "big", "expression": "type(image.min_disk) == int && image.min_disk > 100"}],
                    validations=["variables.big || has(image.__system__cmkid)"],
                ),
                policy_yaml("whole", validations=["image.size() > 20", "'id' in image"]),
            ]
        )
    )
    policies = load_policies([path])
    subset = fleet[:600]
    reference = verdicts(EngineName.CEL_PYTHON, policies, subset)
    for other in (EngineName.CEL_CPP, EngineName.COMPILED):
        fast = verdicts(other, policies, subset)
        assert {k: v for k, v in reference.items() if v != fast[k]} == {}, other.value
    assert any(code == 2 for code, _ in reference.values())


@pytest.mark.parametrize(
    "expression, python_code, cpp_code",
    [
        # CEL's heterogeneous equality: cel-cpp compares numbers across types, cel-python raises no-overload.
        ("image.min_disk == 40.0", 2, 0),
        ("image.min_disk < 41.5", 2, 0),
        # cross-type == on other types: false on cel-cpp, an error on cel-python
        ("image.name == 1", 2, 1),
        # size() of null: cel-python answers 0, cel-cpp (like the CEL spec) has no such overload
        ("image.owner.size() == 0", 0, 2),
        # Python's bool is an int: cel-python orders true against ints, cel-cpp has no such overload
        ("image.protected < 5", 0, 2),
        # contains() on a list: cel-python falls back to Python's `in`, cel-cpp only has string.contains
        ("image.tags.contains('a')", 0, 2),
        # a macro over a non-list raises a Python TypeError in cel-python that escapes `&&`, unless the left
        # side decides first (our cel-python skips the right side of a false &&), as a guard written first does
        ("image.min_disk.all(x, true) && type(image.min_disk) == list", 2, 1),
        ("type(image.min_disk) == list && image.min_disk.all(x, true)", 1, 1),
        ("type(image.min_disk) == list ? image.min_disk.all(x, true) : false", 1, 1),
        # string(bool) is Python's str(): "True" on cel-python, "true" on cel-cpp (the pack writes the text)
        ('string(image.protected) == "true"', 1, 0),
        ("(image.protected ? 'true' : 'false') == \"true\"", 0, 0),
    ],
)
def test_documented_differences(tmp_path, expression, python_code, cpp_code):
    path = tmp_path / "p.yaml"
    path.write_text(policy_yaml("d", validations=[expression]))
    policies = load_policies([path])
    image = {"id": "x", "min_disk": 40, "name": "web", "owner": None, "protected": True, "tags": ["a"]}
    engines = (EngineName.CEL_PYTHON, EngineName.CEL_CPP, EngineName.COMPILED)
    got = [create_engine(e, policies, NOW).evaluate(image)[0][0] for e in engines]
    assert got == [python_code, cpp_code, cpp_code]  # the compiled engine follows cel-cpp
