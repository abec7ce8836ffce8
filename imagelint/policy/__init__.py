"""Policies: the ``imagelint/v1`` model, its loader and validator, and CEL static analysis."""

from imagelint.policy.loader import (
    DEFAULT_PACK,
    PolicyError,
    Problem,
    bundled_pack,
    bundled_packs,
    bundled_policy_dir,
    load_policies,
    parse_param,
)
from imagelint.policy.model import Expr, Policy, Position, Validation, Variable

__all__ = [
    "DEFAULT_PACK",
    "Expr",
    "Policy",
    "PolicyError",
    "Position",
    "Problem",
    "Validation",
    "Variable",
    "bundled_pack",
    "bundled_packs",
    "bundled_policy_dir",
    "load_policies",
    "parse_param",
]
