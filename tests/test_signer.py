"""SDK-HMAC-SHA256: the facts page's known-answer vectors, the official ``huaweicloudsdkcore`` signer as an
independent oracle, and the fake server's own verifier (``tests/fakeims/sigv.py``)."""

from __future__ import annotations

import random
import string

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from imagelint.sources.signer import canonical_query, canonical_uri, sign
from tests.fakeims import sigv

AK, SK = "AKEXAMPLE1234567890", "SKEXAMPLEsecret0123456789abcdef"
HOST = "ims.ap-southeast-1.myhuaweicloud.com"
DATE = "20261127T120000Z"


@pytest.mark.parametrize(
    ("pairs", "headers", "wire", "signed", "signature"),
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
def test_known_answer_vectors(pairs, headers, wire, signed, signature):
    s = sign("GET", f"https://{HOST}/v2/images", pairs, headers, ak=AK, sk=SK, date=DATE)
    assert s.url == f"https://{HOST}{wire}"
    assert s.headers["Authorization"] == f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={signed}, Signature={signature}"
    assert s.headers["Host"] == HOST and s.headers["X-Sdk-Date"] == DATE


def _official(method: str, host: str, path: str, pairs, headers, body: bytes = b""):
    """Sign with huaweicloudsdkcore's Signer; returns (Authorization, wire URI)."""
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(pairs),
        header_params={**headers, "X-Sdk-Date": DATE},
        body=body,
    )
    Signer(BasicCredentials(AK, SK)).sign(request)
    return request.header_params["Authorization"], request.uri


def _random_value(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + " -_.~:/?#[]@!$&'()*+,;=%\"<>é中"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))


@pytest.mark.parametrize("seed", range(25))
def test_agrees_with_official_sdk_signer(seed):
    rng = random.Random(seed)
    pairs = [
        (rng.choice(["name", "tag", "limit", "marker", "created_at", "__platform"]), _random_value(rng))
        for _ in range(rng.randrange(0, 5))
    ]
    headers = {"X-Project-Id": "0123456789abcdef0123456789abcdef"} if rng.random() < 0.5 else {}
    if rng.random() < 0.5:
        headers["X-Api-Version"] = _random_value(rng).strip() or "v"
    path = rng.choice(["/v2/images", "/v2/images/", "/v2/images/a b", "/v2/cloudimages"])
    s = sign("GET", f"https://{HOST}{path}", pairs, headers, ak=AK, sk=SK, date=DATE)
    authorization, uri = _official("GET", HOST, path, pairs, headers)
    assert s.headers["Authorization"] == authorization
    # The SDK puts the canonical query on the wire; so must we (ours encodes the path too).
    assert s.url.split("?", 1)[1:] == uri.split("?", 1)[1:]


def test_header_with_underscore_is_sent_unsigned_like_the_sdk():
    s = sign("GET", f"https://{HOST}/v2/images", [], {"X_Custom": "1"}, ak=AK, sk=SK, date=DATE)
    authorization, _ = _official("GET", HOST, "/v2/images", [], {"X_Custom": "1"})
    assert s.headers["Authorization"] == authorization
    assert "x_custom" not in authorization


@pytest.mark.parametrize("seed", range(10))
def test_fake_server_verifier_accepts_our_signature(seed):
    rng = random.Random(seed)
    pairs = [(k, _random_value(rng)) for k in rng.sample(["name", "tag", "owner", "marker"], 3)]
    s = sign("GET", "http://127.0.0.1:8080/v2/images", pairs, {"X-Project-Id": "p1"}, ak=AK, sk=SK)
    target = s.url.split("127.0.0.1:8080", 1)[1]
    verdict = sigv.verify("GET", target, s.headers, b"", secret_for={AK: SK}.get, strict_query=True)
    assert verdict.ok, verdict.reason


def test_body_is_hashed():
    body = b'{"a": 1}'
    s = sign(
        "POST", f"https://{HOST}/v3/x", [], {"Content-Type": "application/json"}, ak=AK, sk=SK, date=DATE, body=body
    )
    authorization, _ = _official("POST", HOST, "/v3/x", [], {"Content-Type": "application/json"}, body)
    assert s.headers["Authorization"] == authorization


@pytest.mark.parametrize(
    ("path", "uri"),
    [("/v2/images", "/v2/images/"), ("", "/"), ("/", "/"), ("/v2/a%20b", "/v2/a%20b/"), ("/v2/~x", "/v2/~x/")],
)
def test_canonical_uri(path, uri):
    assert canonical_uri(path) == uri


def test_canonical_query_sorts_by_key_then_value_and_encodes_all_but_unreserved():
    assert canonical_query([("b", "2"), ("a", "z"), ("a", "y")]) == "a=y&a=z&b=2"
    assert canonical_query([("name", "a b+c/é~")]) == "name=a%20b%2Bc%2F%C3%A9~"
    assert canonical_query([]) == ""


def test_query_in_url_is_refused():
    with pytest.raises(ValueError):
        sign("GET", f"https://{HOST}/v2/images?a=b", [], {}, ak=AK, sk=SK)
