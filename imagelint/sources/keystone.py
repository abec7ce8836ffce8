"""Keystone-based credentials (OpenStack Keystone, and Huawei IAM, which speaks Keystone v3) through
keystoneauth1: its auth plugins get and cache the token, its service catalog names the image endpoint,
and ``invalidate()`` gives the one fresh token after a 401.

Image requests still go through our ``Transport`` (retries, no redirects, scrubbed messages); only the
identity requests are keystoneauth1's. Its ``Session`` passes its own ``verify`` on every request, which
overrides the one on the ``requests.Session`` it wraps, so the TLS settings are given to it explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from imagelint import __version__
from imagelint.sources.interface import SourceError
from imagelint.sources.signer import canonical_query
from imagelint.sources.transport import RETRY_STATUS, ConfigError, NotInCatalog, Transport, describe_response, origin

_VERSION = re.compile(r"/v2(\.[0-9]+)?$")
IMAGE_SERVICE_TYPE = "image"
"""Matched by type, never by name: Glance and Huawei Cloud name the service differently."""


def v3_url(auth_url: str) -> str:
    """``OS_AUTH_URL`` conventionally ends in /v3 (Keystone and Huawei IAM); accept it without too."""
    base = auth_url.rstrip("/")
    return base if base.endswith("/v3") else base + "/v3"


class _Session(ks_session.Session):
    """keystoneauth1's session, retrying identity requests on 429 and 5xx as image requests are retried:
    its own default retries none of them, so one busy moment of Keystone (e.g. a "database is locked"
    500 when an audit asks for many tokens at once) would fail a target for good. A wrong password is a
    401, never retried: it would count again towards a lockout."""

    status_retries = 0

    def request(self, url: str, method: str, **kwargs: Any) -> Any:  # type: ignore[override] # passes all on
        kwargs.setdefault("status_code_retries", self.status_retries)
        kwargs.setdefault("retriable_status_codes", sorted(RETRY_STATUS))
        return super().request(url, method, **kwargs)


def session_for(transport: Transport, *, cert: Any = None) -> ks_session.Session:
    """A keystoneauth1 session on the transport's ``requests.Session``, with the transport's TLS setting."""
    options = transport.options
    session = _Session(
        session=transport.session,
        verify=options.verify,
        cert=cert,
        timeout=options.timeout,
        connect_retries=options.retries,
        # A redirect could carry the password or token to another host: refused, as for image requests.
        redirect=False,
        app_name="imagelint",
        app_version=__version__,
    )
    session.status_retries = options.retries
    return session


def identity_error(exc: Exception, transport: Transport) -> SourceError:
    """One line for a failed identity request, in the words the image requests use."""
    if isinstance(exc, ks_exc.HttpError) and exc.response is not None:
        what = f"{exc.method or 'POST'} {exc.url}: {describe_response(exc.response)}"
    elif isinstance(exc, ks_exc.ClientException):
        what = " ".join(str(exc).split()) or type(exc).__name__
    else:
        what = f"{type(exc).__name__}: {exc}"
    return SourceError(transport.clean(f"cannot get a token from the identity service: {what}"))


class KeystoneAuth:
    """A token from a keystoneauth1 plugin (password, token, application credential), fetched on first use,
    reused for the run, and fetched again once after a 401 (tokens expire; a revoked token needs one fresh
    one, a second 401 is a real refusal). Bound to the image endpoint's origin like every credential."""

    unauthorized_hint = "the token from the identity service was refused even after getting a fresh one"
    warning: str | None = None

    def __init__(self, plugin: Any, session: ks_session.Session, transport: Transport, method: str) -> None:
        self.plugin = plugin
        self.session = session
        self.transport = transport
        self.method = method
        self.origin: tuple[str, str, int] | None = None
        self.refreshes = 0

    def bind(self, endpoint: str) -> None:
        self.origin = origin(endpoint)

    def access(self) -> Any:
        """The token's ``AccessInfo`` (catalog, project); authenticates if there is no valid token."""
        try:
            info = self.plugin.get_access(self.session)
        except ks_exc.ClientException as exc:
            raise identity_error(exc, self.transport) from None
        self.transport.secrets.add(info.auth_token)
        return info

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        if self.origin is None or origin(url) != self.origin:
            raise SourceError(f"refusing to send credentials to {url}: not the endpoint's origin")
        query = canonical_query(pairs)
        token = self.access().auth_token
        return (f"{url}?{query}" if query else url), {**headers, "X-Auth-Token": token}

    def refresh(self) -> bool:
        if self.refreshes >= 1:
            return False
        self.refreshes += 1
        self.plugin.invalidate()  # the next prepare() authenticates again
        return True


