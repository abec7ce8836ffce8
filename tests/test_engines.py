"""The verdict semantics, run on both engines: the same cases must give the same verdicts and findings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imagelint.engines import ERROR, FAIL, PASS, SKIP, EngineName, create_engine
from imagelint.policy import load_policies
from tests.conftest import policy_yaml

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
ENGINES = [EngineName.CEL_PYTHON, EngineName.CEL_CPP]


@pytest.fixture(params=ENGINES, ids=lambda e: e.value)
def judge(request, tmp_path):
    """judge(image, **policy_kwargs) -> (code, [(status, validation, message)]) on one engine."""

    def _judge(image, overrides=None, **kwargs):
        path = tmp_path / "p.yaml"
        path.write_text(policy_yaml("p", **kwargs))
        policies = load_policies([path], overrides)
        engine = create_engine(request.param, policies, NOW)
        codes, details = engine.evaluate(image)
        return codes[0], details.get(0, [])

    return _judge


IMG = {
    "id": "i-1",
    "name": "web",
    "status": "active",
    "min_disk": 40,
    "visibility": "private",
    "tags": ["a=b"],
    "created_at": "2026-01-01T00:00:00Z",
    "__support_xen": "true",
}


def test_pass_when_every_validation_is_true(judge):
    assert judge(IMG, validations=['image.status == "active"', "image.min_disk >= 1"]) == (PASS, [])


def test_skip_when_match_is_false(judge):
    assert judge(IMG, match='image.visibility == "public"', validations=["image.nope"]) == (SKIP, [])


def test_fail_has_one_finding_per_false_validation_with_its_message(judge):
    code, found = judge(
        IMG,
        validations=[
            {"expression": 'image.status == "killed"', "message": "static message"},
            {"expression": "image.min_disk > 100", "messageExpression": "'min_disk is ' + string(image.min_disk)"},
            {"expression": "true"},
            {"expression": "  image.min_disk > 1000  "},
        ],
    )
    assert code == FAIL
    assert found == [(FAIL, 0, "static message"), (FAIL, 1, "min_disk is 40"), (FAIL, 3, "image.min_disk > 1000")]


def test_message_expression_that_fails_falls_back_and_says_so(judge):
    code, [(status, index, message)] = judge(
        IMG, validations=[{"expression": "false", "message": "fallback", "messageExpression": "'x' + image.nope"}]
    )
    assert (code, status, index) == (FAIL, FAIL, 0)
    assert message.startswith("fallback (messageExpression failed: ")


def test_message_expression_that_is_not_a_string_falls_back(judge):
    _, [(_, _, message)] = judge(IMG, validations=[{"expression": "false", "messageExpression": "42"}])
    assert message == "false (messageExpression failed: returned int, expected string)"


def test_missing_key_is_an_error_finding(judge):
    code, [(status, index, message)] = judge(IMG, validations=["true", "image.nope == 1"])
    assert (code, status, index) == (ERROR, ERROR, 1)
    assert message.startswith("spec.validations[1].expression raised: ")


def test_non_bool_result_is_an_error(judge):
    assert judge(IMG, validations=["image.name"]) == (
        ERROR,
        [(ERROR, 0, "spec.validations[0].expression returned string, expected bool")],
    )


def test_error_and_fail_in_one_policy_report_both(judge):
    code, found = judge(IMG, validations=["false", "image.nope"])
    assert code == ERROR and [(s, i) for s, i, _ in found] == [(FAIL, 0), (ERROR, 1)]


def test_match_error_is_one_finding_without_validation_index(judge):
    code, [(status, index, message)] = judge(IMG, match="image.nope == 1", validations=["true"])
    assert (code, status, index) == (ERROR, ERROR, None)
    assert message.startswith("spec.match raised: ")


def test_non_bool_match_is_an_error(judge):
    assert judge(IMG, match="1", validations=["true"]) == (
        ERROR,
        [(ERROR, None, "spec.match returned int, expected bool")],
    )


def test_error_absorbed_by_short_circuit_is_not_an_error(judge):
    assert judge(IMG, validations=["true || image.nope", "image.nope || true"]) == (PASS, [])


def test_variables_are_lazy_and_chain(judge):
    variables = [
        {"name": "bad", "expression": "image.nope == 1"},
        {"name": "xen", "expression": 'has(image.__support_xen) && image.__support_xen == "true"'},
        {"name": "xen_private", "expression": 'variables.xen && image.visibility == "private"'},
    ]
    # an unused failing variable does not make the policy error
    assert judge(IMG, variables=variables, validations=["variables.xen_private"]) == (PASS, [])
    # a used failing variable does, unless short-circuited away
    assert judge(IMG, variables=variables, validations=["false && variables.bad"])[0] == FAIL
    assert judge(IMG, variables=variables, validations=["variables.bad"])[0] == ERROR


def test_a_variable_only_a_message_reads_is_read_on_failure(judge):
    variables = [
        {"name": "label", "expression": "'image ' + image.name"},
        {"name": "bad", "expression": "image.nope + 'x'"},
        {"name": "twice", "expression": "variables.label + ' / ' + variables.label"},
    ]
    validations = [
        {"expression": "image.min_disk > 100", "messageExpression": "variables.twice"},
        {"expression": "image.min_disk > 1", "messageExpression": "variables.bad"},
    ]
    assert judge(IMG, variables=variables, validations=validations) == (FAIL, [(FAIL, 0, "image web / image web")])
    code, found = judge(
        IMG, variables=variables, validations=validations[:1] + [dict(validations[1], expression="false")]
    )
    assert code == FAIL and found[0] == (FAIL, 0, "image web / image web")
    assert found[1][:2] == (FAIL, 1)  # the message failed: the finding keeps its expression's own text
    assert found[1][2] != "image web / image web"


def test_params_defaults_and_overrides(judge):
    kwargs = dict(
        params={"max": 50, "names": ["web", "db"]},
        validations=["image.min_disk <= params.max", 'image.name in params["names"]'],
    )
    assert judge(IMG, **kwargs) == (PASS, [])
    assert judge(IMG, overrides={"p": {"max": 10}}, **kwargs)[0] == FAIL
    assert judge(IMG, overrides={"p": {"names": []}}, **kwargs)[0] == FAIL


def test_params_as_a_map(judge):
    assert judge(IMG, params={"a": 1}, validations=["has(params.a)", "params.size() == 1"]) == (PASS, [])


def test_now_is_the_runs_fixed_time(judge):
    assert judge(
        IMG,
        validations=[
            'now == timestamp("2026-11-27T00:00:00Z")',
            'now - timestamp(image.created_at) > duration("7000h")',
        ],
    ) == (PASS, [])


def test_strings_stay_strings(judge):
    # "true" is a string in the API; comparing it with a bool is an error on both engines? No: == across
    # types is false on cel-cpp and an error on cel-python -- a documented difference, see docs/engines.md.
    assert judge(IMG, validations=['image.__support_xen == "true"'])[0] == PASS


def test_macros_over_lists(judge):
    assert judge(
        IMG,
        validations=[
            "image.tags.exists(t, t.startsWith('a='))",
            "image.tags.all(t, t.contains('='))",
            "image.tags.filter(t, t == 'x').size() == 0",
        ],
    ) == (PASS, [])


def test_unconvertible_image_value_is_an_error_not_a_crash(judge):
    image = dict(IMG, name=2**70)
    code, found = judge(image, validations=["has(image.name)"])
    assert code == ERROR and found[0][0] == ERROR


def test_whole_image_use_sees_every_attribute(judge):
    assert judge(IMG, validations=["image.size() == 8", '"tags" in image']) == (PASS, [])


def test_fast_path_falls_back_per_policy(tmp_path):
    """One erroring policy must not change the verdicts of the others on the fast engine."""
    path = tmp_path / "p.yaml"
    path.write_text(
        policy_yaml("a", validations=["image.nope"])
        + "\n---\n"
        + policy_yaml("b", validations=['image.status == "x"'])
        + "\n---\n"
        + policy_yaml("c", match="false", validations=["true"])
    )
    policies = load_policies([path])
    results = []
    for name in ENGINES:
        codes, details = create_engine(name, policies, NOW).evaluate(IMG)
        results.append((codes, {i: [(s, v) for s, v, _ in found] for i, found in details.items()}))
    assert results[0] == results[1] == ([ERROR, FAIL, SKIP], {0: [(ERROR, 0)], 1: [(FAIL, 0)]})


def test_nul_in_a_string_cannot_hide_a_suffix(judge):
    """cel-expr-python truncates strings at NUL; the cel-cpp engine hands such images to cel-python."""
    image = dict(IMG, name="web-approved\x00-but-not-really")
    assert judge(image, validations=['image.name.endsWith("-approved")', "image.name.size() == 28"])[0] == FAIL
    assert judge(image, validations=["image.name.size() == 28", 'image.name.contains("really")']) == (PASS, [])


@pytest.mark.parametrize("where", ["value", "key", "nested"])
def test_a_lone_surrogate_is_judged_like_any_string(judge, where):
    """JSON "\\ud800" decodes to a lone surrogate, which cel-expr-python cannot make UTF-8: its evaluation
    failed part way ("basic_string: construction from null") and took the run down with a traceback. The
    cel-cpp engine hands such images to cel-python; both judge them alike."""
    name = "web-\ud800-approved"
    image = {
        "value": dict(IMG, name=name),
        "key": dict(IMG, name=name, **{"x\udc00": 1}),
        "nested": dict(IMG, name=name, tags=[{"k": "\ud83d"}]),
    }[where]
    found = judge(
        image, validations=['image.name.endsWith("-approved")', 'image.name.startsWith("x")', "size(image.name) == 14"]
    )
    assert found[0] == FAIL and [v for _, v, _ in found[1]] == [1]
    code, details = judge(image, validations=['image.name.matches("^web-")'])
    assert code in (PASS, ERROR)  # RE2 refuses a string it cannot encode: whatever cel-python does, never a crash
    if code == ERROR:
        assert details and details[0][0] == ERROR


@pytest.mark.parametrize("name", [EngineName.CEL_PYTHON, EngineName.CEL_CPP])
def test_evaluate_leaves_the_garbage_collector_as_it_found_it(tmp_path, name):
    """evaluate() collects and freezes page by page (see judgement/evaluate.py); nothing may stay frozen after."""
    import gc
    import json

    from imagelint.judgement.evaluate import evaluate
    from imagelint.sources import SnapshotSource
    from tests.fleetgen import generate_fleet

    path = tmp_path / "fleet.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in generate_fleet(2500, seed=3)))
    (tmp_path / "p.yaml").write_text(policy_yaml("named", validations=["has(image.name)"]))
    policies = load_policies([tmp_path / "p.yaml"])
    assert gc.isenabled() and gc.get_freeze_count() == 0
    result = evaluate(SnapshotSource(str(path)), policies, create_engine(name, policies, NOW), now="now")
    assert result.summary.images == 2500 and result.source.complete
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_variable_of_params_and_now_alone_means_the_same_computed_once(judge, tmp_path):
    # cel-cpp puts such a variable in as its value (computed at load); every engine must judge as if it did not
    variables = [
        {"name": "days", "expression": "int(params.max_age_days)"},
        {"name": "cut", "expression": "now - days(variables.days)"},
        {"name": "names", "expression": 'params.names + ["x"]'},
        {"name": "half", "expression": "double(variables.days) / 2.0"},
        {"name": "bad", "expression": 'duration("nonsense")'},
    ]
    validations = [
        {
            "expression": "imsTime(image.created_at) >= variables.cut",
            "messageExpression": "'before ' + imsText(variables.cut) + ', ' + string(variables.days) + ' days'",
        },
        "image.name in variables.names && variables.half == 15.0",
        "variables.days > 0 || variables.bad > duration('1s')",
        "variables.days < 0 && variables.bad > duration('1s')",
    ]
    params = {"max_age_days": 30, "names": ["web"]}
    code, found = judge(IMG, variables=variables, validations=validations, params=params)
    assert code == FAIL
    assert found == [
        (FAIL, 0, "before 2026-10-28 00:00:00, 30 days"),
        (FAIL, 3, "variables.days < 0 && variables.bad > duration('1s')"),
    ]
    code, found = judge(IMG, variables=variables, validations=["variables.bad > duration('1s')"], params=params)
    assert (code, [(status, number) for status, number, _ in found]) == (ERROR, [(ERROR, 0)])


def test_cel_cpp_computes_a_constant_variable_once(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        policy_yaml(
            "p",
            params={"max_age_days": 30},
            variables=[{"name": "cut", "expression": "now - days(int(params.max_age_days))"}],
            validations=["timestamp(image.created_at) >= variables.cut"],
        )
    )
    from imagelint.engines.celcpp import CelCppEngine

    engine = CelCppEngine(load_policies([path]), NOW)
    assert engine.codes[0] == '(((timestamp(image.created_at) >= (timestamp("2026-10-28T00:00:00Z"))) ? 0 : 1))'


def test_findings_made_without_init_are_whole_findings():
    """evaluate() and the spill file build Findings by filling their __dict__ (``result.built``); each must
    have every field the dataclass declares, and equal the Finding its constructor makes of them."""
    from dataclasses import fields

    from imagelint.judgement.evaluate import evaluate
    from imagelint.judgement.result import Finding, ImageRef
    from imagelint.judgement.spill import Spill
    from imagelint.policy import bundled_pack
    from imagelint.sources import SnapshotSource
    from imagelint.sources.snapshot import sample_fleet_path

    policies = load_policies([bundled_pack()])
    engine = create_engine(EngineName.COMPILED, policies, NOW)
    result = evaluate(SnapshotSource(str(sample_fleet_path())), policies, engine, now="now")
    spill = Spill()
    read_back = list(spill.findings([spill.add(result.findings)]))
    assert len(result.findings) == len(read_back) > 100
    for finding in [*result.findings, *read_back]:
        assert finding == Finding(**{f.name: getattr(finding, f.name) for f in fields(Finding)})
        assert finding.image == ImageRef(**{f.name: getattr(finding.image, f.name) for f in fields(ImageRef)})
    assert read_back == list(result.findings)


# A variable read twice or more is bound once on cel-cpp (cel.bind); these hold that to the lazy reading.
TWICE = [
    {"name": "bad", "expression": "image.tags.filter(t, t.startsWith('a'))"},
    {"name": "broken", "expression": "image.nope + 1"},
]


def test_a_variable_read_twice_gives_what_reading_it_once_does(judge):
    code, found = judge(
        IMG,
        variables=TWICE,
        validations=[
            {
                "expression": "size(variables.bad) == 0",
                "messageExpression": "variables.bad[0] + ' and ' + string(size(variables.bad) - 1) + ' more'",
            }
        ],
    )
    assert (code, found) == (FAIL, [(FAIL, 0, "a=b and 0 more")])


def test_a_variable_that_errors_where_no_branch_reads_it_raises_nothing(judge):
    always_true = "image.min_disk > 0 || variables.broken > 0 || variables.broken < 0"
    assert judge(IMG, variables=TWICE, validations=[always_true]) == (PASS, [])
    guarded = "has(image.nope) ? variables.broken > variables.broken : true"
    assert judge(IMG, variables=TWICE, validations=[guarded]) == (PASS, [])
    code, [(status, _, _)] = judge(IMG, variables=TWICE, validations=["variables.broken == variables.broken"])
    assert (code, status) == (ERROR, ERROR)


def test_a_bound_variable_does_not_capture_a_comprehension_variable_of_the_same_name(judge):
    # _v0 is the name the binding would take first: the expression's own _v0 must stay its own
    expression = "image.tags.all(_v0, size(variables.bad) == 1 && _v0 in variables.bad)"
    assert judge(IMG, variables=TWICE, validations=[expression]) == (PASS, [])
    assert judge(dict(IMG, tags=["a=b", "c"]), variables=TWICE, validations=[expression])[0] == FAIL


def test_cel_cpp_binds_what_is_read_twice_and_inlines_what_is_read_once(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        policy_yaml(
            "p",
            variables=TWICE,
            validations=["size(variables.bad) < 2 || variables.bad[0] == ''", "size(variables.bad) < 9"],
        )
    )
    policies = load_policies([path])
    engine = create_engine(EngineName.CEL_CPP, policies, NOW)
    first, second = (engine.inlined[id(v.expression)] for v in policies[0].validations)
    assert first.startswith("cel.bind(_v0, image.tags.filter(") and first.count("filter(") == 1
    assert "cel.bind" not in second and second.count("filter(") == 1


CONFORMANCE_FILES = sorted(
    p.stem for p in (Path(__file__).parent / "data" / "cel-spec-conformance" / "testdata").glob("*.textproto")
)


@pytest.mark.parametrize("file", CONFORMANCE_FILES)
def test_cel_python_answers_as_celpy_does(file, monkeypatch):
    """The cel-python engine evaluates parse trees without their pass-through rungs (celpython._collapsed),
    and its && and || skip the right side when the left decides: every conformance case gives the same
    outcome, error texts included, as celpy's own interpreter on the tree the parser made."""
    import sys

    import celpy

    from imagelint.engines import celpython
    from tests import celconformance

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))  # parse.textproto nests deeply for cel-python's parser
    try:
        cases = celconformance.cases(file)
        ours = [celconformance.run_cel_python(case) for case in cases]
        monkeypatch.setattr(celpython, "_collapsed", lambda tree: tree)
        monkeypatch.setattr(celpython, "environment", celpy.Environment)
        celpys = [celconformance.run_cel_python(case) for case in cases]
    finally:
        sys.setrecursionlimit(limit)
    assert cases
    assert ours == celpys


