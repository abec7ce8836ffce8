"""Local validation of ``--query KEY=VALUE`` against the query table of ``GET /v2/images``.

A gate's scope is its query: a misspelt key that the server ignored (or a value it read differently)
would silently widen or narrow what the gate judges. So every parameter is checked here, before any
request, against the API page (``ims-list-images-api.txt``) and the enumerations and time formats of
``ims-api-facts.md``; a bad one is a ``QueryError`` (exit 2) that says what is allowed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence

from imagelint.sources.transport import ConfigError


class QueryError(ConfigError):
    """A ``--query`` item that the API would reject or misread (exit 2)."""


TRUE_ONLY = (
    "__isregistered",
    "__support_kvm",
    "__support_xen",
    "__support_largememory",
    "__support_diskintensive",
    "__support_highperformance",
    "__support_xen_hana",
    "__support_kvm_infiniband",
)
ENUMS: dict[str, tuple[str, ...]] = {
    "__imagetype": ("gold", "private", "shared", "market"),
    "visibility": ("public", "private", "shared"),
    "status": ("queued", "saving", "deleted", "killed", "active"),
    "disk_format": ("zvhd2", "vhd", "zvhd", "raw", "qcow2"),
    "member_status": ("accepted", "rejected", "pending"),
    "__os_type": ("Linux", "Windows", "Other"),
    "__os_bit": ("32", "64"),
    "__platform": (
        "Windows",
        "Ubuntu",
        "RedHat",
        "SUSE",
        "CentOS",
        "Debian",
        "OpenSUSE",
        "Oracle Linux",
        "Fedora",
        "Other",
        "CoreOS",
        "EulerOS",
    ),
    "sort_dir": ("asc", "desc"),
    # created_at is Glance's spelling; create_at is the IMS page's (a typo the service accepts).
    "sort_key": (
        "name",
        "container_format",
        "disk_format",
        "status",
        "id",
        "size",
        "created_at",
        "create_at",
        "updated_at",
    ),
    "protected": ("true", "false"),
}
INTEGERS = ("min_ram", "min_disk", "limit")
TIMES = ("created_at", "updated_at")
# Free text. The GPU-type flags are listed here and not with the true-only flags because their values
# are GPU model names (e.g. V100_vGPU), per the facts page's table of enumerations.
STRINGS = (
    "owner",
    "id",
    "name",
    "container_format",
    "marker",
    "tag",
    "__support_xen_gpu_type",
    "__support_kvm_gpu_type",
)
# Glance's "in:a,b" list operator is accepted for these.
IN_LISTS = ("name", "id", "status", "container_format", "disk_format")
# Parameters that may be given more than once (Glance ANDs tags, and takes one sort_dir per sort_key).
REPEATABLE = ("tag", "sort_key", "sort_dir", "created_at", "updated_at")
TIME_OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")
TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S")

KNOWN = tuple(sorted({*TRUE_ONLY, *ENUMS, *INTEGERS, *TIMES, *STRINGS}))

# GET /v2/cloudimages (IMS's native list) takes every parameter above and these (the official SDK's
# ListImagesRequest; the enumerations are the IMS API page's).
CLOUDIMAGES_ENUMS: dict[str, tuple[str, ...]] = {
    "architecture": ("x86", "arm"),
    "virtual_env_type": ("FusionCompute", "Ironic", "DataImage", "IsoImage"),
}
CLOUDIMAGES_STRINGS = ("enterprise_project_id", "flavor_id")
KNOWN_BY_API: dict[str, tuple[str, ...]] = {
    "images": KNOWN,
    "cloudimages": tuple(sorted({*KNOWN, *CLOUDIMAGES_ENUMS, *CLOUDIMAGES_STRINGS})),
}

_INTEGER = re.compile(r"[0-9]+")


def parse_query(items: Sequence[str], option: str = "--query", *, api: str = "images") -> list[tuple[str, str]]:
    """``["visibility=public", ...]`` -> validated ``[("visibility", "public"), ...]`` in the given order."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise QueryError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} visibility=private")
        check_pair(key, value, option, api=api)
        if key not in REPEATABLE and any(k == key for k, _ in pairs):
            raise QueryError(f"{option} {item!r}: {key} is given twice (only {', '.join(REPEATABLE)} may repeat)")
        pairs.append((key, value))
    keys = {k for k, _ in pairs}
    if "member_status" in keys and ("visibility", "shared") not in pairs:
        raise QueryError(
            f"{option} member_status=...: only allowed together with {option} visibility=shared "
            "(the API rejects it otherwise)"
        )
    return pairs


def check_pair(key: str, value: str, option: str = "--query", *, api: str = "images") -> None:
    """Raise ``QueryError`` unless ``key=value`` is a valid query parameter of ``GET /v2/{api}``."""
    pair = f"{key}={value}"
    where = f"{option} {pair if pair.isprintable() else repr(pair)}"  # a newline or control must not split the line
    known = KNOWN_BY_API[api]
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        only = " (a GET /v2/cloudimages parameter: add --api cloudimages)" if key in KNOWN_BY_API["cloudimages"] else ""
        raise QueryError(f"{where}: unknown query parameter {key!r}{hint}{only}; allowed: {', '.join(known)}")
    if value == "":
        raise QueryError(f"{where}: empty value")
    check: Callable[[str], str | None]
    if key in TRUE_ONLY:
        check = _true_only
    elif key in INTEGERS:
        check = _positive if key == "limit" else _integer
    elif key in TIMES:
        check = _time_filter
    elif key in ENUMS:
        check = _enum(ENUMS[key], allow_in=key in IN_LISTS)
    elif key in CLOUDIMAGES_ENUMS:
        check = _enum(CLOUDIMAGES_ENUMS[key], allow_in=False)
    else:
        check = _nonblank
    problem = check(value)
    if problem:
        raise QueryError(f"{where}: {problem}")


def _true_only(value: str) -> str | None:
    return None if value == "true" else "the only value is true (leave the parameter out to not filter)"


def _integer(value: str) -> str | None:
    return None if _INTEGER.fullmatch(value) else "expected a non-negative integer"


def _positive(value: str) -> str | None:
    return None if _INTEGER.fullmatch(value) and int(value) > 0 else "expected a positive integer"


def _nonblank(value: str) -> str | None:
    return "expected a non-blank value" if not value.strip() else None


def _enum(allowed: tuple[str, ...], *, allow_in: bool) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if allow_in and value.startswith("in:"):
            bad = [v for v in value[3:].split(",") if v not in allowed]
            if not bad and value[3:]:
                return None
            return f"in: takes a comma-separated list of {', '.join(allowed)}"
        if value in allowed:
            return None
        extra = " (or in:A,B)" if allow_in else ""
        return f"expected one of {', '.join(allowed)}{extra}"

    return check


def _time_filter(value: str) -> str | None:
    op, sep, text = value.partition(":")
    expected = (
        f"expected OP:TIME with OP one of {', '.join(TIME_OPERATORS)} and TIME as "
        "yyyy-MM-ddThh:mm:ssZ or 'yyyy-MM-dd hh:mm:ss' (UTC), e.g. lt:2018-10-28T10:00:00Z"
    )
    if not sep or op not in TIME_OPERATORS:
        return expected
    for fmt in TIME_FORMATS:
        try:
            dt.datetime.strptime(text, fmt)
            return None
        except ValueError:
            continue
    return expected


__all__ = ["KNOWN", "QueryError", "check_pair", "parse_query"]
