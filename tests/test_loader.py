"""Load-time checks: every problem of every file, as FILE:LINE:COL pointing into the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagelint.policy import PolicyError, load_policies

GOOD = """\
apiVersion: imagelint/v1
kind: Policy
metadata:
  name: {name}
  title: A title
  severity: high
spec:
  validations:
    - expression: image.status == "active"
"""


def problems(*paths: Path, overrides=None) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policies(paths, overrides)
    return [str(p) for p in info.value.problems]


def test_good_policy_loads_with_its_fields(write):
    path = write("p.yaml", GOOD.format(name="active-only"))
    [policy] = load_policies([path])
    assert (policy.name, policy.title, policy.severity.label) == ("active-only", "A title", "high")
    assert policy.position.line == 1 and policy.validations[0].expression.position.line == 9
    assert policy.attributes() == frozenset({"status"})


def test_yaml_syntax_error_has_line_and_column(write):
    path = write("bad.yaml", "apiVersion: imagelint/v1\nmetadata: [unclosed\n")
    assert problems(path) == [f"{path}:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            ("severity: high", "severity: urgent"),
            "6:13: metadata.severity: unknown severity 'urgent' (expected one of: info, low, medium, high, critical)",
        ),
        (("severity: high", "severity: High"), "6:13: metadata.severity: severity must be lower-case: 'high'"),
        (
            ("name: {name}", "name: Bad_Name"),
            "4:9: metadata.name: 'Bad_Name' must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)",
        ),
        (("kind: Policy", "kind: Polcy"), "2:7: kind: expected 'Policy', got 'Polcy'"),
        (
            ("apiVersion: imagelint/v1", "apiVersion: imagelint/v2"),
            "1:13: apiVersion: expected 'imagelint/v1', got 'imagelint/v2'",
        ),
        (
            ("  title: A title", "  title: A title\n  owner: me"),
            "6:3: metadata: unknown key 'owner' (allowed: name, title, severity, description, references, labels, remediation)",
        ),
        (("  severity: high\n", ""), "4:3: metadata: missing required key 'severity'"),
        (
            ('  validations:\n    - expression: image.status == "active"\n', "  validations: []\n"),
            "8:16: spec.validations: expected a non-empty list of validations",
        ),
        (
            ('    - expression: image.status == "active"', "    - message: hi"),
            "9:7: spec.validations[0]: missing required key 'expression'",
        ),
        (
            ('    - expression: image.status == "active"', "    - expression: 42"),
            "9:19: spec.validations[0].expression: expected a string, got an int ('42')",
        ),
    ],
)
def test_schema_problems_name_the_key_and_position(write, edit, expected):
    old, new = edit
    path = write("p.yaml", GOOD.replace(old, new).format(name="p"))
    assert problems(path) == [f"{path}:{expected}"]


def test_duplicate_names_across_files_point_at_both(write):
    a = write("a.yaml", GOOD.format(name="same"))
    b = write("b.yaml", GOOD.format(name="same"))
    assert problems(a, b) == [f"{b}:1:1: duplicate policy name 'same' (first defined at {a}:1:1)"]


def test_every_problem_of_every_file_is_reported(write):
    a = write("a.yaml", GOOD.format(name="a").replace("severity: high", "severity: huge"))
    b = write("b.yaml", GOOD.format(name="b").replace('image.status == "active"', "image.status =="))
    c = write("c.yaml", "- not a mapping\n")
    found = problems(a, b, c)
    assert [p.split(":")[0] for p in found] == [str(a), str(b), str(c)]
    assert found[2] == f"{c}:1:1: document: expected a mapping, got a list"


@pytest.mark.parametrize(
    "expression_yaml, line, col",
    [
        # plain scalar: the column of the unexpected token inside the expression
        ('    - expression: image.status == = "x"\n', 9, 35),
        # double-quoted: one more for the quote
        ('    - expression: "image.status @ 1"\n', 9, 33),
        # literal block: the expression's own line and column in the file (end of input: its last token)
        ('    - expression: |\n        image.status == "active" &&\n          image.name ==\n', 11, 22),
        ('    - expression: |\n        has(image.name) &&\n          image.name @ "x"\n', 11, 22),
        # folded block: lines are joined with spaces, the position still lands on the second line
        ('    - expression: >\n        has(image.name) &&\n          image.name @ "x"\n', 11, 22),
    ],
)
def test_cel_syntax_error_points_into_the_yaml_file(write, expression_yaml, line, col):
    text = GOOD.format(name="p").replace('    - expression: image.status == "active"\n', expression_yaml)
    path = write("p.yaml", text)
    [problem] = problems(path)
    assert problem.startswith(f"{path}:{line}:{col}: spec.validations[0].expression: CEL syntax error: ")


@pytest.mark.parametrize(
    "expression_yaml",
    [
        r'    - expression: "image.name == \"x\" && image.status @ 1"',  # escaped quotes
        r'    - expression: "image.name == \"\u00e9\t\x41\" && image.status @ 1"',  # \u, \t, \x escapes
        r'    - expression: "image.name == \"\ud83d\ude00\" && image.status @ 1"',  # a surrogate pair: one char
        r'    - expression: "image.name == \"\\\\\" && image.status @ 1"',  # escaped backslashes
        "    - expression: 'image.name == ''x'' && image.status @ 1'",  # single-quoted: '' is one quote
        '    - expression: "image.name == \\"x\\" &&\\\n        image.status @ 1"',  # an escaped line break
    ],
)
def test_cel_error_column_is_exact_after_escapes_in_quoted_scalars(write, expression_yaml):
    """main paired the n-th non-blank character of the value with the n-th of the source, so every escape
    before the error moved the column right by its length."""
    text = GOOD.format(name="p").replace('    - expression: image.status == "active"\n', expression_yaml + "\n")
    path = write("p.yaml", text)
    lines = text.splitlines()
    line = next(n for n, t in enumerate(lines, 1) if "@" in t)
    [problem] = problems(path)
    assert problem.startswith(f"{path}:{line}:{lines[line - 1].index('@') + 1}: "), problem


@pytest.mark.parametrize(
    "expression, message",
    [
        (
            "foo(image.name)",
            (
                "1:1: unknown function foo() (only the standard CEL library and the image library of "
                "docs/cel-library.md are available, so that every engine means the same thing)"
            ),
        ),
        (
            "image.name.lowerAscii() == 'x'",
            "1:1: unknown method .lowerAscii() (only the standard CEL library is available)",
        ),
        ("img.name == 'x'", "1:1: undeclared reference to 'img' (expressions see image, params, variables and now)"),
        ("variables.nope", "1:1: variables.nope is not defined earlier in spec.variables (defined: none)"),
        ("params.limit > 1", "1:1: params.limit is not declared in spec.params (declared: none)"),
        (
            "image.tags.exists(image, image == 'x')",
            "1:1: .exists(image, ...) would hide the variable 'image'; pick another name",
        ),
        ("has(image['x'])", "1:1: has() takes one field selection, e.g. has(image.name)"),
    ],
)
def test_cel_static_problems(write, expression, message):
    text = GOOD.format(name="p").replace('image.status == "active"', f'"{expression}"')
    path = write("p.yaml", text)
    line_col, rest = message.split(": ", 1)
    l, c = map(int, line_col.split(":"))
    assert problems(path) == [f"{path}:{9 + l - 1}:{19 + c}: spec.validations[0].expression: {rest}"]


def test_type_errors_from_the_checker_are_load_errors(write, cli):
    path = write("p.yaml", GOOD.format(name="p").replace('image.status == "active"', '1 + "a" == 2'))
    result = cli("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}:9:21: spec.validations[0].expression: found no matching overload")


def test_has_of_a_variable_is_a_load_error(write):
    # cel-python answered true and cel-cpp, which writes the variable in, failed at run time: rejected.
    text = (
        GOOD.format(name="p")
        .replace("spec:\n", "spec:\n  variables:\n    - name: a\n      expression: image.name\n")
        .replace('image.status == "active"', '"has(variables.a)"')
    )
    path = write("p.yaml", text)
    assert problems(path) == [
        f"{path}:12:20: spec.validations[0].expression: has() of a variable is always true: read variables.NAME itself"
    ]


def test_variables_must_be_defined_earlier(write):
    text = GOOD.format(name="p").replace(
        "spec:\n",
        "spec:\n  variables:\n    - name: a\n      expression: variables.b\n    - name: b\n      expression: 'true'\n",
    )
    path = write("p.yaml", text)
    assert problems(path) == [
        (
            f"{path}:10:19: spec.variables[0].expression: variables.b is not defined earlier "
            "in spec.variables (defined: none)"
        )
    ]


def test_param_overrides_must_name_a_policy_and_a_declared_param(write):
    path = write("p.yaml", GOOD.format(name="p").replace("spec:\n", "spec:\n  params: {limit: 3}\n"))
    [policy] = load_policies([path], {"p": {"limit": 5}})
    assert policy.params == {"limit": 5}
    assert problems(path, overrides={"q": {"limit": 1}}) == ["--param:1:1: no loaded policy is named 'q'"]
    assert problems(path, overrides={"p": {"limt": 1}}) == [
        "--param:1:1: policy 'p' declares no param 'limt' (declared: limit)"
    ]


def test_param_overrides_keep_the_type_of_the_default(write):
    params = "spec:\n  params: {limit: 3, ratio: 0.5, names: [a, b], any: [], free: null}\n"
    path = write("p.yaml", GOOD.format(name="p").replace("spec:\n", params))
    accepted = {"limit": 5, "ratio": 2, "names": "c", "any": [1, "x"], "free": {"k": 1}}
    [policy] = load_policies([path], {"p": accepted})
    assert {k: policy.params[k] for k in accepted} == accepted
    # a string where the policy computes with an int would make every image an error; a list of ints where it
    # reads attribute names would check none and pass every image
    assert problems(path, overrides={"p": {"limit": "abc"}}) == [
        "--param:1:1: p.limit: expected an int like its default 3; got string 'abc'"
    ]
    assert problems(path, overrides={"p": {"limit": True}}) == [
        "--param:1:1: p.limit: expected an int like its default 3; got bool True"
    ]
    assert problems(path, overrides={"p": {"ratio": "x"}}) == [
        "--param:1:1: p.ratio: expected a double like its default 0.5; got string 'x'"
    ]
    assert problems(path, overrides={"p": {"names": ["a", 1]}}) == [
        "--param:1:1: p.names: expected a list of strings like its default, or one string; got int 1"
    ]


def test_directory_loads_yaml_files_sorted_and_skips_test_files(write, tmp_path):
    write("d/b.yaml", GOOD.format(name="b"))
    write("d/sub/a.yml", GOOD.format(name="a"))
    write("d/a.test.yaml", "not: a policy")
    names = [p.name for p in load_policies([tmp_path / "d"])]
    assert names == ["b", "a"]  # sorted by path: d/b.yaml < d/sub/a.yml


def test_missing_path_and_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    assert problems(tmp_path / "nope.yaml", tmp_path / "empty") == [
        f"{tmp_path / 'nope.yaml'}:1:1: no such policy file or directory",
        f"{tmp_path / 'empty'}:1:1: no policy files (*.yaml, *.yml) in this directory",
    ]


def test_timestamps_in_params_stay_strings(write):
    path = write("p.yaml", GOOD.format(name="p").replace("spec:\n", "spec:\n  params: {since: 2024-01-01}\n"))
    [policy] = load_policies([path])
    assert policy.params == {"since": "2024-01-01"}
