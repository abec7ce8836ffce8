"""Benchmark: the start-up of an audit of cloud targets, whose endpoints come from their tokens' catalogs.

    python tests/benchmarks/bench_audit_startup.py [--targets 16] [--token-latency 0.3] [--repeat 3]

Every target is the same ``clouds.yaml`` cloud (password auth against the fake IAM of ``tests/fakeims``,
which answers each ``POST /v3/auth/tokens`` after ``--token-latency`` seconds, as a busy Keystone or a
distant IAM does), so opening a target is one token request and its catalog gives the image endpoint; the
fleet is 20 images, so the run is almost all start-up. Rows: ``audit --jobs 1`` and ``--jobs 8``, each a
fresh process, the median of ``--repeat``; the token requests the server saw in the last run of each.

Not collected by pytest (``norecursedirs``); results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import policy_yaml  # noqa: E402
from tests.fakeims import Fault  # noqa: E402
from tests.test_clouds import clouds_yaml, iam_server, password_cloud  # noqa: E402


def once(targets: int, latency: float, jobs: int) -> tuple[float, int, int]:
    slow = Fault("latency", path="/v3/auth/tokens", seconds=latency, times=None)
    with iam_server(faults=[slow]) as srv, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, **clouds_yaml(home, password_cloud(srv)), "OS_CLOUD": "", "OS_AUTH_TOKEN": ""}
        estate = home / "targets.yaml"
        estate.write_text("targets:\n" + "".join(f"  - {{name: t{i}, cloud: prod}}\n" for i in range(targets)))
        policy = home / "no-public.yaml"
        policy.write_text(policy_yaml("no-public", validations=["image.visibility != 'public'"]))
        argv = [sys.executable, "-m", "imagelint", "audit", "--targets", str(estate), "--policies", str(policy)]
        argv += ["--format", "json", "--output", str(home / "r.json"), "--jobs", str(jobs)]
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
        took = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise SystemExit(f"audit --jobs {jobs} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        tokens = sum(1 for r in srv.requests if r.path == "/v3/auth/tokens")
    return took, tokens, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=16)
    parser.add_argument("--token-latency", type=float, default=0.3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for jobs in (1, 8):
        runs = [once(args.targets, args.token_latency, jobs) for _ in range(args.repeat)]
        rows.append((jobs, statistics.median(r[0] for r in runs), runs[-1][1]))
    print(
        f"{args.targets} cloud targets, {args.token_latency:g} s per token request, 20 images each; "
        f"medians of {args.repeat}; cores: {os.cpu_count()}"
    )
    print()
    print("| Run | Wall time (s) | Token requests |")
    print("|---|---:|---:|")
    for jobs, took, tokens in rows:
        print(f"| audit --jobs {jobs} | {took:.2f} | {tokens} |")
    print()
    print(f"- `--jobs 8` vs `--jobs 1`: {rows[0][1] / rows[1][1]:.1f}x faster")


if __name__ == "__main__":
    main()
