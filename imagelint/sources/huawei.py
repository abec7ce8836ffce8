"""Huawei Cloud by region, as its official SDK finds it: the IMS and IAM endpoints of a region (the
published ``https://{service}.{region}.myhuaweicloud.com`` pattern, kept as data, overridable by
``HUAWEICLOUD_SDK_REGION_IMS_<REGION>`` and the SDK's ``regions.yaml``; IAM by
``HUAWEICLOUD_SDK_IAM_ENDPOINT``), the SDK's credentials file (``~/.huaweicloud/credentials`` or
``HUAWEICLOUD_SDK_CREDENTIALS_FILE``, section ``[basic]``), and the project of a region, looked up as the
SDK does with a signed ``GET {iam}/v3/projects?name={region}``.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imagelint.sources.interface import SourceError
from imagelint.sources.transport import ConfigError, Transport

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


CREDENTIALS_FILE = "~/.huaweicloud/credentials"


@dataclass(frozen=True)
class FileCredentials:
    ak: str
    sk: str
    project_id: str | None
    security_token: str | None
    path: str
    warning: str | None
    """Set when the file is readable by group or others (the SDK does not say; a secret file should)."""


def credentials_file(env: Mapping[str, str]) -> FileCredentials | None:
    """AK/SK from the SDK's credentials file, or ``None`` when there is no such file; ``ConfigError`` (exit 2,
    ``FILE: what``) for a file that is there but unusable."""
    given = (env.get("HUAWEICLOUD_SDK_CREDENTIALS_FILE") or "").strip()
    path = os.path.expanduser(given or CREDENTIALS_FILE)
    if not given and not os.path.exists(path):
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError(f"HUAWEICLOUD_SDK_CREDENTIALS_FILE {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else path
        raise ConfigError(f"{where}: not an INI file with a [basic] section ({type(exc).__name__})") from None
    if not parser.has_section("basic"):
        raise ConfigError(f"{path}: no [basic] section (expected ak, sk and optionally project_id, security_token)")
    basic = parser["basic"]
    ak, sk = (basic.get("ak") or "").strip(), (basic.get("sk") or "").strip()
    missing = [k for k, v in (("ak", ak), ("sk", sk)) if not v]
    if missing:
        raise ConfigError(f"{path}: [basic] has no {' or '.join(missing)}")
    warning = None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warning = (
            f"{path} holds a secret key but is readable by {'others' if mode & stat.S_IROTH else 'its group'} "
            f"(mode {stat.S_IMODE(mode):o}); chmod 600 {path}"
        )
    return FileCredentials(
        ak=ak,
        sk=sk,
        project_id=(basic.get("project_id") or "").strip() or None,
        security_token=(basic.get("security_token") or "").strip() or None,
        path=path,
        warning=warning,
    )


def project_id_of(region: str, transport: Transport, env: Mapping[str, str], *, signer: Any) -> str:
    """The id of the project named after ``region`` (Huawei Cloud's default project of a region), from a
    ``GET {iam}/v3/projects?name={region}`` signed by ``signer`` (an ``auth.AkSkAuth``), as the SDK looks
    it up. One project or ``ConfigError``."""
    url = iam_endpoint(region, env) + "/v3/projects"
    signer.bind(url)  # an AK/SK credential of its own, fenced to IAM's origin
    shown = f"GET {url}?name={region}"
    try:
        response = transport.send("GET", url, [("name", region)], auth=signer)
    except SourceError as exc:
        raise SourceError(f"cannot look up the project of region {region} at IAM: {exc}") from None
    try:
        doc = json.loads(response.content)
        projects = [p for p in doc["projects"] if isinstance(p, dict) and p.get("name") == region]
    except (ValueError, KeyError, TypeError):
        raise SourceError(f'{shown}: HTTP {response.status_code} body has no "projects" array') from None
    ids = [str(p["id"]) for p in projects if p.get("id")]
    if len(ids) != 1:
        raise ConfigError(
            f"--region {region}: IAM lists {len(ids)} projects named {region} for this AK/SK "
            "(give --project-id or HUAWEICLOUD_SDK_PROJECT_ID)"
        )
    return ids[0]


__all__ = [
    "CREDENTIALS_FILE",
    "ENDPOINT_PATTERN",
    "FileCredentials",
    "credentials_file",
    "endpoint",
    "iam_endpoint",
    "ims_endpoint",
    "project_id_of",
]
