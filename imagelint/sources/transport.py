"""HTTP for the live API: one ``requests.Session``, timeouts, TLS, retries, and error messages.

Only the transport talks to the network. It never follows redirects (a ``Location`` could send the
credential headers to another host; ``requests`` only strips ``Authorization`` there, not
``X-Auth-Token``), retries what is worth retrying (429, 500, 502, 503, 504, connection failures,
timeouts, bodies cut short) with exponential backoff and jitter or the server's ``Retry-After``, and
turns everything else into one line that names the request, the status, the error code and message of
whichever body shape the server used, and the ``X-Request-Id``; secrets are scrubbed from that line.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import json
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3
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


class ConfigError(Exception):
    """A bad live-API setting (endpoint, credentials, query, TLS options): exit 2, before any request."""


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


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (longest first, so a secret inside another is not half-revealed) by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
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
        self.session = requests.Session()
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
        request = requests.Request(method, url, headers=headers, data=body or None)
        prepared = self.session.prepare_request(request)
        # requests re-quotes the URL; the canonical query must reach the wire byte for byte (AK/SK signs it).
        prepared.url = url
        response = self.session.send(
            prepared,
            timeout=(min(self.options.timeout, 10.0), self.options.timeout),
            allow_redirects=False,
            stream=True,
        )
        # One read of the whole body instead of requests' 10 KB chunks: every chunk is a socket read that
        # must win the GIL back from the evaluating thread, and ~130 such hand-offs per 1000-image page
        # made the prefetch thread lag behind. A body cut short still raises (urllib3 enforces
        # Content-Length); it is mapped to the requests exception that is retried.
        try:
            response._content = response.raw.read(decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise ReadTimeout(exc) from None
        except urllib3.exceptions.DecodeError as exc:
            raise ContentDecodingError(exc) from None
        except (urllib3.exceptions.ProtocolError, OSError) as exc:
            raise ChunkedEncodingError(exc) from None
        finally:
            response._content_consumed = True  # type: ignore[attr-defined]
        return response

    def _wait(self, seconds: float, problem: str, attempt: int, attempts: int) -> None:
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
    "Transport",
    "TransportOptions",
    "backoff",
    "describe_response",
    "origin",
    "parse_error_body",
    "redact",
    "retry_after_seconds",
]
