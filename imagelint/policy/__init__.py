"""Policies: the ``imagelint/v1`` model, its loader and validator, and CEL static analysis."""

from imagelint.policy.loader import PolicyError, Problem, bundled_policy_dir, load_policies, parse_param
from imagelint.policy.model import Expr, Policy, Position, Validation, Variable

__all__ = [
    "Expr",
    "Policy",
    "PolicyError",
    "Position",
    "Problem",
    "Validation",
    "Variable",
    "bundled_policy_dir",
    "load_policies",
    "parse_param",
]
