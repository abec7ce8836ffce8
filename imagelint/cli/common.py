"""What several commands share: the usage error, stderr, and loading the policies the command line names."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imagelint.policy import Policy, bundled_pack, parse_param
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint.policy.static import load_checked


class UsageError(Exception):
    """A bad command line (exit 2)."""


def err(text: str) -> None:
    print(text, file=sys.stderr)


def catalogue(args: argparse.Namespace) -> Catalogue:
    """The image attribute catalogue, with the config file's ``attributes`` added."""
    config = getattr(args, "config_data", None)
    return IMAGE_ATTRIBUTES.with_extra(config.attributes) if config and config.attributes else IMAGE_ATTRIBUTES


def policy_paths(args: argparse.Namespace) -> list[str | Path]:
    """The command's PATH arguments, else ``--policies`` and the ``--pack``s named, else the default pack."""
    packs: list[str | Path] = [bundled_pack(name) for name in getattr(args, "pack", None) or []]
    given = getattr(args, "paths", None) or getattr(args, "policies", None)
    return [*(given or []), *packs] or [bundled_pack()]


def load(
    args: argparse.Namespace, paths: Sequence[str | Path], overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Policy]:
    """Policies with the static checks; warnings printed to stderr; ``PolicyError`` on errors."""
    policies, warnings = load_checked(paths, overrides, catalogue(args))
    for w in warnings:
        err(str(w))
    return policies


def parse_params(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["max-age.max_age_days=30"]`` -> ``{"max-age": {"max_age_days": 30}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        name, dot, param = key.rpartition(".")
        if not sep or not dot or not name or not param:
            raise UsageError(f"--param {item!r}: expected NAME.KEY=VALUE, e.g. image-max-age.max_age_days=180")
        value, refused = parse_param(raw)
        if refused is not None:
            raise UsageError(f"--param {item!r}: {refused}")
        out.setdefault(name, {})[param] = value
    return out
