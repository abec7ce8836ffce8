"""HTTP for the live API: one ``requests.Session``, timeouts, TLS, retries, and error messages.

Only the transport talks to the network. It never follows redirects (a ``Location`` could send the
credential headers to another host; ``requests`` only strips ``Authorization`` there, not
``X-Auth-Token``), retries what is worth retrying (429, 500, 502, 503, 504, connection failures,
timeouts, bodies cut short) with exponential backoff and jitter or the server's ``Retry-After``, and
turns everything else into one line that names the request, the status, the error code and message of
whichever body shape the server used, and the ``X-Request-Id``; secrets are scrubbed from that line.

A hostile or broken endpoint gets bounded time and memory. ``timeout`` bounds each whole request, from
connect to the last byte of the body (a watchdog shuts the socket down when it is up: a server sending one
byte a second would otherwise keep a per-read timeout happy for ever); an optional run ``deadline`` cuts
every request and back-off short; and a body may decompress to at most ``max_response_bytes`` (a gzip
bomb or an endless body stops there with one line instead of exhausting memory).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import html
import json
import random
import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, quote_plus, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.exceptions import (
    ChunkedEncodingError,
    ConnectionError,
    ConnectTimeout,
    ContentDecodingError,
    ReadTimeout,
    SSLError,
)

from imagelint import __version__
from imagelint.sources.interface import SourceError
from imagelint.sources.signer import canonical_query

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRIES = 5
DEFAULT_TIMEOUT = 30.0
BACKOFF_BASE = 0.5
"""First backoff in seconds; it doubles per attempt (0.5, 1, 2, 4, 8, ...), with jitter."""
BACKOFF_CAP = 30.0
MAX_RETRY_AFTER = 300.0
"""A server asking to wait longer than this is treated as down: a CI gate should fail, not hang."""
_MESSAGE_LIMIT = 300
DEFAULT_MAX_RESPONSE_MB = 100
"""What one response may decompress to, in MiB: a real page of 1,000 images is 2-4 MB of JSON."""
_CHUNK = 1 << 20
"""Read and decompress the body a MiB at a time: few reads per page (each must win the GIL back from the
evaluating thread), and never more than a MiB past the cap in memory."""


class ConfigError(Exception):
    """A bad live-API setting (endpoint, credentials, query, TLS options): exit 2, before any request."""


class NotInCatalog(ConfigError):
    """The token's catalog has no image endpoint (there, or at all): for ``check`` a usage error, as a
    misspelt region is far more likely than an outage; for one target of an audit, that target is
    incomplete, since a region without the service must not stop the estate's other targets."""


class Auth(Protocol):
    """How a request is authenticated; see ``imagelint.sources.auth``."""

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        """Return the URL to send (with its canonical query) and the headers, credentials added."""

    def refresh(self) -> bool:
        """After a 401: get fresh credentials and return True to try once more, else False."""

    @property
    def unauthorized_hint(self) -> str:
        """Appended to the message of a final 401 (what to check)."""