LIST_VARIABLES = [
    {"name": "first", "expression": '["a", "b"]'},
    {"name": "second", "expression": '["c"]'},
    {
        "name": "bad",
        "expression": '(variables.first + variables.second).filter(k, present(image[k]) && image[k] != "ok")',
    },
]


@pytest.mark.parametrize(
    "image",
    [
        {"id": "1"},
        {"id": "2", "a": "ok", "b": "no", "c": "no", "d": "no"},
        {"id": "3", "a": None, "b": "ok", "c": "7"},
        {"id": "4", "c": "no", "b": "no"},
    ],
)
def test_a_variable_holding_a_list_of_names_reads_those_attributes_alone(tmp_path, image):
    # the analysis sees through variables.first + variables.second to the names, so cel-cpp converts three
    # attributes rather than the whole image and the compiled engine unrolls the filter; all three agree
    path = tmp_path / "p.yaml"
    path.write_text(
        policy_yaml(
            "p",
            variables=LIST_VARIABLES,
            validations=[
                {
                    "expression": "size(variables.bad) == 0",
                    "messageExpression": "variables.bad[0] + andMore(variables.bad, 'more')",
                }
            ],
        )
    )
    [policy] = load_policies([path])
    bad = policy.variables[2].expression
    assert (bad.attributes, bad.whole_image) == ({"a", "b", "c"}, False)
    got = {e: create_engine(e, [policy], NOW).evaluate(image) for e in (*ENGINES, EngineName.COMPILED)}
    assert len({repr(v) for v in got.values()}) == 1, got
    expected = [k for k in "abc" if image.get(k) is not None and image[k] != "ok"]
    assert got[EngineName.CEL_PYTHON][0][0] == (FAIL if expected else PASS)


def test_a_list_variable_with_anything_but_string_literals_reads_the_whole_image(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        policy_yaml(
            "p",
            variables=[
                {"name": "names", "expression": '["a", image.name]'},
                {"name": "bad", "expression": "variables.names.filter(k, present(image[k]))"},
            ],
            validations=["size(variables.bad) == 0"],
        )
    )
    [policy] = load_policies([path])
    assert policy.variables[1].expression.whole_image
