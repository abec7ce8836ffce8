"""Static analysis on cel-python's parse tree: which image attributes an expression reads, and inlining."""

from __future__ import annotations

import pytest

from imagelint.policy import celtree


@pytest.mark.parametrize(
    "source, attributes, whole",
    [
        ("image.a == 1 && has(image.b)", {"a", "b"}, False),
        ('image["c"] == 1', {"c"}, False),
        ('"d" in image', {"d"}, False),
        ('["e", "f"].all(k, k in image && image[k] != null)', {"e", "f"}, False),
        ('["e", "f"].exists(k, image[k] == "x")', {"e", "f"}, False),
        ("image.tags.exists(t, t == 'x')", {"tags"}, False),
        ("image.size() > 3", set(), True),
        ("[1, 2].exists(k, image[string(k)] == 1)", set(), True),
        ("image[image.key] == 1", {"key"}, True),
        ('["a", 1].all(k, image[k] == 1)', set(), True),
    ],
)
def test_attributes_read(source, attributes, whole):
    analysis = celtree.analyse(source)
    assert analysis.issues == []
    assert (analysis.attributes, analysis.whole_image) == (attributes, whole)


@pytest.mark.parametrize(
    "source, valued",
    [
        # has(), type() and `in` see only presence and type: a memo can key such attributes on their shape
        ('has(image.a) && type(image.b) == string && "c" in image', set()),
        ('["e", "f"].all(k, !(k in image) || type(image[k]) == null_type)', set()),
        ('has(image.a) && image.a == "x"', {"a"}),
        ("type(image.a.b) == int || has(image.c.d)", {"a", "c"}),
        ('type(image["g"]) == int && size(image.h) > 0', {"h"}),
        ("image.tags.exists(t, type(t) == string)", {"tags"}),
    ],
)
def test_attributes_whose_value_is_read(source, valued):
    analysis = celtree.analyse(source)
    assert analysis.issues == []
    assert analysis.values == valued


@pytest.mark.parametrize(
    "source, matched, valued",
    [
        # a literal pattern: only the match's result is read, so a memo can key the attribute on it
        ('has(image.a) && type(image.a) == string && image.a.matches("^x")', {"a"}, set()),
        ('matches(image.b, "y$") || image.c.matches(r"z")', {"b", "c"}, set()),  # raw strings are literals too
        ('image.a.matches("x") && image.a == "y"', {"a"}, {"a"}),  # also read by value
        ("image.a.matches(image.p)", set(), {"a", "p"}),  # a pattern known only at run time sees the value
        ('image.a.b.matches("x")', set(), {"a"}),
    ],
)
def test_attributes_matched_against_literal_patterns(source, matched, valued):
    analysis = celtree.analyse(source)
    assert analysis.issues == []
    assert (analysis.matched, analysis.values) == (matched, valued)


def test_inline_variables_params_and_regexes():
    source = 'variables.x && params.n > 1 && image.name.matches("^a")'
    tree = celtree.parse(source)
    [(start, end, attr, literal)] = celtree.regex_sites(tree)
    assert (source[start:end], attr, literal) == ('image.name.matches("^a")', "name", '"^a"')
    out = celtree.inline(source, tree, {"x": "image.a == 1"}, '{"n": 2}', {(start, end): "RX"})
    assert out == '(image.a == 1) && ({"n": 2}).n > 1 && RX'


def test_inline_puts_a_param_in_as_its_value_but_keeps_the_map_where_cel_needs_it():
    source = 'params.n > 1 && params["n"] == 2 && has(params.n) && params.missing == 0 && params.m.k && [1].all(params, params.n)'
    values = {"n": 2, "m": {"k": True}}
    literal = celtree.cel_literal(values)
    out = celtree.inline(source, celtree.parse(source), {}, literal, None, values)
    # has() needs a selection and an absent name must stay CEL's no-such-key error; a macro's own `params` is
    # not the policy's
    assert out == (
        f'(2) > 1 && (2) == 2 && has(({literal}).n) && ({literal}).missing == 0 && ({{"k": true}}).k && '
        "[1].all(params, params.n)"
    )


@pytest.mark.parametrize(
    "value, literal",
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        (1e20, "1e+20"),
        (float("inf"), 'double("inf")'),
        ('a"b\n', '"a\\"b\\n"'),
        (["x", 1], '["x", 1]'),
        ({"k": [True]}, '{"k": [true]}'),
    ],
)
def test_cel_literal(value, literal):
    assert celtree.cel_literal(value) == literal


@pytest.mark.parametrize(
    ("source", "expanded"),
    [
        ("true && isString(image.x)", "true && (has(image.x) && type(image.x) == string)"),
        ("isString(image.x) ? true : false", "(has(image.x) && type(image.x) == string) ? true : false"),
        ("[false, isList(image.x)]", "[false, (has(image.x) && type(image.x) == list)]"),
    ],
)
def test_bool_literals_keep_their_place_beside_a_library_call(source, expanded):
    # celpy's lexer gave `true`/`false` no position: expanding beside one crashed the loader
    analysis = celtree.analyse(source, library=True)
    assert (analysis.source, analysis.issues) == (expanded, [])


def test_a_problem_after_a_bool_literal_is_placed_where_it_was_written():
    source = "true && isString(image.x) && nosuch(image.y)"
    [issue] = celtree.analyse(source, library=True).issues
    assert issue.offset == source.index("nosuch")


def test_a_problem_in_an_argument_the_library_repeats_is_reported_once():
    # andMore(list, ...) writes its list in twice; the unknown variable was reported twice at one place
    source = "andMore(variables.nosuch, '')"
    issues = celtree.analyse(source, library=True).issues
    assert [(i.offset, i.message.split(" is ")[0]) for i in issues] == [(len("andMore("), "variables.nosuch")]
