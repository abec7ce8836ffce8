"""The live-API flags of ``check`` and ``fetch``, turned into ``sources.api.ApiSettings``.

Each flag's dest is the name of an ``ApiSettings`` field and its default is that field's default, so the
settings are read, and a flag given without ``--endpoint`` is found, without listing the flags again.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from imagelint.deadline import Deadline
from imagelint.sources.api import ApiSettings, ApiSource, open_source
from imagelint.sources.transport import ConfigError

_FIELDS = [f for f in dataclasses.fields(ApiSettings) if f.name != "endpoint"]
_FLAGS = {"headers": "--header"}


def settings(args: argparse.Namespace) -> ApiSettings:
    # getattr with the field's default: a field this parser has no flag for yet keeps its default
    defaults = ApiSettings(endpoint="")
    return ApiSettings(
        endpoint=args.endpoint, **{f.name: getattr(args, f.name, getattr(defaults, f.name)) for f in _FIELDS}
    )


def wanted(args: argparse.Namespace) -> bool:
    """``check`` reads the live API with ``--endpoint``, ``--cloud`` or ``--region``, or with ``OS_CLOUD`` set
    and no snapshot asked for (as ``openstack`` uses ``OS_CLOUD``)."""
    if args.endpoint is not None or args.cloud is not None or args.region is not None:
        return True
    return not (getattr(args, "input", None) or getattr(args, "sample", False)) and bool(
        os.environ.get("OS_CLOUD", "").strip()
    )


def source(args: argparse.Namespace, deadline: Deadline | None = None) -> ApiSource:
    """The ``ApiSource`` of ``--endpoint`` and the other flags; ``ConfigError`` (exit 2) if any is bad."""
    opened = open_source(settings(args))
    if deadline is not None and deadline.at is not None:
        opened.transport.deadline, opened.transport.deadline_text = deadline.at, deadline.text
    return opened


def reject_without_endpoint(args: argparse.Namespace) -> None:
    """``check --input/--sample`` with live-API options: a usage error, not a silently ignored flag."""
    defaults = ApiSettings(endpoint="")

    def given(name: str) -> bool:
        default = getattr(defaults, name)
        value = getattr(args, name, default)
        return bool(value) if isinstance(default, tuple) else value != default  # repeatable flags: a list

    flags = [_FLAGS.get(f.name, "--" + f.name.replace("_", "-")) for f in _FIELDS if given(f.name)]
    if flags:
        raise ConfigError(
            f"{', '.join(flags)}: only with --endpoint, --cloud or --region (they configure the live API)"
        )