@dataclass(frozen=True)
class TransportOptions:
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    verify: bool | str = True
    """``True``, a CA bundle path (``--ca-bundle``), or ``False`` (``--insecure``)."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_MB << 20
    """What one response body may decompress to (``--max-response-mb``)."""


SHORT_SECRET = 12
"""Secrets shorter than this are scrubbed only where they stand as a value, never inside a word."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret by ``***`` where it occurs as a value: as typed, percent-encoded (a query or a
    ``Location``) or JSON-escaped (an error body echoing it); longest first, so a secret inside another is
    not half-revealed.

    A long secret is scrubbed wherever it occurs: it cannot be a word of the message, and a server may glue
    it to other text. A short one (``--token t``) only where it is not part of a longer run of letters and
    digits: replacing every ``t`` made ``GET h******p://...`` of a plain "connection refused".
    """
    forms: dict[str, None] = {}
    for secret in (s for s in secrets if s):
        for form in (secret, quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1]):
            forms.setdefault(form)
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= SHORT_SECRET:
            text = text.replace(form, "***")
            continue
        # a word boundary only on a side where the secret itself ends in a letter or digit ("=ab" after "x")
        before = r"(?<![A-Za-z0-9])" if form[0].isalnum() else ""
        after = r"(?![A-Za-z0-9])" if form[-1].isalnum() else ""
        text = re.sub(before + re.escape(form) + after, "***", text)
    return text


def parse_error_body(body: bytes, content_type: str = "") -> tuple[str | None, str | None]:
    """``(code, message)`` from an error body of IMS, the API gateway, Keystone/IAM, Glance, or HTML."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None, None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):  # IMS {"error": {"code", "message"}}; Keystone adds "title"
            return _str(err.get("code")), _str(err.get("message") or err.get("title"))
        if "error_code" in doc or "error_msg" in doc:  # API gateway
            return _str(doc.get("error_code")), _str(doc.get("error_msg"))
        if "message" in doc or "title" in doc:  # Glance JSON: {"message", "code", "title"}
            return _str(doc.get("code")), _str(doc.get("message") or doc.get("title"))
        if isinstance(err, str):
            return None, _short(err)
        return None, _short(text)
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        return None, _html_text(text)
    return None, _short(text.splitlines()[0])


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else _short(str(value))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def _html_text(text: str) -> str:
    # Glance's webob error pages: <title>400 Bad Request</title> ... <h1>400 Bad Request</h1> detail.
    body = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
    body = html.unescape(re.sub(r"(?s)<[^>]+>", " ", body))
    title = re.search(r"(?is)<title>(.*?)</title>", text)
    words = _short(body)
    if title:
        head = " ".join(html.unescape(title.group(1)).split())
        if words.startswith(head):
            words = words[len(head) :].strip()
        return _short(f"HTML page {head!r}" + (f": {words}" if words else ""))
    return _short(f"HTML page: {words}") if words else "an HTML page"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; ``None`` if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int, rng: random.Random) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with "equal jitter" so that
    parallel clients spread out but a wait never shrinks to nothing."""
    full = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return full / 2 + rng.uniform(0, full / 2)


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the default port filled in, for same-origin checks."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme, 0)


class _WholeTimeout(ReadTimeout):
    """The whole request took longer than ``--timeout`` (retried like any timeout)."""


class _PastDeadline(Exception):
    """The run's ``--deadline`` came during a request (never retried)."""


class _TooLarge(Exception):
    """The body would decompress to more than ``max_response_bytes`` (never retried)."""


_CURRENT = threading.local()
"""The ``_Watch`` of the request this thread is sending, for the pools below to hand it its connection."""


class _Watch:
    """Shuts down the socket of one request when its time is up, so that a blocked read returns at once.

    The socket is only known once the pool has handed out a connection (and, for a new one, once it has
    connected), so a watch that fires before then looks again every 50 ms until the request ends."""

    def __init__(self, seconds: float) -> None:
        self.conn: Any = None
        self.response: Any = None
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        _CURRENT.watch = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
        _CURRENT.watch = None

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = self._socket()
            if sock is None:
                self._timer = threading.Timer(0.05, self._fire)
                self._timer.daemon = True
                self._timer.start()
                return
        with contextlib.suppress(OSError):
            # the plain socket's shutdown: ssl.SSLSocket's own would drop its SSL object under the reader
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _socket(self) -> socket.socket | None:
        sock = getattr(self.conn, "sock", None)
        if sock is None and self.response is not None:
            # http.client lets go of the connection's socket once a response that closes it has begun (the
            # connection cannot be reused); the response's file still reads from it
            fp = getattr(getattr(self.response.raw, "_fp", None), "fp", None)
            sock = getattr(getattr(fp, "raw", None), "_sock", None)
        return sock if isinstance(sock, socket.socket) else None


class _WatchedPoolMixin:
    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        watch = getattr(_CURRENT, "watch", None)
        if watch is not None:
            watch.conn = conn
        return conn


