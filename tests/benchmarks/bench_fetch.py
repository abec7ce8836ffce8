"""Benchmark: fetch and fetch+check of a large fleet from the fake IMS server, against openstacksdk.

    python tests/benchmarks/bench_fetch.py [--sizes 20000,100000] [--latency 0.02] [--page-size 1000]
                                           [--repeat 3] [--sdk-images 100000] [--fault-images 5000]

The fake server (``tests/fakeims``) runs in its own process, serving ``tests.fleetgen`` images with
``--latency`` seconds of simulated latency per request. Each measurement runs in a fresh subprocess, so its
peak RSS (``ru_maxrss`` from ``wait4``) is its own; times are medians of ``--repeat`` runs, all in this run:

* ``fetch only``: every page through ``ApiSource`` (prefetch thread, JSON parsing, duplicate check), no
  evaluation;
* ``evaluation only``: the same pages fetched before the clock starts, then ``evaluate()``: the cost of
  judging alone, to tell how much of the fetch the overlap hides;
* ``fetch+check``: ``evaluate()`` of the bundled policy pack over the same ``ApiSource`` (what
  ``imagelint check --endpoint`` does before it writes the report); policies are loaded and compiled
  before the clock starts, as the CLI does before its first request;
* ``imagelint check`` (CLI): the whole command, start-up and JSON report included, for reference;
* ``openstacksdk``: ``conn.image.images(limit=PAGE)`` with ``admin_token`` auth and
  ``image_endpoint_override`` (it discovers the API from the fake's version document), every image
  materialised as openstacksdk does, on ``--sdk-images`` images (default: the largest size).

Then a fault round (``--fault-images``, default 5,000): one 429 with ``Retry-After: 1`` on the third
page, against each tool on a fresh server: imagelint retries, openstacksdk stops.

openstacksdk is not a dependency of imagelint: ``pip install openstacksdk`` into the same virtualenv first.

Target (issue 3): fetch+check / fetch-only <= 1.15, peak RSS flat in fleet size beyond the findings, and
imagelint's fetch >= 5x faster than openstacksdk. Not collected by pytest (``norecursedirs``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from imagelint.sources.interface import ImageSource  # noqa: E402 - after the sys.path line above

TOKEN = "bench-token-0123456789"
NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)

SERVER = r"""
import signal, sys, threading
sys.path.insert(0, {root!r})
from tests.fakeims import FakeIMS, Fault
from tests.fleetgen import generate_fleet
srv = FakeIMS(generate_fleet({n}, seed=11), auth="token", token={token!r}, latency={latency}, port={port},
              faults={faults})
