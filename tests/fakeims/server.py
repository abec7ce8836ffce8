"""A fake Huawei Cloud IMS / OpenStack Glance ``GET /v2/images`` server for tests and benchmarks.

Standard library only: ``http.server.ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive, bound to
``127.0.0.1`` on an ephemeral port.

Quick start
-----------
::

    from tests.fakeims import FakeIMS, Fault, generate_images

    with FakeIMS(generate_images(120, seed=1), faults=[Fault("status", status=503, page=1)]) as srv:
        r = requests.get(srv.url + "/v2/images", params={"limit": 50})
        srv.requests            # every request, in arrival order (RecordedRequest objects)

``FakeIMS(images, *, max_limit=1000, default_limit=25, auth=None, token=None, ak=None, sk=None,
security_token=None, iam_user=None, iam_password=None, iam_domain=None, iam_project=None,
iam_project_id=None, region="ap-southeast-1", token_ttl=86400, latency=0.0, faults=(),
error_style="ims", strict_query=False, max_skew=900, host="127.0.0.1", port=0)``

* ``images``: list of dicts, each with a unique string ``id``.  They are served as given (key order kept)
  except *hidden* keys, i.e. keys starting with a single underscore (``_member_status``, ``_note``...),
  which are never returned.  ``_member_status`` (accepted | pending | rejected) marks an image as shared
  *with* the caller; images without it belong to the caller or are public.  The dicts are not copied
  and their JSON is cached: change the catalogue with ``add_image``/``remove_image``/``set_images``,
  not by mutating a dict already handed over.
* ``auth``: ``None`` (no check), ``"token"`` (``X-Auth-Token`` must be ``token`` or a token issued by the
  fake IAM and not expired), ``"aksk"`` (``Authorization: SDK-HMAC-SHA256 ...`` verified by
  :mod:`tests.fakeims.sigv` against ``ak``/``sk``; ``X-Sdk-Date`` within ``max_skew`` seconds; with
  ``security_token`` set, ``X-Security-Token`` must equal it).  The canonical request is rebuilt from
  the raw request line: path and query are percent-decoded ("+" stays a literal plus, so a space sent
  as "+" but signed as "%20" fails) and re-encoded, pairs sorted.  Failures are 401 with an API-gateway body
  ``{"error_code": "APIGW.0301", "error_msg": ..., "request_id": ...}``.  Auth covers ``/v2/*`` except the
  version document; ``/``, ``/versions``, ``/v3`` and ``POST /v3/auth/tokens`` are open.
* IAM: with ``iam_user`` set, ``POST /v3/auth/tokens`` takes the Keystone v3 password body, checks user
  name, password, ``domain.name`` (if ``iam_domain``) and the project scope (``name == iam_project`` or
  ``id == iam_project_id``; a project scope is required), and answers 201 with ``X-Subject-Token`` and a
  Keystone token body whose catalog has an ``image`` endpoint pointing at this server.  Wrong credentials:
  401 with a Keystone error body.  Issued tokens are accepted by the image API until ``token_ttl`` passes
  or :meth:`FakeIMS.expire_tokens` is called.  ``GET /v3`` answers a Keystone version document.
* ``latency``: seconds slept before answering every request.
* ``error_style``: body of the image API's own 400/404/405 errors: ``"ims"``
  (``{"error": {"code": "IMG.0001", "message": ...}}``; an invalid ``__imagetype`` gives ``IMG.0024``)
  or ``"glance"`` (``{"message", "code", "title"}`` JSON when the request accepts ``application/json``,
  HTML otherwise).
* ``strict_query`` (aksk): additionally require the query on the wire to be byte-for-byte canonical.

``tls=ssl.SSLContext`` (server side) serves https instead, for the TLS tests.

Attributes and methods: ``url`` (``http://127.0.0.1:PORT``, or ``https://``), ``port``, ``requests`` (copy of the list of
:class:`RecordedRequest`: ``number, method, path, query, target, headers, body, client, time, status,
page``; ``headers`` is the ``email.message.Message`` as received, case-insensitive), ``image_requests``
(only ``GET /v2/images``), ``clear_requests()``, ``faults`` (the live list; ``add_fault(f)``),
``max_limit``/``default_limit``/``latency`` (writable), ``issued_tokens``, ``expire_tokens(token=None)``
(``None``: every issued token and the static one), ``add_image(img)`` (insert or replace),
``remove_image(id)``, ``set_images(list)``, ``images`` (copy), ``warm()`` (pre-encode every image and
build the default order, for benchmarks), ``start()``, ``stop()``; it is a context manager.

Endpoints
---------
``GET /v2/images``: every filter of the IMS query table: ``__isregistered``, ``__imagetype`` (gold,
private, shared, market), ``protected`` (true/false), ``visibility`` (public, private, shared,
community, all), ``owner``, ``id``, ``status``, ``name`` (exact), ``container_format``, ``disk_format``,
``min_ram``, ``min_disk`` (integers, equality), ``__os_bit``, ``__platform``, ``__os_type``, ``tag``
(repeatable, all must be present in ``tags``), ``member_status`` (accepted, rejected, pending, all; only
with ``visibility=shared``, else 400), every ``__support_*`` flag (string equality), ``created_at`` /
``updated_at`` as ``OP:TIME`` (OP gt, gte, lt, lte, eq, neq; TIME ``yyyy-MM-ddThh:mm:ssZ`` or
``yyyy-MM-dd hh:mm:ss``; repeatable, AND-ed), and ``in:a,b`` (CSV, quotes allowed) for name, id, status,
container_format, disk_format.  Like Glance, images shared with the caller (``_member_status``) are only
listed when their status equals ``member_status`` (default ``accepted``).  ``sort_key`` (name, status,
container_format, disk_format, size, id, created_at, updated_at, and ``create_at`` = created_at;
repeatable) and ``sort_dir`` (asc|desc; one for all keys or one per key); default ``created_at desc``;
``created_at`` and ``id`` are appended as tie-breakers with the (first) given direction.  ``marker`` must
be an existing image id (else 400), the page starts after it in sort order; ``limit``: integer >= 0
(else 400), default ``default_limit``, clamped silently to ``max_limit``.  Response
``{"images": [...], "first": ..., "schema": "/v2/schemas/images", "next": ...}``; ``first`` is the request's
query without ``marker``; ``next`` (relative) is the request's query with ``marker`` replaced by the
page's last id and is present exactly when the page came back full.  Repeated scalar parameters: the last
one wins.  Unknown parameters: 400 ``IMG.0001``.
``GET /v2/cloudimages`` (IMS's native list): the same filters plus ``enterprise_project_id``,
``flavor_id``, ``architecture``, ``virtual_env_type``; default limit 500; no ``next`` link but
``page_info.next_marker`` (absent on the last page); every fault applies with ``path="/v2/cloudimages"``
(``next_loop`` repeats the page's own marker; the link faults do not apply).

``GET /v2/images/{id}``: one image or 404.  ``GET /v2/schemas/images`` / ``/v2/schemas/image``: minimal
schemas.  ``GET /``: Glance version document with 300; ``GET /versions``, ``/v2``, ``/v2/``: the same with
200.  Every response carries ``X-Request-Id`` (and ``X-Openstack-Request-Id``).

Faults
------
``Fault(kind, *, at=None, page=None, times=1, path="/v2/images", **params)``

* ``at``: request number(s) (1-based, counted per path over *all* requests to ``path``, retries
  included); ``page``: page index(es) (0-based: offset of the page's first item in the filtered
  listing // limit; a request without marker is page 0, a retry of a page has the same index).  Either
  may be an int or a collection; ``None`` matches any.  ``page`` faults only match valid list queries.
* ``times``: how often the fault may fire (``None`` = unlimited).  ``fault.hits`` counts firings.
* Several faults may match one request: all modifying faults apply, the first replacing one wins.

Kinds (``params`` in brackets):

============== =============================================================================
latency        sleep ``seconds`` more (on top of ``latency``) [seconds=0.5]
status         answer ``status`` with a body in ``style``: ``ims`` ``{"error": {"code", "message"}}``,
               ``apigw`` ``{"error_code", "error_msg", "request_id"}``, ``glance``
               ``{"message", "code", "title"}``, ``html``, ``empty``; [status=503, style="apigw",
               code=None, message=None, retry_after=None (int/float seconds, str sent verbatim, or
               datetime -> HTTP-date), headers=None].  429 defaults to code ``APIG.0308``.
reset          close the connection abruptly (RST) without any response
truncate       send the full response's Content-Length but only half the body, then close
html           200 ``text/html`` login-page-like body
no_images      200 JSON without ``images``
invalid_json   200 ``application/json`` whose body is the first half of the real JSON
next_loop      ``next`` points back at this very page (same marker; the first page: ``first``)
foreign_next   absolute ``next`` on another origin [base="http://127.0.0.2:PORT"]
absolute_next  absolute ``next`` on this server's origin (``url`` + relative next)
duplicate      the marker image (last of the previous page) is inserted at the top of this page
               (page 0: its own first image is repeated); nothing else changes
clamp          clamp ``limit`` to [limit] for this request (``next`` still follows the full-page rule)
expire_token   expire the presented ``X-Auth-Token`` and answer 401 (token mode)
trickle        send the body one byte every ``seconds`` (with ``slow_headers`` the status line and headers
               too) [seconds=0.5, slow_headers=False]; stops when the client goes away
bomb           200 ``Content-Encoding: gzip`` whose body inflates to ``size`` bytes of JSON (``{"images":
               [`` then spaces), about 1 KB per MiB [size=2 GiB]
endless        200 JSON without ``Content-Length`` (``Connection: close``) whose body never ends: image
               objects until the client goes away, or ``size`` bytes [size=4 GiB]
============== =============================================================================

``next``-altering faults (next_loop, foreign_next, absolute_next) only fire on pages that have a
``next``; content faults (html, no_images, invalid_json, duplicate) only on 200 list responses.
"""

