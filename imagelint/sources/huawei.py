"""Huawei Cloud by region, as its official SDK finds it: the IMS and IAM endpoints of a region (the
published ``https://{service}.{region}.myhuaweicloud.com`` pattern, kept as data, overridable by
``HUAWEICLOUD_SDK_REGION_IMS_<REGION>`` and the SDK's ``regions.yaml``; IAM by
``HUAWEICLOUD_SDK_IAM_ENDPOINT``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from imagelint.sources.transport import ConfigError

ENDPOINT_PATTERN = {
    "ims": "https://ims.{region}.myhuaweicloud.com",
    "iam": "https://iam.{region}.myhuaweicloud.com",
}
"""The published endpoint of each service in a region (IMS and IAM API references, "Endpoints")."""
REGIONS_FILE = "~/.huaweicloud/regions.yaml"
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _check_region(region: str) -> str:
    text = region.strip()
    if not _REGION.fullmatch(text):
        raise ConfigError(f"--region {region!r}: expected a region id such as cn-north-4 or ap-southeast-1")
    return text


def _regions_file(env: Mapping[str, str]) -> Path:
    given = (env.get("HUAWEICLOUD_SDK_REGIONS_FILE") or "").strip()
    return Path(os.path.expanduser(given or REGIONS_FILE))


def _from_regions_file(service: str, region: str, env: Mapping[str, str]) -> str | None:
    path = _regions_file(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {exc.problem}") from None
    if doc is None:
        return None
    entries = doc.get(service.upper()) if isinstance(doc, dict) else None
    if entries is None:
        return None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: {service.upper()}: expected a list of {{id, endpoint}} entries")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == region:
            endpoint = entry.get("endpoint") or (entry.get("endpoints") or [None])[0]
            if not isinstance(endpoint, str) or not endpoint.strip():
                raise ConfigError(f"{path}: {service.upper()} region {region}: no endpoint")
            return endpoint.strip()
    return None


def endpoint(service: str, region: str, env: Mapping[str, str]) -> str:
    """The endpoint of ``service`` in ``region``: the SDK's environment override, then its regions file,
    then the published pattern."""
    region = _check_region(region)
    variable = f"HUAWEICLOUD_SDK_REGION_{service.upper()}_{region.upper().replace('-', '_')}"
    if value := (env.get(variable) or "").strip():
        return value.split(",")[0].strip()
    return _from_regions_file(service, region, env) or ENDPOINT_PATTERN[service].format(region=region)


def ims_endpoint(region: str, env: Mapping[str, str]) -> str:
    return endpoint("ims", region, env).rstrip("/")


def iam_endpoint(region: str, env: Mapping[str, str]) -> str:
    if value := (env.get("HUAWEICLOUD_SDK_IAM_ENDPOINT") or "").strip():
        return value.rstrip("/")
    return endpoint("iam", region, env).rstrip("/")


__all__ = ["ENDPOINT_PATTERN", "endpoint", "iam_endpoint", "ims_endpoint"]
