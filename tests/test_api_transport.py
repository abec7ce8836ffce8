"""Transport units: error bodies of every shape, ``Retry-After``, backoff, redaction, endpoint and header
checks (the behaviour over a real socket is in ``test_api_faults.py``)."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from imagelint.sources.api import normalise_endpoint, parse_headers
from imagelint.sources.transport import (
    BACKOFF_CAP,
    ConfigError,
    backoff,
    origin,
    parse_error_body,
    redact,
    retry_after_seconds,
)


@pytest.mark.parametrize(
    ("body", "ctype", "expected"),
    [
        (
            b'{"error": {"code": "IMG.0024", "message": "The imagetype is invalid."}}',
            "application/json",
            ("IMG.0024", "The imagetype is invalid."),
        ),
        (
            b'{"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information", "request_id": "r1"}',
            "application/json",
            ("APIGW.0301", "Incorrect IAM authentication information"),
        ),
        (
            b'{"message": "Invalid sort key: foo", "code": "400 Bad Request", "title": "Bad Request"}',
            "application/json",
            ("400 Bad Request", "Invalid sort key: foo"),
        ),
        (
            b'{"error": {"code": 401, "title": "Unauthorized", "message": "The request requires authentication."}}',
            "application/json",
            ("401", "The request requires authentication."),
        ),
        (
            (
                b"<html><head><title>400 Bad Request</title></head><body><h1>400 Bad Request</h1>Invalid marker<br /><br />"
                b"</body></html>"
            ),
            "text/html",
            (None, "HTML page '400 Bad Request': Invalid marker"),
        ),
        (
            (
                b"<!DOCTYPE html><html><head><title>Sign in</title><style>p{}</style></head><body><h1>Please sign in</h1>"
                b"</body></html>"
            ),
            "text/html",
            (None, "HTML page 'Sign in': Please sign in"),
        ),
        (b"upstream connect error\nmore", "text/plain", (None, "upstream connect error")),
        (b"", "", (None, None)),
        (b'{"unexpected": true}', "application/json", (None, '{"unexpected": true}')),
    ],
)
def test_parse_error_body(body, ctype, expected):
    assert parse_error_body(body, ctype) == expected


def test_long_messages_are_cut():
    _, message = parse_error_body(b'{"error": {"code": "X", "message": "' + b"a" * 1000 + b'"}}')
    assert message is not None and len(message) == 300 and message.endswith("...")


def test_retry_after_seconds_and_http_date():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds("-4") == 0.0
    now = time.time()
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert 40 <= retry_after_seconds(date, now=now) <= 43
    assert retry_after_seconds(email.utils.formatdate(now - 100, usegmt=True), now=now) == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(1)
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, BACKOFF_CAP)):
        waits = [backoff(attempt, rng) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits)
        assert len(set(waits)) > 1


def test_redact_longest_first():
    assert redact("token abcdef and abc", ["abc", "abcdef"]) == "token *** and ***"
    assert redact("nothing", ["", "x-y"]) == "nothing"


def test_a_short_secret_is_scrubbed_only_where_it_is_a_value():
    # main: "GET h******p://127.0.0.1:9/v2/images?limi***=1000: connec***ion refused"
    line = "GET http://127.0.0.1:9/v2/images?limit=1000: connection refused"
    assert redact(line, ["t"]) == line
    assert redact("GET http://h/v2/images?token=t&x=1: token t is not valid", ["t"]) == (
        "GET http://h/v2/images?token=***&x=1: token *** is not valid"
    )
    assert redact('{"error": "bad key t"}', ["t"]) == '{"error": "bad key ***"}'


def test_a_secret_is_scrubbed_in_its_encoded_forms_too():
    assert redact("next: /v2/images?sig=a%2Fb%20c", ["a/b c"]) == "next: /v2/images?sig=***"
    assert redact("q=a%2Fb+c", ["a/b c"]) == "q=***"
    assert redact('{"echo": "pa\\"ss"}', ['pa"ss']) == '{"echo": "***"}'
    # a secret that starts or ends with punctuation is found after a letter as well
    assert redact("x=ab= and ab", ["=ab="]) == "x*** and ab"


def test_a_long_secret_is_scrubbed_even_glued_to_other_text():
    token = "tok-SECRET-0123456789"
    assert redact(f"Bearer{token}xyz and {token}", [token]) == "Bearer***xyz and ***"


def test_origin_fills_default_ports():
    assert origin("https://H.example/x") == ("https", "h.example", 443)
    assert origin("http://h:80") == origin("http://h")
    assert origin("http://h:8080") != origin("http://h")
    assert origin("https://h") != origin("http://h:443")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ims.ap-southeast-1.myhuaweicloud.com", "https://ims.ap-southeast-1.myhuaweicloud.com"),
        ("https://ims.ap-southeast-1.myhuaweicloud.com/", "https://ims.ap-southeast-1.myhuaweicloud.com"),
        ("http://127.0.0.1:9292/image/", "http://127.0.0.1:9292/image"),
    ],
)
def test_endpoint_normalised(url, expected):
    assert normalise_endpoint(url) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ims.example.com", "expected an http(s) URL"),
        ("ftp://h", "expected an http(s) URL"),
        ("https://user:pw@h", "credentials in the URL are not accepted"),
        ("https://h?limit=1", "no query"),
        ("https://h/v2/images", "without /v2/images"),
        ("https://h/v2/", "without /v2"),
        ("https://h:99999", "bad port"),
    ],
)
def test_bad_endpoints(url, says):
    with pytest.raises(ConfigError) as err:
        normalise_endpoint(url)
    assert says in str(err.value)
    assert "pw" not in str(err.value)


def test_headers():
    assert parse_headers(["X-Api-Version=2", "X-Roles=admin,member"]) == [
        ("X-Api-Version", "2"),
        ("X-Roles", "admin,member"),
    ]
    for bad, says in (
        ("X-A", "NAME=VALUE"),
        ("bad name=1", "NAME=VALUE"),
        ("Host=x", "sets this header itself"),
        ("X-Sdk-Date=1", "sets this header itself"),
        ("X-A=a\nb", "one line"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_headers([bad])
        assert says in str(err.value)


def _follow(endpoint: str, link: str):
    from imagelint.sources.api import ApiOptions, ApiSource
    from imagelint.sources.auth import NoAuth
    from imagelint.sources.transport import Transport, TransportOptions

    source = ApiSource(ApiOptions(endpoint=endpoint), Transport(TransportOptions()), NoAuth(endpoint))
    return source._follow(link, "GET x")


@pytest.mark.parametrize(
    ("endpoint", "link", "url", "pairs"),
    [
        ("https://h", "/v2/images?limit=2&marker=m1", "https://h/v2/images", [("limit", "2"), ("marker", "m1")]),
        ("https://h/image", "/v2/images?marker=m1", "https://h/image/v2/images", [("marker", "m1")]),
        ("https://h/image", "/image/v2/images?marker=m1", "https://h/image/v2/images", [("marker", "m1")]),
        ("https://h:443", "https://h/v2/images?marker=m1", "https://h/v2/images", [("marker", "m1")]),
        ("https://h", "?marker=m1", "https://h/v2/images", [("marker", "m1")]),
        # Glance builds next with urlencode: "+" is a space, %2B a plus.
        (
            "https://h",
            "/v2/images?created_at=gt%3A2018-10-28+10%3A00%3A00&name=a%2Bb&marker=m",
            "https://h/v2/images",
            [("created_at", "gt:2018-10-28 10:00:00"), ("name", "a+b"), ("marker", "m")],
        ),
    ],
)
def test_next_links_are_resolved(endpoint, link, url, pairs):
    assert _follow(endpoint, link) == (url, pairs)


@pytest.mark.parametrize(
    "link",
    [
        "http://h/v2/images?marker=m",
        "https://h:8443/v2/images?marker=m",
        "https://evil.example/v2/images?marker=m",
        "//evil.example/v2/images",
    ],
)
def test_foreign_next_links_are_refused(link):
    from imagelint.sources.interface import SourceError

    with pytest.raises(SourceError) as err:
        _follow("https://h", link)
    assert "refusing to follow" in str(err.value) and "no request was sent there" in str(err.value)