class _WatchedHTTPPool(_WatchedPoolMixin, urllib3.HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPoolMixin, urllib3.HTTPSConnectionPool):
    pass


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """``requests``' adapter with pools that tell the request's ``_Watch`` which connection it uses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class Transport:
    """Sends requests with retries; ``secrets`` holds every value that must never be printed."""

    def __init__(
        self,
        options: TransportOptions,
        *,
        cancel: threading.Event | None = None,
        on_retry: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.secrets: set[str] = set()
        self.cancel = cancel or threading.Event()
        self.on_retry = on_retry
        self.rng = rng or random.Random()
        self.retried = 0
        self.deadline: float | None = None
        """``time.monotonic()`` by which the run must end (``--deadline``), or ``None``."""
        self.deadline_text = ""
        """How the deadline is named in the error, e.g. ``--deadline 60 s``."""
        self.session = requests.Session()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, _WatchedAdapter())
        self.session.headers["User-Agent"] = f"imagelint/{__version__}"
        self.session.headers["Accept"] = "application/json"
        self.session.verify = options.verify
        if options.verify is False:
            # One loud warning is printed by the CLI; urllib3's per-request warning would drown the output.
            warnings.filterwarnings("ignore", message="Unverified HTTPS request")

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        method: str,
        url: str,
        pairs: list[tuple[str, str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        auth: Auth | None = None,
    ) -> requests.Response:
        """Send ``method url?pairs`` and return a 2xx response, retrying what is retryable.

        Raises ``SourceError`` (one line, no secrets) when the request cannot succeed.
        """
        pairs = pairs or []
        attempts = 1 + max(0, self.options.retries)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if auth is not None:
                wire, hdrs = auth.prepare(method, url, pairs, dict(headers or {}), body)
            else:
                query = canonical_query(pairs)
                wire, hdrs = (f"{url}?{query}" if query else url), dict(headers or {})
            shown = self._shown(method, wire)
            try:
                response = self._send_once(method, wire, hdrs, body)
            except _PastDeadline:
                raise SourceError(self.clean(f"{shown}: {self.deadline_text} passed; stopped")) from None
            except _TooLarge as exc:
                raise SourceError(self.clean(f"{shown}: {exc}")) from None
            except SSLError as exc:
                raise SourceError(
                    self.clean(f"{shown}: TLS failed: {_reason(exc)} (for a private CA use --ca-bundle FILE)")
                ) from None
            except (ConnectionError, ReadTimeout, ChunkedEncodingError, ContentDecodingError) as exc:
                problem = _reason(exc, self.options.timeout)
                if attempt >= attempts:
                    raise SourceError(self.clean(f"{shown}: {problem}{_after(attempt)}")) from None
                self._wait(backoff(attempt, self.rng), f"{shown}: {problem}", attempt, attempts)
                continue
            except requests.RequestException as exc:
                raise SourceError(self.clean(f"{shown}: {_reason(exc)}")) from None
            status = response.status_code
            if 200 <= status < 300:
                return response
            if status == 401 and auth is not None and not refreshed and auth.refresh():
                refreshed = True  # one fresh token per request; a second 401 is final
                attempt -= 1
                continue
            problem = describe_response(response)
            if 300 <= status < 400:
                location = response.headers.get("Location", "")
                where = f"; Location: {location}" if location else ""
                raise SourceError(
                    self.clean(
                        f"{shown}: {problem}; redirects are not followed (credentials "
                        f"must not leave the endpoint){where}"
                    )
                )
            if status in RETRY_STATUS and attempt < attempts:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise SourceError(
                        self.clean(
                            f"{shown}: {problem}; the server asks to retry after {wait:.0f} s "
                            f"(more than {MAX_RETRY_AFTER:.0f} s): giving up"
                        )
                    )
                self._wait(
                    backoff(attempt, self.rng) if wait is None else wait, f"{shown}: {problem}", attempt, attempts
                )
                continue
            hint = _hint(status, auth)
            raise SourceError(self.clean(f"{shown}: {problem}{_after(attempt)}{hint}"))

    def _send_once(self, method: str, url: str, headers: dict[str, str], body: bytes) -> requests.Response:
        budget = self.options.timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise _PastDeadline
            budget = min(budget, left)
        request = requests.Request(method, url, headers=headers, data=body or None)
        prepared = self.session.prepare_request(request)
        # requests re-quotes the URL; the canonical query must reach the wire byte for byte (AK/SK signs it).
        prepared.url = url
        response = None
        with _Watch(budget) as watch:
            try:
                response = self.session.send(
                    prepared, timeout=(min(budget, 10.0), budget), allow_redirects=False, stream=True
                )
                watch.response = response
                self._read_body(response)
            except Exception:
                if watch.expired:  # whatever the shut-down socket made the read raise
                    raise self._expired(budget, response is not None) from None
                raise
            if watch.expired:  # a body without Content-Length just ends when the socket is shut down
                raise self._expired(budget, True)
        return response

    def _expired(self, budget: float, started: bool) -> Exception:
        if self.deadline is not None and budget < self.options.timeout:
            return _PastDeadline()
        # no status line yet reads as the per-read timeout does; a response begun but unfinished is a trickle
        return _WholeTimeout("whole request") if started else ReadTimeout("no response")

    def _read_body(self, response: requests.Response) -> None:
        # A MiB at a time, counting what it decompresses to: a gzip bomb or an endless body stops at the cap
        # (urllib3 >= 2.6 decompresses no more than it is asked for per read). A body cut short still
        # raises (urllib3 enforces Content-Length); it is mapped to the requests exception that is retried.
        limit = self.options.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        if declared.isdigit() and not encoded and int(declared) > limit:
            response.close()
            raise _TooLarge(_too_large(limit, f"it declares {int(declared):,} bytes"))
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.raw.read(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    response.close()
                    what = "it decompresses to more" if encoded else "it sent more"
                    raise _TooLarge(_too_large(limit, what))
                chunks.append(chunk)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise ReadTimeout(exc) from None
        except urllib3.exceptions.DecodeError as exc:
            raise ContentDecodingError(exc) from None
        except (urllib3.exceptions.ProtocolError, OSError) as exc:
            raise ChunkedEncodingError(exc) from None
        finally:
            response._content_consumed = True  # type: ignore[attr-defined]
        response._content = b"".join(chunks)

    def _wait(self, seconds: float, problem: str, attempt: int, attempts: int) -> None:
        if self.deadline is not None and time.monotonic() + seconds >= self.deadline:
            raise SourceError(self.clean(f"{problem}; {self.deadline_text} leaves no time to retry; stopped"))
        self.retried += 1
        if self.on_retry is not None:
            self.on_retry(self.clean(f"{problem}; retry {attempt}/{attempts - 1} in {seconds:.1f} s"))
        if self.cancel.wait(seconds):
            raise SourceError("cancelled")

    def _shown(self, method: str, url: str) -> str:
        return f"{method} {url}"

    def clean(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        return redact(text, self.secrets)


def _too_large(limit: int, what: str) -> str:
    return (
        f"response body over {limit / (1 << 20):g} MiB ({what}; --max-response-mb): "
        "stopped reading (a decompression bomb, an endless body, or a proxy error page?)"
    )


def describe_response(response: requests.Response) -> str:
    """``HTTP 503 Service Unavailable: APIG.0308: too many requests (X-Request-Id: ...)``."""
    code, message = parse_error_body(response.content or b"", response.headers.get("Content-Type", ""))
    request_id = (
        response.headers.get("X-Request-Id")
        or response.headers.get("X-Openstack-Request-Id")
        or _body_request_id(response.content)
    )
    parts = [f"HTTP {response.status_code}" + (f" {response.reason}" if response.reason else "")]
    detail = ": ".join(p for p in (code, message) if p)
    if detail:
        parts.append(detail)
    text = ": ".join(parts)
    return text + (f" (X-Request-Id: {request_id})" if request_id else "")


def _body_request_id(body: bytes | None) -> str | None:
    try:
        doc = json.loads(body or b"")
    except (ValueError, RecursionError):
        return None
    value = doc.get("request_id") if isinstance(doc, dict) else None
    return _str(value) if isinstance(value, str) else None


def _after(attempt: int) -> str:
    return f" (after {attempt} attempts)" if attempt > 1 else ""


def _hint(status: int, auth: Auth | None) -> str:
    return f"; {auth.unauthorized_hint}" if status == 401 and auth is not None and auth.unauthorized_hint else ""


def _reason(exc: Exception, timeout: float | None = None) -> str:
    """A short cause for a ``requests`` exception (its own text repeats the whole URL and pool)."""
    if isinstance(exc, ConnectTimeout):
        return "connect timed out"
    if isinstance(exc, _WholeTimeout):
        return f"the whole response did not arrive within {timeout:g} s (--timeout bounds each request)"
    if isinstance(exc, ReadTimeout):
        return f"no response within {timeout:g} s (--timeout)" if timeout else "read timed out"
    if isinstance(exc, ChunkedEncodingError):
        return "response body truncated (the connection closed before the whole body arrived)"
    if isinstance(exc, ContentDecodingError):
        return "response body could not be decoded"
    text = str(exc)
    for needle, short in (
        ("Connection refused", "connection refused"),
        ("Connection reset", "connection reset by the server"),
        ("RemoteDisconnected", "the server closed the connection without a response"),
        ("Connection aborted", "connection aborted"),
        ("Name or service not known", "cannot resolve the host name"),
        ("NameResolutionError", "cannot resolve the host name"),
        ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"),
        ("IncompleteRead", "response body truncated"),
    ):
        if needle in text:
            return short
    inner = re.findall(r"\(Caused by [A-Za-z]+\((.*)\)\)", text)
    return _short(inner[0] if inner else text)


__all__ = [
    "Auth",
    "ConfigError",
    "NotInCatalog",
    "DEFAULT_MAX_RESPONSE_MB",
    "Transport",
    "TransportOptions",
    "backoff",
    "describe_response",
    "origin",
    "parse_error_body",
    "redact",
    "retry_after_seconds",
]
