"""Clouds as OpenStack users configure them: ``clouds.yaml``/``secure.yaml`` read by openstacksdk's
``openstack.config``, exactly as the OpenStack CLI reads them (its search path, ``OS_CLIENT_CONFIG_FILE``,
``OS_CLOUD``, the one-cloud default, a cloud made of ``OS_*`` variables alone).

openstacksdk is the ``openstack`` extra (about 58 MB over 24 wheels, and ~0.6 s to import, against
keystoneauth1's 10 MB and 0.3 s, measured on this machine): a user of ``--endpoint`` alone does not pay
for it, and one who names a cloud without it gets one line with the install command. What is read here is
turned into plain values (a keystoneauth1 plugin, TLS settings, interface, region, an endpoint override);
the tokens themselves are ``keystone.py``'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from imagelint.sources.transport import ConfigError

INSTALL_HINT = "pip install 'imagelint[openstack]'"
_SECRET_KEYS = ("password", "token", "application_credential_secret", "secret")


@dataclass(frozen=True)
class Cloud:
    """One cloud and region of ``clouds.yaml``, reduced to what imagelint uses."""

    name: str
    region: str | None
    interface: str
    auth_type: str
    plugin: Any
    """A keystoneauth1 auth plugin, built by openstacksdk from the cloud's ``auth`` section."""
    verify: bool | str
    cert: Any
    endpoint_override: str | None
    project_id: str | None
    project_name: str | None
    secrets: tuple[str, ...]


def _openstack_config() -> Any:
    try:
        from openstack import config as os_config  # noqa: PLC0415 - the optional extra, imported when asked
        from openstack import exceptions as os_exc  # noqa: PLC0415
    except ImportError:
        raise ConfigError(f"--cloud needs openstacksdk, which is not installed: {INSTALL_HINT}") from None
    return os_config, os_exc


def load(name: str | None, *, region: str | None, overrides: dict[str, str] | None = None) -> Cloud:
    """The cloud ``name`` (``None``: ``OS_CLOUD``, or the only cloud, or the ``OS_*`` variables) in
    ``region`` (``None``: the cloud's own); ``ConfigError`` (exit 2) for anything wrong with it."""
    os_config, os_exc = _openstack_config()
    from openstack.config import loader  # noqa: PLC0415

    # openstack.config skips a file it cannot parse with a logged warning and reads the next one: a typo
    # would silently select another cloud. The files it would read first are parsed here, to stop there.
    for variable, files in (
        ("OS_CLIENT_CONFIG_FILE", loader.CONFIG_FILES),
        ("OS_CLIENT_SECURE_FILE", loader.SECURE_FILES),
    ):
        _check_yaml([p for p in (os.environ.get(variable, ""), *files) if p])
    try:
        config = os_config.OpenStackConfig(app_name="imagelint")
    except os_exc.ConfigException as exc:
        raise ConfigError(f"clouds.yaml: {' '.join(str(exc).split())}") from None
    known = sorted(config.get_cloud_names())
    if name is not None and name not in known:
        listed = ", ".join(n for n in known if n != "envvars") or "none"
        read = f"read {config.config_filename}" if config.config_filename else "no clouds.yaml found"
        raise ConfigError(f"--cloud {name}: no such cloud (known clouds: {listed}; {read})")
    try:
        region_config = config.get_one(cloud=name, region_name=region, **(overrides or {}))
        plugin = region_config.get_auth()
    except os_exc.ConfigException as exc:
        raise ConfigError(f"--cloud {name or region_config_name(config)}: {' '.join(str(exc).split())}") from None
    except Exception as exc:  # noqa: BLE001 - keystoneauth1's loader raises several kinds for a bad auth section
        raise ConfigError(
            f"--cloud {name or 'default'}: cannot use its auth section: {type(exc).__name__}: {exc}"
        ) from None
    values = region_config.config
    auth = values.get("auth") or {}
    verify, cert = region_config.get_requests_verify_args()
    return Cloud(
        name=region_config.name or name or "default",
        region=region_config.get_region_name("image") or None,
        interface=region_config.get_interface("image") or "public",
        auth_type=str(values.get("auth_type") or "password"),
        plugin=plugin,
        verify=verify,
        cert=cert,
        endpoint_override=region_config.get_endpoint("image") or None,
        project_id=auth.get("project_id") or None,
        project_name=auth.get("project_name") or None,
        secrets=tuple(str(auth[k]) for k in _SECRET_KEYS if auth.get(k)),
    )


def _check_yaml(candidates: list[str]) -> None:
    for path in candidates:
        if not os.path.exists(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                yaml.safe_load(handle) if not path.endswith("json") else None
        except OSError:
            continue  # as openstack.config does: an unreadable file is passed over
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
            raise ConfigError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
        return  # the first file found is the one read


def region_config_name(config: Any) -> str:
    names = [n for n in config.get_cloud_names() if n != "envvars"]
    return names[0] if len(names) == 1 else "default"


__all__ = ["INSTALL_HINT", "Cloud", "load"]
