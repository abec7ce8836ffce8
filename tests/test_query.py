"""``--query KEY=VALUE``: checked locally against the API page's table, before any request."""

from __future__ import annotations

import pytest

from imagelint.sources.query import KNOWN, QueryError, parse_query
from tests.apihelp import run
from tests.conftest import ROOT


def q(text: str) -> list[tuple[str, str]]:
    return parse_query(text.split("&") if text else [])


@pytest.mark.parametrize(
    "example",
    [
        # The four example requests of the API page, and the query of its example response's links.
        "__imagetype=gold&visibility=public&protected=true",
        "member_status=accepted&visibility=shared&__imagetype=shared",
        "member_status=rejected&visibility=shared&__imagetype=shared",
        "member_status=pending&visibility=shared&__imagetype=shared",
        "__isregistered=true&__imagetype=gold&limit=2",
    ],
)
def test_the_api_pages_examples_pass(example):
    assert q(example) == [tuple(p.split("=", 1)) for p in example.split("&")]


@pytest.mark.parametrize(
    "item",
    [
        "created_at=lt:2018-10-28T10:00:00Z",
        "updated_at=gte:2018-10-28 10:00:00",
        "created_at=neq:2020-02-29T23:59:59Z",
        "sort_key=create_at",
        "sort_key=created_at",
        "sort_key=updated_at",
        "sort_dir=asc",
        "status=in:active,queued",
        "disk_format=in:qcow2,raw",
        "name=in:a,b",
        "id=in:x",
        "min_ram=0",
        "min_disk=40",
        "limit=1000",
        "__os_bit=32",
        "__platform=Oracle Linux",
        "__os_type=Windows",
        "__support_kvm=true",
        "__support_kvm_infiniband=true",
        "__support_kvm_gpu_type=V100_vGPU",
        "__support_xen_gpu_type=M60_vGPU",
        "owner=1bed856811654c1cb661a6ca845ebc77",
        "tag=env=prod",
        "container_format=bare",
        "protected=false",
        "marker=bc6bed6e-ba3a-4447-afcc-449174a3eb52",
        "name=CentOS 7.3 64bit",
    ],
)
def test_valid_parameters(item):
    key, _, value = item.partition("=")
    assert q(item) == [(key, value)]


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("visibilty=public", "unknown query parameter 'visibilty' (did you mean visibility?)"),
        ("imagetype=gold", "did you mean __imagetype?"),
        ("foo=1", "allowed: __imagetype, __isregistered"),
        ("visibility=all", "expected one of public, private, shared"),
        ("status=Active", "expected one of queued, saving, deleted, killed, active"),
        ("disk_format=vmdk", "zvhd2, vhd, zvhd, raw, qcow2"),
        ("disk_format=in:qcow2,vmdk", "in: takes a comma-separated list of zvhd2"),
        ("__imagetype=public", "gold, private, shared, market"),
        ("__os_type=linux", "Linux, Windows, Other"),
        ("__os_bit=64bit", "expected one of 32, 64"),
        ("__platform=Windows Server", "Windows, Ubuntu, RedHat"),
        ("sort_dir=descending", "asc, desc"),
        ("sort_key=created", "create_at"),
        ("__support_kvm=false", "the only value is true"),
        ("__isregistered=True", "the only value is true"),
        ("min_ram=-1", "non-negative integer"),
        ("min_disk=1.5", "non-negative integer"),
        ("limit=0", "positive integer"),
        ("limit=ten", "positive integer"),
        ("created_at=before:2018-10-28T10:00:00Z", "OP one of gt, gte, lt, lte, eq, neq"),
        ("created_at=2018-10-28T10:00:00Z", "expected OP:TIME"),
        ("updated_at=lt:2018-10-28", "yyyy-MM-ddThh:mm:ssZ"),
        ("updated_at=lt:2018-13-28T10:00:00Z", "yyyy-MM-ddThh:mm:ssZ"),
        ("created_at=lt:2018-10-28T10:00:00+08:00", "yyyy-MM-ddThh:mm:ssZ"),
        ("protected=yes", "true, false"),
        ("name=", "empty value"),
        ("visibility", "expected KEY=VALUE"),
        ("member_status=accepted", "only allowed together with --query visibility=shared"),
        ("member_status=accepted&visibility=private", "only allowed together with --query visibility=shared"),
        ("visibility=public&visibility=private", "visibility is given twice"),
    ],
)
def test_invalid_parameters_say_what_is_allowed(item, says):
    with pytest.raises(QueryError) as err:
        q(item)
    assert says in str(err.value)


def test_repeatable_parameters():
    assert q("tag=a=b&tag=env=prod") == [("tag", "a=b"), ("tag", "env=prod")]
    assert q("created_at=gt:2018-01-01T00:00:00Z&created_at=lt:2019-01-01T00:00:00Z")[1][0] == "created_at"


def test_every_parameter_of_the_api_page_is_known():
    # a copy of ../shared/reference/ims-list-images-api.txt, so that the repository stands alone
    page = (ROOT / "tests" / "data" / "ims-list-images-api.txt").read_text(encoding="utf-8")
    table = page.split("GET /v2/images\n", 1)[1].split("\nGET /v2/images?", 1)[0]
    names = [
        line.rstrip(" |")
        for line in table.splitlines()
        if line.endswith(" |") and line.rstrip(" |") and line.rstrip(" |").replace("_", "").isalnum()
    ]
    names = [
        n
        for n in names
        if n not in ("Parameter", "Mandatory", "Type", "Description", "No", "String", "Boolean", "Integer")
    ]
    assert len(names) == 32
    assert sorted(names) == sorted(KNOWN)


def test_cli_rejects_a_bad_query_with_exit_2_before_any_request():
    # Port 9 (discard) on loopback: nothing listens; a request would fail with exit 3, not 2.
    proc = run("check", "--endpoint", "http://127.0.0.1:9", "--query", "visibilty=public")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "--query visibilty=public: unknown query parameter 'visibilty' (did you mean "
        f"visibility?); allowed: {', '.join(KNOWN)}"
    )


def test_cli_fetch_rejects_a_bad_query_with_exit_2(tmp_path):
    proc = run(
        "fetch",
        "--endpoint",
        "http://127.0.0.1:9",
        "--query",
        "created_at=before:2018-10-28T10:00:00Z",
        "--output",
        str(tmp_path / "s.json"),
    )
    assert proc.returncode == 2
    assert "expected OP:TIME" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