from __future__ import annotations

import bisect
import csv
import datetime as _dt
import email.utils
import functools
import gzip
import hashlib
import http
import io
import json
import random
import secrets
import socket
import ssl
import struct
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from . import sigv

__all__ = ["FakeIMS", "Fault", "RecordedRequest", "generate_images", "FAULT_KINDS"]

# --------------------------------------------------------------------------------------------------
# constants

SCHEMA_PATH = "/v2/schemas/images"
LIST_PATH = "/v2/images"
CLOUD_LIST_PATH = "/v2/cloudimages"
# IMS's native list: the filters of /v2/images and these; pages by page_info.next_marker, 500 by default.
CLOUD_FILTERS = frozenset({"enterprise_project_id", "flavor_id", "architecture", "virtual_env_type"})
CLOUD_DEFAULT_LIMIT = 500

SORT_KEYS = {"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}
SORT_ALIASES = {"create_at": "created_at"}
EQ_FILTERS = {
    "__isregistered",
    "__imagetype",
    "visibility",
    "owner",
    "id",
    "status",
    "name",
    "container_format",
    "disk_format",
    "__os_bit",
    "__platform",
    "__os_type",
}
IN_FILTERS = {"name", "id", "status", "container_format", "disk_format"}
INT_FILTERS = {"min_ram", "min_disk"}
TIME_FILTERS = {"created_at", "updated_at"}
PAGING = {"marker", "limit", "sort_key", "sort_dir"}
TIME_OPS = {"gt", "gte", "lt", "lte", "eq", "neq"}
IMAGETYPES = {"gold", "private", "shared", "market"}
VISIBILITIES = {"public", "private", "shared", "community", "all"}
STATUSES = {
    "queued",
    "saving",
    "deleted",
    "killed",
    "active",
    "pending_delete",
    "deactivated",
    "uploading",
    "importing",
}
MEMBER_STATUSES = {"accepted", "rejected", "pending", "all"}

FAULT_KINDS = {
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
    "expire_token",
    *("trickle", "bomb", "endless"),  # hostile endpoints: see the block "hostile endpoints" below
}

_GLANCE_VERSIONS = ["2.16"] + [f"2.{i}" for i in range(15, -1, -1)]


# --------------------------------------------------------------------------------------------------
# hostile endpoints: trickle, bomb, endless (a server that is compromised, broken, or behind a bad proxy)

HOSTILE_KINDS = frozenset({"trickle", "bomb", "endless"})
_MIB = 1 << 20


def _gzip_member(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return out.getvalue()


@functools.lru_cache(maxsize=4)
def bomb_body(size: int) -> bytes:
    """A gzip stream (one member per MiB, as concatenated members are valid gzip) inflating to ``size``
    bytes: ``{"images": [`` and then spaces, so that only reading it all shows it never closes."""
    head = b'{"images": ['
    spaces = _gzip_member(b" " * _MIB)
    whole, rest = divmod(max(0, size - len(head)), _MIB)
    return _gzip_member(head) + spaces * whole + (_gzip_member(b" " * rest) if rest else b"")


def _send_hostile(h, rec: RecordedRequest, resp: _Response, rid: str) -> None:
    fault = resp.fault
    assert fault is not None
    rec.status = resp.status
    h.close_connection = True
    head = [f"HTTP/1.1 {resp.status} {_reason(resp.status)}", f"X-Request-Id: {rid}", "Connection: close"]
    try:
        if fault.kind == "trickle":
            lines = head + [f"Content-Type: {resp.content_type}", f"Content-Length: {len(resp.body)}"]
            data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body
            start = 0 if fault.slow_headers else len(data) - len(resp.body)
            h.wfile.write(data[:start])
            for i in range(start, len(data)):
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                time.sleep(fault.seconds)
        elif fault.kind == "bomb":
            body = bomb_body(fault.size if fault.size is not None else 2 << 30)
            lines = head + ["Content-Type: application/json", "Content-Encoding: gzip", f"Content-Length: {len(body)}"]
            h.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            h.wfile.write(body)
        else:  # endless
            limit = fault.size if fault.size is not None else 4 << 30
            h.wfile.write(("\r\n".join(head + ["Content-Type: application/json"]) + "\r\n\r\n").encode("latin-1"))
            chunk = b'{"images": ['
            item = b'{"id": "%08d-0000-4000-8000-000000000000", "name": "endless"}, '
            sent, n = 0, 0
            while sent < limit:
                h.wfile.write(chunk)
                sent += len(chunk)
                chunk = b"".join(item % (n + i) for i in range(1000))
                n += 1000
        h.wfile.flush()
    except OSError:  # the client gave up: that is what these modes are for
        pass


# --------------------------------------------------------------------------------------------------
# faults


@dataclass(eq=False)
class Fault:
    """One injected misbehaviour; see the module docstring for kinds and parameters."""

    kind: str
    at: int | Iterable[int] | None = None
    page: int | Iterable[int] | None = None
    times: int | None = 1
    path: str = LIST_PATH
    seconds: float = 0.5
    status: int = 503
    style: str = "apigw"
    code: str | None = None
    message: str | None = None
    retry_after: Any = None
    headers: dict | None = None
    base: str | None = None
    limit: int | None = None
    size: int | None = None  # bomb: bytes inflated; endless: bytes sent at most
    slow_headers: bool = False  # trickle: the status line and headers one byte at a time too
    hits: int = field(default=0, init=False)

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        if self.style not in ("ims", "apigw", "glance", "html", "empty"):
            raise ValueError(f"unknown error style {self.style!r}")
        if self.kind == "clamp" and (self.limit is None or self.limit < 0):
            raise ValueError("clamp needs limit >= 0")
        self._at = _as_set(self.at)
        self._page = _as_set(self.page)
        self._lock = threading.Lock()

    def _matches(self, path: str, number: int, page: int | None) -> bool:
        if path != self.path:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        if self._at is not None and number not in self._at:
            return False
        if self._page is not None and (page is None or page not in self._page):
            return False
        return True

    def _consume(self) -> bool:
        with self._lock:
            if self.times is not None and self.hits >= self.times:
                return False
            self.hits += 1
            return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


def _as_set(v):
    if v is None:
        return None
    if isinstance(v, int):
        return {v}
    return set(v)


# --------------------------------------------------------------------------------------------------
# request record / response


@dataclass
class RecordedRequest:
    number: int  # 1-based, over all requests to this server
    method: str
    path: str  # raw path as on the wire
    query: str  # raw query string as on the wire ("" if none)
    target: str  # raw request-target
    headers: Any  # email.message.Message as received (case-insensitive .get / in)
    body: bytes
    client: tuple
    time: float
    status: int | None = None  # status sent (None: connection reset)
    page: int | None = None  # page index for list requests

    @property
    def params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list = field(default_factory=list)
    action: str | None = None  # None | "reset" | "truncate" | a hostile kind (trickle, bomb, endless)
    fault: Fault | None = None  # the hostile fault that set ``action``


class _BadRequest(Exception):
    def __init__(self, message: str, code: str = "IMG.0001"):
        super().__init__(message)
        self.message = message
        self.code = code


# --------------------------------------------------------------------------------------------------
# time parsing


def _image_time(v) -> float | None:
    if not isinstance(v, str) or not v:
        return None
    s = v.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        d = _dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    return d.timestamp()


def _query_time(s: str) -> float:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S"):
        try:
            return _dt.datetime.strptime(s, fmt).replace(tzinfo=_dt.UTC).timestamp()
        except ValueError:
            pass
    raise ValueError(s)


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _boolish(v) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def _intish(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------
# parsed list query


@dataclass
class _ListQuery:
    pairs: list  # decoded query pairs, in order
    marker: str | None
    limit: int  # requested (before clamping)
    sort: tuple  # ((key, dir), ...) including tie-breakers
    filter_key: tuple  # hashable, normalised filters (cache key)
    preds: list  # callables image -> bool
    member_status: str  # accepted | rejected | pending | all (applies to _member_status)


def _split_in(value: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(value), skipinitialspace=False))
    return rows[0] if rows else [""]


def _parse_list_query(raw: str, default_limit: int, extra: frozenset[str] = frozenset()) -> _ListQuery:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
    except ValueError as e:  # pragma: no cover - parse_qsl is lenient
        raise _BadRequest(f"Malformed query string: {e}")
    last: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        known = (
            k in EQ_FILTERS
            or k in INT_FILTERS
            or k in TIME_FILTERS
            or k in PAGING
            or k in ("protected", "tag", "member_status")
            or k.startswith("__support_")
            or k in extra
        )
        if not known:
            raise _BadRequest(f"Invalid query parameter: {k}. The request message format is invalid.")
        last[k] = v
        multi.setdefault(k, []).append(v)

    # paging
    marker = last.get("marker")
    if "limit" in last:
        lv = last["limit"].strip()
        try:
            limit = int(lv)
        except ValueError:
            raise _BadRequest(f"Invalid limit value: {last['limit']!r}; limit param must be an integer")
        if limit < 0:
            raise _BadRequest(f"Invalid limit value: {limit}; limit param must be positive")
    else:
        limit = default_limit

    keys = [SORT_ALIASES.get(k, k) for k in multi.get("sort_key", [])]
    for k in keys:
        if k not in SORT_KEYS:
            raise _BadRequest(f"Invalid sort_key: {k!r}. It must be one of {sorted(SORT_KEYS)}")
    dirs = multi.get("sort_dir", [])
    for d in dirs:
        if d not in ("asc", "desc"):
            raise _BadRequest(f"Invalid sort direction: {d!r}. It must be 'asc' or 'desc'")
    if not keys:
        keys = ["created_at"]
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise _BadRequest("The number of sort_dir values must be 1 or equal the number of sort_key values")
    default_dir = dirs[0] if len(dirs) == 1 else "desc"
    dirs = dirs if len(dirs) == len(keys) else [default_dir] * len(keys)
    sort = list(zip(keys, dirs, strict=False))
    seen = set()
    sort = [s for s in sort if not (s[0] in seen or seen.add(s[0]))]
    for tb in ("created_at", "id"):
        if tb not in seen:
            sort.append((tb, default_dir))
            seen.add(tb)

    # filters
    preds = []
    fkey = []

    for k in sorted(last):
        if k in PAGING or k in TIME_FILTERS or k in ("tag", "protected", "member_status") or k in INT_FILTERS:
            continue
        v = last[k]
        if k == "__imagetype" and v not in IMAGETYPES:
            raise _BadRequest("The imagetype is invalid.", code="IMG.0024")
        if k == "visibility":
            if v not in VISIBILITIES:
                raise _BadRequest(f"Invalid visibility value: {v!r}")
            if v == "all":
                continue
        if k in IN_FILTERS and v.startswith("in:"):
            values = frozenset(_split_in(v[3:]))
            if k == "status":
                bad = values - STATUSES
                if bad:
                    raise _BadRequest(f"Invalid status value: {sorted(bad)[0]!r}")
            preds.append(lambda img, k=k, vs=values: _text(img.get(k)) in vs)
            fkey.append((k, "in", tuple(sorted(values))))
            continue
        if k == "status" and v not in STATUSES:
            raise _BadRequest(f"Invalid status value: {v!r}")
        preds.append(lambda img, k=k, v=v: _text(img.get(k)) == v)
        fkey.append((k, "eq", v))

    if "protected" in last:
        b = _boolish(last["protected"])
        if b is None:
            raise _BadRequest(f"Invalid value for protected: {last['protected']!r}; expected true or false")
        preds.append(lambda img, b=b: _boolish(img.get("protected")) is b)
        fkey.append(("protected", "eq", b))

    for k in sorted(INT_FILTERS & last.keys()):
        try:
            n = int(last[k])
            if n < 0:
                raise ValueError
        except ValueError:
            raise _BadRequest(f"Invalid value for {k}: {last[k]!r}; expected a non-negative integer")
        preds.append(lambda img, k=k, n=n: _intish(img.get(k)) == n)
        fkey.append((k, "eq", n))

    if "tag" in multi:
        tags = tuple(sorted(set(multi["tag"])))
        preds.append(lambda img, tags=tags: all(t in (img.get("tags") or ()) for t in tags))
        fkey.append(("tag", "all", tags))

    for k in sorted(TIME_FILTERS & multi.keys()):
        conds = []
        for v in multi[k]:
            op, sep, ts = v.partition(":")
            if not sep or op not in TIME_OPS:
                raise _BadRequest(
                    f"Invalid {k} filter {v!r}: expected OP:TIME with OP one of {', '.join(sorted(TIME_OPS))}"
                )
            try:
                t = _query_time(ts)
            except ValueError:
                raise _BadRequest(f"Invalid time {ts!r} in {k}: use yyyy-MM-ddThh:mm:ssZ or yyyy-MM-dd hh:mm:ss")
            conds.append((op, t))
        conds_t = tuple(sorted(set(conds)))
        preds.append(lambda img, k=k, c=conds_t: _time_match(_image_time(img.get(k)), c))
        fkey.append((k, "time", conds_t))

    vis = last.get("visibility")
    ms = last.get("member_status")
    if ms is not None:
        if ms not in MEMBER_STATUSES:
            raise _BadRequest(f"Invalid member_status value: {ms!r}")
        if vis != "shared":
            raise _BadRequest("member_status can only be used together with visibility=shared")
    ms = ms or "accepted"
    fkey.append(("member_status", "eq", ms))
    return _ListQuery(pairs, marker, limit, tuple(sort), tuple(fkey), preds, ms)


_OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}


def _time_match(t, conds) -> bool:
    if t is None:
        return False
    return all(_OPS[op](t, v) for op, v in conds)


# --------------------------------------------------------------------------------------------------
# image index (per server, rebuilt when images change)


def _sort_value(img: dict, key: str):
    v = img.get(key)
    if v is None:
        return (0, 0)
    if key in TIME_FILTERS:
        t = _image_time(v)
        return (1, t) if t is not None else (2, str(v))
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (1, v)
    if key == "size":
        n = _intish(v)
        if n is not None:
            return (1, n)
    return (2, str(v))


_ENCODE = json.JSONEncoder(check_circular=False).encode


def _is_hidden(key) -> bool:
    """Hidden per-test keys start with one underscore (``_member_status``); ``__os_bit`` is real."""
    return isinstance(key, str) and key[:1] == "_" and key[:2] != "__"


class _Index:
    FILTER_CACHE = 32

    def __init__(self, images: list[dict], json_cache: dict | None = None):
        self.images = images
        self.by_id = {img["id"]: i for i, img in enumerate(images)}
        self.has_member_status = any("_member_status" in img for img in images)
        self.json = json_cache if json_cache is not None else {}
        self._orders: dict[tuple, tuple[list, list]] = {}
        self._vals: dict[str, list] = {}
        self._hidden: dict[tuple, bool] = {}  # key layout -> has hidden keys
        self._filtered: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def encoded(self, i: int) -> str:
        img = self.images[i]
        s = self.json.get(img["id"])
        if s is None:
            layout = tuple(img)
            hidden = self._hidden.get(layout)
            if hidden is None:
                self._hidden[layout] = hidden = any(_is_hidden(k) for k in layout)
            if hidden:
                img = {k: v for k, v in img.items() if not _is_hidden(k)}
            s = _ENCODE(img)
            self.json[img["id"]] = s
        return s

    def _values(self, key: str) -> list:
        vals = self._vals.get(key)
        if vals is None:
            self._vals[key] = vals = [_sort_value(img, key) for img in self.images]
        return vals

    def order(self, sort: tuple) -> tuple[list, list]:
        """-> (order: list of image indexes, pos: image index -> position in order)."""
        o = self._orders.get(sort)
        if o is not None:
            return o
        with self._lock:
            o = self._orders.get(sort)
            if o is not None:
                return o
            order = list(range(len(self.images)))
            if len({d for _, d in sort}) == 1:  # one direction: a single sort on composite keys
                cols = [self._values(key) for key, _ in sort]
                keys = list(zip(*cols, strict=False))
                order.sort(key=keys.__getitem__, reverse=(sort[0][1] == "desc"))
            else:  # mixed: stable sorts, least significant first
                for key, d in reversed(sort):
                    order.sort(key=self._values(key).__getitem__, reverse=(d == "desc"))
            pos = [0] * len(order)
            for p, i in enumerate(order):
                pos[i] = p
            self._orders[sort] = o = (order, pos)
            return o

    def filtered(self, q: _ListQuery) -> list | None:
        """Ascending positions (in q.sort order) of images matching q's filters; None = all."""
        preds = list(q.preds)
        if self.has_member_status and q.member_status != "all":
            preds.append(lambda img, ms=q.member_status: img.get("_member_status", ms) == ms)
        if not preds:
            return None
        ck = (q.sort, q.filter_key)
        with self._lock:
            f = self._filtered.get(ck)
            if f is not None:
                self._filtered.move_to_end(ck)
                return f
        order, _ = self.order(q.sort)
        imgs = self.images
        f = [p for p, i in enumerate(order) if all(pr(imgs[i]) for pr in preds)]
        with self._lock:
            self._filtered[ck] = f
            while len(self._filtered) > self.FILTER_CACHE:
                self._filtered.popitem(last=False)
        return f

    def locate(self, q: _ListQuery, limit: int):
        """-> (start offset in filtered listing, page image indexes, filtered, order)."""
        order, pos = self.order(q.sort)
        f = self.filtered(q)
        if q.marker is not None:
            mi = self.by_id.get(q.marker)
            if mi is None:
                raise _BadRequest(f"Invalid marker. Image {q.marker} could not be found.")
            mp = pos[mi]
            start = mp + 1 if f is None else bisect.bisect_right(f, mp)
        else:
            start = 0
        if f is None:
            idx = order[start : start + limit]
        else:
            idx = [order[p] for p in f[start : start + limit]]
        return start, idx


# --------------------------------------------------------------------------------------------------
# HTTP plumbing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeIMS/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120

    def log_message(self, format, *args):  # noqa: A002 - silence stderr logging
        pass

    def setup(self):
        super().setup()
        self.server.fake._conn_opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._conn_closed(self.connection)

    def _dispatch(self):
        self.server.fake._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _json_response(status: int, obj, headers=None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), "application/json", list(headers or []))


