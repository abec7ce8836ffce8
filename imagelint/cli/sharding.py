"""Which shard of the estate this run is: ``--shard I/N`` (1-based), or what the CI's job matrix says.

CIs number their parallel jobs differently, and this is the one place that knows it: GitLab's
``CI_NODE_INDEX`` is 1-based, CircleCI's ``CIRCLE_NODE_INDEX``, Buildkite's ``BUILDKITE_PARALLEL_JOB``
and Kubernetes Indexed Jobs' ``JOB_COMPLETION_INDEX`` are 0-based; Kubernetes gives no total, so it comes
from ``--shards N``. An explicit ``--shard`` wins over the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from imagelint.cli.common import UsageError

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")

_CIS = (
    # (name, index variable, total variable, first index)
    ("GitLab", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1),
    ("CircleCI", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),
    ("Buildkite", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0),
)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/5"`` -> ``(2, 5)``; ``UsageError`` unless 1 <= I <= N."""
    m = _SHARD.fullmatch(text)
    if not m:
        raise UsageError(f"--shard {text!r}: expected I/N (1-based), e.g. --shard 2/5")
    index, total = int(m.group(1)), int(m.group(2))
    if total < 1 or not 1 <= index <= total:
        raise UsageError(f"--shard {text!r}: expected 1 <= I <= N (shards are numbered from 1)")
    return index, total


def _number(env: Mapping[str, str], name: str) -> int:
    text = env[name].strip()
    if not text.isdigit():
        raise UsageError(f"{name}={env[name]!r}: expected a whole number (set by the CI for parallel jobs)")
    return int(text)


def detect(shard: str | None, shards: int | None, env: Mapping[str, str]) -> tuple[int, int] | None:
    """The ``(index, total)`` (1-based) of this run, or ``None`` for every target."""
    if shard is not None:
        if shards is not None:
            raise UsageError("--shard and --shards: give --shard I/N alone")
        return parse_shard(shard)
    for ci, index_name, total_name, first in _CIS:
        if index_name in env and total_name in env:
            index, total = _number(env, index_name) - first + 1, _number(env, total_name)
            if shards is not None and shards != total:
                raise UsageError(f"--shards {shards} but {ci}'s {total_name} is {total}")
            if total < 1 or not 1 <= index <= total:
                raise UsageError(f"{ci}: {index_name}={env[index_name]} is not a job of {total_name}={total}")
            return index, total
    if "JOB_COMPLETION_INDEX" in env:
        if shards is None:
            raise UsageError(
                "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give --shards N, the Job's completions"
            )
        index = _number(env, "JOB_COMPLETION_INDEX") + 1
        if not 1 <= index <= shards:
            raise UsageError(f"JOB_COMPLETION_INDEX={env['JOB_COMPLETION_INDEX']} is not below --shards {shards}")
        return index, shards
    if shards is not None:
        if shards < 1:
            raise UsageError(f"--shards {shards}: expected 1 or more")
        if shards > 1:
            raise UsageError(
                f"--shards {shards}: which shard is this? No CI index variable is set; give --shard I/{shards}"
            )
        return 1, 1
    return None
