"""The compiled engine against CEL's conformance suite and, on random expressions, against cel-cpp.

* Every conformance case within the compiled subset must pass (tests/celconformance.py says which are out
  of scope and why; ``python -m tests.celconformance`` prints the table in docs/engines.md).
* Hypothesis writes random expressions — well-typed and not — over random images, and the compiled code
  must give cel-cpp's value, or an error where cel-cpp gives one.
* ``--engine auto`` compiles policy by policy and hands the rest to cel-cpp; ``list`` / ``explain`` say so.
"""

from __future__ import annotations

import datetime as dt
import math
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from imagelint.engines import EngineName, create_engine
from imagelint.engines import celvalues as cv
from imagelint.engines.compiled import CompiledEngine, Compiler, Unsupported, _Scope
from imagelint.engines.interface import EngineError
from imagelint.policy import celtree, load_policies
from tests import celconformance
from tests.conftest import policy_yaml

cel = pytest.importorskip("cel_expr_python").cel

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("file", celconformance.FILES)
def test_conformance_cases_in_scope_all_pass(file):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))  # parse.textproto nests deeply for cel-python's parser
    try:
        outcomes = [(case, *celconformance.outcome(case, "compiled")) for case in celconformance.cases(file)]
    finally:
        sys.setrecursionlimit(limit)
    failed = [(case.id, case.expr, detail) for case, kind, detail in outcomes if kind == "fail"]
    assert failed == []
    assert all(detail for _, kind, detail in outcomes if kind == "skip"), "every skip says why"
    passed = sum(kind == "pass" for _, kind, _ in outcomes)
    if file not in ("dynamic", "math_ext", "string_ext", "type_deduction", "macros2"):
        assert passed >= len(outcomes) // 2, f"only {passed} of {len(outcomes)} in scope"


def test_conformance_suite_is_mostly_in_scope():
    total = passed = 0
    for file in ("basic", "comparisons", "conversions", "fp_math", "integer_math", "lists", "logic", "macros"):
        for case in celconformance.cases(file):
            total += 1
            passed += celconformance.outcome(case, "compiled")[0] == "pass"
    assert passed > 0.85 * total, (passed, total)


# --- property test against cel-cpp -----------------------------------------------------------------------

_env = cel.NewEnv(variables={"image": cel.Type.Map(cel.Type.STRING, cel.Type.DYN)})

ints = st.sampled_from(["0", "1", "-1", "7", "40", "9223372036854775807", "-9223372036854775808", "3000000000"])
atoms = st.one_of(
    ints,
    st.sampled_from(["0u", "1u", "18446744073709551615u", "1.5", "0.0", "-0.0", "1e300", "2.0", "40.0"]),
    st.sampled_from(["''", "'a'", "'abc'", "'é'", "'40'", "' 7 '", "'true'", "'1.5'", "'2020-01-01T00:00:00Z'"]),
    st.sampled_from(
        ["true", "false", "null", "[]", "{}", "b'ab'", "duration('90s')", "timestamp('2020-02-29T12:00:00Z')"]
    ),
    st.sampled_from(["image.a", "image.b", "image.c", "image['a']", "image.missing", "image.m", "image.l"]),
    st.sampled_from(["int", "string", "double", "bool", "list", "map", "uint", "null_type"]),
)


def _compound() -> st.SearchStrategy[str]:
    inner = expressions
    binary = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "in"])
    unary_functions = st.sampled_from(
        ["size", "type", "int", "uint", "double", "string", "bool", "dyn", "duration", "timestamp"]
    )
    methods = st.sampled_from(["contains", "startsWith", "endsWith"])
    macros = st.sampled_from(["all", "exists", "exists_one", "map", "filter"])
    return st.one_of(
        st.tuples(inner, binary, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["!", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(unary_functions, inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, methods, inner).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
        st.tuples(inner, st.sampled_from(["'a'", "'^[a-z]+$'", "'('", "'.'"])).map(lambda t: f"{t[0]}.matches({t[1]})"),
        inner.map(lambda e: f"{e}.size()"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(st.sampled_from(["'a'", "'b'", "1", "true"]), inner).map(lambda t: "{" + f"{t[0]}: {t[1]}" + "}"),
        st.tuples(inner, macros, _body).map(lambda t: f"{t[0]}.{t[1]}(x, {t[2]})"),
        st.sampled_from(["has(image.a)", "has(image.missing)", "has(image.m.k)"]),
        inner.map(lambda e: f"{e}.getFullYear()"),
    )


_body = st.sampled_from(
    [
        "x > 1",
        "x == 'a'",
        "x",
        "x / 0 == 1",
        "size(x) > 0",
        "x + 1",
        "true",
        "x != null",
        "type(x) == int",
        "x in [1, 'a']",
        # over a list of string literals the compiled engine unrolls filter/map, x a constant
        "x in image && image[x] != null",
        "!(x in image && type(image[x]) == string && image[x] in ['a', 'b'])",
        "image[x] > 1",
        "x + '!'",
    ]
)
expressions: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(atoms, atoms, atoms, _compound()))

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
        st.sampled_from([0, 1, 40, -7, 2**53 + 1]),
        st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0, 40.0, 1.5]),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6),
        st.sampled_from(["a", "abc", "40", "true", "2020-01-01T00:00:00Z", "1s"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["k", "a", "x"]), inner, max_size=3),
    max_leaves=6,
)
images = st.fixed_dictionaries(
    {},
    optional={"a": json_values, "b": json_values, "c": json_values, "m": json_values, "l": json_values},
)


