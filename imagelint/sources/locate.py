"""Where the images are and who asks: the endpoint, the credentials and the TLS setting of one live run,
from ``--endpoint``, ``--cloud``/``OS_CLOUD``, the ``OS_*``/``HUAWEICLOUD_SDK_*`` variables and ``--region``.

The endpoint is, first match wins: ``--endpoint``; the cloud's ``image_endpoint_override``; the token's
service catalog (type ``image``, the cloud's interface, the region) for any Keystone-based credential;
Huawei Cloud's published pattern for ``--region`` (``huawei.py``). Catalog problems are found here, before
the first image request, and are usage errors (exit 2); a Keystone that cannot be reached or refuses the
credentials is a ``SourceError`` (exit 3), as it would be on the first page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imagelint.sources import auth as _auth
from imagelint.sources import huawei, keystone
from imagelint.sources.transport import ConfigError, Transport

NO_ENDPOINT = (
    "no image endpoint: give --endpoint URL, --cloud NAME (clouds.yaml, or OS_CLOUD), "
    "Keystone credentials (OS_AUTH_URL and the password or application-credential variables) "
    "for the service catalog, or --region REGION for Huawei Cloud"
)


@dataclass
class Located:
    endpoint: str
    transport: Transport
    credentials: _auth.Credentials
    place: dict[str, str] = field(default_factory=dict)
    """What the report's source says about where it read: cloud, region, project id and name."""


def locate(
    settings: Any,
    env: Mapping[str, str],
    *,
    verify: bool | str | None,
    make_transport: Callable[[bool | str], Transport],
    normalise: Callable[[str], str],
) -> Located:
    """``verify`` is the TLS setting of the flags (``None``: not given, the cloud's or the default applies)."""
    cloud_name = settings.cloud or (env.get("OS_CLOUD") or "").strip() or None
    if settings.project_id and settings.project_name:
        raise ConfigError("--project-id and --project-name: give only one")
    if cloud_name is not None:
        return _from_cloud(settings, cloud_name, verify=verify, make_transport=make_transport, normalise=normalise)
    transport = make_transport(True if verify is None else verify)
    scoped = dict(env)
    if settings.project_id:
        scoped.update(
            OS_PROJECT_ID=settings.project_id, OS_PROJECT_NAME="", HUAWEICLOUD_SDK_PROJECT_ID=settings.project_id
        )
    elif settings.project_name:
        scoped.update(OS_PROJECT_NAME=settings.project_name, OS_PROJECT_ID="")
    endpoint = normalise(settings.endpoint) if settings.endpoint else None
    credentials = _auth.resolve(endpoint, transport, scoped, token=settings.token, token_file=settings.token_file)
    place: dict[str, str] = {}
    if endpoint is None and isinstance(credentials, keystone.KeystoneAuth):
        region = settings.region or (env.get("OS_REGION_NAME") or "").strip() or None
        interface = (env.get("OS_INTERFACE") or "").strip() or "public"
        endpoint = keystone.catalog_endpoint(credentials, interface=interface, region=region)
        place.update(_project(credentials))
        if region:
            place["region"] = region
    if endpoint is None and settings.region:
        endpoint = normalise(huawei.ims_endpoint(settings.region, env))
        place["region"] = settings.region
    if isinstance(credentials, _auth.AkSkAuth) and settings.region:
        if credentials.project_id is None:
            signer = _auth.AkSkAuth(
                None, credentials.ak, credentials.sk, transport, security_token=credentials.security_token
            )
            credentials.project_id = huawei.project_id_of(settings.region, transport, env, signer=signer)
        place["project_id"] = credentials.project_id
    if endpoint is None:
        raise ConfigError(NO_ENDPOINT)
    credentials.bind(endpoint)
    return Located(endpoint, transport, credentials, place)


def _from_cloud(
    settings: Any,
    name: str,
    *,
    verify: bool | str | None,
    make_transport: Callable[[bool | str], Transport],
    normalise: Callable[[str], str],
) -> Located:
    from imagelint.sources import clouds  # noqa: PLC0415 - openstacksdk is an extra; imported only for a cloud

    if settings.token is not None or settings.token_file is not None:
        raise ConfigError(f"--cloud {name} and --token/--token-file: the cloud's auth section gives the credentials")
    overrides = {}
    if settings.project_id:
        overrides["project_id"] = settings.project_id
    if settings.project_name:
        overrides["project_name"] = settings.project_name
    cloud = clouds.load(name, region=settings.region, overrides=overrides)
    transport = make_transport(cloud.verify if verify is None else verify)
    transport.secrets.update(cloud.secrets)
    credentials = keystone.KeystoneAuth(
        cloud.plugin, keystone.session_for(transport, cert=cloud.cert), transport, cloud.auth_type
    )
    place = {"cloud": cloud.name}
    if settings.endpoint:
        endpoint = normalise(settings.endpoint)
    elif cloud.endpoint_override:
        endpoint = keystone.strip_version(cloud.endpoint_override)
    else:
        endpoint = keystone.catalog_endpoint(credentials, interface=cloud.interface, region=cloud.region)
        place.update(_project(credentials))
    if cloud.region:
        place["region"] = cloud.region
    for key, value in (("project_id", cloud.project_id), ("project_name", cloud.project_name)):
        if value and key not in place:
            place[key] = value
    credentials.bind(endpoint)
    return Located(endpoint, transport, credentials, place)


def _project(credentials: keystone.KeystoneAuth) -> dict[str, str]:
    project_id, project_name = keystone.project_of(credentials)
    return {k: v for k, v in (("project_id", project_id), ("project_name", project_name)) if v}


__all__ = ["NO_ENDPOINT", "Located", "locate"]
