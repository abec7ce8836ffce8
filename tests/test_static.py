"""Static checks: each check triggered by a small bad policy, with its exact FILE:LINE:COL message; guards
that must silence the unguarded-read warning; the bundled pack clean; and the CLI's handling of errors and
warnings for ``validate`` and ``check``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagelint.policy import PolicyError, bundled_policy_dir
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, IMS_ATTRIBUTES, Attribute
from imagelint.policy.static import load_checked

HEADER = "apiVersion: imagelint/v1\nkind: Policy\nmetadata: {name: p, severity: high}\nspec:\n"
"""Four lines: the policy's spec starts on line 5."""


def problems(tmp_path: Path, spec: str, catalogue=IMAGE_ATTRIBUTES) -> list[str]:
    """Every problem (errors and warnings) of a policy with this spec, as the user sees them."""
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + spec, encoding="utf-8")
    try:
        _, warnings = load_checked([path], catalogue=catalogue)
    except PolicyError as exc:
        return [str(p).replace(str(path), "p.yaml") for p in exc.problems]
    return [str(p).replace(str(path), "p.yaml") for p in warnings]


def one(expression: str) -> str:
    """A spec with one validation on line 6; the expression starts at column 20 (after the quote)."""
    return f"  validations:\n    - expression: '{expression}'\n"


# --- unknown attributes -------------------------------------------------------------------------------


def test_unknown_attribute_with_did_you_mean(tmp_path):
    assert problems(tmp_path, one('has(image.__system__cmkid) || image.__system_cmkid != ""')) == [
        (
            "p.yaml:6:50: spec.validations[0].expression: unknown image attribute '__system_cmkid' "
            "(did you mean '__system__cmkid'?)"
        )
    ]


def test_unknown_attribute_by_index_and_in_has_and_in(tmp_path):
    spec = (
        "  match: has(image.__os_bitt)\n"
        "  validations:\n"
        "    - expression: '\"__platfrom\" in image'\n"
        '    - expression: \'image["virtual_env"] == "Ironic"\'\n'
    )
    assert problems(tmp_path, spec) == [
        "p.yaml:5:14: spec.match: unknown image attribute '__os_bitt' (did you mean '__os_bit'?)",
        (
            "p.yaml:7:20: spec.validations[0].expression: unknown image attribute '__platfrom' "
            "(did you mean '__platform'?)"
        ),
        (
            "p.yaml:8:20: spec.validations[1].expression: unknown image attribute 'virtual_env' "
            "(did you mean 'virtual_env_type'?)"
        ),
    ]


def test_unknown_attribute_without_a_close_name_says_how_to_declare_it(tmp_path):
    assert problems(tmp_path, one('image.flavor_zz == "x"')) == [
        (
            "p.yaml:6:20: spec.validations[0].expression: unknown image attribute 'flavor_zz' (declare attributes "
            "your cloud adds under 'attributes:' in imagelint.yaml)"
        )
    ]


def test_declared_extra_attribute_is_known_and_typed(tmp_path):
    extra = IMAGE_ATTRIBUTES.with_extra({"os_hidden": Attribute("os_hidden", "bool", always=True)})
    assert problems(tmp_path, one("image.os_hidden == false"), extra) == []
    assert problems(tmp_path, one('image.os_hidden == "false"'), extra) == [
        (
            "p.yaml:6:39: spec.validations[0].expression: image.os_hidden is a bool, not a string: this comparison "
            "is never true (compare with false)"
        )
    ]


# --- type misuse ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, column, message",
    [
        (
            "has(image.__os_bit) && image.__os_bit == 64",
            61,
            'image.__os_bit is a string, not an int: this comparison is never true (compare with "64")',
        ),
        (
            "has(image.__support_kvm) && image.__support_kvm == true",
            71,
            'image.__support_kvm is a string, not a bool: this comparison is never true (compare with "true")',
        ),
        (
            'image.protected == "true"',
            39,
            "image.protected is a bool, not a string: this comparison is never true (compare with true)",
        ),
        (
            'image.min_disk > "1"',
            37,
            "image.min_disk is an int, not a string: '>' on them fails at run time (no such overload) (compare with 1)",
        ),
        (
            'image.name + 1 == "x1"',
            33,
            "image.name is a string, not an int: '+' on them fails at run time (no such overload)",
        ),
        (
            'has(image.__os_bit) && image.__os_bit in ["32", 64]',
            68,
            'image.__os_bit is a string, not an int: this comparison is never true (compare with "64")',
        ),
        (
            'image.tags.contains("a")',
            20,
            "image.tags is a list: .contains() needs a string (to test membership write VALUE in image.tags)",
        ),
    ],
)
def test_type_misuse(tmp_path, expression, column, message):
    assert problems(tmp_path, one(expression.replace("'", "''"))) == [
        f"p.yaml:6:{column}: spec.validations[0].expression: {message}"
    ]