srv.start(); srv.warm()
print("ready", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
srv.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The fake IMS server in its own process (so its work does not share our GIL)."""

    def __init__(self, n: int, latency: float, faults: str = "[]") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        code = SERVER.format(root=str(ROOT), n=n, token=TOKEN, latency=latency, port=self.port, faults=faults)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line.strip() != "ready":
            raise SystemExit(f"fake server did not start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# -- measurements, each in a child process ------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """One measurement; prints a JSON line {seconds, images, pages, findings}."""
    if args.mode == "sdk":
        import openstack

        conn = openstack.connect(
            auth_type="admin_token",
            auth={"endpoint": args.url, "token": TOKEN},
            image_endpoint_override=args.url,
            region_name="bench",
        )
        start = time.perf_counter()
        images, error = 0, None
        try:
            for _ in conn.image.images(limit=args.page_size):
                images += 1
        except Exception as exc:  # noqa: BLE001 - the fault round reports how openstacksdk stops
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "images": images, "pages": None, "findings": 0, "error": error}))
        return
    if args.mode == "cli":
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "imagelint",
                "check",
                "--endpoint",
                args.url,
                "--page-size",
                str(args.page_size),
                "--format",
                "json",
                "--output",
                os.devnull,
                "--fail-on",
                "never",
                "--now",
                "2026-11-27T00:00:00Z",
            ],
            env={**os.environ, "OS_AUTH_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        images = int(proc.stderr.split(" images x ")[0].rsplit(" ", 1)[-1])
        print(json.dumps({"seconds": seconds, "images": images, "pages": None, "findings": None}))
        return

    from imagelint.engines import create_engine
    from imagelint.judgement.evaluate import evaluate
    from imagelint.policy import bundled_pack, load_policies
    from imagelint.sources.api import ApiOptions, ApiSource
    from imagelint.sources.auth import TokenAuth
    from imagelint.sources.interface import SourceError
    from imagelint.sources.transport import Transport, TransportOptions

    transport = Transport(TransportOptions())
    source = ApiSource(
        ApiOptions(endpoint=args.url, page_size=args.page_size), transport, TokenAuth(args.url, TOKEN, transport)
    )
    if args.mode == "fetch":
        start = time.perf_counter()
        images, findings = 0, 0
        try:
            for page in source.pages():
                images += len(page)
        except SourceError as exc:
            print(json.dumps({"seconds": 0, "images": images, "pages": source.pages_fetched, "error": str(exc)}))
            return
    else:
        policies = load_policies([bundled_pack()])  # the default pack (ims), as check --endpoint uses
        engine = create_engine("auto", policies, NOW)
        judged: ImageSource = source
        if args.mode == "eval":  # the same pages, fetched before the clock starts: evaluation alone
            judged = _Pages(list(source.pages()), source)
        start = time.perf_counter()
        result = evaluate(judged, policies, engine, now="2026-11-27T00:00:00Z", fail_on="never")
        if not result.source.complete:
            raise SystemExit(result.source.error)
        images, findings = result.summary.images, len(result.findings)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "images": images,
                "pages": source.pages_fetched,
                "findings": findings,
                "retries": transport.retried,
            }
        )
    )


class _Pages(ImageSource):
    """Pages already in memory (for the evaluation-only measurement)."""

    kind = "api"

    def __init__(self, pages: list, source: ImageSource) -> None:
        self._pages, self._source = pages, source

    def pages(self):  # type: ignore[override]
        yield from self._pages

    def location(self) -> str:
        return self._source.location()


def measure(mode: str, url: str, page_size: int) -> dict:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, "--url", url, "--page-size", str(page_size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
    )
    out, err = proc.communicate()
    # communicate() reaped the child; RUSAGE_CHILDREN would mix all children, so use a wait4 wrapper instead.
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed: {err.strip()[-2000:]}")
    doc = json.loads(out.strip().splitlines()[-1])
    usage = dict(item.split("=") for item in err.strip().splitlines()[-1].split())
    doc["rss_mb"] = float(usage["rss_kb"]) / 1024
    doc["cpu"] = float(usage["cpu_s"])
    return doc


def run_child(args: argparse.Namespace) -> None:
    """Run ``child`` in a grandchild, report its peak RSS from wait4 on stderr (only its own process tree)."""
    pid = os.fork()
    if pid == 0:
        try:
            child(args)
            sys.stdout.flush()
        finally:
            os._exit(0)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(f"rss_kb={usage.ru_maxrss} cpu_s={usage.ru_utime + usage.ru_stime:.3f}", file=sys.stderr)
    sys.exit(code)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sdk-images", type=int, default=None, help="fleet size for openstacksdk (default: largest)")
    ap.add_argument("--sdk-repeat", type=int, default=1)
    ap.add_argument("--fault-images", type=int, default=5000, help="fleet of the 429 round (0: skip it)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        run_child(args)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    sdk_n = args.sdk_images or max(sizes)
    rows: list[tuple[int, str, dict]] = []
    for n in sorted(set(sizes) | {sdk_n}):
        print(f"serving {n} images, {args.latency * 1000:g} ms latency, page {args.page_size} ...", file=sys.stderr)
        server = Server(n, args.latency)
        try:
            modes = ["fetch", "eval", "check", "cli"] if n in sizes else []
            runs: dict[str, list[dict]] = {mode: [] for mode in modes}
            # Rounds of every mode in turn, so that a change of machine load hits all modes alike.
            for _ in range(args.repeat):
                for mode in modes:
                    runs[mode].append(measure(mode, server.url, args.page_size))
                    r = runs[mode][-1]
                    print(
                        f"  {mode:6} {r['seconds']:8.2f} s  cpu {r['cpu']:7.2f} s  rss {r['rss_mb']:7.1f} MB",
                        file=sys.stderr,
                    )
            if n == sdk_n:
                modes.append("sdk")
                runs["sdk"] = [measure("sdk", server.url, args.page_size) for _ in range(args.sdk_repeat)]
                print(f"  sdk    {runs['sdk'][0]['seconds']:8.2f} s", file=sys.stderr)
            for mode in modes:
                for r in runs[mode]:
                    if r.get("error") or r["images"] != n:
                        raise SystemExit(f"{mode}: saw {r['images']} images, expected {n}")
                summary = {
                    "seconds": median([r["seconds"] for r in runs[mode]]),
                    "cpu": median([r["cpu"] for r in runs[mode]]),
                    "rss_mb": max(r["rss_mb"] for r in runs[mode]),
                    "pages": runs[mode][0]["pages"],
                    "findings": runs[mode][0]["findings"],
                }
                rows.append((n, mode, summary))
        finally:
            server.stop()
    print_table(rows, args)
    if args.fault_images:
        fault_round(args)


FAULT = "[Fault('status', status=429, page=2, retry_after=1)]"


def fault_round(args: argparse.Namespace) -> None:
    """One 429 with Retry-After: 1 on the third page, for each tool on a fresh server."""
    n = args.fault_images
    print(f"\nOne 429 Too Many Requests (Retry-After: 1) on page 3 of {n:,} images:\n")
    for mode, label in (("fetch", "imagelint fetch"), ("sdk", "openstacksdk")):
        server = Server(n, args.latency, FAULT)
        try:
            r = measure(mode, server.url, args.page_size)
        finally:
            server.stop()
        if r.get("error"):
            print(f"- {label}: stopped after {r['images']:,} of {n:,} images: {r['error']}")
        else:
            retried = f" ({r['retries']} retry)" if r.get("retries") else ""
            print(f"- {label}: all {r['images']:,} images{retried}")


LABELS = {
    "fetch": "imagelint fetch only (ApiSource)",
    "eval": "evaluation only (same pages, from memory)",
    "check": "imagelint fetch+check (evaluate)",
    "cli": "imagelint check --endpoint (whole CLI)",
    "sdk": "openstacksdk conn.image.images()",
}


def print_table(rows: list[tuple[int, str, dict]], args: argparse.Namespace) -> None:
    by = {(n, mode): s for n, mode, s in rows}
    print(
        f"\nlatency {args.latency * 1000:g} ms/request, page size {args.page_size}, medians of {args.repeat} "
        f"(openstacksdk: {args.sdk_repeat}); Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| images | measurement | median s | process CPU s | images/s | pages | findings | peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n, mode, s in rows:
        pages = "" if s["pages"] is None else str(s["pages"])
        findings = "" if not s["findings"] else f"{s['findings']:,}"
        print(
            f"| {n:,} | {LABELS[mode]} | {s['seconds']:.2f} | {s['cpu']:.2f} | {n / s['seconds']:,.0f} | {pages} | "
            f"{findings} | {s['rss_mb']:.0f} |"
        )
    print()
    for n in sorted({n for n, _, _ in rows}):
        if (n, "fetch") in by and (n, "check") in by:
            ratio = by[n, "check"]["seconds"] / by[n, "fetch"]["seconds"]
            print(f"- {n:,} images: fetch+check / fetch only = {ratio:.2f} (target <= 1.15)")
        if (n, "eval") in by and (n, "check") in by and (n, "fetch") in by:
            f, e, c = by[n, "fetch"]["seconds"], by[n, "eval"]["seconds"], by[n, "check"]["seconds"]
            print(
                f"- {n:,} images: fetch+check / max(fetch only, evaluation only) = {c / max(f, e):.2f}; "
                f"without overlap it would be {(f + e) / max(f, e):.2f}"
            )
        if (n, "sdk") in by and (n, "fetch") in by:
            speedup = by[n, "sdk"]["seconds"] / by[n, "fetch"]["seconds"]
            print(f"- {n:,} images: openstacksdk / imagelint fetch = {speedup:.1f}x (target >= 5x)")
    ns = sorted(n for n, mode, _ in rows if mode == "fetch")
    if len(ns) >= 2:
        a, b = by[ns[0], "fetch"]["rss_mb"], by[ns[-1], "fetch"]["rss_mb"]
        print(f"- peak RSS of fetch only: {a:.0f} MB at {ns[0]:,} images, {b:.0f} MB at {ns[-1]:,} images")
        a, b = by[ns[0], "check"]["rss_mb"], by[ns[-1], "check"]["rss_mb"]
        print(
            f"- peak RSS of fetch+check: {a:.0f} MB at {ns[0]:,} images, {b:.0f} MB at {ns[-1]:,} images "
            f"({by[ns[0], 'check']['findings']:,} and {by[ns[-1], 'check']['findings']:,} findings)"
        )


if __name__ == "__main__":
    main()
