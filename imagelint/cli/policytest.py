"""``imagelint test``: run the policy unit tests (``*.test.yaml``) on every available engine.

Failures go to stdout with the count; warnings (policies without a pass, fail or skip case) to stderr.
Exit 0 when every case passed, 1 when one failed, 2 for a bad test or policy file.
"""

from __future__ import annotations

import argparse

from imagelint.cli.common import catalogue, err, policy_paths
from imagelint.judgement.gate import ExitCode
from imagelint.policy.testing import engines
from imagelint.policy.testing import run as run_tests


def run(args: argparse.Namespace) -> int:
    outcome = run_tests(policy_paths(args), catalogue=catalogue(args))
    for line in outcome.lines:
        print(line)
    for line in outcome.warnings:
        err(line)
    err(f"engines: {', '.join(engines())}")
    print(f"{outcome.passed} passed, {outcome.failed} failed")
    return ExitCode.FINDINGS if outcome.failed else ExitCode.OK