def test_type_test_refines_the_catalogue_type(tmp_path):
    # min-disk-range's pattern: a guarded read of an int attribute as the string it may wrongly be
    spec = one('type(image.min_disk) == string ? image.min_disk + "x" == "1x" : image.min_disk >= 1')
    assert problems(tmp_path, spec) == []


def test_mixed_numbers_are_an_error_because_the_engines_disagree(tmp_path):
    assert problems(tmp_path, one("image.min_disk >= 1.0 && image.min_ram > 0u")) == [
        (
            "p.yaml:6:38: spec.validations[0].expression: image.min_disk is an int, not a double: the engines disagree "
            "on mixed numbers (cel-cpp compares them, cel-python errors) (compare with 1)"
        ),
        (
            "p.yaml:6:61: spec.validations[0].expression: image.min_ram is an int, not a uint: the engines disagree "
            "on mixed numbers (cel-cpp compares them, cel-python errors) (compare with 0)"
        ),
    ]


# --- documented values ----------------------------------------------------------------------------------


def test_value_outside_documented_set(tmp_path):
    assert problems(tmp_path, one('image.disk_format == "vmdk"')) == [
        (
            'p.yaml:6:41: spec.validations[0].expression: "vmdk" is not a documented value of image.disk_format '
            '(expected one of "zvhd2", "vhd", "zvhd", "raw", "qcow2")'
        )
    ]


def test_value_with_wrong_case_gets_did_you_mean(tmp_path):
    assert problems(tmp_path, one('"Public" != image.visibility')) == [
        (
            'p.yaml:6:20: spec.validations[0].expression: "Public" is not a documented value of image.visibility '
            '(expected one of "public", "private", "shared"; did you mean "public"?)'
        )
    ]


def test_value_in_list(tmp_path):
    assert problems(tmp_path, one('image.status in ["active", "activ"]')) == [
        (
            'p.yaml:6:47: spec.validations[0].expression: "activ" is not a documented value of image.status '
            '(expected one of "queued", "saving", "deleted", "killed", "active")'
        )
    ]


def test_case_variants_next_to_the_documented_value_are_a_tolerance(tmp_path):
    spec = one('has(image.__support_xen) && image.__support_xen in ["true", "True", "TRUE"]')
    assert problems(tmp_path, spec) == []
    spec = one('has(image.__support_xen) && image.__support_xen in ["True"]')
    assert problems(tmp_path, spec) == [
        (
            'p.yaml:6:72: spec.validations[0].expression: "True" is not a documented value of image.__support_xen '
            '(expected one of "true", "false"; did you mean "true"?)'
        )
    ]


# --- non-bool validations, non-string messages -----------------------------------------------------------


def test_validation_that_can_only_be_non_bool(tmp_path):
    assert problems(tmp_path, one("image.name")) == [
        "p.yaml:6:20: spec.validations[0].expression: must be a bool, but this expression is always a string"
    ]


def test_match_that_can_only_be_non_bool(tmp_path):
    assert problems(tmp_path, "  match: size(image.tags)\n" + one("true")) == [
        "p.yaml:5:10: spec.match: must be a bool, but this expression is always an int"
    ]


def test_message_expression_that_can_only_be_non_string(tmp_path):
    spec = "  validations:\n    - expression: image.min_disk > 1\n      messageExpression: image.min_disk\n"
    assert problems(tmp_path, spec) == [
        "p.yaml:7:26: spec.validations[0].messageExpression: must be a string, but this expression is always an int"
    ]


# --- params and variables (the loader's checks) ---------------------------------------------------------


def test_params_not_declared(tmp_path):
    spec = "  params: {max: 3}\n" + one("image.min_disk <= params.maxx")
    assert problems(tmp_path, spec) == [
        "p.yaml:7:38: spec.validations[0].expression: params.maxx is not declared in spec.params (declared: max)"
    ]


def test_variable_not_defined_earlier(tmp_path):
    spec = (
        "  variables:\n"
        "    - name: a\n      expression: variables.b\n"
        "    - name: b\n      expression: 'true'\n" + one("true")
    )
    assert problems(tmp_path, spec) == [
        (
            "p.yaml:7:19: spec.variables[0].expression: variables.b is not defined earlier in spec.variables "
            "(defined: none)"
        )
    ]


