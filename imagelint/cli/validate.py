"""``imagelint validate``: check policy files only (syntax, schema, CEL, types, the attribute catalogue).

Exit 0 when the policies have only warnings (they are printed), 2 on any error, and 1 on warnings with
``--strict``, so that a policy repository can hold itself to "no warnings" in CI.
"""

from __future__ import annotations

import argparse

from imagelint.cli.common import catalogue, err, policy_paths
from imagelint.engines import celcpp
from imagelint.judgement.gate import ExitCode
from imagelint.policy import PolicyError
from imagelint.policy.static import load_checked


def run(args: argparse.Namespace) -> int:
    policies, warnings = load_checked(policy_paths(args), None, catalogue(args))
    problems = celcpp.type_check(policies)
    if problems:
        raise PolicyError(problems + warnings)
    for w in warnings:
        err(str(w))
    note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
    err(f"{len(policies)} policies OK{note}")
    return ExitCode.FINDINGS if warnings and args.strict else ExitCode.OK
