"""The image library (imagelint.policy.library): one meaning on every engine, errors included.

Property tests generate attribute values (strings near the library's patterns, white space, every JSON type,
an absent attribute) and judge one policy per library function on every engine; verdicts, failure
messages and whether an error happened must agree. Example tests pin the documented meaning, the static
checks pin the signatures (FILE:LINE:COL before any image is read).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagelint.engines import EngineName, create_engine
from imagelint.policy import celtree, library, load_policies

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
ENGINES = [e for e in EngineName if e is not EngineName.AUTO]

# name, validation expression, messageExpression (None: a fixed message)
CASES = [
    ("present", "present(image.x)", None),
    ("blank", "blank(image.x)", None),
    ("blank-value", "blank(variables.v)", None),
    ("blank-key", '["x", "y"].exists(k, blank(image[k]) && !present(image[k]))', None),
    ("is-string", "isString(image.x)", None),
    ("one-of", 'oneOf(image.x, ["a", "True", "1"])', None),
    ("one-of-dynamic", 'oneOf(image.x, [variables.v, "a"])', None),
    ("flag", 'flag(image, "x")', None),
    ("is-uuid", "isUUID(image.x)", None),
    ("is-ims-time", "isImsTime(image.x)", None),
    ("is-utc-time", "isUtcTime(image.x)", None),
    ("describe", "false", "describe(image.x)"),
    # int(timestamp) rounds differently on the engines before 1970: imsText() and the parts are compared
    ("ims-time", "false", 'imsText(imsTime(image.x)) + "." + string(imsTime(image.x).getMilliseconds())'),
    ("ims-time-order", 'imsTime(image.x) < timestamp("2000-01-01T00:00:00.5Z")', None),
    ("ims-time-guarded", "!isImsTime(image.x) || imsTime(image.x) < now", None),
    ("ims-text", "false", "imsText(imsTime(image.x))"),
    ("days", "false", 'string(duration("0s") + days(image.x))'),
    ("bind", "cel.bind(v, image.x, isString(v) && (v == 'a' || v.size() > 3))", None),
]


def _pack(tmp_path_factory) -> list:
    directory = tmp_path_factory.mktemp("library-pack")
    for name, expression, message in CASES:
        validation = {"expression": expression, "message": f"{name} is false"}
        if message:
            validation["messageExpression"] = message
        doc = {
            "apiVersion": "imagelint/v1",
            "kind": "Policy",
            "metadata": {"name": name, "severity": "low"},
            "spec": {
                "variables": [{"name": "v", "expression": "has(image.x) ? image.x : null"}],
                "validations": [validation],
            },
        }
        (directory / f"{name}.yaml").write_text(json.dumps(doc), encoding="utf-8")
    return load_policies([directory])


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    policies = _pack(tmp_path_factory)
    return policies, {name: create_engine(name, policies, NOW) for name in ENGINES}


def judge(policies, engine, image):
    codes, details = engine.evaluate(image)
    out = {}
    for index, code in enumerate(codes):
        # an error's text is the engine's own: only that there was one is compared
        found = [
            (s, v, "ERROR" if code == 2 or "messageExpression failed" in m else m) for s, v, m in details.get(index, [])
        ]
        out[policies[index].name] = (code, tuple(found))
    return out


_TIMES = st.one_of(
    st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(3010, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.builds(
        lambda d, frac, zone: d.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone,
        st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(3010, 12, 31)),
        st.sampled_from(["", ".5", ".123456", ".123456789", ".1234567891", "."]),
        st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:59", "+15:00", "", " ", "+0100"]),
    ),
    st.sampled_from(["2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29 00:00:00", "2000-02-29 23:59:59"]),
)
_SPACES = st.text(alphabet=" \t\n\u00a0\u200b\u200d\u200e\u2060\u3000\ufeff\u0085\u180e\x1c", max_size=4)
_STRINGS = st.one_of(
    st.text(max_size=12),
    _SPACES,
    st.builds(lambda a, b, c: a + b + c, _SPACES, st.sampled_from(["a", "x", "é", "0"]), _SPACES),
    st.sampled_from(["true", "True", "TRUE", "false", "yes", "1", "a", "", "tRUE"]),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: str(u)[:-1] + "g"),
    _TIMES,
)
_VALUES = st.one_of(
    _STRINGS,
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.sampled_from(["a", 1, True]), max_size=2),
    st.dictionaries(st.sampled_from(["k", "x"]), st.integers(0, 3), max_size=2),
)
_ABSENT = object()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(_VALUES, st.just(_ABSENT)))
def test_every_function_means_the_same_on_every_engine(engines, value):
    policies, by_engine = engines
    image = {"id": "i-1"} if value is _ABSENT else {"id": "i-1", "x": value}
    results = {name: judge(policies, engine, image) for name, engine in by_engine.items()}
    reference = results[EngineName.CEL_PYTHON]
    # oneOf() is expanded two ways (no type test for a list of string literals): both mean "a string in the list"
    is_string = isinstance(value, str)
    assert reference["one-of"][0] == (0 if is_string and value in ("a", "True", "1") else 1), reference["one-of"]
    assert reference["one-of-dynamic"][0] == (0 if is_string else 1), reference["one-of-dynamic"]
    for name, result in results.items():
        assert result == reference, (name, image, {k: (v, result[k]) for k, v in reference.items() if result[k] != v})


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_TIMES, st.text(max_size=25)))
def test_ims_time_reads_exactly_what_is_ims_time_accepts(text):
    """The native and its predicate agree; the Python implementation is what every engine registers."""
    accepted = bool(re.search(library.RFC3339, text) or re.search(library.SPACED, text)) and "\n" not in text
    try:
        library.ims_time(text)
        read = True
    except ValueError:
        read = False
    assert read == accepted, text


def test_examples(engines):
    policies, by_engine = engines
    # (attributes, policy, whether its expression is true)
    cases = [
        ({"x": "  \u200b"}, "blank", True),
        ({}, "blank", True),
        ({"x": None}, "blank", True),
        ({"x": 0}, "blank", False),
        ({"x": " a"}, "blank", False),
        ({}, "present", False),
        ({"x": None}, "present", False),
        ({"x": ""}, "present", True),
        ({"x": True}, "flag", True),
        ({"x": "TRUE"}, "flag", True),
        ({"x": "yes"}, "flag", False),
        ({"x": 1}, "flag", False),
        ({"x": "True"}, "one-of", True),
        ({"x": 1}, "one-of", False),
        ({"x": "3F1E0A52-6C1D-4C55-9A3E-2F64D1C9B401"}, "is-uuid", True),
        ({"x": "2026-01-01 00:00:00"}, "is-ims-time", True),
        ({"x": "2026-01-01 00:00:00"}, "is-utc-time", False),
        ({"x": "2026-01-01T00:00:00+01:00"}, "is-ims-time", True),
        ({"x": "2026-02-30T00:00:00Z"}, "is-ims-time", False),
        ({"x": "abcd"}, "bind", True),
        ({"x": 5}, "bind", False),
    ]
    for name, engine in by_engine.items():
        for attrs, policy, code in cases:
            got = judge(policies, engine, {"id": "i", **attrs})[policy][0]
            assert got == (0 if code else 1), (name, attrs, policy)
        messages = judge(policies, engine, {"id": "i", "x": True})
        assert messages["describe"][1][0][2] == "true (a JSON boolean)"
        assert judge(policies, engine, {"id": "i", "x": "v"})["describe"][1][0][2] == '"v"'
        spaced = judge(policies, engine, {"id": "i", "x": "2026-03-04T05:06:07.250+01:00"})
        assert spaced["ims-text"][1][0][2] == "2026-03-04 04:06:07"
        assert spaced["ims-time"][1][0][2] == "2026-03-04 04:06:07.250"
        assert judge(policies, engine, {"id": "i", "x": "nope"})["ims-time"] == (1, ((1, 0, "ERROR"),))
        assert judge(policies, engine, {"id": "i", "x": 3})["days"][1][0][2] == "259200s"


def test_expansion_is_standard_cel_mapped_back_to_the_call():
    analysis = celtree.analyse('size(image.tags) > 0 && flag(image, "__support_kvm")', library=True)
    assert analysis.issues == []
    assert "flag(" not in analysis.source and "has(image.__support_kvm)" in analysis.source
    assert analysis.origin(analysis.source.index("has(image.__support_kvm)")) == 24
    assert analysis.origin(analysis.source.index("tags")) == 11
    # no library call: the text is run as written
    plain = celtree.analyse("has(image.name)", library=True)
    assert plain.source == "has(image.name)" and plain.origin is None


def test_library_is_off_where_not_asked_for():
    assert celtree.analyse('flag(image, "x")').issues[0].message.startswith("unknown function flag()")


@pytest.mark.parametrize(
    "expression, offset, message",
    [
        ("flag(image, name) == true", 12, "flag(): argument 2 must be a string literal"),
        ('flag(params, "x")', 5, "flag(): the first argument is image itself"),
        ("isUUID(image.id, 2)", 0, "isUUID() takes 1 argument(s): isUUID(dyn) -> bool"),
        ("imsTime(image.min_disk) < now", 8, "imsTime() argument 1 must be a string, but it is always an int"),
        ("imsText(image.name) == ''", 8, "imsText() argument 1 must be a timestamp, but it is always a string"),
        ("now - days(2.5) < now", 11, "days() argument 1 must be an int, but it is always a double"),
        ("flg(image)", 0, "unknown function flg()"),
        ("cel.bind(image, 1, image > 0)", 0, "cel.bind(image, ...) would hide the variable 'image'"),
        ("image.?name == ''", 6, "CEL syntax error"),
    ],
)
def test_static_errors_name_the_place(tmp_path, expression, offset, message):
    """Wrong arguments and unknown functions: one FILE:LINE:COL line and exit 2, before any image is read."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: imagelint/v1\nkind: Policy\nmetadata: {name: p, severity: low}\n"
        f"spec:\n  validations:\n    - expression: {json.dumps(expression)}\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-m", "imagelint", "validate", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    first = out.stderr.strip().splitlines()[0]
    column = len("    - expression: ") + 2 + offset  # 1-based, after the opening quote
    assert first.startswith(f"{path}:6:{column}: spec.validations[0].expression: "), first
    assert message in first, first


def test_declarations_are_complete():
    for name, function in library.FUNCTIONS.items():
        assert (function.expand is None) != (function.native is None), name
        assert function.summary and function.signature.startswith(name + "(")
    assert set(library.NATIVES) == {"imsTimeNative"}  # behind imsTime, for the space form and errors
