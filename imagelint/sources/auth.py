"""Credentials for the image API: a token, a password (exchanged for a token at IAM), or AK/SK signing.

Which one is used is decided once, before any request, in this order: ``--token-file``/``--token``,
``OS_AUTH_TOKEN``, ``HUAWEICLOUD_SDK_AK``+``HUAWEICLOUD_SDK_SK``, the ``OS_*`` password variables, and
else none (a bare Glance behind ``--header`` identity headers). Every credential object is bound to the
endpoint's origin and refuses to add credentials to a request for any other origin, so a bug elsewhere
still cannot leak a token; every secret value is registered with the transport, which scrubs it from
every message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imagelint.sources.interface import SourceError
from imagelint.sources.signer import canonical_query, sign
from imagelint.sources.transport import ConfigError, Transport, origin

NO_CREDENTIALS_HINT = (
    "no credentials were given: set OS_AUTH_TOKEN (or --token-file), the OS_* password "
    "variables, or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"
)


class _Bound:
    """Common part: the origin credentials may go to, and the plain (unsigned) URL builder."""

    method = "none"
    unauthorized_hint = ""

    def __init__(self, endpoint: str) -> None:
        self.origin = origin(endpoint)

    def _url(self, url: str, pairs: list[tuple[str, str]]) -> str:
        if origin(url) != self.origin:
            # Never reached through ApiSource (it refuses foreign links first); kept as the last fence.
            raise SourceError(f"refusing to send credentials to {url}: not the endpoint's origin")
        query = canonical_query(pairs)
        return f"{url}?{query}" if query else url

    def refresh(self) -> bool:
        return False


class NoAuth(_Bound):
    """No credentials (a Glance with noauth, or identity headers given with ``--header``)."""

    unauthorized_hint = NO_CREDENTIALS_HINT

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        return self._url(url, pairs), headers


class TokenAuth(_Bound):
    """A ready token, sent as ``X-Auth-Token``."""

    method = "token"
    unauthorized_hint = "the token was refused (expired? wrong project?)"

    def __init__(self, endpoint: str, token: str, transport: Transport) -> None:
        super().__init__(endpoint)
        self.token = token
        transport.secrets.add(token)

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        return self._url(url, pairs), {**headers, "X-Auth-Token": self.token}


@dataclass(frozen=True)
class PasswordCredentials:
    auth_url: str
    username: str
    password: str
    domain: str
    project_name: str | None
    project_id: str | None
    project_domain: str | None = None


class PasswordAuth(_Bound):
    """A project-scoped token from IAM/Keystone (``POST {OS_AUTH_URL}/auth/tokens``), fetched on first
    use, reused for the run, and fetched again once after a 401 (tokens live 24 h; a long run or a
    revoked token needs one fresh token, a second 401 is a real refusal)."""

    method = "password"
    unauthorized_hint = "the token from IAM was refused even after getting a fresh one"

    def __init__(self, endpoint: str, creds: PasswordCredentials, transport: Transport) -> None:
        super().__init__(endpoint)
        self.creds = creds
        self.transport = transport
        self.token: str | None = None
        self.refreshes = 0
        transport.secrets.add(creds.password)

    def tokens_url(self) -> str:
        base = self.creds.auth_url.rstrip("/")
        # OS_AUTH_URL conventionally ends in /v3 (Keystone and Huawei IAM); accept it without too.
        if not base.endswith("/v3"):
            base += "/v3"
        return base + "/auth/tokens"

    def _fetch(self) -> str:
        c = self.creds
        project: dict[str, object] = {"id": c.project_id} if c.project_id else {"name": c.project_name}
        if c.project_domain and not c.project_id:
            project["domain"] = {"name": c.project_domain}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": c.username, "password": c.password, "domain": {"name": c.domain}}},
                },
                "scope": {"project": project},
            }
        }
        try:
            response = self.transport.send(
                "POST", self.tokens_url(), headers={"Content-Type": "application/json"}, body=json.dumps(body).encode()
            )
        except SourceError as exc:
            raise SourceError(f"cannot get a token from IAM: {exc}") from None
        token = response.headers.get("X-Subject-Token")
        if not token:
            raise SourceError(
                f"cannot get a token from IAM: POST {self.tokens_url()}: HTTP {response.status_code} "
                "without an X-Subject-Token header"
            )
        self.transport.secrets.add(token)
        return token

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        wire = self._url(url, pairs)
        if self.token is None:
            self.token = self._fetch()
        return wire, {**headers, "X-Auth-Token": self.token}

    def refresh(self) -> bool:
        if self.refreshes >= 1:
            return False
        self.refreshes += 1
        self.token = None  # the next prepare() fetches a new one
        return True


class AkSkAuth(_Bound):
    """Huawei Cloud AK/SK: every request (every retry too, with a new ``X-Sdk-Date``) is signed."""

    method = "aksk"
    unauthorized_hint = "the AK/SK signature was refused (wrong key, or is this machine's clock off?)"

    def __init__(
        self,
        endpoint: str,
        ak: str,
        sk: str,
        transport: Transport,
        *,
        project_id: str | None = None,
        security_token: str | None = None,
    ) -> None:
        super().__init__(endpoint)
        self.ak, self.sk = ak, sk
        self.project_id, self.security_token = project_id, security_token
        transport.secrets.update(s for s in (sk, security_token) if s)

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        self._url(url, pairs)  # the origin fence
        extra = dict(headers)
        if self.project_id:
            extra["X-Project-Id"] = self.project_id
        if self.security_token:
            extra["X-Security-Token"] = self.security_token
        signed = sign(method, url, pairs, extra, ak=self.ak, sk=self.sk, body=body)
        return signed.url, signed.headers


Credentials = NoAuth | TokenAuth | PasswordAuth | AkSkAuth


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--token-file {path}: not a text file") from None
    if not token or "\n" in token:
        raise ConfigError(f"--token-file {path}: expected one token on one line")
    return token


def resolve(
    endpoint: str,
    transport: Transport,
    env: Mapping[str, str],
    *,
    token: str | None = None,
    token_file: str | None = None,
) -> Credentials:
    """Pick the credentials (see the module docstring for the order); ``ConfigError`` if half-configured."""
    if token is not None and token_file is not None:
        raise ConfigError("--token and --token-file: give only one")
    if token_file is not None:
        return TokenAuth(endpoint, read_token_file(token_file), transport)
    if token is not None:
        if not token.strip():
            raise ConfigError("--token: empty token")
        return TokenAuth(endpoint, token.strip(), transport)
    if (value := _env(env, "OS_AUTH_TOKEN")) is not None:
        return TokenAuth(endpoint, value, transport)
    ak, sk = _env(env, "HUAWEICLOUD_SDK_AK"), _env(env, "HUAWEICLOUD_SDK_SK")
    if ak or sk:
        if not (ak and sk):
            absent = "HUAWEICLOUD_SDK_SK" if ak else "HUAWEICLOUD_SDK_AK"
            raise ConfigError(
                f"AK/SK authentication: {absent} is not set (both HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are needed)"
            )
        return AkSkAuth(
            endpoint,
            ak,
            sk,
            transport,
            project_id=_env(env, "HUAWEICLOUD_SDK_PROJECT_ID"),
            security_token=_env(env, "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
        )
    names = ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD")
    if any(_env(env, n) for n in ("OS_USERNAME", "OS_PASSWORD")):
        domain = _env(env, "OS_USER_DOMAIN_NAME") or _env(env, "OS_DOMAIN_NAME")
        project_id, project_name = _env(env, "OS_PROJECT_ID"), _env(env, "OS_PROJECT_NAME")
        missing = [n for n in names if not _env(env, n)]
        if not domain:
            missing.append("OS_USER_DOMAIN_NAME (or OS_DOMAIN_NAME)")
        if not (project_id or project_name):
            missing.append("OS_PROJECT_NAME or OS_PROJECT_ID (IMS needs a project-scoped token)")
        if missing:
            raise ConfigError(f"password authentication: missing {', '.join(missing)}")
        auth_url = env["OS_AUTH_URL"].strip()
        if origin(auth_url)[0] not in ("http", "https"):
            raise ConfigError(
                f"OS_AUTH_URL {auth_url!r}: expected an http(s) URL, e.g. "
                "https://iam.ap-southeast-1.myhuaweicloud.com/v3"
            )
        creds = PasswordCredentials(
            auth_url=auth_url,
            username=env["OS_USERNAME"].strip(),
            password=env["OS_PASSWORD"],
            domain=domain or "",
            project_name=project_name,
            project_id=project_id,
            project_domain=_env(env, "OS_PROJECT_DOMAIN_NAME"),
        )
        return PasswordAuth(endpoint, creds, transport)
    return NoAuth(endpoint)


__all__ = [
    "AkSkAuth",
    "Credentials",
    "NoAuth",
    "PasswordAuth",
    "PasswordCredentials",
    "TokenAuth",
    "read_token_file",
    "resolve",
]
