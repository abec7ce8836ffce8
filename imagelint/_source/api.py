"""The live source: every page of ``GET {endpoint}/v2/images``, each image exactly once.

Pagination follows ``next`` until a page has none; a short or clamped page is never taken for the end,
and the empty last page that Glance serves when the total is a multiple of ``limit`` is just an empty
page. Three things stop a run (``SourceError``, so the gate says incomplete and exits 3): a ``next`` to
another scheme, host or port (nothing is sent there), a ``next`` whose marker was already used (a loop
would never end, or re-read images), and any request the transport could not complete. An image id seen
again is a warning and the image is judged only once.

A background thread fetches page N+1 while the caller evaluates page N (``queue.Queue(maxsize=1)``), so
a check takes about as long as the download alone. The thread owns the HTTP session; the caller only
receives finished pages, or the error that ended the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from imagelint._source import auth as _auth
from imagelint._source.interface import Image, ImageSource, Page, SeenIds, SourceError, plain_json
from imagelint._source.jsonstream import NESTED
from imagelint._source.query import parse_query
from imagelint._source.signer import canonical_query
from imagelint._source.snapshot import check_image
from imagelint._source.transport import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ConfigError,
    Transport,
    TransportOptions,
    origin,
    parse_error_body,
)

DEFAULT_PAGE_SIZE = 1000
LIST_PATH = "/v2/images"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MANAGED_HEADERS = {"host", "content-length", "transfer-encoding", "x-sdk-date", "connection"}
_CREDENTIAL_HEADERS = {"x-auth-token", "authorization", "x-security-token"}
_SECRET_HEADER = re.compile(r"(?i)token|secret|password|auth|key|cookie")


class Console:
    """Warnings and the progress line on stderr, kept from overwriting each other."""

    def __init__(self, stream: TextIO | None = None, *, progress: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # On a terminal the line redraws in place; elsewhere it is off unless --progress asks for it.
        self.progress_on = self.tty if progress is None else progress
        self._lock = threading.Lock()
        self._shown = False
        self._last = 0.0
        self._start = time.monotonic()

    def warn(self, text: str) -> None:
        with self._lock:
            self._clear()
            print(f"imagelint: warning: {text}", file=self.stream, flush=True)

    def progress(self, pages: int, images: int, *, final: bool = False) -> None:
        if not self.progress_on:
            return
        now = time.monotonic()
        if not final and now - self._last < (0.1 if self.tty else 2.0):
            return
        self._last = now
        rate = images / max(now - self._start, 1e-6)
        line = f"imagelint: {pages} page{'' if pages == 1 else 's'}, {images} images, {rate:,.0f} images/s"
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
                self._shown = not final
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False


@dataclass(frozen=True)
class ApiOptions:
    endpoint: str
    """Service root, normalised: no trailing slash, no query, no credentials."""
    query: tuple[tuple[str, str], ...] = ()
    """Validated ``--query`` pairs (``limit`` is carried by ``page_size``)."""
    page_size: int = DEFAULT_PAGE_SIZE
    headers: tuple[tuple[str, str], ...] = ()


class _Done:
    pass


@dataclass(frozen=True)
class _Failure:
    message: str


_DONE = _Done()


class ApiSource(ImageSource):
    """``GET /v2/images``, all pages; see the module docstring. One source serves one run: ``pages()`` is
    iterated once (its end cancels the transport's worker)."""

    kind = "api"

    def __init__(self, options: ApiOptions, transport: Transport, credentials: _auth.Credentials, *,
                 console: Console | None = None) -> None:
        self.options = options
        self.transport = transport
        self.credentials = credentials
        self.console = console or Console(progress=False)
        self.pages_fetched = 0
        self.images_fetched = 0
        self.fetched_at: str | None = None
        self._ids = SeenIds(self.console.warn, "image {ident} was listed again on page {where}; it is evaluated once")

    @property
    def duplicates(self) -> int:
        """Images listed again after their first page (each is evaluated once)."""
        return self._ids.duplicates

    def location(self) -> str:
        return self.options.endpoint

    def query_pairs(self) -> list[tuple[str, str]]:
        return [*self.options.query, ("limit", str(self.options.page_size))]

    def query_string(self) -> str:
        return canonical_query(self.options.query)

    def details(self) -> dict[str, Any]:
        return {"endpoint": self.options.endpoint, "query": self.query_string(), "page_size": self.options.page_size,
                "auth": self.credentials.method, "fetched_at": self.fetched_at, "pages": self.pages_fetched,
                "duplicates": self.duplicates, "retries": self.transport.retried}

    # -- the consumer side ------------------------------------------------------------------------------

    def pages(self) -> Iterator[list[Image]]:
        self.fetched_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        handoff: queue.Queue[list[Image] | _Done | _Failure] = queue.Queue(maxsize=1)
        cancel = self.transport.cancel
        worker = threading.Thread(target=self._produce, args=(handoff,), name="imagelint-fetch", daemon=True)
        worker.start()
        images = 0
        try:
            while True:
                item = handoff.get()
                if isinstance(item, _Done):
                    break
                if isinstance(item, _Failure):
                    raise SourceError(item.message)
                images += len(item)
                self.console.progress(self.pages_fetched, images)
                yield item
        finally:
            cancel.set()  # stops the worker at its next request, back-off or hand-off
            while not handoff.empty():  # unblock a worker waiting to hand over a page
                handoff.get_nowait()
            self.console.progress(self.pages_fetched, images, final=True)
            self._ids.finish()

    # -- the worker thread ------------------------------------------------------------------------------

    def _produce(self, handoff: queue.Queue[list[Image] | _Done | _Failure]) -> None:
        try:
            for page in self._fetch_pages():
                if not self._hand(handoff, page):
                    return
            self._hand(handoff, _DONE)
        except SourceError as exc:
            self._hand(handoff, _Failure(self.transport.clean(str(exc))))
        except Exception as exc:  # noqa: BLE001 - the run must end with a line, not a thread traceback
            message = f"unexpected error while fetching: {type(exc).__name__}: {exc}"
            self._hand(handoff, _Failure(self.transport.clean(message)))

    def _hand(self, handoff: queue.Queue[Any], item: Any) -> bool:
        while not self.transport.cancel.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _fetch_pages(self) -> Iterator[Page]:
        url = self.options.endpoint + LIST_PATH
        pairs = self.query_pairs()
        used = {_marker(pairs)}  # the first request's marker (usually none) counts as used
        headers = dict(self.options.headers)
        while True:
            if self.transport.cancel.is_set():
                return
            response = self.transport.send("GET", url, pairs, headers=headers, auth=self.credentials)
            shown = f"GET {response.request.url or url}"
            doc = _json_body(response, shown)
            listed = doc.get("images")
            if not isinstance(listed, list):
                raise SourceError(f"{shown}: HTTP {response.status_code} body has no \"images\" array")
            images = self._unique([check_image(img, f"{shown}: images[{i}]") for i, img in enumerate(listed)])
            # In JSON text a NUL or a lone surrogate can only be written as an escape; without one the page
            # vouches for its strings, which spares the fast engine a walk over them (interface.plain_json).
            page = Page.of(images, plain_strings=plain_json(response.content))
            self.pages_fetched += 1
            self.images_fetched += len(page)
            yield page
            link = doc.get("next")
            if link is None or link == "":
                return
            if not isinstance(link, str):
                raise SourceError(f"{shown}: \"next\" is not a string")
            url, pairs = self._follow(link, shown)
            marker = _marker(pairs)
            if marker in used:
                raise SourceError(f"{shown}: pagination loop: \"next\" ({link}) asks for marker {marker} again, "
                                  f"after {self.pages_fetched} pages; stopped")
            used.add(marker)

    def _follow(self, link: str, shown: str) -> tuple[str, list[tuple[str, str]]]:
        """Resolve ``next`` (relative or absolute) to ``(url without query, decoded pairs)``; refuse other
        origins before anything is sent there."""
        endpoint = self.options.endpoint
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            absolute = link
        elif link.startswith("/"):
            # Glance writes next as /v2/images?...: relative to its API root, which is our endpoint (that
            # may have a path prefix, e.g. https://host/image); a link already under the prefix is kept.
            prefix = urlsplit(endpoint).path
            path = link if prefix and (link == prefix or link.startswith(prefix + "/")) else prefix + link
            absolute = urlunsplit((*urlsplit(endpoint)[:2], "", "", "")) + path
        else:
            absolute = urljoin(endpoint + LIST_PATH, link)
        if origin(absolute) != origin(endpoint):
            raise SourceError(f"{shown}: refusing to follow \"next\" to another origin ({_without_query(absolute)}; "
                              f"the endpoint is {endpoint}): no request was sent there")
        target = urlsplit(absolute)
        # parse_qsl reads "+" as a space, as Glance (urlencode) means it; we re-encode canonically.
        pairs = parse_qsl(target.query, keep_blank_values=True)
        return urlunsplit((target.scheme, target.netloc, target.path, "", "")), pairs

    def _unique(self, images: list[Image]) -> list[Image]:
        where = str(self.pages_fetched + 1)
        return [image for image in images if self._ids.first(image["id"], where)]


def _marker(pairs: list[tuple[str, str]]) -> str | None:
    values = [v for k, v in pairs if k == "marker"]
    return values[-1] if values else None


def _without_query(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


def _json_body(response: Any, shown: str) -> dict[str, Any]:
    try:
        doc = json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        ctype = response.headers.get("Content-Type", "")
        _, what = parse_error_body(response.content or b"", ctype)
        if not (what and what.startswith("HTML")):
            what = (str(exc) if isinstance(exc, json.JSONDecodeError) else
                    NESTED if isinstance(exc, RecursionError) else "not UTF-8 text")
        raise SourceError(f"{shown}: HTTP {response.status_code} but the body is not valid JSON (Content-Type "
                          f"{ctype or 'none'}, {len(response.content)} bytes): {what}") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{shown}: HTTP {response.status_code} body is not a JSON object with \"images\"")
    return doc


# -- construction from the command line -----------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser, *, endpoint: bool) -> None:
    """The live-API options (``--endpoint`` itself only when ``endpoint``; ``check`` puts it in its source
    group)."""
    if endpoint:
        p.add_argument("--endpoint", metavar="URL", required=True,
                       help="service root, e.g. https://ims.ap-southeast-1.myhuaweicloud.com (calls URL/v2/images)")
    g = p.add_argument_group("live API (with --endpoint)")
    g.add_argument("--query", action="append", default=[], metavar="KEY=VALUE",
                   help="a query parameter of GET /v2/images, checked locally (repeatable)")
    g.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                   help="extra request header, e.g. X-Api-Version=... (repeatable)")
    g.add_argument("--page-size", type=int, default=None, metavar="N",
                   help=f"images per request (default {DEFAULT_PAGE_SIZE}; the server may clamp it)")
    g.add_argument("--token-file", metavar="FILE", help="read the X-Auth-Token from FILE (else OS_AUTH_TOKEN, "
                   "HUAWEICLOUD_SDK_AK/SK, or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/...)")
    g.add_argument("--token", metavar="TOKEN", help="the token itself (discouraged: command lines leak)")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"connect/read timeout per request (default {DEFAULT_TIMEOUT:g})")
    g.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                   help=f"retries of a failed request: 429, 5xx, resets, timeouts (default {DEFAULT_RETRIES})")
    g.add_argument("--ca-bundle", metavar="FILE", help="verify TLS with these CA certificates")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (dangerous)")
    g.add_argument("--progress", action="store_true",
                   help="show the progress line on stderr even when it is not a terminal")


