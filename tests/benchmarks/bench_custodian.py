"""Benchmark: the same three checks, end to end on the same JSON Lines file, imagelint vs Cloud Custodian.

    python tests/benchmarks/bench_custodian.py --c7n-python /work/c7n-venv/bin/python [--images 40000] [--repeat 3]

The checks: private images are encrypted, min_disk is in 1..1024, public images are protected (the bundled
policies private-images-encrypted, min-disk-range, public-images-protected). Both tools pay for reading
the file: imagelint through ``SnapshotSource`` and ``evaluate`` as ``check`` does (findings kept; only the
attributes the policies read are decoded), Custodian through ``json.loads`` per line and its ``value`` /
``and`` / ``or`` filters' ``process()`` over pages of 1,000 images, the way a c7n policy's ``filters:``
block runs over resources. Custodian (c7n 0.9.53) lives in its own virtualenv, never in the project's
dependencies: ``--c7n-python`` is that venv's interpreter. A third row is the same checks written by hand
in Python (``json.loads`` included): the floor of a reader that decodes everything. Times are medians of
``--repeat`` runs, each run in a fresh subprocess; every ratio compares numbers measured in this same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ["private-images-encrypted", "min-disk-range", "public-images-protected"]

CUSTODIAN = r"""
import json, sys, time
from c7n.filters.core import FilterRegistry
registry = FilterRegistry("bench")  # registers value, and, or
def make(data):
    f = registry.factory(data)
    f.validate()
    return f
# a match of the filter is a finding (a violation), as in a c7n policy that reports resources
checks = [
    make({"and": [{"visibility": "private"}, {"__system__cmkid": "absent"}]}),
    make({"and": [{"type": "value", "key": "min_disk", "value": "present"},
                  {"or": [{"type": "value", "key": "min_disk", "op": "lt", "value": 1},
                          {"type": "value", "key": "min_disk", "op": "gt", "value": 1024}]}]}),
    make({"and": [{"visibility": "public"}, {"type": "value", "key": "protected", "op": "ne", "value": True}]}),
]
start = time.perf_counter()
images = findings = 0
def judge(page):
    global findings
    for check in checks:  # as a c7n policy runs its filters: over the resources, page by page
        findings += len(check.process(page))
page = []
with open(sys.argv[1], "rb") as lines:
    for raw in lines:
        page.append(json.loads(raw))
        images += 1
        if len(page) == 1000:
            judge(page)
            page = []
judge(page)
print(json.dumps({"seconds": time.perf_counter() - start, "images": images, "findings": findings}))
"""

IMAGELINT = r"""
import datetime as dt, json, sys, time
sys.path.insert(0, sys.argv[3])
from imagelint.engines import create_engine
from imagelint.judgement.evaluate import attributes_read, evaluate
from imagelint.policy import bundled_policy_dir, load_policies
from imagelint.sources import SnapshotSource
names = sys.argv[4].split(",")
policies = [p for p in load_policies([bundled_policy_dir() / "ims"]) if not names[0] or p.name in names]  # the default pack
engine = create_engine(sys.argv[2], policies, dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
start = time.perf_counter()
source = SnapshotSource(sys.argv[1], fields=attributes_read(policies))  # as check reads a snapshot
result = evaluate(source, policies, engine, now="2026-11-27T00:00:00Z")
print(json.dumps({"seconds": time.perf_counter() - start, "images": result.summary.images,
                  "findings": len(result.findings), "policies": len(policies)}))
"""

BY_HAND = r"""
import json, sys, time
start = time.perf_counter()
images = findings = 0
with open(sys.argv[1], "rb") as lines:
    for raw in lines:
        image = json.loads(raw)
        images += 1
        visibility = image.get("visibility")
        if visibility == "private" and not (isinstance(image.get("__system__cmkid"), str) and image["__system__cmkid"].strip()):
            findings += 1
        disk = image.get("min_disk")
        if disk is not None and not (type(disk) is int and 1 <= disk <= 1024):
            findings += 1
        if visibility == "public" and image.get("protected") is not True:
            findings += 1
print(json.dumps({"seconds": time.perf_counter() - start, "images": images, "findings": findings}))
"""

PARSE = r"""
import json, sys, time
start = time.perf_counter()
images = 0
with open(sys.argv[1], "rb") as lines:
    for raw in lines:
        json.loads(raw)
        images += 1
print(json.dumps({"seconds": time.perf_counter() - start, "images": images, "findings": 0}))
"""


def run(python: str, code: str, *args: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c7n-python", required=True, help="the interpreter of a venv with c7n installed")
    parser.add_argument("--images", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.fleetgen import iter_fleet

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "fleet.jsonl")
        with path.open("w", encoding="utf-8") as out:
            for image in iter_fleet(args.images, seed=7):
                out.write(json.dumps(image) + "\n")
        file, three, every = str(path), ",".join(POLICIES), ""
        rows = [
            ("json.loads per line only", run(sys.executable, PARSE, file, repeat=args.repeat), 1),
            ("Python by hand, 3 checks", run(sys.executable, BY_HAND, file, repeat=args.repeat), 3),
            ("Cloud Custodian 0.9.53, 3 filters", run(args.c7n_python, CUSTODIAN, file, repeat=args.repeat), 3),
        ]
        for engine in ("compiled", "cel-cpp"):
            result = run(sys.executable, IMAGELINT, file, engine, str(ROOT), three, repeat=args.repeat)
            rows.append((f"imagelint {engine}, 3 policies", result, 3))
        for engine in ("compiled", "cel-cpp"):
            result = run(sys.executable, IMAGELINT, file, engine, str(ROOT), every, repeat=args.repeat)
            rows.append((f"imagelint {engine}, bundled pack ({int(result['policies'])} policies)", result, 0))
    custodian = rows[2][1]["seconds"] / rows[2][1]["images"] / 3 * 1e6
    parse = rows[0][1]["seconds"] / rows[0][1]["images"] * 1e6
    print(
        f"{args.images:,} images, one JSON Lines file; medians of {args.repeat} runs; python {sys.version.split()[0]}"
    )
    print()
    print(
        "| run | µs per image | µs per image-check | findings | vs Custodian (per check) | vs json.loads (per image) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, r, checks in rows:
        per_image = r["seconds"] / r["images"] * 1e6
        per_check = per_image / (checks or r.get("policies", 1))
        versus = f"{custodian / per_check:.1f}x" if checks == 3 else "-"
        print(
            f"| {label} | {per_image:.2f} | {per_check:.2f} | {int(r['findings']):,} | {versus} | "
            f"{per_image / parse:.1f}x |"
        )


if __name__ == "__main__":
    main()