# --- unguarded reads --------------------------------------------------------------------------------------


def test_unguarded_read_of_an_optional_attribute_warns(tmp_path):
    assert problems(tmp_path, one('image.__os_type == "Linux"')) == [
        (
            "p.yaml:6:20: warning: spec.validations[0].expression: image.__os_type is not always present: guard the "
            "read with has(image.__os_type), or images without it make this policy error (no such key)"
        )
    ]


def test_always_present_attributes_need_no_guard(tmp_path):
    assert problems(tmp_path, one('image.status == "active" && image.min_disk > 0 && size(image.tags) >= 0')) == []


@pytest.mark.parametrize(
    "spec",
    [
        one('has(image.__os_type) && image.__os_type == "Linux"'),
        one('image.__os_type == "Linux" && has(image.__os_type)'),  # && absorbs the error: order does not matter
        one('!has(image.__os_type) || image.__os_type == "Linux"'),
        one('has(image.__os_type) ? image.__os_type == "Linux" : true'),
        one('!has(image.__os_type) ? true : image.__os_type == "Linux"'),
        one('"__os_type" in image && image.__os_type == "Linux"'),
        "  match: has(image.__os_type)\n" + one('image.__os_type == "Linux"'),
        # a messageExpression runs only when its validation is false: here, when __os_type is present
        (
            "  validations:\n    - expression: '!has(image.__os_type) || image.__os_type == \"Linux\"'\n"
            "      messageExpression: '\"os type \" + image.__os_type'\n"
        ),
        # variables are lazy: their reads are guarded where they are used
        "  variables:\n    - name: linux\n      expression: 'image.__os_type == \"Linux\"'\n"
        + one("has(image.__os_type) && variables.linux"),
        # a guard inside a variable guards where the variable is used
        "  variables:\n    - name: set\n      expression: has(image.__os_type)\n"
        + one('variables.set && image.__os_type == "Linux"'),
    ],
)
def test_dominating_guards_silence_the_warning(tmp_path, spec):
    assert problems(tmp_path, spec) == []


def test_guard_in_one_branch_does_not_cover_the_other(tmp_path):
    assert problems(tmp_path, one('has(image.__os_type) ? true : image.__os_type == "Linux"')) == [
        (
            "p.yaml:6:50: warning: spec.validations[0].expression: image.__os_type is not always present: guard the "
            "read with has(image.__os_type), or images without it make this policy error (no such key)"
        )
    ]


def test_variable_used_without_guard_warns_at_the_read_in_the_variable(tmp_path):
    spec = "  variables:\n    - name: linux\n      expression: 'image.__os_type == \"Linux\"'\n" + one(
        "variables.linux"
    )
    assert problems(tmp_path, spec) == [
        (
            "p.yaml:7:20: warning: spec.variables[0].expression: image.__os_type is not always present: guard the "
            "read with has(image.__os_type), or images without it make this policy error (no such key)"
        )
    ]


def test_positions_inside_a_folded_block(tmp_path):
    spec = "  validations:\n    - expression: >-\n        has(image.__os_bit) &&\n          image.__os_bit == 64\n"
    assert problems(tmp_path, spec) == [
        (
            "p.yaml:8:29: spec.validations[0].expression: image.__os_bit is a string, not an int: this comparison is "
            'never true (compare with "64")'
        )
    ]


# --- the bundled pack and the CLI -------------------------------------------------------------------------


def test_bundled_pack_has_no_errors_and_no_warnings():
    policies, warnings = load_checked([bundled_policy_dir()])
    assert policies and [str(w) for w in warnings] == []


def test_validate_exits_2_on_errors_and_prints_warnings_too(cli, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        HEADER + "  validations:\n    - expression: 'image.__os_type == \"Linux\"'\n"
        "    - expression: 'image.visibility == \"Public\"'\n",
        encoding="utf-8",
    )
    run = cli("validate", str(path))
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        (
            f"{path}:6:20: warning: spec.validations[0].expression: image.__os_type is not always present: guard the "
            "read with has(image.__os_type), or images without it make this policy error (no such key)"
        ),
        (
            f'{path}:7:40: spec.validations[1].expression: "Public" is not a documented value of image.visibility '
            '(expected one of "public", "private", "shared"; did you mean "public"?)'
        ),
    ]


