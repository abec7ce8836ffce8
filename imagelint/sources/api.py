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

import datetime as dt
import json
import os
import queue
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from imagelint.sources import auth as _auth
from imagelint.sources.console import Console
from imagelint.sources.interface import Image, ImageSource, Page, SeenIds, SourceError
from imagelint.sources.jsonstream import NESTED
from imagelint.sources.jsontext import decode
from imagelint.sources.locate import locate
from imagelint.sources.query import parse_query
from imagelint.sources.signer import canonical_query
from imagelint.sources.snapshot import check_image
from imagelint.sources.transport import (
    DEFAULT_MAX_RESPONSE_MB,
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
APIS = ("images", "cloudimages")
CLOUDIMAGES_PAGE_SIZE = 500
"""IMS's default page for ``GET /v2/cloudimages`` (``cloudimages.py``)."""
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MANAGED_HEADERS = {"host", "content-length", "transfer-encoding", "x-sdk-date", "connection"}
_CREDENTIAL_HEADERS = {"x-auth-token", "authorization", "x-security-token"}
_SECRET_HEADER = re.compile(r"(?i)token|secret|password|auth|key|cookie")


@dataclass(frozen=True)
class ApiOptions:
    endpoint: str
    """Service root, normalised: no trailing slash, no query, no credentials."""
    place: tuple[tuple[str, str], ...] = ()
    """Cloud, region, project id and name, when known: for the report's source, never a secret."""
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

    def __init__(
        self,
        options: ApiOptions,
        transport: Transport,
        credentials: _auth.Credentials,
        *,
        console: Console | None = None,
    ) -> None:
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
        return {
            **dict(self.options.place),
            "endpoint": self.options.endpoint,
            "api": self.api_name,
            "query": self.query_string(),
            "page_size": self.options.page_size,
            "auth": self.credentials.method,
            "fetched_at": self.fetched_at,
            "pages": self.pages_fetched,
            "duplicates": self.duplicates,
            "retries": self.transport.retried,
        }

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

    list_path = LIST_PATH
    api_name = "images"

    def _fetch_pages(self) -> Iterator[Page]:
        url = self.options.endpoint + self.list_path
        pairs = self.query_pairs()
        used = {_marker(pairs)}  # the first request's marker (usually none) counts as used
        headers = dict(self.options.headers)
        while True:
            if self.transport.cancel.is_set():
                return
            response = self.transport.send("GET", url, pairs, headers=headers, auth=self.credentials)
            shown = f"GET {response.request.url or url}"
            doc, plain = _json_body(response, shown)
            listed = doc.get("images")
            if not isinstance(listed, list):
                raise SourceError(f'{shown}: HTTP {response.status_code} body has no "images" array')
            images = self._unique([check_image(img, f"{shown}: images[{i}]") for i, img in enumerate(listed)])
            # The decoder vouches for plain values (jsontext.decode), which spares the fast engines a walk.
            page = Page.of(images, plain=plain)
            self.pages_fetched += 1
            self.images_fetched += len(page)
            yield page
            following = self._next_request(doc, shown, url, pairs)
            if following is None:
                return
            url, pairs, link = following
            marker = _marker(pairs)
            if marker in used:
                raise SourceError(
                    f"{shown}: pagination loop: {link} asks for marker {marker} again, "
                    f"after {self.pages_fetched} pages; stopped"
                )
            used.add(marker)

    def _next_request(
        self, doc: dict[str, Any], shown: str, url: str, pairs: list[tuple[str, str]]
    ) -> tuple[str, list[tuple[str, str]], str] | None:
        """The request for the page after ``doc`` (URL, pairs, and how to name the link in a message), or
        ``None`` at the end. Glance and ``/v2/images``: the ``next`` link, until a page has none."""
        link = doc.get("next")
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise SourceError(f'{shown}: "next" is not a string')
        return (*self._follow(link, shown), f'"next" ({link})')

    def _follow(self, link: str, shown: str) -> tuple[str, list[tuple[str, str]]]:
        """Resolve ``next`` (relative or absolute) to ``(url without query, decoded pairs)``; refuse other
        origins before anything is sent there."""
        try:
            return self._resolve(link, shown)
        except ValueError as exc:  # urlsplit: "Invalid IPv6 URL", a bad port: a hostile or broken "next"
            raise SourceError(f'{shown}: "next" is not a URL ({exc}): {link[:200]!r}') from None

    def _resolve(self, link: str, shown: str) -> tuple[str, list[tuple[str, str]]]:
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
            raise SourceError(
                f'{shown}: refusing to follow "next" to another origin ({_without_query(absolute)}; '
                f"the endpoint is {endpoint}): no request was sent there"
            )
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


def _json_body(response: Any, shown: str) -> tuple[dict[str, Any], bool]:
    try:
        doc, plain = decode(response.content)
    except (ValueError, RecursionError) as exc:
        ctype = response.headers.get("Content-Type", "")
        _, what = parse_error_body(response.content or b"", ctype)
        if not (what and what.startswith("HTML")):
            what = (
                str(exc)
                if isinstance(exc, json.JSONDecodeError)
                else NESTED
                if isinstance(exc, RecursionError)
                else "not UTF-8 text"
            )
        raise SourceError(
            f"{shown}: HTTP {response.status_code} but the body is not valid JSON (Content-Type "
            f"{ctype or 'none'}, {len(response.content)} bytes): {what}"
        ) from None
    if not isinstance(doc, dict):
        raise SourceError(f'{shown}: HTTP {response.status_code} body is not a JSON object with "images"')
    return doc, plain


# -- construction from settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSettings:
    """What a user asked of one live endpoint, before any of it is checked: the command line's flags (or any
    other front end's); ``open_source`` checks every field. The messages name the flags."""

    endpoint: str | None = None
    """``None``: found from the cloud, the service catalog or the region (``sources.locate``)."""
    query: Sequence[str] = ()
    """``KEY=VALUE`` texts, as ``--query`` gives them."""
    headers: Sequence[str] = ()
    """``NAME=VALUE`` texts, as ``--header`` gives them."""
    page_size: int | None = None
    token: str | None = None
    token_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_response_mb: float = DEFAULT_MAX_RESPONSE_MB
    retries: int = DEFAULT_RETRIES
    ca_bundle: str | None = None
    insecure: bool = False
    progress: bool = False
    """Show the progress line even when stderr is not a terminal."""
    cloud: str | None = None
    """A cloud of ``clouds.yaml`` (``OS_CLOUD`` when ``None``)."""
    region: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    api: str = "images"
    """``images`` (``GET /v2/images``) or ``cloudimages`` (IMS's ``GET /v2/cloudimages``)."""


def normalise_endpoint(url: str) -> str:
    """Check ``--endpoint`` and return it without a trailing slash; ``ConfigError`` says what is wrong."""
    text = url.strip()
    example = "e.g. https://ims.ap-southeast-1.myhuaweicloud.com"
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # "Invalid IPv6 URL": an unbalanced bracket in the host
        raise ConfigError(f"--endpoint {url!r}: not a URL ({exc}), {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--endpoint {url!r}: expected an http(s) URL of the service root, {example}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "--endpoint: credentials in the URL are not accepted (they would be printed and "
            "stored with reports); use OS_AUTH_TOKEN, --token-file, or the other variables"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"--endpoint {url!r}: no query or fragment, please (use --query KEY=VALUE)")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"--endpoint {url!r}: bad port") from None
    path = parts.path.rstrip("/")
    if path.endswith(("/v2/images", "/v2")):
        raise ConfigError(
            f"--endpoint {url!r}: give the service root without {path[path.rfind('/v2') :]} "
            f"(imagelint calls URL{LIST_PATH}), {example}"
        )
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def parse_headers(items: Sequence[str]) -> list[tuple[str, str]]:
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


def open_source(
    settings: ApiSettings, *, env: Mapping[str, str] | None = None, stderr: TextIO | None = None
) -> ApiSource:
    """Build the ``ApiSource`` for ``settings``: every setting checked, no image request sent (an
    endpoint from the service catalog costs the token request, see ``sources.locate``).

    Raises ``ConfigError`` (exit 2) for a bad endpoint, query, header, option, cloud or half-set
    credentials; ``SourceError`` (exit 3) when the identity service needed for the catalog fails.
    """
    env = os.environ if env is None else env
    console = Console(stderr, progress=True if settings.progress else None)
    if settings.api not in APIS:
        raise ConfigError(f"--api {settings.api!r}: expected one of {', '.join(APIS)}")
    pairs = parse_query(settings.query, api=settings.api)
    page_size = settings.page_size
    limits = [v for k, v in pairs if k == "limit"]
    if limits:
        if page_size is not None and int(limits[-1]) != page_size:
            raise ConfigError(f"--query limit={limits[-1]} and --page-size {page_size} disagree: give one")
        page_size = int(limits[-1])
        pairs = [(k, v) for k, v in pairs if k != "limit"]
    if page_size is None:
        page_size = DEFAULT_PAGE_SIZE if settings.api == "images" else CLOUDIMAGES_PAGE_SIZE
    if page_size < 1:
        raise ConfigError(f"--page-size {page_size}: expected a positive integer")
    if not 0 < settings.timeout < 1e9:  # also nan and inf, which no timer takes
        raise ConfigError(f"--timeout {settings.timeout:g}: expected a positive number of seconds")
    if not 0 < settings.max_response_mb < 1e9:
        raise ConfigError(f"--max-response-mb {settings.max_response_mb:g}: expected a positive number of MiB")
    if settings.retries < 0:
        raise ConfigError(f"--retries {settings.retries}: expected 0 or more")
    if settings.insecure and settings.ca_bundle:
        raise ConfigError("--insecure and --ca-bundle: give only one")
    verify: bool | str | None = None
    if settings.ca_bundle:
        if not os.path.isfile(settings.ca_bundle):
            raise ConfigError(f"--ca-bundle {settings.ca_bundle}: no such file")
        verify = settings.ca_bundle
    if settings.insecure:
        verify = False
    headers = parse_headers(settings.headers)
    located = locate(
        settings,
        env,
        verify=verify,
        make_transport=lambda tls: Transport(
            TransportOptions(
                timeout=settings.timeout,
                retries=settings.retries,
                verify=tls,
                max_response_bytes=int(settings.max_response_mb * (1 << 20)),
            ),
            on_retry=lambda text: console.warn(text),
        ),
        normalise=normalise_endpoint,
    )
    endpoint, transport, credentials = located.endpoint, located.transport, located.credentials
    for name, value in headers:
        if name.lower() in _CREDENTIAL_HEADERS and credentials.method != "none":
            raise ConfigError(f"--header {name}: conflicts with the {credentials.method} credentials in use")
        if _SECRET_HEADER.search(name):
            transport.secrets.add(value)  # e.g. a gateway key passed as a header: never print it
    # Warnings only after every check passed, so a usage error stays one line.
    if credentials.warning:
        console.warn(credentials.warning)
    if settings.token is not None:
        console.warn(
            "--token puts the token on the command line, where other users (ps) and shell history "
            "can read it; prefer --token-file FILE or OS_AUTH_TOKEN"
        )
    if settings.insecure:
        console.warn(
            "--insecure: TLS certificates are NOT verified; anyone on the network path can read the "
            "credentials and forge the image list this gate judges"
        )
    from imagelint.sources.cloudimages import CloudImagesSource  # noqa: PLC0415 - it subclasses ApiSource

    kind = ApiSource if settings.api == "images" else CloudImagesSource
    return kind(
        ApiOptions(
            endpoint=endpoint,
            query=tuple(pairs),
            page_size=page_size,
            headers=tuple(headers),
            place=tuple(located.place.items()),
        ),
        transport,
        credentials,
        console=console,
    )


__all__ = ["ApiOptions", "ApiSettings", "ApiSource", "normalise_endpoint", "open_source", "parse_headers"]