def _normalise(tagged):
    """cel-cpp's plain values of lists and maps do not tell uint from int: forget it below the top."""
    kind, value = tagged
    if kind == "list":
        return ("list", [_flat(v) for v in value])
    if kind == "map":
        return ("map", [(_flat(k), _flat(v)) for k, v in value])
    return tagged


def _flat(tagged):
    kind, value = tagged
    if kind == "uint":
        return ("int", value)
    return _normalise(tagged)


def compiled_value(source: str, image: dict):
    compiler = Compiler()
    compiler.namespace["_now"] = cv.from_datetime(NOW)
    compiler.namespace["_params"] = {}
    function = compiler.value_function(celtree.parse(source), _Scope({}))
    try:
        return ("value", _normalise(celconformance._compiled_tagged(function(image))))
    except cv.CelError as exc:
        return ("error", str(exc))


def cpp_value(source: str, image: dict):
    program = _env.compile(source, True)
    try:
        return ("value", _normalise(celconformance._cpp_tagged(program.eval(_env.Activation({"image": image})))))
    except RuntimeError as exc:
        return ("error", str(exc))


def _same(a, b) -> bool:
    if a[0] != b[0]:
        return False
    return a[0] == "error" or celconformance.same(a[1], b[1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions, image=images)
def test_random_expressions_compiled_equals_cel_cpp(source, image):
    try:
        celtree.parse(source)
        _env.compile(source, True)
    except Exception:  # noqa: BLE001 - an expression either parser refuses is not a comparison
        assume(False)
    try:
        got = compiled_value(source, image)
    except Unsupported:
        assume(False)
        return
    want = cpp_value(source, image)
    if want[0] == "value" and want[1][0] == "double" and got[0] == "value" and got[1][0] == "double":
        assert (math.isnan(want[1][1]) and math.isnan(got[1][1])) or want[1][1] == got[1][1]
        return
    assert _same(got, want), f"{source!r} over {image!r}: compiled {got}, cel-cpp {want}"


@pytest.mark.parametrize(
    "source, image",
    [
        ("image.a < 41.5", {"a": 40}),
        ("image.a == 40.0", {"a": 40}),
        ("image.a == 1", {"a": True}),
        ("image.a / 0 == 1 || true", {"a": 1}),
        ("true || image.a / 0 == 1", {"a": 1}),
        ("image.a / 0 == 1 && false", {"a": 1}),
        ("image.a + 1", {"a": 9223372036854775807}),
        ("-image.a", {"a": -9223372036854775808}),
        ("image.a.all(x, x > 0)", {"a": [1, "a", 2]}),
        ("image.a.all(x, x > 1)", {"a": [1, "a", 2]}),
        ("image.a.exists_one(x, x / 0 == 1)", {"a": [1]}),
        ("string(image.a)", {"a": 123456789.0}),
        ("string(image.a)", {"a": 1e-5}),
        ("int(image.a)", {"a": 9.3e18}),
        ("image.a.size()", {"a": None}),
        ("image.a < 5", {"a": True}),
        ("image.a.contains('a')", {"a": ["a"]}),
        ("timestamp(image.a) + duration('1h') > timestamp('2020-01-01T00:00:00Z')", {"a": "2020-01-01T00:00:00Z"}),
        ("image.a.matches('^[0-9]+$')", {"a": "１２３"}),
        ("image.a in {'k': 1}", {"a": "k"}),
        ("{1: 'x'}[image.a]", {"a": 1.0}),
        ("image.m.k", {"m": {"k": 2}}),
        ("has(image.m.k)", {"m": 1}),
        # filter/map over string literals, unrolled: order, errors and shadowing as in a loop
        ("['a', 'b', 'c'].filter(x, image[x] > 1)", {"a": 2, "b": "s", "c": 3}),
        ("['a', 'c'].filter(x, image[x] > 1)", {"a": 2, "c": 3}),
        ("['a', 'zz', 'b'].filter(x, !(x in image && type(image[x]) != null_type))", {"a": None, "b": 1}),
        ("['a', 'b'].map(x, x + '!')", {}),
        ("['a', 'b'].map(x, x in image, x + '?')", {"b": 1}),
        ("['a', 'b'].map(x, x in image, image[x] / 0)", {"b": 1}),
        ("['a', 'b'].exists(x, ['c'].filter(x, x == 'c').size() == 1 && x == 'b')", {}),
        ("image.l.all(x, ['a'].filter(x, x == 'a')[0] == 'a' && x > 0)", {"l": [1, 2]}),
        ("['a'].filter(x, image.l.exists(x, x == 1))", {"l": [1]}),
        ("['a', 'b'].filter(y, ['a'].map(x, x + y)[0] == 'aa')", {}),
        (f"[{', '.join(repr(str(i)) for i in range(40))}].filter(x, x in image)", {"7": 1, "39": 2}),
    ],
)
def test_chosen_cases_compiled_equals_cel_cpp(source, image):
    assert _same(compiled_value(source, image), cpp_value(source, image))


# --- the engine: auto, strict compiled, listing ----------------------------------------------------------


def _policies(tmp_path, *docs):
    path = tmp_path / "p.yaml"
    path.write_text("\n---\n".join(docs))
    return load_policies([path])


def test_policy_outside_the_subset_fails_compiled_and_goes_to_cel_cpp_under_auto(tmp_path):
    # macros nested past Python's 20 nested blocks: valid CEL the compiler declines
    odd = "image.min_disk > 1 && " + "".join(f"[1].all(v{i}, " for i in range(12)) + "true" + ")" * 12
    policies = _policies(
        tmp_path,
        policy_yaml("plain", validations=["image.min_disk >= 1"]),
        policy_yaml("odd", validations=[odd]),
    )
    with pytest.raises(EngineError, match=r"policy odd cannot be compiled: .*--engine auto"):
        create_engine(EngineName.COMPILED, policies, NOW)
    engine = create_engine(EngineName.AUTO, policies, NOW)
    assert isinstance(engine, CompiledEngine)
    assert engine.judges == ["compiled", "cel-cpp"]
    assert engine.name == "compiled, cel-cpp for 1 of 2 policies"
    codes, details = engine.evaluate({"id": "i", "min_disk": 0})
    reference = create_engine(EngineName.CEL_CPP, policies, NOW).evaluate({"id": "i", "min_disk": 0})
    assert (codes, details) == reference
    assert codes == [1, 1]


def test_images_cel_cpp_cannot_take_whole_go_down_the_exact_path(tmp_path):
    policies = _policies(tmp_path, policy_yaml("p", validations=["has(image.min_disk)", "'x' in image"]))
    for image in ({"id": "i", "min_disk": 2**64}, {"id": "i\x00", "min_disk": 1}, {"id": "\ud800", "min_disk": 1}):
        got = create_engine(EngineName.COMPILED, policies, NOW).evaluate(image)
        assert got == create_engine(EngineName.CEL_CPP, policies, NOW).evaluate(image), image


def test_image_independent_variables_are_computed_once_and_lazily_erroring(tmp_path):
    policies = _policies(
        tmp_path,
        policy_yaml(
            "v",
            variables=[
                {"name": "bad", "expression": "1 / 0 == 1"},
                {"name": "limit", "expression": "int(params.limit) * 2"},
            ],
            params={"limit": 5},
            validations=["image.min_disk <= variables.limit", "image.min_disk > 100 || variables.bad"],
        ),
    )
    engine = create_engine(EngineName.COMPILED, policies, NOW)
    codes, details = engine.evaluate({"id": "i", "min_disk": 11})
    assert codes == [2]  # validation 0 false, validation 1 errors (the variable's error)
    assert [(s, v) for s, v, _ in details[0]] == [(1, 0), (2, 1)]
    assert engine.evaluate({"id": "i", "min_disk": 101})[0] == [1]  # 101 > 10: only validation 0 fails


def test_list_and_explain_say_which_engine_judges_each_policy(cli, tmp_path):
    nested = "image.min_disk > 1 && " + "".join(f"[1].all(v{i}, " for i in range(12)) + "true" + ")" * 12
    (tmp_path / "p.yaml").write_text(
        policy_yaml("deep", validations=[nested]) + "\n---\n" + policy_yaml("flat", validations=["image.min_disk > 1"])
    )
    run = cli("list", "--policies", str(tmp_path))
    assert run.returncode == 0
    assert [line.split()[:3] for line in run.stdout.splitlines()] == [
        ["deep", "high", "cel-cpp"],
        ["flat", "high", "compiled"],
    ]
    run = cli("explain", "deep", "--policies", str(tmp_path))
    assert "  judged by the cel-cpp engine (outside the compiled subset: nested too deeply" in run.stdout
    run = cli("check", "--sample", "--policies", str(tmp_path), "--engine", "compiled")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "policy deep cannot be compiled" in run.stderr, run.stderr
    run = cli("check", "--sample", "--policies", str(tmp_path))
    assert run.returncode in (0, 1) and "(compiled, cel-cpp for 1 of 2 policies)" in run.stderr


@pytest.mark.parametrize("pack", ["ims", "openstack"])
def test_the_peephole_rewrites_change_no_verdict_or_message(pack):
    """Both bundled packs compiled with and without the peephole rewrites, over a fleet with adversarial
    images: the same codes, validations and messages for every image, from a pack function that is shorter."""
    from imagelint.policy import bundled_pack
    from tests.fleetgen import generate_fleet

    policies = load_policies([bundled_pack(pack)])
    fleet = generate_fleet(1500, seed=11, varied=True)
    plain, optimised = (CompiledEngine(policies, NOW, optimise=o) for o in (False, True))
    for image in fleet:
        assert optimised.evaluate(image, plain=True) == plain.evaluate(image, plain=True), image["id"]
    assert len(optimised.pack.__code__.co_code) < 0.8 * len(plain.pack.__code__.co_code)
    # every field the pack reads twice or more is read once, into a local (peephole.hoist_reads)
    hoisted = [n for n in optimised.pack.__code__.co_varnames if n.startswith("_h")]
    assert len(hoisted) >= 5 and not any(n.startswith("_h") for n in plain.pack.__code__.co_varnames)


def test_parsed_timestamps_are_remembered_within_bounds():
    # an image's created_at is read by the pack's code and again by its failure's message: the second read
    # is a lookup; the memo stays small and keeps no long text, and an invalid text raises every time
    cv._PARSED.clear()
    first = cv.parse_timestamp("2024-03-05T10:11:12Z")
    assert cv.parse_timestamp("2024-03-05T10:11:12Z") is first and first == cv.Timestamp(1709633472 * cv.NANOS)
    long = "2024-03-05T10:11:12." + "1" * 100 + "Z"
    assert cv.parse_timestamp(long) == cv.Timestamp(1709633472 * cv.NANOS + 111_111_111)
    assert long not in cv._PARSED
    for second in range(200):
        cv.parse_timestamp(f"2024-03-05T10:11:{second % 60:02d}.{second:03d}Z")
    assert len(cv._PARSED) <= cv._PARSED_MAX
    for _ in range(2):
        with pytest.raises(cv.CelError, match="invalid timestamp"):
            cv.parse_timestamp("2024-02-30T00:00:00Z")


def test_parts_that_read_no_image_are_computed_once_and_errors_stay_where_they_run(tmp_path):
    # the message's date is now - params.days written out: a constant in the code, not computed per image;
    # a constant part that raises is not folded, so || still absorbs it (or reports it) per image
    (tmp_path / "p.yaml").write_text(
        policy_yaml(
            "p",
            params={"days": 10},
            validations=[
                {
                    "expression": "image.min_disk > 1",
                    "messageExpression": "'before ' + string(now - duration(string(params.days * 86400) + 's'))"
                    " + ', got ' + string(image.min_disk)",
                },
                "1 / (params.days - 10) > 0 || image.min_disk > 1",
            ],
        )
    )
    policies = load_policies([tmp_path])
    folded, plain = (CompiledEngine(policies, NOW, optimise=o) for o in (True, False))
    message = folded._messages[0][0]
    assert "before 2026-11-17T12:00:00Z, got " in message.__code__.co_consts
    assert "before 2026-11-17T12:00:00Z, got " not in plain._messages[0][0].__code__.co_consts
    for image in ({"id": "a", "min_disk": 2}, {"id": "b", "min_disk": 0}, {"id": "c"}):
        assert folded.evaluate(image) == plain.evaluate(image)
    codes, details = folded.evaluate({"id": "b", "min_disk": 0})
    assert codes == [2] and details[0][0] == (1, 0, "before 2026-11-17T12:00:00Z, got 0")
    assert details[0][1][0] == 2 and details[0][1][2].endswith("raised: divide by zero")
    assert folded.evaluate({"id": "a", "min_disk": 2}) == ([0], {})