def test_warnings_do_not_fail_validate_unless_strict_nor_change_check(cli, tmp_path, fleet_file):
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + "  validations:\n    - expression: 'image.__os_type == \"Linux\"'\n", encoding="utf-8")
    warning = (
        f"{path}:6:20: warning: spec.validations[0].expression: image.__os_type is not always present: "
        "guard the read with has(image.__os_type), or images without it make this policy error (no such key)"
    )
    run = cli("validate", str(path))
    assert (run.returncode, run.stderr.splitlines()) == (0, [warning, "1 policies OK (1 warning)"])
    assert cli("validate", "--strict", str(path)).returncode == 1
    fleet = fleet_file([{"id": "a", "__os_type": "Linux"}])
    run = cli("check", "--input", str(fleet), "--policies", str(path), "--format", "json")
    assert run.returncode == 0 and warning in run.stderr.splitlines()
    assert json.loads(run.stdout)["summary"]["pass"] == 1


# --- the catalogue ----------------------------------------------------------------------------------------

# The two images of the API page's example response (GET /v2/images), verbatim.
API_EXAMPLE = {
    "schema": "/v2/schemas/image",
    "min_disk": 100,
    "created_at": "2018-09-06T14:03:27Z",
    "__image_source_type": "uds",
    "container_format": "bare",
    "file": "/v2/images/bc6bed6e-ba3a-4447-afcc-449174a3eb52/file",
    "updated_at": "2018-09-06T15:17:33Z",
    "protected": True,
    "checksum": "d41d8cd98f00b204e9800998ecf8427e",
    "id": "bc6bed6e-ba3a-4447-afcc-449174a3eb52",
    "__isregistered": "true",
    "min_ram": 2048,
    "__lazyloading": "true",
    "owner": "1bed856811654c1cb661a6ca845ebc77",
    "__os_type": "Linux",
    "__imagetype": "gold",
    "visibility": "public",
    "virtual_env_type": "FusionCompute",
    "tags": [],
    "__platform": "CentOS",
    "size": 0,
    "__os_bit": "64",
    "__os_version": "CentOS 7.3 64bit",
    "name": "CentOS 7.3 64bit vivado",
    "self": "/v2/images/bc6bed6e-ba3a-4447-afcc-449174a3eb52",
    "disk_format": "zvhd2",
    "virtual_size": None,
    "hw_firmware_type": "bios",
    "status": "active",
}


def test_catalogue_agrees_with_the_api_pages_example():
    cel_type = {str: "string", int: "int", bool: "bool", list: "list"}
    for key, value in API_EXAMPLE.items():
        attr = IMAGE_ATTRIBUTES[key]
        if value is None:
            assert attr.nullable, key
            continue
        assert attr.type == cel_type[type(value)], key
        assert not attr.values or value in attr.values, key


def test_catalogue_has_every_attribute_of_the_response_table():
    # Table 2 of the API page (the image object) has 55 rows; the IMS catalogue has exactly those names (the
    # full one adds the Glance properties of the openstack pack)
    assert len(IMS_ATTRIBUTES) == 55 and set(IMS_ATTRIBUTES) < set(IMAGE_ATTRIBUTES)
    assert IMAGE_ATTRIBUTES["max_ram"].type == "string" and IMAGE_ATTRIBUTES["__image_size"].type == "string"
    assert not IMAGE_ATTRIBUTES["__support_kvm"].always and IMAGE_ATTRIBUTES["status"].always


@pytest.mark.parametrize(
    "expression",
    [
        "image.tags[0].size() > 0",
        '{"a": image.min_disk}.a == 1',
        "[1, 2].map(x, x * 2) == [2, 4]",
        "-image.min_disk < 0",
        "!!has(image.name)",
        "has(image.name.x)",
        'dyn(image.min_disk) == "x"',
        "type(image) == map",
        '"a\\"b" == image.name',
        "'''x''' == image.name",
        'image.name in {"a": 1}',
        "timestamp(image.created_at) < now",
        'now - duration("1h") < now',
        "size(image) > 0",
        'image.tags.exists_one(t, t == "a")',
        'image.tags.all(t, t.matches("^a"))',
        'string(image.min_disk) == "1"',
        "uint(image.min_disk) > 1u",
        "image.visibility == null",
        '"public" in [image.visibility]',
        "!image.protected",
        'image.name + image.owner == "x"',
        "image.min_disk + image.min_ram > 0",
        'image.tags + ["a"] == []',
        "image.name.startsWith(image.owner)",
        "type(image.min_disk) != int || image.min_disk > 1",
    ],
)
def test_valid_expressions_raise_no_problem(tmp_path, expression):
    # guards against false positives (and crashes) on shapes the checks must see through
    assert problems(tmp_path, "  validations:\n    - expression: " + json.dumps(expression) + "\n") == []
