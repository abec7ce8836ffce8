"""Credentials for the image API: a token, a password or an application credential (exchanged for a token at
Keystone/IAM by keystoneauth1, see ``keystone.py``), or AK/SK signing.

Which one is used is decided once, before any request, in this order: ``--token-file``/``--token``,
``OS_AUTH_TOKEN``, ``HUAWEICLOUD_SDK_AK``+``HUAWEICLOUD_SDK_SK``, the ``OS_*`` application-credential variables, the
``OS_*`` password variables, Huawei Cloud's credentials file, and else none (a bare Glance behind ``--header``
identity headers). Every credential object is bound to the endpoint's origin and refuses to add credentials to a
request for any other origin, so a bug elsewhere still cannot leak a token; every secret value is registered with
the transport, which scrubs it from every message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from imagelint.sources import keystone
from imagelint.sources.interface import SourceError
from imagelint.sources.keystone import KeystoneAuth
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
    warning: str | None = None
    """Printed once the settings are all checked (e.g. a credentials file others can read)."""

    def __init__(self, endpoint: str | None) -> None:
        self.origin = None if endpoint is None else origin(endpoint)

    def bind(self, endpoint: str) -> None:
        """Bind to the endpoint once it is known (from the service catalog or a region)."""
        self.origin = origin(endpoint)

    def _url(self, url: str, pairs: list[tuple[str, str]]) -> str:
        if self.origin is None or origin(url) != self.origin:
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

    def __init__(self, endpoint: str | None, token: str, transport: Transport) -> None:
        super().__init__(endpoint)
        self.token = token
        transport.secrets.add(token)

    def prepare(
        self, method: str, url: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        return self._url(url, pairs), {**headers, "X-Auth-Token": self.token}


class AkSkAuth(_Bound):
    """Huawei Cloud AK/SK: every request (every retry too, with a new ``X-Sdk-Date``) is signed."""

    method = "aksk"
    unauthorized_hint = "the AK/SK signature was refused (wrong key, or is this machine's clock off?)"

    def __init__(
        self,
        endpoint: str | None,
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


Credentials = NoAuth | TokenAuth | KeystoneAuth | AkSkAuth


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
    endpoint: str | None,
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
    if (found := keystone_from_env(env, transport)) is not None:
        return found
    from imagelint.sources import huawei  # noqa: PLC0415 - only when nothing above gave credentials

    if (file := huawei.credentials_file(env)) is not None:
        aksk = AkSkAuth(
            endpoint,
            file.ak,
            file.sk,
            transport,
            project_id=_env(env, "HUAWEICLOUD_SDK_PROJECT_ID") or file.project_id,
            security_token=file.security_token,
        )
        aksk.warning = file.warning
        return aksk
    return NoAuth(endpoint)


def _auth_url(env: Mapping[str, str]) -> str:
    auth_url = (env.get("OS_AUTH_URL") or "").strip()
    if origin(auth_url)[0] not in ("http", "https"):
        raise ConfigError(
            f"OS_AUTH_URL {auth_url!r}: expected an http(s) URL, e.g. https://iam.ap-southeast-1.myhuaweicloud.com/v3"
        )
    return auth_url


def keystone_from_env(env: Mapping[str, str], transport: Transport) -> KeystoneAuth | None:
    """An application credential or a password from the ``OS_*`` variables, as the OpenStack CLI reads
    them; ``None`` if neither is set, ``ConfigError`` if half of one is."""
    secret = _env(env, "OS_APPLICATION_CREDENTIAL_SECRET")
    cred_id, cred_name = _env(env, "OS_APPLICATION_CREDENTIAL_ID"), _env(env, "OS_APPLICATION_CREDENTIAL_NAME")
    if secret or cred_id or cred_name:
        missing = [] if _env(env, "OS_AUTH_URL") else ["OS_AUTH_URL"]
        if not secret:
            missing.append("OS_APPLICATION_CREDENTIAL_SECRET")
        if not (cred_id or cred_name):
            missing.append("OS_APPLICATION_CREDENTIAL_ID (or _NAME)")
        user_domain = _env(env, "OS_USER_DOMAIN_NAME") or _env(env, "OS_DOMAIN_NAME")
        if cred_name and not cred_id and not (_env(env, "OS_USERNAME") and user_domain):
            missing.append("OS_USERNAME and OS_USER_DOMAIN_NAME (an application credential by name)")
        if missing:
            raise ConfigError(f"application credential authentication: missing {', '.join(missing)}")
        return keystone.application_credential(
            transport,
            auth_url=_auth_url(env),
            secret=secret or "",
            credential_id=cred_id,
            credential_name=cred_name,
            username=_env(env, "OS_USERNAME"),
            user_domain_name=user_domain,
        )
    if not any(_env(env, n) for n in ("OS_USERNAME", "OS_PASSWORD")):
        return None
    names = ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD")
    domain = _env(env, "OS_USER_DOMAIN_NAME") or _env(env, "OS_DOMAIN_NAME")
    project_id, project_name = _env(env, "OS_PROJECT_ID"), _env(env, "OS_PROJECT_NAME")
    missing = [n for n in names if not _env(env, n)]
    if not domain:
        missing.append("OS_USER_DOMAIN_NAME (or OS_DOMAIN_NAME)")
    if not (project_id or project_name):
        missing.append("OS_PROJECT_NAME or OS_PROJECT_ID (IMS needs a project-scoped token)")
    if missing:
        raise ConfigError(f"password authentication: missing {', '.join(missing)}")
    return keystone.password(
        transport,
        auth_url=_auth_url(env),
        username=env["OS_USERNAME"].strip(),
        password=env["OS_PASSWORD"],
        user_domain_name=domain or "",
        project_id=project_id,
        project_name=project_name,
        project_domain_name=_env(env, "OS_PROJECT_DOMAIN_NAME"),
    )


__all__ = [
    "AkSkAuth",
    "Credentials",
    "KeystoneAuth",
    "NoAuth",
    "keystone_from_env",
    "TokenAuth",
    "read_token_file",
    "resolve",
]
