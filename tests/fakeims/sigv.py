"""Independent SDK-HMAC-SHA256 (Huawei Cloud AK/SK) signer and verifier, for tests only.

Written from the step list in ``/work/shared/reference/ims-api-facts.md`` and nothing else; it does
not import imagelint, so it can check the production signer instead of agreeing with it by
construction.  It reproduces both known-answer vectors of that page (see ``tests/test_fakeims.py``).

Public functions
----------------
``sign(method, url, *, ak, sk, headers=None, body=b"", sdk_date=None, params=None)``
    -> ``SignedRequest(url, headers, canonical_request, string_to_sign, signature)``.  ``url`` may
    carry a query; ``params`` (list of pairs or dict) are appended.  The returned ``url`` has the
    canonical query string, so sending it without re-encoding (``requests.get(signed.url, ...)``;
    requests keeps an already-encoded query as is) puts on the wire exactly what was signed.
``verify(method, target, headers, body, *, secret_for, now=None, max_skew=900, strict_query=False)``
    -> ``Verdict(ok, reason, access)``, recomputing the signature from the raw request target
    (path and query as sent on the wire).  ``secret_for(ak)`` returns the SK or ``None``.
``canonical_request(...)``, ``string_to_sign(...)``, ``signature(...)``, ``canonical_uri(path)``,
``canonical_query(pairs)``, ``canonical_query_from_raw(raw)`` are exposed for unit tests.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _enc(s: str) -> str:
    # percent-encode everything except unreserved characters; of the extra safe set only "~"
    return quote(s, safe="~")


def canonical_uri(path: str) -> str:
    """Path split on "/", each segment percent-encoded ("~" safe), always ending with "/".

    ``path`` is the *decoded* path (what a client signs); use ``canonical_uri(unquote(raw))`` on a
    wire path.
    """
    segments = path.split("/")
    uri = "/".join(_enc(seg) for seg in segments)
    if not uri.startswith("/"):
        uri = "/" + uri
    if not uri.endswith("/"):
        uri += "/"
    return uri


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Decoded (key, value) pairs -> pairs sorted by key then value, encoded, joined by "&"."""
    items = sorted((str(k), str(v)) for k, v in pairs)
    return "&".join(f"{_enc(k)}={_enc(v)}" for k, v in items)


def split_raw_query(raw: str) -> list[tuple[str, str]]:
    """Raw wire query -> decoded pairs.  Percent escapes are decoded, "+" stays a literal "+"."""
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((unquote(k), unquote(v)))
    return pairs


def canonical_query_from_raw(raw: str) -> str:
    return canonical_query(split_raw_query(raw))


def _header_map(headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers.items():
        out[k.lower()] = str(v)
    return out


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed_headers: list[str], body_sha256: str
) -> str:
    """``path``: decoded path; ``query``: the *canonical* query string; ``headers``: lower-case map."""
    lines = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    return "\n".join([method.upper(), canonical_uri(path), query, lines, ";".join(signed_headers), body_sha256])


def string_to_sign(sdk_date: str, creq: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(creq.encode('utf-8')).hexdigest()}"


def signature(sk: str, sts: str) -> str:
    return hmac.new(sk.encode("utf-8"), sts.encode("utf-8"), hashlib.sha256).hexdigest()


def format_sdk_date(t: float | None = None) -> str:
    return time.strftime(DATE_FORMAT, time.gmtime(time.time() if t is None else t))


def parse_sdk_date(s: str) -> float:
    return float(calendar.timegm(time.strptime(s, DATE_FORMAT)))


@dataclass
class SignedRequest:
    url: str  # URL with the canonical query string: send it verbatim
    headers: dict  # Host, X-Sdk-Date, Authorization and the caller's headers
    canonical_request: str
    string_to_sign: str
    signature: str


def sign(
    method: str,
    url: str,
    *,
    ak: str,
    sk: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    sdk_date: str | None = None,
    params: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
) -> SignedRequest:
    parts = urlsplit(url)
    pairs = split_raw_query(parts.query)
    if params is not None:
        pairs += list(params.items()) if isinstance(params, Mapping) else list(params)
    query = canonical_query(pairs)
    hdrs = dict(headers or {})
    lower = {k.lower() for k in hdrs}
    if "host" not in lower:
        hdrs["Host"] = parts.netloc
    if "x-sdk-date" not in lower:
        hdrs["X-Sdk-Date"] = sdk_date or format_sdk_date()
    hmap = _header_map(hdrs)
    signed = sorted(hmap)
    body_hash = hashlib.sha256(body or b"").hexdigest()
    creq = canonical_request(method, unquote(parts.path or "/"), query, hmap, signed, body_hash)
    sts = string_to_sign(hmap["x-sdk-date"], creq)
    sig = signature(sk, sts)
    hdrs["Authorization"] = f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    wire = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return SignedRequest(wire, hdrs, creq, sts, sig)


def parse_authorization(value: str) -> dict[str, str] | None:
    """``SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`` -> dict, or None."""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    out = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        k, sep, v = part.strip().partition("=")
        if not sep:
            return None
        out[k.strip()] = v.strip()
    if not {"Access", "SignedHeaders", "Signature"} <= out.keys():
        return None
    return out


@dataclass
class Verdict:
    ok: bool
    reason: str
    access: str | None = None
    canonical_request: str | None = None


def verify(
    method: str,
    target: str,
    headers,
    body: bytes,
    *,
    secret_for: Callable[[str], str | None],
    now: float | None = None,
    max_skew: float = 900.0,
    strict_query: bool = False,
) -> Verdict:
    """Check an incoming request.  ``target`` is the raw request-target (``/v2/images?a=b``).

    With ``strict_query`` the raw query must already be byte-for-byte the canonical one (sorted and
    encoded); otherwise it is decoded ("+" kept literal) and re-canonicalised.
    """
    hmap = _header_map(headers)
    auth = parse_authorization(hmap.get("authorization", ""))
    if auth is None:
        return Verdict(False, "missing or malformed SDK-HMAC-SHA256 Authorization header")
    ak = auth["Access"]
    sk = secret_for(ak)
    if sk is None:
        return Verdict(False, "unknown access key", ak)
    date = hmap.get("x-sdk-date")
    if not date:
        return Verdict(False, "missing X-Sdk-Date header", ak)
    try:
        t = parse_sdk_date(date)
    except ValueError:
        return Verdict(False, "malformed X-Sdk-Date header", ak)
    now = time.time() if now is None else now
    if abs(now - t) > max_skew:
        return Verdict(False, f"X-Sdk-Date {date} is more than {int(max_skew)} s from server time", ak)
    signed = [h for h in auth["SignedHeaders"].split(";") if h]
    if "x-sdk-date" not in signed:
        return Verdict(False, "x-sdk-date is not a signed header", ak)
    if signed != sorted(h.lower() for h in signed):
        return Verdict(False, "SignedHeaders not lower-case and sorted", ak)
    missing = [h for h in signed if h not in hmap]
    if missing:
        return Verdict(False, f"signed header(s) absent from request: {', '.join(missing)}", ak)
    raw_path, _, raw_query = target.partition("?")
    query = canonical_query_from_raw(raw_query)
    if strict_query and raw_query != query:
        return Verdict(False, "query string on the wire is not the canonical one", ak)
    creq = canonical_request(method, unquote(raw_path), query, hmap, signed, hashlib.sha256(body or b"").hexdigest())
    expected = signature(sk, string_to_sign(date, creq))
    if not hmac.compare_digest(expected, auth["Signature"].lower()):
        return Verdict(False, "signature mismatch", ak, creq)
    return Verdict(True, "ok", ak, creq)