def _html_page(status: int, detail: str = "") -> bytes:
    r = f"{status} {_reason(status)}"
    return (
        f"<html>\n <head>\n  <title>{r}</title>\n </head>\n <body>\n  <h1>{r}</h1>\n"
        f"  {detail}<br /><br />\n\n\n\n </body>\n</html>"
    ).encode()


# --------------------------------------------------------------------------------------------------
# the server


class FakeIMS:
    """Fake IMS / Glance image-list server; see the module docstring."""

    def __init__(
        self,
        images: Iterable[dict] = (),
        *,
        max_limit: int = 1000,
        default_limit: int = 25,
        auth: str | None = None,
        token: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        security_token: str | None = None,
        iam_user: str | None = None,
        iam_password: str | None = None,
        iam_domain: str | None = None,
        iam_project: str | None = None,
        iam_project_id: str | None = None,
        region: str = "ap-southeast-1",
        token_ttl: float = 86400.0,
        latency: float = 0.0,
        faults: Iterable[Fault] = (),
        error_style: str = "ims",
        strict_query: bool = False,
        max_skew: float = 900.0,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ):
        if auth not in (None, "token", "aksk"):
            raise ValueError("auth must be None, 'token' or 'aksk'")
        if auth == "aksk" and not (ak and sk):
            raise ValueError("auth='aksk' needs ak and sk")
        if error_style not in ("ims", "glance"):
            raise ValueError("error_style must be 'ims' or 'glance'")
        self.max_limit = max_limit
        self.default_limit = default_limit
        self.auth = auth
        self.token = token
        self.ak, self.sk, self.security_token = ak, sk, security_token
        self.iam_user, self.iam_password, self.iam_domain = iam_user, iam_password, iam_domain
        self.iam_project, self.iam_project_id = iam_project, iam_project_id
        self.region = region
        self.token_ttl = token_ttl
        self.latency = latency
        self.faults: list[Fault] = list(faults)
        self.error_style = error_style
        self.strict_query = strict_query
        self.max_skew = max_skew
        self._host, self._port_req = host, port
        self._tls = tls  # a server-side SSLContext makes this an https:// server

        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._path_counts: dict[str, int] = {}
        self._tokens: dict[str, float] = {}  # issued token -> expiry (epoch)
        self._static_token_expired = False
        self._conns: set = set()
        self._index = _Index(self._check_images(images))
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.url: str | None = None

    # ---- lifecycle
    def start(self) -> FakeIMS:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self._host, self._port_req), _Handler)
        self._httpd.fake = self
        if self._tls is not None:
            self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.url = f"{'https' if self._tls is not None else 'http'}://{self._host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"FakeIMS:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeIMS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _conn_opened(self, c):
        with self._lock:
            self._conns.add(c)

    def _conn_closed(self, c):
        with self._lock:
            self._conns.discard(c)

    # ---- images
    @staticmethod
    def _check_images(images) -> list[dict]:
        out = []
        seen = set()
        for img in images:
            if not isinstance(img, dict) or not isinstance(img.get("id"), str):
                raise ValueError(f"every image needs a string 'id': {img!r:.100}")
            if img["id"] in seen:
                raise ValueError(f"duplicate image id {img['id']}")
            seen.add(img["id"])
            out.append(img)
        return out

    @property
    def images(self) -> list[dict]:
        return list(self._index.images)

    def set_images(self, images: Iterable[dict]) -> None:
        new = _Index(self._check_images(images))
        with self._lock:
            self._index = new

    def add_image(self, image: dict) -> None:
        """Insert (or replace, by id) one image; takes effect for the next request."""
        with self._lock:
            old = self._index
            imgs = [i for i in old.images if i["id"] != image["id"]] + [image]
            cache = dict(old.json)
            cache.pop(image["id"], None)
            self._index = _Index(self._check_images(imgs), cache)

    def remove_image(self, image_id: str) -> None:
        with self._lock:
            old = self._index
            imgs = [i for i in old.images if i["id"] != image_id]
            if len(imgs) == len(old.images):
                raise KeyError(image_id)
            self._index = _Index(imgs, old.json)

    def warm(self) -> None:
        """Encode every image and build the default sort order now (benchmarks)."""
        idx = self._index
        idx.order((("created_at", "desc"), ("id", "desc")))
        for i in range(len(idx.images)):
            idx.encoded(i)

    # ---- requests
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def image_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET" and r.path in (LIST_PATH, CLOUD_LIST_PATH)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    # ---- tokens
    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def expire_tokens(self, token: str | None = None) -> None:
        """Expire one token (issued or static), or with None every issued token and the static one."""
        with self._lock:
            if token is None:
                for t in self._tokens:
                    self._tokens[t] = 0.0
                self._static_token_expired = True
            elif token == self.token:
                self._static_token_expired = True
            elif token in self._tokens:
                self._tokens[token] = 0.0

    # ------------------------------------------------------------------------------------------
    # request handling

    def _handle(self, h: _Handler) -> None:
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n > 0 else b""
        target = h.path
        path, _, query = target.partition("?")
        with self._lock:
            rec = RecordedRequest(
                len(self._requests) + 1, h.command, path, query, target, h.headers, body, h.client_address, time.time()
            )
            self._requests.append(rec)
            self._path_counts[path] = count = self._path_counts.get(path, 0) + 1
        rid = uuid.uuid4().hex
        try:
            resp = self._respond(h, rec, count, body, rid)
        except Exception as e:  # a bug in the fake: say so loudly rather than hang the client
            resp = _json_response(500, {"error": {"code": "FAKE.500", "message": f"fake server bug: {e!r}"}})
        self._send(h, rec, resp, rid)

    def _send(self, h: _Handler, rec: RecordedRequest, resp: _Response, rid: str) -> None:
        if resp.action in HOSTILE_KINDS:
            _send_hostile(h, rec, resp, rid)
            return
        if resp.action == "reset":
            rec.status = None
            h.close_connection = True
            try:
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                h.rfile.close()
                h.connection.close()
            except OSError:
                pass
            return
        rec.status = resp.status
        lines = [
            f"HTTP/1.1 {resp.status} {_reason(resp.status)}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            f"Server: {h.server_version}",
        ]
        if resp.content_type:
            lines.append(f"Content-Type: {resp.content_type}")
        lines.append(f"Content-Length: {len(resp.body)}")
        lines.append(f"X-Request-Id: {rid}")
        lines.append(f"X-Openstack-Request-Id: req-{uuid.UUID(rid)}")
        for k, v in resp.headers:
            lines.append(f"{k}: {v}")
        if resp.action == "truncate" or h.close_connection:
            lines.append("Connection: close")
            h.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = resp.body
        if h.command == "HEAD":
            payload = b""
        elif resp.action == "truncate":
            payload = payload[: len(payload) // 2]
        try:
            h.wfile.write(head + payload)
            if resp.action == "truncate":
                h.wfile.flush()
                h.connection.shutdown(socket.SHUT_WR)
        except OSError:
            h.close_connection = True

    # ---- errors
    def _api_error(self, h, status: int, message: str, code: str = "IMG.0001") -> _Response:
        if self.error_style == "glance":
            title = _reason(status)
            if "application/json" in (h.headers.get("Accept") or ""):
                return _json_response(
                    status, {"message": message + "<br /><br />\n\n\n", "code": f"{status} {title}", "title": title}
                )
            return _Response(status, _html_page(status, message), "text/html; charset=UTF-8")
        return _json_response(status, {"error": {"code": code, "message": message}})

    @staticmethod
    def _apigw_error(status: int, code: str, msg: str, rid: str, headers=None) -> _Response:
        return _json_response(status, {"error_code": code, "error_msg": msg, "request_id": rid}, headers)

    def _fault_status(self, f: Fault, rid: str) -> _Response:
        st = f.status
        headers = list((f.headers or {}).items())
        if f.retry_after is not None:
            ra = f.retry_after
            if isinstance(ra, _dt.datetime):
                if ra.tzinfo is None:
                    ra = ra.replace(tzinfo=_dt.UTC)
                ra = email.utils.format_datetime(ra.astimezone(_dt.UTC), usegmt=True)
            elif isinstance(ra, float):
                ra = f"{ra:g}"
            headers.append(("Retry-After", str(ra)))
        title = _reason(st)
        if f.style == "apigw":
            code = f.code or {429: "APIG.0308", 502: "APIG.0202", 503: "APIG.0202", 504: "APIG.0203"}.get(
                st, "APIG.0103"
            )
            msg = f.message or ("The throttling threshold has been reached" if st == 429 else f"{title} (injected)")
            return self._apigw_error(st, code, msg, rid, headers)
        if f.style == "ims":
            return _json_response(
                st, {"error": {"code": f.code or "IMG.0001", "message": f.message or f"{title} (injected)"}}, headers
            )
        if f.style == "glance":
            return _json_response(
                st,
                {
                    "message": f.message or f"{title} (injected)<br /><br />\n\n\n",
                    "code": f"{st} {title}",
                    "title": title,
                },
                headers,
            )
        if f.style == "html":
            return _Response(st, _html_page(st, f.message or ""), "text/html; charset=UTF-8", headers)
        return _Response(st, b"", None, headers)

    # ---- auth
    def _check_auth(self, h, rec: RecordedRequest, body: bytes, rid: str) -> _Response | None:
        if self.auth is None:
            return None
        if self.auth == "token":
            tok = h.headers.get("X-Auth-Token")
            if not tok:
                return self._apigw_error(
                    401, "APIGW.0301", "Incorrect IAM authentication information: x-auth-token not found", rid
                )
            now = time.time()
            with self._lock:
                if tok == self.token and self.token is not None:
                    ok = not self._static_token_expired
                else:
                    exp = self._tokens.get(tok)
                    ok = exp is not None and exp > now
                known = tok == self.token or tok in self._tokens
            if ok:
                return None
            why = "token expired" if known else "verify token fail"
            return self._apigw_error(401, "APIGW.0301", f"Incorrect IAM authentication information: {why}", rid)
        # aksk
        v = sigv.verify(
            h.command,
            rec.target,
            h.headers,
            body,
            secret_for=lambda a: self.sk if a == self.ak else None,
            max_skew=self.max_skew,
            strict_query=self.strict_query,
        )
        if not v.ok:
            return self._apigw_error(401, "APIGW.0301", f"Incorrect IAM authentication information: {v.reason}", rid)
        if self.security_token is not None and h.headers.get("X-Security-Token") != self.security_token:
            return self._apigw_error(
                401, "APIGW.0301", "Incorrect IAM authentication information: security token invalid", rid
            )
        return None

    # ---- routing
    def _respond(self, h, rec: RecordedRequest, count: int, body: bytes, rid: str) -> _Response:
        path = rec.path
        is_list = h.command in ("GET", "HEAD") and path in (LIST_PATH, CLOUD_LIST_PATH)
        idx = self._index
        q = None
        page_idx = None
        if is_list:
            try:
                q = _parse_list_query(rec.query, *self._list_defaults(path))
                lim = min(q.limit, self.max_limit)
                start, _ = idx.locate(q, 0)
                page_idx = start // lim if lim > 0 else 0
            except _BadRequest:
                q = None
            rec.page = page_idx
        with self._lock:
            faults = [f for f in self.faults if f._matches(path, count, page_idx)]

        delay = self.latency
        for f in faults:
            if f.kind == "latency" and f._consume():
                delay += f.seconds
        if delay > 0:
            time.sleep(delay)

        for f in faults:
            if f.kind == "reset" and f._consume():
                return _Response(0, action="reset")
            if f.kind == "status" and f._consume():
                return self._finish(self._fault_status(f, rid), faults)

        for f in faults:
            if f.kind == "expire_token":
                tok = h.headers.get("X-Auth-Token")
                if tok and f._consume():
                    self.expire_tokens(tok)
                    return self._finish(
                        self._apigw_error(
                            401, "APIGW.0301", "Incorrect IAM authentication information: token expired", rid
                        ),
                        faults,
                    )

        if path in ("/", "/versions", "/v2", "/v2/"):
            if h.command not in ("GET", "HEAD"):
                return self._api_error(h, 405, f"Method {h.command} not allowed")
            return self._finish(self._versions(h, 300 if path == "/" else 200), faults)
        if path in ("/v3", "/v3/"):
            return self._finish(self._keystone_version(), faults)
        if path == "/v3/auth/tokens":
            if h.command != "POST":
                return self._finish(
                    _json_response(405, {"error": {"code": 405, "title": "Method Not Allowed", "message": "Use POST"}}),
                    faults,
                )
            return self._finish(self._iam_issue(body), faults)
        if not path.startswith("/v2/"):
            return self._finish(
                self._apigw_error(
                    404, "APIG.0101", "The API does not exist or has not been published in the environment", rid
                ),
                faults,
            )

        denied = self._check_auth(h, rec, body, rid)
        if denied is not None:
            return self._finish(denied, faults)

        if is_list:
            return self._finish(self._list(h, rec, idx, q, faults), faults)
        if h.command not in ("GET", "HEAD"):
            return self._finish(self._api_error(h, 405, f"Method {h.command} not allowed on {path}"), faults)
        if path == SCHEMA_PATH:
            return self._finish(_json_response(200, _IMAGES_SCHEMA), faults)
        if path == "/v2/schemas/image":
            return self._finish(_json_response(200, _IMAGE_SCHEMA), faults)
        if path.startswith("/v2/images/") and path.count("/") == 3:
            iid = unquote(path.rsplit("/", 1)[1])
            i = idx.by_id.get(iid)
            if i is None:
                return self._finish(self._api_error(h, 404, f"No image found with ID {iid}"), faults)
            return self._finish(_Response(200, idx.encoded(i).encode()), faults)
        return self._finish(self._api_error(h, 404, f"The resource {path} could not be found."), faults)

    def _finish(self, resp: _Response, faults: list[Fault]) -> _Response:
        """Apply a matching ``truncate`` or hostile fault to any response."""
        for f in faults:
            if f.kind == "truncate" and resp.action is None and f._consume():
                resp.action = "truncate"
            if f.kind in HOSTILE_KINDS and resp.action is None and f._consume():
                resp.action, resp.fault = f.kind, f
        return resp

    def _list_defaults(self, path: str) -> tuple[int, frozenset[str]]:
        if path == CLOUD_LIST_PATH:
            return CLOUD_DEFAULT_LIMIT, CLOUD_FILTERS
        return self.default_limit, frozenset()

    # ---- GET /v2/images (and /v2/cloudimages)
    def _list(self, h, rec, idx: _Index, q: _ListQuery | None, faults: list[Fault]) -> _Response:
        try:
            if q is None:
                q = _parse_list_query(rec.query, *self._list_defaults(rec.path))  # raises the 400
            max_limit = self.max_limit
            for f in faults:
                if f.kind == "clamp" and f._consume():
                    max_limit = min(max_limit, f.limit)
            limit = min(q.limit, max_limit)
            start, page = idx.locate(q, limit)
        except _BadRequest as e:
            return self._api_error(h, 400, e.message, e.code)

        no_marker = [(k, v) for k, v in q.pairs if k != "marker"]
        first = LIST_PATH + ("?" + urlencode(no_marker) if no_marker else "")

        def with_marker(m):
            pairs, done = [], False
            for k, v in q.pairs:
                if k == "marker":
                    if not done:
                        pairs.append((k, m))
                        done = True
                else:
                    pairs.append((k, v))
            if not done:
                pairs.append(("marker", m))
            return LIST_PATH + "?" + urlencode(pairs)

        nxt = with_marker(idx.images[page[-1]]["id"]) if page and len(page) == limit else None
        items = [idx.encoded(i) for i in page]

        for f in faults:
            k = f.kind
            if k == "html" and f._consume():
                return _Response(200, _LOGIN_HTML, "text/html; charset=UTF-8")
            if k == "no_images" and f._consume():
                return _json_response(200, {"schema": SCHEMA_PATH, "first": first})
            if k == "duplicate" and page and f._consume():
                if q.marker is not None:
                    items.insert(0, idx.encoded(idx.by_id[q.marker]))
                else:
                    items.insert(1, items[0])
            if nxt is not None and rec.path != CLOUD_LIST_PATH:
                if k == "next_loop" and f._consume():
                    nxt = with_marker(q.marker) if q.marker is not None else first
                elif k == "absolute_next" and f._consume():
                    nxt = self.url + nxt
                elif k == "foreign_next" and f._consume():
                    nxt = (f.base or f"http://127.0.0.2:{self.port}") + nxt

        if rec.path == CLOUD_LIST_PATH:
            # No next link: the next page's marker is page_info.next_marker; next_loop repeats this page's.
            marker = idx.images[page[-1]]["id"] if page and len(page) == limit else None
            if marker is not None and any(f.kind == "next_loop" and f._consume() for f in faults):
                marker = q.marker or ""
            info = {"current_count": len(items)}
            if marker is not None:
                info["next_marker"] = marker
            out = ['{"images": [', ", ".join(items), '], "page_info": ', json.dumps(info), "}"]
        else:
            out = ['{"images": [', ", ".join(items), '], "first": ', json.dumps(first), ', "schema": "', SCHEMA_PATH]
            out.append('"')
            if nxt is not None:
                out += [', "next": ', json.dumps(nxt)]
            out.append("}")
        payload = "".join(out).encode()
        for f in faults:
            if f.kind == "invalid_json" and f._consume():
                return _Response(200, payload[: len(payload) // 2])
        return _Response(200, payload)

    # ---- versions
    def _versions(self, h, status: int) -> _Response:
        base = self.url
        hosthdr = h.headers.get("Host")
        if hosthdr:
            base = f"http://{hosthdr}"
        vers = [
            {
                "id": f"v{v}",
                "status": "CURRENT" if i == 0 else "SUPPORTED",
                "links": [{"rel": "self", "href": f"{base}/v2/"}],
            }
            for i, v in enumerate(_GLANCE_VERSIONS)
        ]
        return _json_response(status, {"versions": vers})

    def _keystone_version(self) -> _Response:
        return _json_response(
            200,
            {
                "version": {
                    "id": "v3.0",
                    "status": "stable",
                    "updated": "2013-03-06T00:00:00Z",
                    "links": [{"rel": "self", "href": f"{self.url}/v3/"}],
                    "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
                }
            },
        )

    # ---- IAM
    def _iam_issue(self, body: bytes) -> _Response:
        def unauthorized(msg="The request you have made requires authentication."):
            return _json_response(401, {"error": {"code": 401, "title": "Unauthorized", "message": msg}})

        if self.iam_user is None:
            return _json_response(
                404, {"error": {"code": 404, "title": "Not Found", "message": "IAM is not enabled on this fake server"}}
            )
        try:
            doc = json.loads(body or b"null")
            ident = doc["auth"]["identity"]
            if "password" not in ident.get("methods", []):
                return unauthorized("Only the password method is supported")
            user = ident["password"]["user"]
            name, password = user["name"], user["password"]
            domain = (user.get("domain") or {}).get("name")
            scope = doc["auth"].get("scope") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            return _json_response(
                400,
                {
                    "error": {
                        "code": 400,
                        "title": "Bad Request",
                        "message": "Expecting to find auth.identity.password.user in the request body",
                    }
                },
            )
        if name != self.iam_user or password != self.iam_password:
            return unauthorized()
        if self.iam_domain is not None and domain != self.iam_domain:
            return unauthorized()
        proj = scope.get("project") if isinstance(scope, dict) else None
        if not isinstance(proj, dict):
            return unauthorized("This fake IAM issues project-scoped tokens only: give auth.scope.project")
        ok = (
            (self.iam_project is not None and proj.get("name") == self.iam_project)
            or (self.iam_project_id is not None and proj.get("id") == self.iam_project_id)
            or (self.iam_project is None and self.iam_project_id is None)
        )
        if not ok:
            return unauthorized("The project in auth.scope is unknown to this user")
        token = "MII" + secrets.token_urlsafe(96)
        now = time.time()
        with self._lock:
            self._tokens[token] = now + self.token_ttl
        pid = self.iam_project_id or hashlib.md5((self.iam_project or "p").encode()).hexdigest()
        did = hashlib.md5((self.iam_domain or "d").encode()).hexdigest()
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(t))  # noqa: E731
        tok = {
            "token": {
                "methods": ["password"],
                "issued_at": iso(now),
                "expires_at": iso(now + self.token_ttl),
                "user": {
                    "id": hashlib.md5(self.iam_user.encode()).hexdigest(),
                    "name": self.iam_user,
                    "domain": {"id": did, "name": self.iam_domain or domain or ""},
                    "password_expires_at": "",
                },
                "project": {
                    "id": pid,
                    "name": self.iam_project or proj.get("name") or self.region,
                    "domain": {"id": did, "name": self.iam_domain or domain or ""},
                },
                "roles": [{"id": "0", "name": "te_admin"}],
                "catalog": [
                    {
                        "type": "image",
                        "id": "ims0",
                        "name": "ims",
                        "endpoints": [
                            {
                                "id": "ims-public",
                                "interface": "public",
                                "region": self.region,
                                "region_id": self.region,
                                "url": self.url,
                            }
                        ],
                    },
                    {
                        "type": "identity",
                        "id": "iam0",
                        "name": "iam",
                        "endpoints": [
                            {
                                "id": "iam-public",
                                "interface": "public",
                                "region": "*",
                                "region_id": "*",
                                "url": self.url + "/v3",
                            }
                        ],
                    },
                ],
            }
        }
        r = _json_response(201, tok, [("X-Subject-Token", token)])
        return r


_LOGIN_HTML = (
    b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Sign in</title></head>\n'
    b'<body><form action="/login" method="post"><h1>Please sign in</h1>'
    b'<input name="user"><input type="password" name="password"></form></body></html>\n'
)

_IMAGE_SCHEMA = {
    "name": "image",
    "additionalProperties": {"type": "string"},
    "properties": {
        "id": {"type": "string"},
        "name": {"type": ["null", "string"]},
        "status": {"type": "string", "enum": sorted(STATUSES)},
        "visibility": {"type": "string", "enum": ["public", "private", "shared", "community"]},
        "protected": {"type": "boolean"},
        "owner": {"type": ["null", "string"]},
        "container_format": {"type": ["null", "string"]},
        "disk_format": {"type": ["null", "string"]},
        "min_ram": {"type": "integer"},
        "min_disk": {"type": "integer"},
        "size": {"type": ["null", "integer"]},
        "virtual_size": {"type": ["null", "integer"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "self": {"type": "string"},
        "file": {"type": "string"},
        "schema": {"type": "string"},
    },
    "links": [
        {"rel": "self", "href": "{self}"},
        {"rel": "enclosure", "href": "{file}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}
_IMAGES_SCHEMA = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": _IMAGE_SCHEMA},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}


# --------------------------------------------------------------------------------------------------
# synthetic data

_PLATFORMS = [
    ("CentOS", "Linux", ["7.9", "8.2"]),
    ("Ubuntu", "Linux", ["18.04", "20.04", "22.04"]),
    ("Debian", "Linux", ["10.0", "11.1"]),
    ("EulerOS", "Linux", ["2.5", "2.9"]),
    ("Windows", "Windows", ["Server 2016", "Server 2019"]),
    ("SUSE", "Linux", ["15 SP3"]),
    ("Other", "Other", ["Unknown"]),
]
_OWNER_PUBLIC = "1bed856811654c1cb661a6ca845ebc77"
_OWNER_SELF = "0123456789abcdef0123456789abcdef"


def generate_images(
    n: int, seed: int = 0, *, start: str = "2018-01-01T00:00:00Z", member_status: bool = False
) -> list[dict]:
    """``n`` realistic IMS image dicts, deterministic for a given ``seed``.

    Shaped like the example of the API page; ~30 % gold/public, ~50 % private, ~15 % shared, ~5 %
    market.  With ``member_status=True`` shared images get a hidden ``_member_status`` (80 % accepted,
    15 % pending, 5 % rejected), so a default listing then shows fewer than ``n`` images.  ``created_at`` values collide now and then (minute
    granularity) so that tie-breaking by id matters.
    """
    rng = random.Random(seed)
    t0 = _image_time(start) or 0.0
    others = [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(5)]
    out = []
    for k in range(n):
        iid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        plat, ostype, vers = rng.choice(_PLATFORMS)
        ver = rng.choice(vers)
        bit = rng.choice(["64", "64", "64", "32"])
        r = rng.random()
        if r < 0.30:
            itype, vis, owner = "gold", "public", _OWNER_PUBLIC
        elif r < 0.80:
            itype, vis, owner = "private", "private", _OWNER_SELF
        elif r < 0.95:
            itype, vis, owner = "shared", "shared", rng.choice(others)
        else:
            itype, vis, owner = "market", "public", rng.choice(others)
        created = t0 + rng.randrange(0, 6 * 365 * 24 * 60) * 60
        updated = created + rng.randrange(0, 90 * 24 * 3600)
        fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
        env = rng.choices(["FusionCompute", "Ironic", "DataImage", "IsoImage"], [85, 5, 7, 3])[0]
        img = {
            "schema": "/v2/schemas/image",
            "min_disk": rng.choice([1, 20, 40, 40, 100]),
            "created_at": fmt(created),
            "__image_source_type": "uds",
            "container_format": "bare",
            "file": f"/v2/images/{iid}/file",
            "updated_at": fmt(updated),
            "protected": itype == "gold",
            "checksum": "d41d8cd98f00b204e9800998ecf8427e",
            "id": iid,
            "__isregistered": "true",
            "min_ram": rng.choice([0, 0, 1024, 2048, 4096]),
            "__lazyloading": rng.choice(["true", "false", "True"]),
            "owner": owner,
            "__os_type": ostype,
            "__imagetype": itype,
            "visibility": vis,
            "virtual_env_type": env,
            "tags": rng.sample(["env=prod", "env=dev", "team=web", "team=db", "cis=l1", "a=b"], rng.randrange(0, 3)),
            "__platform": plat,
            "size": 0,
            "__os_bit": bit,
            "__os_version": f"{plat} {ver} {bit}bit",
            "name": f"{plat} {ver} {bit}bit {rng.choice(['base', 'web', 'db', 'gpu', 'hardened'])}"
            f"{'' if rng.random() < 0.1 else ' ' + str(k)}",
            "self": f"/v2/images/{iid}",
            "disk_format": rng.choices(["zvhd2", "vhd", "zvhd", "raw", "qcow2"], [70, 10, 10, 5, 5])[0],
            "virtual_size": None,
            "hw_firmware_type": rng.choice(["bios", "bios", "uefi"]),
            "status": rng.choices(["active", "queued", "saving", "killed", "deleted"], [90, 3, 3, 2, 2])[0],
            "__image_size": str(rng.randrange(1, 50) * 1024**3),
            "__os_feature_list": json.dumps({"onekey_resetpasswd": "true"}),
            "enterprise_project_id": rng.choice(["0", "0", str(uuid.UUID(int=rng.getrandbits(128), version=4))]),
            "hw_vif_multiqueue_enabled": rng.choice(["true", "false"]),
        }
        if rng.random() < 0.8:
            img["__support_kvm"] = "true"
        elif rng.random() < 0.5:
            img["__support_xen"] = "true"
        if rng.random() < 0.05:
            img["__support_kvm_gpu_type"] = rng.choice(["V100_vGPU", "RTX5000"])
        if rng.random() < 0.3:
            img["__support_largememory"] = "true"
        if rng.random() < 0.2:
            img["__system__cmkid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if rng.random() < 0.3:
            img["__support_amd"] = rng.choice(["true", "false"])
        if itype == "shared" and member_status:
            img["_member_status"] = rng.choices(["accepted", "pending", "rejected"], [80, 15, 5])[0]
        out.append(img)
    return out
