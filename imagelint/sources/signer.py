"""Huawei Cloud AK/SK request signing, algorithm ``SDK-HMAC-SHA256``.

Implemented step by step from ``ims-api-facts.md`` ("AK/SK signing") and checked against the official
``huaweicloudsdkcore`` signer (``tests/test_signer.py``). The one rule that is easy to get wrong: the
query string on the wire must be byte-for-byte the canonical one, so ``sign`` returns the URL to send,
built here, and the transport sends that URL without letting the HTTP library re-encode it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def encode(text: str) -> str:
    """Percent-encode everything but the unreserved characters (``A-Z a-z 0-9 - _ . ~``)."""
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """``/v2/images`` -> ``/v2/images/``: each (decoded) segment encoded, always ending with ``/``."""
    uri = "/".join(encode(segment) for segment in unquote(path or "/").split("/"))
    if not uri.startswith("/"):
        uri = "/" + uri
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Decoded ``(key, value)`` pairs -> sorted by key then value, encoded, joined by ``&``.

    This is also the query string imagelint sends for every request (signed or not), so one image-list
    request is always the same bytes, whichever way it was reached (first page, ``next``, a retry).
    """
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted((str(k), str(v)) for k, v in pairs))


def sdk_date(now: dt.datetime | None = None) -> str:
    """``X-Sdk-Date`` for ``now`` (default: the current UTC time)."""
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime(DATE_FORMAT)


@dataclass(frozen=True)
class Signed:
    """A signed request: send ``url`` verbatim with ``headers``."""

    url: str
    """Scheme, host, path and the canonical query string."""
    headers: dict[str, str]
    """The caller's headers plus ``Host``, ``X-Sdk-Date`` and ``Authorization``."""
    canonical_request: str
    string_to_sign: str
    signature: str


def sign(
    method: str,
    url: str,
    pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    *,
    ak: str,
    sk: str,
    body: bytes = b"",
    date: str | None = None,
) -> Signed:
    """Sign ``method url?pairs`` with ``headers``; ``url`` must carry no query (pass it as ``pairs``).

    Every header given here is signed (the official SDK does the same with the headers it sets itself;
    headers that ``requests`` adds later, like ``User-Agent``, are sent unsigned, which the gateway
    accepts because only the listed ``SignedHeaders`` are checked).
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError("sign(): pass the query as pairs, not in the URL")
    query = canonical_query(pairs)
    out = dict(headers)
    lower = {name.lower() for name in out}
    if "host" not in lower:
        out["Host"] = parts.netloc
    if "x-sdk-date" not in lower:
        out["X-Sdk-Date"] = date or sdk_date()
    values = {name.lower(): str(value).strip() for name, value in out.items()}
    # The official SDK leaves header names with "_" unsigned (proxies such as nginx drop them by default,
    # which would break the signature); doing the same keeps the two signers interchangeable.
    signed = sorted(name for name in values if "_" not in name and name != "authorization")
    canonical_headers = "".join(f"{name}:{values[name]}\n" for name in signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256,
        ]
    )
    to_sign = f"{ALGORITHM}\n{values['x-sdk-date']}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    wire = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return Signed(url=wire, headers=out, canonical_request=canonical, string_to_sign=to_sign, signature=signature)


__all__ = ["ALGORITHM", "Signed", "canonical_query", "canonical_uri", "encode", "sdk_date", "sign"]
