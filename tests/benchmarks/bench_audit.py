"""Benchmark: ``imagelint audit`` over an estate of many targets, against itself with one job and a shell loop.

    python tests/benchmarks/bench_audit.py [--targets 200] [--small 20] [--images 2000] [--latency 0.05]
                                           [--endpoints 8] [--loop-targets 20] [--repeat 1]
                                           [--report markdown ...]

The estate: ``--endpoints`` fake IMS servers (``tests/fakeims``, one process of their own, so their work
does not share our GIL), each serving the same ``--images`` images (``tests.fleetgen``, the bundled pack
finds about one problem per image) with ``--latency`` seconds per request, i.e. per 1,000-image page; the
targets are projects spread evenly over the endpoints. Each measurement is a fresh ``imagelint audit``
process (the bundled pack, ``--format json`` to a file): wall time, and peak RSS from ``wait4``. Rows:

* ``--jobs 16`` and ``--jobs 1`` over ``--targets`` targets (the speed-up target: >= 8x);
* ``--jobs 16`` over ``--small`` targets (peak RSS at ``--targets`` within 1.2x of this);
* a shell loop of ``imagelint check --endpoint`` per target over ``--loop-targets`` targets, against
  ``--jobs 16`` and ``--jobs 1`` over the same targets;
* with ``--report FORMAT`` (repeatable), ``--jobs 16`` over ``--small`` and ``--targets`` targets writing
  that report besides the JSON one: what a format that groups findings in memory costs in peak RSS.

Times are medians of ``--repeat`` runs. Not collected by pytest (``norecursedirs``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SERVER = r"""
import signal, sys, threading
sys.path.insert(0, {root!r})
from tests.fakeims import FakeIMS
from tests.fleetgen import generate_fleet
images = generate_fleet({n}, seed=13)
servers = [FakeIMS(images, latency={latency}, port=port, max_limit=1000) for port in {ports!r}]
for s in servers:
    s.start(); s.warm()
print("ready", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
for s in servers:
    s.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_servers(n: int, latency: float, count: int) -> tuple[subprocess.Popen[str], list[str]]:
    ports = [free_port() for _ in range(count)]
    code = SERVER.format(root=str(ROOT), n=n, latency=latency, ports=ports)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, [f"http://127.0.0.1:{p}" for p in ports]


def targets_file(folder: Path, urls: list[str], count: int) -> Path:
    lines = ["defaults: {page_size: 1000}", "targets:"]
    for i in range(count):
        lines.append(f'  - {{name: project-{i:03d}, endpoint: "{urls[i % len(urls)]}", project: p{i:03d}}}')
    path = folder / f"targets-{count}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(
            f"{shlex.join(argv)}: exit {code}: {proc.stderr.read().decode()[-400:] if proc.stderr else ''}"
        )
    return took, usage.ru_maxrss / 1024