def password(
    transport: Transport,
    *,
    auth_url: str,
    username: str,
    password: str,
    user_domain_name: str,
    project_id: str | None,
    project_name: str | None,
    project_domain_name: str | None,
) -> KeystoneAuth:
    transport.secrets.add(password)
    plugin = v3.Password(
        auth_url=v3_url(auth_url),
        username=username,
        password=password,
        user_domain_name=user_domain_name,
        project_id=project_id,
        project_name=None if project_id else project_name,
        # A project named without its domain is looked up in the user's (Huawei: the account's).
        project_domain_name=None if project_id else (project_domain_name or user_domain_name),
    )
    return KeystoneAuth(plugin, session_for(transport), transport, "password")


def application_credential(
    transport: Transport,
    *,
    auth_url: str,
    secret: str,
    credential_id: str | None,
    credential_name: str | None,
    username: str | None,
    user_domain_name: str | None,
) -> KeystoneAuth:
    transport.secrets.add(secret)
    plugin = v3.ApplicationCredential(
        auth_url=v3_url(auth_url),
        application_credential_secret=secret,
        application_credential_id=credential_id,
        application_credential_name=credential_name,
        username=username,
        user_domain_name=user_domain_name,
    )
    return KeystoneAuth(plugin, session_for(transport), transport, "application_credential")


def catalog_endpoint(auth: KeystoneAuth, *, interface: str, region: str | None) -> str:
    """The image endpoint in the token's catalog for ``interface`` and ``region``; ``ConfigError`` naming
    the regions that have one when there is none (or, without a region, when several do)."""
    catalog = auth.access().service_catalog
    listed: Sequence[dict[str, Any]] = catalog.get_endpoints(service_type=IMAGE_SERVICE_TYPE, interface=interface).get(
        IMAGE_SERVICE_TYPE, []
    )
    regions = sorted({str(e.get("region_id") or e.get("region") or "") for e in listed} - {""})
    chosen = [e for e in listed if region is None or region in (e.get("region_id"), e.get("region"))]
    urls = sorted({str(e["url"]) for e in chosen if e.get("url")})
    if not listed:
        raise NotInCatalog(
            f"the service catalog has no {interface} endpoint of type {IMAGE_SERVICE_TYPE!r}: "
            "give --endpoint URL (or image_endpoint_override in clouds.yaml)"
        )
    if not urls:
        raise NotInCatalog(
            f"--region {region}: the service catalog has no {interface} image endpoint there; "
            f"regions with one: {', '.join(regions) or '(none named)'}"
        )
    if len(urls) > 1:
        raise ConfigError(
            f"the service catalog has {len(urls)} {interface} image endpoints"
            f"{'' if region is None else ' in ' + region}; choose one with --region ({', '.join(regions)})"
        )
    return strip_version(urls[0])


def strip_version(url: str) -> str:
    """Catalogs register the image service with or without its version (``.../v2``); we want the root."""
    parts = urlsplit(url)
    path = _VERSION.sub("", parts.path.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def project_of(auth: KeystoneAuth) -> tuple[str | None, str | None]:
    """The token's project ``(id, name)``, for the report's source."""
    info = auth.access()
    return info.project_id, info.project_name


__all__ = [
    "IMAGE_SERVICE_TYPE",
    "KeystoneAuth",
    "application_credential",
    "catalog_endpoint",
    "password",
    "project_of",
    "session_for",
    "strip_version",
    "v3_url",
]
