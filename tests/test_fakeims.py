"""Tests of the fake IMS server itself (tests/fakeims), against the real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.fakeims import FAULT_KINDS, FakeIMS, Fault, generate_images, sigv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------------------------
# helpers


def ts(minute: int) -> str:
    t = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def img(i: int, **kw) -> dict:
    d = {
        "id": f"{i:08d}-0000-4000-8000-000000000000",
        "name": f"image-{i:03d}",
        "status": "active",
        "visibility": "private",
        "__imagetype": "private",
        "protected": False,
        "owner": "me",
        "container_format": "bare",
        "disk_format": "zvhd2",
        "min_ram": 0,
        "min_disk": 40,
        "__os_bit": "64",
        "__platform": "Ubuntu",
        "__os_type": "Linux",
        "__isregistered": "true",
        "tags": [],
        "size": i * 10,
        "created_at": ts(i),
        "updated_at": ts(i + 5),
    }
    d.update(kw)
    return d


def default_order(images):
    return [i["id"] for i in sorted(images, key=lambda i: (i["created_at"], i["id"]), reverse=True)]


def walk(srv, params=None, session=None, max_pages=1000):
    """Follow `next` from GET /v2/images; -> (ids in order, list of page bodies)."""
    s = session or requests.Session()
    r = s.get(srv.url + "/v2/images", params=params)
    pages = []
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body)
        if "next" not in body:
            break
        assert body["next"].startswith("/v2/images?"), body["next"]
        assert len(pages) < max_pages
        r = s.get(srv.url + body["next"])
    return [i["id"] for p in pages for i in p["images"]], pages


def get(srv, params=None, **kw):
    return requests.get(srv.url + "/v2/images", params=params, **kw)


@pytest.fixture(scope="module")
def rich():
    """A varied generated catalogue shared by the read-only filter/sort tests."""
    images = generate_images(400, seed=3)
    with FakeIMS(images) as srv:
        yield srv, images


# ----------------------------------------------------------------------------------------------
# pagination


def test_pagination_total_not_multiple_of_limit():
    images = [img(i) for i in range(53)]
    with FakeIMS(images) as srv:
        ids, pages = walk(srv, {"limit": 10})
    assert [len(p["images"]) for p in pages] == [10, 10, 10, 10, 10, 3]
    assert ids == default_order(images)
    assert len(set(ids)) == 53
    assert "next" not in pages[-1]


def test_pagination_total_multiple_of_limit_ends_with_empty_page():
    images = [img(i) for i in range(50)]
    with FakeIMS(images) as srv:
        ids, pages = walk(srv, {"limit": 10})
        reqs = srv.image_requests
    assert [len(p["images"]) for p in pages] == [10, 10, 10, 10, 10, 0]
    assert "next" in pages[4] and "next" not in pages[5]
    assert ids == default_order(images)
    assert len(reqs) == 6
    # every page after the first asked with the previous page's last id
    for prev, req in zip(pages, reqs[1:], strict=False):
        assert dict(req.params)["marker"] == prev["images"][-1]["id"]


def test_next_and_first_links_keep_query_and_replace_marker():
    images = [img(i) for i in range(30)]
    with FakeIMS(images) as srv:
        body = get(srv, [("status", "active"), ("limit", "7"), ("sort_dir", "desc")]).json()
        assert body["schema"] == "/v2/schemas/images"
        assert body["first"] == "/v2/images?status=active&limit=7&sort_dir=desc"
        nxt = body["next"]
        assert parse_qsl(urlsplit(nxt).query) == [
            ("status", "active"),
            ("limit", "7"),
            ("sort_dir", "desc"),
            ("marker", body["images"][-1]["id"]),
        ]
        # marker in the middle is replaced in place; `first` drops it
        m = body["images"][2]["id"]
        body2 = requests.get(srv.url + f"/v2/images?status=active&marker={m}&limit=7").json()
        assert body2["first"] == "/v2/images?status=active&limit=7"
        assert parse_qsl(urlsplit(body2["next"]).query) == [
            ("status", "active"),
            ("marker", body2["images"][-1]["id"]),
            ("limit", "7"),
        ]
        assert body2["images"][0]["id"] == body["images"][3]["id"]


def test_default_limit_and_silent_clamp():
    images = [img(i) for i in range(60)]
    with FakeIMS(images, max_limit=20) as srv:
        assert len(get(srv).json()["images"]) == 20  # default 25, clamped to max_limit 20
        r = get(srv, {"limit": 1000})
        assert r.status_code == 200
        assert len(r.json()["images"]) == 20 and "next" in r.json()
        ids, pages = walk(srv, {"limit": 500})
        assert [len(p["images"]) for p in pages] == [20, 20, 20, 0]
        assert ids == default_order(images)
    with FakeIMS(images) as srv:
        body = get(srv).json()
        assert len(body["images"]) == 25 and "next" in body
        body = get(srv, {"limit": 0}).json()
        assert body["images"] == [] and "next" not in body


def test_marker_with_filters_positions_by_sort_order():
    images = [img(i, status="active" if i % 3 else "queued") for i in range(40)]
    with FakeIMS(images) as srv:
        ids, pages = walk(srv, {"status": "active", "limit": 4})
        expected = [i for i in default_order(images) if int(i[:8]) % 3]
        assert ids == expected
        # a marker that does not itself match the filter still positions the page
        queued = images[30]["id"]
        body = get(srv, {"status": "active", "marker": queued, "limit": 3}).json()
        assert [i["id"] for i in body["images"]] == [images[29]["id"], images[28]["id"], images[26]["id"]]


def test_ties_on_created_at_are_broken_by_id():
    images = [img(i, created_at=ts(1)) for i in (5, 1, 9, 3, 7)]
    with FakeIMS(images) as srv:
        ids, _ = walk(srv, {"limit": 2})
        assert ids == sorted((i["id"] for i in images), reverse=True)
        ids, _ = walk(srv, {"limit": 2, "sort_dir": "asc"})
        assert ids == sorted(i["id"] for i in images)


# ----------------------------------------------------------------------------------------------
# filters


def _str(v):
    return ("true" if v else "false") if isinstance(v, bool) else (None if v is None else str(v))


FILTER_CASES = [
    ({"__isregistered": "true"}, lambda i: i.get("__isregistered") == "true"),
    ({"__imagetype": "gold"}, lambda i: i["__imagetype"] == "gold"),
    ({"__imagetype": "market"}, lambda i: i["__imagetype"] == "market"),
    ({"protected": "true"}, lambda i: i["protected"] is True),
    ({"protected": "false"}, lambda i: i["protected"] is False),
    ({"visibility": "shared"}, lambda i: i["visibility"] == "shared"),
    ({"visibility": "public", "protected": "true"}, lambda i: i["visibility"] == "public" and i["protected"]),
    ({"visibility": "all"}, lambda i: True),
    ({"owner": "0123456789abcdef0123456789abcdef"}, lambda i: i["owner"] == "0123456789abcdef0123456789abcdef"),
    ({"status": "queued"}, lambda i: i["status"] == "queued"),
    ({"status": "in:queued,killed"}, lambda i: i["status"] in ("queued", "killed")),
    ({"container_format": "bare"}, lambda i: i["container_format"] == "bare"),
    ({"disk_format": "qcow2"}, lambda i: i["disk_format"] == "qcow2"),
    ({"disk_format": "in:raw,vhd"}, lambda i: i["disk_format"] in ("raw", "vhd")),
    ({"min_ram": "2048"}, lambda i: i["min_ram"] == 2048),
    ({"min_disk": "100"}, lambda i: i["min_disk"] == 100),
    ({"__os_bit": "32"}, lambda i: i["__os_bit"] == "32"),
    ({"__platform": "Windows"}, lambda i: i["__platform"] == "Windows"),
    ({"__os_type": "Other"}, lambda i: i["__os_type"] == "Other"),
    ({"tag": "env=prod"}, lambda i: "env=prod" in i["tags"]),
    ([("tag", "env=prod"), ("tag", "team=web")], lambda i: {"env=prod", "team=web"} <= set(i["tags"])),
    ({"__support_kvm": "true"}, lambda i: i.get("__support_kvm") == "true"),
    ({"__support_xen": "true"}, lambda i: i.get("__support_xen") == "true"),
    ({"__support_largememory": "true"}, lambda i: i.get("__support_largememory") == "true"),
    ({"__support_kvm_gpu_type": "V100_vGPU"}, lambda i: i.get("__support_kvm_gpu_type") == "V100_vGPU"),
    ({"__support_amd": "false"}, lambda i: i.get("__support_amd") == "false"),
    ({"created_at": "gt:2021-01-01T00:00:00Z"}, lambda i: i["created_at"] > "2021-01-01T00:00:00Z"),
    ({"created_at": "gte:2021-01-01 00:00:00"}, lambda i: i["created_at"] >= "2021-01-01T00:00:00Z"),
    ({"created_at": "lt:2019-06-01T12:00:00Z"}, lambda i: i["created_at"] < "2019-06-01T12:00:00Z"),
    ({"updated_at": "lte:2020-03-01T00:00:00Z"}, lambda i: i["updated_at"] <= "2020-03-01T00:00:00Z"),
    (
        [("created_at", "gte:2019-01-01T00:00:00Z"), ("created_at", "lt:2020-01-01T00:00:00Z")],
        lambda i: "2019-01-01T00:00:00Z" <= i["created_at"] < "2020-01-01T00:00:00Z",
    ),
]


@pytest.mark.parametrize("params,pred", FILTER_CASES, ids=[str(c[0]) for c in FILTER_CASES])
def test_filter_families(rich, params, pred):
    srv, images = rich
    by_id = {i["id"]: i for i in images}
    expected = [i for i in default_order(images) if pred(by_id[i])]
    ids, _ = walk(srv, list(params.items()) if isinstance(params, dict) else params)
    assert ids == expected
    assert expected, "the case must select something"
    if params not in ({"visibility": "all"}, {"__isregistered": "true"}, {"container_format": "bare"}):
        assert len(expected) < len(images), "the case must filter something out"


def test_filters_exact_name_id_and_in_lists(rich):
    srv, images = rich
    a, b, c = images[10], images[20], images[30]
    assert [i["id"] for i in get(srv, {"name": a["name"]}).json()["images"]] == [
        i["id"] for i in images if i["name"] == a["name"]
    ]
    assert get(srv, {"name": a["name"][:-1]}).json()["images"] == []  # exact, not prefix
    assert [i["id"] for i in get(srv, {"id": b["id"]}).json()["images"]] == [b["id"]]
    got = {i["id"] for i in get(srv, {"id": f"in:{a['id']},{c['id']}"}).json()["images"]}
    assert got == {a["id"], c["id"]}
    got = {i["id"] for i in get(srv, {"name": f'in:"{a["name"]}",{b["name"]}', "limit": 1000}).json()["images"]}
    assert got == {i["id"] for i in images if i["name"] in (a["name"], b["name"])}


def test_time_filter_eq_and_neq():
    images = [img(i) for i in range(10)]
    with FakeIMS(images) as srv:
        r = get(srv, {"created_at": f"eq:{ts(4)}"}).json()
        assert [i["id"] for i in r["images"]] == [images[4]["id"]]
        r = get(srv, {"created_at": "neq:" + ts(4).replace("T", " ").rstrip("Z")}).json()
        assert len(r["images"]) == 9 and images[4]["id"] not in {i["id"] for i in r["images"]}


def test_member_status_and_hidden_keys():
    images = [
        img(i, visibility="shared", __imagetype="shared", _member_status=s)
        for i, s in enumerate(["accepted", "pending", "rejected", "accepted"])
    ]
    images += [img(10, _note="secret per-test data")]
    with FakeIMS(images) as srv:
        ids = lambda r: [i["id"] for i in r.json()["images"]]  # noqa: E731
        r = get(srv, {"visibility": "shared", "member_status": "pending"})
        assert ids(r) == [images[1]["id"]]
        r = get(srv, {"visibility": "shared", "member_status": "all"})
        assert len(ids(r)) == 4
        r = get(srv, {"visibility": "shared"})  # Glance default: accepted
        assert ids(r) == [images[3]["id"], images[0]["id"]]
        r = get(srv)  # pending/rejected hidden
        assert set(ids(r)) == {images[0]["id"], images[3]["id"], images[4]["id"]}
        r = get(srv, {"member_status": "accepted"})  # needs visibility=shared
        assert r.status_code == 400 and "visibility=shared" in r.json()["error"]["message"]
        r = get(srv, {"visibility": "shared", "member_status": "maybe"})
        assert r.status_code == 400
        everything = get(srv, {"visibility": "shared", "member_status": "all"}).text + get(srv).text
        assert "_member_status" not in everything and "_note" not in everything and "secret" not in everything
        one = requests.get(srv.url + f"/v2/images/{images[4]['id']}").json()
        assert one["id"] == images[4]["id"] and "_note" not in one


# ----------------------------------------------------------------------------------------------
# sorting


def _sort_ref(images, key, direction):
    def v(i):
        x = i.get(key)
        return (0, 0) if x is None else (1, x)

    rev = direction == "desc"
    return [i["id"] for i in sorted(images, key=lambda i: (v(i), i["created_at"], i["id"]), reverse=rev)]


@pytest.mark.parametrize(
    "key", ["name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"]
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_keys(rich, key, direction):
    srv, images = rich
    if key == "size":  # generated images all have size 0: give them real sizes
        images = [dict(i, size=(n * 7919) % 97) for n, i in enumerate(images)]
        with FakeIMS(images) as s2:
            ids, _ = walk(s2, {"sort_key": key, "sort_dir": direction, "limit": 150})
    else:
        ids, _ = walk(srv, {"sort_key": key, "sort_dir": direction, "limit": 150})
    assert ids == _sort_ref(images, key, direction)


def test_sort_create_at_alias_default_and_multiple_keys(rich):
    srv, images = rich
    a, _ = walk(srv, {"sort_key": "create_at", "limit": 100})
    b, _ = walk(srv, {"sort_key": "created_at", "sort_dir": "desc", "limit": 100})
    c, _ = walk(srv, {"limit": 100})
    assert a == b == c == default_order(images)
    ids, _ = walk(
        srv,
        [("sort_key", "disk_format"), ("sort_dir", "asc"), ("sort_key", "name"), ("sort_dir", "desc"), ("limit", "90")],
    )
    ref = sorted(images, key=lambda i: (i["created_at"], i["id"]), reverse=True)  # tie-breakers: desc
    ref = sorted(ref, key=lambda i: i["name"], reverse=True)
    ref = sorted(ref, key=lambda i: i["disk_format"])
    assert ids == [i["id"] for i in ref]


# ----------------------------------------------------------------------------------------------
# bad requests


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"marker": "no-such-image"}, "marker"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"sort_dir": "up"}, "sort direction"),
        ({"sort_key": "owner"}, "sort_key"),
        ({"created_at": "before:2020-01-01T00:00:00Z"}, "created_at"),
        ({"created_at": "gt:2020/01/01"}, "time"),
        ({"updated_at": "2020-01-01T00:00:00Z"}, "updated_at"),
        ({"protected": "yes"}, "protected"),
        ({"min_ram": "lots"}, "min_ram"),
        ({"visibility": "everyone"}, "visibility"),
        ({"status": "happy"}, "status"),
        ({"color": "blue"}, "color"),
    ],
)
def test_bad_requests_are_400_with_ims_body(params, needle):
    with FakeIMS([img(i) for i in range(5)]) as srv:
        r = get(srv, params)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "IMG.0001"
    assert needle in err["message"]
    assert r.headers["X-Request-Id"]


def test_bad_imagetype_is_img_0024_and_glance_style_errors():
    with FakeIMS([img(1)]) as srv:
        r = get(srv, {"__imagetype": "golden"})
        assert r.status_code == 400 and r.json() == {
            "error": {"code": "IMG.0024", "message": "The imagetype is invalid."}
        }
    with FakeIMS([img(1)], error_style="glance") as srv:
        r = get(srv, {"marker": "nope"}, headers={"Accept": "application/json"})
        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "400 Bad Request" and body["title"] == "Bad Request"
        assert "marker" in body["message"]
        r = get(srv, {"sort_dir": "sideways"}, headers={"Accept": "text/html"})
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/html")
        assert "<title>400 Bad Request</title>" in r.text


def test_deleted_marker_mid_run_is_400():
    images = [img(i) for i in range(20)]
    with FakeIMS(images) as srv:
        body = get(srv, {"limit": 5}).json()
        srv.remove_image(body["images"][-1]["id"])
        r = requests.get(srv.url + body["next"])
        assert r.status_code == 400 and "marker" in r.json()["error"]["message"]
        srv.add_image(img(99))
        assert get(srv, {"limit": 1}).json()["images"][0]["id"] == img(99)["id"]


# ----------------------------------------------------------------------------------------------
# other endpoints


def test_version_document():
    with FakeIMS([]) as srv:
        r = requests.get(srv.url + "/")
        assert r.status_code == 300
        vers = r.json()["versions"]
        assert vers[0] == {"id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": f"{srv.url}/v2/"}]}
        assert {v["status"] for v in vers[1:]} == {"SUPPORTED"}
        assert "v2.0" in {v["id"] for v in vers}
        r2 = requests.get(srv.url + "/versions")
        assert r2.status_code == 200 and r2.json() == r.json()


def test_schema_single_image_and_unknown_path():
    images = [img(1), img(2)]
    with FakeIMS(images) as srv:
        s = requests.get(srv.url + "/v2/schemas/images").json()
        assert s["name"] == "images" and s["properties"]["images"]["type"] == "array"
        one = requests.get(srv.url + f"/v2/images/{images[1]['id']}")
        assert one.status_code == 200 and one.json() == images[1]
        assert requests.get(srv.url + "/v2/images/nope").status_code == 404
        r = requests.get(srv.url + "/v1/images")
        assert r.status_code == 404 and r.json()["error_code"] == "APIG.0101"


def test_empty_catalogue():
    with FakeIMS([]) as srv:
        body = get(srv).json()
    assert body["images"] == [] and "next" not in body and body["first"] == "/v2/images"


def test_keep_alive_and_request_recording():
    with FakeIMS([img(i) for i in range(30)]) as srv:
        s = requests.Session()
        walk(srv, {"limit": 10}, session=s)
        s.get(srv.url + "/v2/images", headers={"X-Custom": "yes"})
        reqs = srv.requests
        assert len(reqs) == 5
        assert len({r.client for r in reqs}) == 1, "one keep-alive connection for the whole walk"
        assert reqs[-1].headers["x-custom"] == "yes"
        assert [r.status for r in reqs] == [200] * 5
        assert [r.page for r in reqs] == [0, 1, 2, 3, 0]
        assert reqs[1].query.startswith("limit=10&marker=")
        srv.clear_requests()
        assert srv.requests == []


def test_concurrent_requests_are_all_recorded():
    with FakeIMS([img(i) for i in range(100)], latency=0.05) as srv:
        results = []

        def worker():
            with requests.Session() as s:
                for _ in range(5):
                    results.append(s.get(srv.url + "/v2/images", params={"limit": 7}).status_code)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        assert results == [200] * 40
        assert len(srv.requests) == 40
        assert sorted(r.number for r in srv.requests) == list(range(1, 41))
        assert elapsed < 5 * 0.05 * 8 * 0.75, "requests are served in parallel"


# ----------------------------------------------------------------------------------------------
# token auth and IAM


def test_token_auth():
    with FakeIMS([img(1)], auth="token", token="tok-123") as srv:
        r = get(srv)
        assert r.status_code == 401
        assert r.json()["error_code"] == "APIGW.0301" and r.json()["request_id"] == r.headers["X-Request-Id"]
        r = get(srv, headers={"X-Auth-Token": "wrong"})
        assert r.status_code == 401 and "verify token fail" in r.json()["error_msg"]
        r = get(srv, headers={"X-Auth-Token": "tok-123"})
        assert r.status_code == 200 and len(r.json()["images"]) == 1
        assert requests.get(srv.url + "/versions").status_code == 200  # discovery is open
        srv.expire_tokens("tok-123")
        r = get(srv, headers={"X-Auth-Token": "tok-123"})
        assert r.status_code == 401 and "expired" in r.json()["error_msg"]


IAM = dict(iam_user="alice", iam_password="pw", iam_domain="acme", iam_project="ap-southeast-1")


def iam_body(user="alice", password="pw", domain="acme", project={"name": "ap-southeast-1"}):
    b = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
            }
        }
    }
    if project is not None:
        b["auth"]["scope"] = {"project": project}
    return b


def test_iam_issues_tokens_accepted_by_image_api():
    with FakeIMS([img(1), img(2)], auth="token", **IAM) as srv:
        r = requests.post(srv.url + "/v3/auth/tokens", json=iam_body())
        assert r.status_code == 201
        tok = r.headers["X-Subject-Token"]
        assert len(tok) > 40 and srv.issued_tokens == [tok]
        body = r.json()["token"]
        assert body["methods"] == ["password"] and body["project"]["name"] == "ap-southeast-1"
        assert body["user"]["name"] == "alice"
        image_eps = [e for s in body["catalog"] if s["type"] == "image" for e in s["endpoints"]]
        assert image_eps[0]["url"] == srv.url and image_eps[0]["interface"] == "public"
        assert dt.datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ") > dt.datetime.utcnow()
        r = get(srv, headers={"X-Auth-Token": tok})
        assert r.status_code == 200 and len(r.json()["images"]) == 2
        srv.expire_tokens()
        assert get(srv, headers={"X-Auth-Token": tok}).status_code == 401
        tok2 = requests.post(srv.url + "/v3/auth/tokens", json=iam_body()).headers["X-Subject-Token"]
        assert tok2 != tok and get(srv, headers={"X-Auth-Token": tok2}).status_code == 200
        # the password went only to IAM, never to the image API
        for rq in srv.requests:
            if rq.path != "/v3/auth/tokens":
                assert b"pw" not in rq.body and "pw" not in rq.target


@pytest.mark.parametrize(
    "body,status",
    [
        (iam_body(password="bad"), 401),
        (iam_body(user="bob"), 401),
        (iam_body(domain="other"), 401),
        (iam_body(project={"name": "eu-west-101"}), 401),
        (iam_body(project=None), 401),
        ({"auth": {}}, 400),
    ],
)
def test_iam_rejects_bad_credentials(body, status):
    with FakeIMS([], auth="token", **IAM) as srv:
        r = requests.post(srv.url + "/v3/auth/tokens", json=body)
        assert r.status_code == status
        assert "X-Subject-Token" not in r.headers and r.json()["error"]["code"] == status
        assert srv.issued_tokens == []


def test_iam_project_by_id_and_token_ttl():
    with FakeIMS([img(1)], auth="token", iam_user="u", iam_password="p", iam_project_id="pid1", token_ttl=0.3) as srv:
        r = requests.post(srv.url + "/v3/auth/tokens", json=iam_body("u", "p", project={"id": "pid1"}))
        assert r.status_code == 201 and r.json()["token"]["project"]["id"] == "pid1"
        tok = r.headers["X-Subject-Token"]
        assert get(srv, headers={"X-Auth-Token": tok}).status_code == 200
        time.sleep(0.4)
        assert get(srv, headers={"X-Auth-Token": tok}).status_code == 401


def test_keystone_version_document():
    with FakeIMS([]) as srv:
        v = requests.get(srv.url + "/v3").json()["version"]
        assert v["id"].startswith("v3") and v["links"][0]["href"] == srv.url + "/v3/"


# ----------------------------------------------------------------------------------------------
# AK/SK

KAT_AK, KAT_SK = "AKEXAMPLE1234567890", "SKEXAMPLEsecret0123456789abcdef"
KAT_HOST = "ims.ap-southeast-1.myhuaweicloud.com"
KAT_DATE = "20261127T120000Z"


@pytest.mark.parametrize(
    "params,extra,wire,signed_headers,sig",
    [
        (
            [("limit", "2"), ("__imagetype", "gold"), ("visibility", "public"), ("protected", "true")],
            {"X-Project-Id": "0123456789abcdef0123456789abcdef"},
            "/v2/images?__imagetype=gold&limit=2&protected=true&visibility=public",
            "host;x-project-id;x-sdk-date",
            "24543c1ae7237dfd6abf672f5087f7e82295e147a6f44313c5b8e91b2e177e41",
        ),
        (
            [
                ("created_at", "gt:2018-10-28T10:00:00Z"),
                ("limit", "1000"),
                ("marker", "bc6bed6e-ba3a-4447-afcc-449174a3eb52"),
            ],
            {},
            "/v2/images?created_at=gt%3A2018-10-28T10%3A00%3A00Z&limit=1000&marker=bc6bed6e-ba3a-4447-afcc-449174a3eb52",
            "host;x-sdk-date",
            "cebe5173907091bb822203cb8e15d3456e0bd823a89eb680281f886d7e96060b",
        ),
    ],
)
def test_sigv_known_answer_vectors(params, extra, wire, signed_headers, sig):
    s = sigv.sign(
        "GET", f"https://{KAT_HOST}/v2/images", ak=KAT_AK, sk=KAT_SK, headers=extra, sdk_date=KAT_DATE, params=params
    )
    assert s.url == f"https://{KAT_HOST}{wire}"
    assert s.signature == sig
    assert (
        s.headers["Authorization"]
        == f"SDK-HMAC-SHA256 Access={KAT_AK}, SignedHeaders={signed_headers}, Signature={sig}"
    )
    # the verifier accepts the vector as it would arrive on the wire ...
    hdrs = {"Host": KAT_HOST, "X-Sdk-Date": KAT_DATE, "Authorization": s.headers["Authorization"], **extra}
    now = sigv.parse_sdk_date(KAT_DATE) + 60
    v = sigv.verify("GET", wire, hdrs, b"", secret_for={KAT_AK: KAT_SK}.get, now=now, strict_query=True)
    assert v.ok and v.access == KAT_AK
    # ... and rejects any change to it
    assert not sigv.verify(
        "GET", wire.replace("limit=", "limit=9"), hdrs, b"", secret_for={KAT_AK: KAT_SK}.get, now=now
    ).ok
    assert not sigv.verify("GET", wire, hdrs, b"", secret_for={KAT_AK: KAT_SK}.get, now=now + 16 * 60).ok


def test_sigv_canonical_pieces():
    assert sigv.canonical_uri("/v2/images") == "/v2/images/"
    assert sigv.canonical_uri("/v2/a b~c") == "/v2/a%20b~c/"
    assert sigv.canonical_query([("b", "2"), ("a", "x y"), ("a", "1")]) == "a=1&a=x%20y&b=2"
    assert sigv.canonical_query_from_raw("name=a+b&x=%7e") == "name=a%2Bb&x=~"
    assert sigv.EMPTY_SHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


AK, SK = "AKLIVE000000000000001", "live-secret-key-0123456789"


def signed_get(srv, params, *, ak=AK, sk=SK, headers=None, sdk_date=None, tamper=None):
    s = sigv.sign("GET", srv.url + "/v2/images", ak=ak, sk=sk, params=params, headers=headers, sdk_date=sdk_date)
    url = tamper(s.url) if tamper else s.url
    return requests.get(url, headers=s.headers)


def test_aksk_live_signed_request_accepted_and_tampering_rejected():
    images = [img(i, name=f"img {i}") for i in range(12)]
    with FakeIMS(images, auth="aksk", ak=AK, sk=SK) as srv:
        r = signed_get(srv, [("limit", "5"), ("created_at", "gt:2019-01-01T00:00:00Z")], headers={"X-Project-Id": "p1"})
        assert r.status_code == 200, r.text
        assert len(r.json()["images"]) == 5
        rec = srv.requests[-1]
        assert rec.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=" + AK)
        assert "X-Auth-Token" not in rec.headers
        assert rec.query == "created_at=gt%3A2019-01-01T00%3A00%3A00Z&limit=5"
        # following `next` with a fresh signature works
        nxt = r.json()["next"]
        r2 = signed_get(srv, parse_qsl(urlsplit(nxt).query))
        assert r2.status_code == 200 and len(r2.json()["images"]) == 5
        # space encoded as %20, as signed: accepted; the same query sent as "+": rejected
        assert signed_get(srv, [("name", "img 3")]).json()["images"][0]["name"] == "img 3"
        r = signed_get(srv, [("name", "img 3")], tamper=lambda u: u.replace("%20", "+"))
        assert r.status_code == 401
        # tampered query, unknown AK, wrong SK, unsigned, skewed clock
        r = signed_get(srv, [("limit", "5")], tamper=lambda u: u.replace("limit=5", "limit=6"))
        assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301"
        assert "signature" in r.json()["error_msg"]
        assert signed_get(srv, [("limit", "5")], ak="AKOTHER").status_code == 401
        assert signed_get(srv, [("limit", "5")], sk="wrong").status_code == 401
        assert get(srv).status_code == 401
        old = sigv.format_sdk_date(time.time() - 16 * 60)
        r = signed_get(srv, [("limit", "5")], sdk_date=old)
        assert r.status_code == 401 and "server time" in r.json()["error_msg"]
        ok = sigv.format_sdk_date(time.time() - 10 * 60)
        assert signed_get(srv, [("limit", "5")], sdk_date=ok).status_code == 200


def test_aksk_unsorted_query_and_strict_mode():
    with FakeIMS([img(1)], auth="aksk", ak=AK, sk=SK) as srv:
        r = signed_get(
            srv,
            [("limit", "5"), ("status", "active")],
            tamper=lambda u: u.replace("limit=5&status=active", "status=active&limit=5"),
        )
        assert r.status_code == 200
    with FakeIMS([img(1)], auth="aksk", ak=AK, sk=SK, strict_query=True) as srv:
        r = signed_get(
            srv,
            [("limit", "5"), ("status", "active")],
            tamper=lambda u: u.replace("limit=5&status=active", "status=active&limit=5"),
        )
        assert r.status_code == 401 and "canonical" in r.json()["error_msg"]
        assert signed_get(srv, [("limit", "5"), ("status", "active")]).status_code == 200


def test_aksk_security_token():
    with FakeIMS([img(1)], auth="aksk", ak=AK, sk=SK, security_token="stok") as srv:
        assert signed_get(srv, [("limit", "1")]).status_code == 401
        assert signed_get(srv, [("limit", "1")], headers={"X-Security-Token": "stok"}).status_code == 200


# ----------------------------------------------------------------------------------------------
# faults


def test_fault_kinds_are_validated():
    assert {
        "latency",
        "status",
        "reset",
        "truncate",
        "html",
        "no_images",
        "invalid_json",
        "next_loop",
        "foreign_next",
        "absolute_next",
        "duplicate",
        "clamp",
    } <= FAULT_KINDS
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault("clamp")


def test_fault_latency_and_global_latency():
    with FakeIMS([img(1)], latency=0.1, faults=[Fault("latency", seconds=0.3, at=2)]) as srv:
        s = requests.Session()
        times = []
        for _ in range(3):
            t = time.monotonic()
            assert s.get(srv.url + "/v2/images").status_code == 200
            times.append(time.monotonic() - t)
    assert 0.1 <= times[0] < 0.3 and times[1] >= 0.4 and 0.1 <= times[2] < 0.3


def test_fault_429_retry_after_seconds_apigw_body():
    f = Fault("status", status=429, retry_after=2, at=1)
    with FakeIMS([img(1)], faults=[f]) as srv:
        r = get(srv)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        body = r.json()
        assert body["error_code"] == "APIG.0308" and body["request_id"] == r.headers["X-Request-Id"]
        assert get(srv).status_code == 200
        assert f.hits == 1 and f.exhausted


def test_fault_503_retry_after_http_date():
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=30)
    with FakeIMS([img(1)], faults=[Fault("status", status=503, retry_after=when, style="ims")]) as srv:
        r = get(srv)
    assert r.status_code == 503
    assert email.utils.parsedate_to_datetime(r.headers["Retry-After"]) == when
    assert r.headers["Retry-After"].endswith("GMT")
    assert r.json()["error"]["code"] == "IMG.0001"


@pytest.mark.parametrize(
    "status,style,check",
    [
        (500, "ims", lambda r: r.json()["error"]["message"]),
        (502, "apigw", lambda r: r.json()["error_code"] == "APIG.0202"),
        (503, "glance", lambda r: r.json()["code"] == "503 Service Unavailable" and r.json()["title"]),
        (504, "html", lambda r: r.headers["Content-Type"].startswith("text/html") and "504 Gateway Timeout" in r.text),
        (503, "empty", lambda r: r.content == b""),
    ],
)
def test_fault_status_styles(status, style, check):
    with FakeIMS([img(1)], faults=[Fault("status", status=status, style=style)]) as srv:
        r = get(srv)
    assert r.status_code == status and r.headers["X-Request-Id"] and check(r)


def test_fault_by_page_index_fires_n_times_then_recovers():
    images = [img(i) for i in range(30)]
    f = Fault("status", status=503, page=1, times=2)
    with FakeIMS(images, faults=[f]) as srv:
        s = requests.Session()
        p0 = s.get(srv.url + "/v2/images", params={"limit": 10}).json()
        codes = [s.get(srv.url + p0["next"]).status_code for _ in range(3)]
        assert codes == [503, 503, 200]
        assert [r.page for r in srv.image_requests] == [0, 1, 1, 1]
        assert f.hits == 2


def test_fault_by_request_number_set_and_unlimited():
    with FakeIMS([img(1)], faults=[Fault("status", status=500, at={2, 4}, times=None)]) as srv:
        codes = [get(srv).status_code for _ in range(5)]
    assert codes == [200, 500, 200, 500, 200]


def test_fault_reset_closes_without_response():
    with FakeIMS([img(1)], faults=[Fault("reset")]) as srv:
        with pytest.raises(requests.ConnectionError):
            get(srv)
        assert get(srv).status_code == 200
        assert [r.status for r in srv.requests] == [None, 200]


def test_fault_truncate_sends_half_the_body():
    with FakeIMS([img(i) for i in range(20)], faults=[Fault("truncate")]) as srv:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            get(srv)
        r = requests.get(srv.url + "/v2/images", stream=True)  # the second request is whole
        assert r.status_code == 200 and len(r.json()["images"]) == 20


def test_fault_html_no_images_invalid_json():
    faults = [Fault("html", at=1), Fault("no_images", at=2), Fault("invalid_json", at=3)]
    with FakeIMS([img(i) for i in range(5)], faults=faults) as srv:
        r = get(srv)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "<html>" in r.text
        with pytest.raises(ValueError):
            r.json()
        r = get(srv)
        assert r.status_code == 200 and "images" not in r.json() and r.json()["schema"] == "/v2/schemas/images"
        r = get(srv)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
        with pytest.raises(ValueError):
            json.loads(r.content)
        assert len(get(srv).json()["images"]) == 5


def test_fault_next_loop():
    with FakeIMS([img(i) for i in range(30)], faults=[Fault("next_loop", page=1)]) as srv:
        p0 = get(srv, {"limit": 10}).json()
        m0 = p0["images"][-1]["id"]
        p1 = requests.get(srv.url + p0["next"]).json()
        assert dict(parse_qsl(urlsplit(p1["next"]).query))["marker"] == m0  # same marker again
        assert p1["images"][0]["id"] != p0["images"][0]["id"]
    with FakeIMS([img(i) for i in range(30)], faults=[Fault("next_loop")]) as srv:
        p0 = get(srv, {"limit": 10}).json()
        assert p0["next"] == p0["first"]


def test_fault_foreign_and_absolute_next():
    with FakeIMS(
        [img(i) for i in range(30)],
        faults=[
            Fault("foreign_next", page=0),
            Fault("absolute_next", page=1),
            Fault("foreign_next", page=2, base="https://127.0.0.1:1"),
        ],
    ) as srv:
        p0 = get(srv, {"limit": 10}).json()
        assert p0["next"].startswith(f"http://127.0.0.2:{srv.port}/v2/images?")
        rel = p0["next"][len(f"http://127.0.0.2:{srv.port}") :]
        p1 = requests.get(srv.url + rel).json()
        assert p1["next"].startswith(srv.url + "/v2/images?limit=10&marker=")
        p2 = requests.get(p1["next"]).json()
        assert p2["next"].startswith("https://127.0.0.1:1/v2/images?")
        assert len(srv.image_requests) == 3  # nothing went to the foreign origin from here


def test_fault_duplicate_repeats_previous_last_id():
    images = [img(i) for i in range(30)]
    with FakeIMS(images, faults=[Fault("duplicate", page=1)]) as srv:
        ids, pages = walk(srv, {"limit": 10})
    assert len(pages[1]["images"]) == 11
    assert pages[1]["images"][0]["id"] == pages[0]["images"][-1]["id"]
    assert len(ids) == 31 and len(set(ids)) == 30
    assert list(dict.fromkeys(ids)) == default_order(images)


def test_fault_clamp_overrides_limit():
    images = [img(i) for i in range(30)]
    with FakeIMS(images, faults=[Fault("clamp", limit=4, page=0)]) as srv:
        ids, pages = walk(srv, {"limit": 10})
    assert [len(p["images"]) for p in pages] == [4, 10, 10, 6]
    assert ids == default_order(images)


def test_fault_expire_token():
    with FakeIMS([img(1)], auth="token", token="t", faults=[Fault("expire_token", at=2)]) as srv:
        h = {"X-Auth-Token": "t"}
        assert [get(srv, headers=h).status_code for _ in range(3)] == [200, 401, 401]


def test_fault_on_other_path():
    with FakeIMS(
        [], auth="token", **IAM, faults=[Fault("status", status=500, path="/v3/auth/tokens", style="empty")]
    ) as srv:
        assert requests.post(srv.url + "/v3/auth/tokens", json=iam_body()).status_code == 500
        assert requests.post(srv.url + "/v3/auth/tokens", json=iam_body()).status_code == 201
        assert get(srv).status_code == 401


# ----------------------------------------------------------------------------------------------
# speed and the standalone entry point


def test_large_catalogue_pages_quickly():
    images = generate_images(20_000, seed=11)
    with FakeIMS(images) as srv:
        srv.warm()
        t = time.monotonic()
        ids, pages = walk(srv, {"limit": 1000})
        elapsed = time.monotonic() - t
    assert len(pages) == 21 and len(ids) == 20_000 and len(set(ids)) == 20_000
    assert elapsed < 5.0, elapsed


def test_standalone_module_serves():
    p = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeims", "--port", "0", "--images", "30", "--seed", "2"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = p.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        body = requests.get(url + "/v2/images", params={"limit": 100}, timeout=10).json()
        assert [i["id"] for i in body["images"]] == default_order(generate_images(30, seed=2))
    finally:
        p.terminate()
        p.wait(timeout=10)