def shell_loop(urls: list[str], count: int, out: Path, env: dict[str, str]) -> tuple[float, float]:
    """``for url in ...; do imagelint check --endpoint $url ...; done`` as a shell runs it."""
    script = "\n".join(
        f"{shlex.quote(sys.executable)} -m imagelint check --endpoint {urls[i % len(urls)]} --page-size 1000 "
        f"--format json --output {out}/loop-{i}.json; [ $? -le 1 ] || exit 9"
        for i in range(count)
    )
    return timed(["sh", "-c", script], env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--endpoints", type=int, default=8)
    ap.add_argument("--loop-targets", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--report", action="append", default=[], metavar="FORMAT", help="also measure with this report")
    args = ap.parse_args()
    env = {**os.environ, "NO_COLOR": "1", "GITHUB_ACTIONS": "", "OS_AUTH_TOKEN": "", "PYTHONPATH": str(ROOT)}
    proc, urls = start_servers(args.images, args.latency, args.endpoints)
    rows: list[tuple[str, str, float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)

            def audit(count: int, jobs: int, report: str = "") -> tuple[float, float]:
                path = targets_file(folder, urls, count)
                argv = [sys.executable, "-m", "imagelint", "audit", "--targets", str(path), "--jobs", str(jobs)]
                argv += ["--per-endpoint", "4", "--format", "json", "--output", str(folder / "r.json")]
                if report:
                    argv += ["--report", f"{report}={folder / ('r.' + report)}"]
                runs = [timed(argv, env) for _ in range(args.repeat)]
                return statistics.median(r[0] for r in runs), max(r[1] for r in runs)

            plan = [
                (f"audit --jobs 16, {args.targets} targets", args.targets, 16),
                (f"audit --jobs 1, {args.targets} targets", args.targets, 1),
                (f"audit --jobs 16, {args.small} targets", args.small, 16),
                (f"audit --jobs 16, {args.loop_targets} targets", args.loop_targets, 16),
                (f"audit --jobs 1, {args.loop_targets} targets", args.loop_targets, 1),
            ]
            for report in args.report:
                plan += [
                    (f"audit --jobs 16 + {report} report, {args.small} targets", args.small, 16, report),
                    (f"audit --jobs 16 + {report} report, {args.targets} targets", args.targets, 16, report),
                ]
            done: dict[tuple[int, int, str], tuple[float, float]] = {}
            for label, count, jobs, *extra in plan:
                report = extra[0] if extra else ""
                if (count, jobs, report) not in done:
                    done[count, jobs, report] = took_rss = audit(count, jobs, report)
                    print(f"  {label}: {took_rss[0]:.1f} s, {took_rss[1]:.0f} MB", file=sys.stderr)
                if label not in [r[0] for r in rows]:  # --small and --loop-targets may be the same run
                    rows.append((label, f"{count * args.images:,}", *done[count, jobs, report]))
            loop = [shell_loop(urls, args.loop_targets, folder, env) for _ in range(args.repeat)]
            took = statistics.median(r[0] for r in loop)
            rss = max(r[1] for r in loop)
            print(f"  shell loop: {took:.1f} s", file=sys.stderr)
            rows.append(
                (
                    f"shell loop of `imagelint check`, {args.loop_targets} targets",
                    f"{args.loop_targets * args.images:,}",
                    took,
                    rss,
                )
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    by = {r[0]: r for r in rows}
    fast, slow = by[f"audit --jobs 16, {args.targets} targets"], by[f"audit --jobs 1, {args.targets} targets"]
    small = by[f"audit --jobs 16, {args.small} targets"]
    loop16 = by[f"audit --jobs 16, {args.loop_targets} targets"]
    loop_row = rows[-1]
    print(
        f"\n{args.targets} targets x {args.images:,} images on {args.endpoints} endpoints, {args.latency * 1000:.0f} ms "
        f"per 1,000-image page; bundled pack; cores: {os.cpu_count()}; load before: {os.getloadavg()[0]:.1f}\n"
    )
    print("| Run | Images | Wall time (s) | Peak RSS (MB) |")
    print("|---|---:|---:|---:|")
    for label, images, seconds, mb in rows:
        print(f"| {label} | {images} | {seconds:.1f} | {mb:.0f} |")
    print()
    print(f"- `--jobs 16` vs `--jobs 1` ({args.targets} targets): {slow[2] / fast[2]:.1f}x faster (target >= 8x)")
    print(f"- peak RSS, {args.targets} vs {args.small} targets: {fast[3] / small[3]:.2f}x (target <= 1.2x)")
    print(f"- shell loop vs `audit --jobs 16` ({args.loop_targets} targets): {loop_row[2] / loop16[2]:.1f}x slower")
    for report in args.report:
        big = by[f"audit --jobs 16 + {report} report, {args.targets} targets"]
        little = by[f"audit --jobs 16 + {report} report, {args.small} targets"]
        print(
            f"- peak RSS with a {report} report, {args.targets} vs {args.small} targets: {big[3] / little[3]:.2f}x; "
            f"{big[3] - fast[3]:+.0f} MB over JSON alone at {args.targets} targets"
        )


if __name__ == "__main__":
    main()
