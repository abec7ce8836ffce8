"""``imagelint schema [KIND]``: print the JSON Schema of a file format, for editors (YAML language server)."""

from __future__ import annotations

import argparse
import sys

from imagelint.judgement.gate import ExitCode
from imagelint.policy.schema import render


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(render(args.kind))
    return ExitCode.OK