def reject_without_endpoint(args: argparse.Namespace) -> None:
    """``check --input/--sample`` with live-API options: a usage error, not a silently ignored flag."""
    given = [flag for flag, value, default in (
        ("--query", args.query, []), ("--header", args.header, []), ("--page-size", args.page_size, None),
        ("--token-file", args.token_file, None), ("--token", args.token, None),
        ("--timeout", args.timeout, DEFAULT_TIMEOUT), ("--retries", args.retries, DEFAULT_RETRIES),
        ("--ca-bundle", args.ca_bundle, None), ("--insecure", args.insecure, False),
        ("--progress", args.progress, False)) if value != default]
    if given:
        raise ConfigError(f"{', '.join(given)}: only with --endpoint (they configure the live API)")


def normalise_endpoint(url: str) -> str:
    """Check ``--endpoint`` and return it without a trailing slash; ``ConfigError`` says what is wrong."""
    text = url.strip()
    parts = urlsplit(text)
    example = "e.g. https://ims.ap-southeast-1.myhuaweicloud.com"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--endpoint {url!r}: expected an http(s) URL of the service root, {example}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("--endpoint: credentials in the URL are not accepted (they would be printed and "
                          "stored with reports); use OS_AUTH_TOKEN, --token-file, or the other variables")
    if parts.query or parts.fragment:
        raise ConfigError(f"--endpoint {url!r}: no query or fragment, please (use --query KEY=VALUE)")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"--endpoint {url!r}: bad port") from None
    path = parts.path.rstrip("/")
    if path.endswith(("/v2/images", "/v2")):
        raise ConfigError(f"--endpoint {url!r}: give the service root without {path[path.rfind('/v2'):]} "
                          f"(imagelint calls URL{LIST_PATH}), {example}")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def parse_headers(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not _HEADER_NAME.fullmatch(name):
            raise ConfigError(f"--header {item!r}: expected NAME=VALUE, e.g. --header X-Api-Version=2")
        if "\r" in value or "\n" in value:
            raise ConfigError(f"--header {name}: the value must be one line")
        if name.lower() in _MANAGED_HEADERS:
            raise ConfigError(f"--header {name}: imagelint sets this header itself")
        out.append((name, value.strip()))
    return out


def source_from_args(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                     stderr: TextIO | None = None) -> ApiSource:
    """Build the ``ApiSource`` for ``check --endpoint`` / ``fetch``: every setting checked, no request sent.

    Raises ``ConfigError`` (exit 2) for a bad endpoint, query, header, option or half-set credentials.
    """
    env = os.environ if env is None else env
    console = Console(stderr, progress=True if args.progress else None)
    endpoint = normalise_endpoint(args.endpoint)
    pairs = parse_query(args.query)
    page_size = args.page_size
    limits = [v for k, v in pairs if k == "limit"]
    if limits:
        if page_size is not None and int(limits[-1]) != page_size:
            raise ConfigError(f"--query limit={limits[-1]} and --page-size {page_size} disagree: give one")
        page_size = int(limits[-1])
        pairs = [(k, v) for k, v in pairs if k != "limit"]
    if page_size is None:
        page_size = DEFAULT_PAGE_SIZE
    if page_size < 1:
        raise ConfigError(f"--page-size {page_size}: expected a positive integer")
    if args.timeout <= 0:
        raise ConfigError(f"--timeout {args.timeout:g}: expected a positive number of seconds")
    if args.retries < 0:
        raise ConfigError(f"--retries {args.retries}: expected 0 or more")
    if args.insecure and args.ca_bundle:
        raise ConfigError("--insecure and --ca-bundle: give only one")
    verify: bool | str = True
    if args.ca_bundle:
        if not os.path.isfile(args.ca_bundle):
            raise ConfigError(f"--ca-bundle {args.ca_bundle}: no such file")
        verify = args.ca_bundle
    if args.insecure:
        verify = False
    headers = parse_headers(args.header)
    transport = Transport(TransportOptions(timeout=args.timeout, retries=args.retries, verify=verify),
                          on_retry=lambda text: console.warn(text))
    credentials = _auth.resolve(endpoint, transport, env, token=args.token, token_file=args.token_file)
    for name, value in headers:
        if name.lower() in _CREDENTIAL_HEADERS and credentials.method != "none":
            raise ConfigError(f"--header {name}: conflicts with the {credentials.method} credentials in use")
        if _SECRET_HEADER.search(name):
            transport.secrets.add(value)  # e.g. a gateway key passed as a header: never print it
    # Warnings only after every check passed, so a usage error stays one line.
    if args.token is not None:
        console.warn("--token puts the token on the command line, where other users (ps) and shell history "
                     "can read it; prefer --token-file FILE or OS_AUTH_TOKEN")
    if args.insecure:
        console.warn("--insecure: TLS certificates are NOT verified; anyone on the network path can read the "
                     "credentials and forge the image list this gate judges")
    return ApiSource(ApiOptions(endpoint=endpoint, query=tuple(pairs), page_size=page_size,
                                headers=tuple(headers)), transport, credentials, console=console)


__all__ = ["ApiOptions", "ApiSource", "Console", "add_arguments", "normalise_endpoint", "parse_headers",
           "reject_without_endpoint", "source_from_args"]
