"""Benchmark: the bundled pack over a generated fleet, end to end, on each engine.

    python tests/benchmarks/bench_engines.py [--images 100000] [--reference-images 300] [--repeat 3]

"End to end" is what ``imagelint check --input fleet.jsonl`` does minus writing the report: parse JSON
Lines, judge every (policy, image) pair, build the ``RunResult`` with its findings. Each measurement runs
in a fresh subprocess so that its peak RSS is its own; times are medians of ``--repeat`` runs, and every
ratio compares numbers measured in this same run. cel-python (the reference) is measured on a subset
(``--reference-images``) because it needs about 2 ms per image for the whole pack; its per-pair cost does
not depend on fleet size. If Cloud Custodian (``pip install c7n``) imports, its ``ValueFilter`` is timed
on the same images with value filters that mirror the pack's simplest policies.

Not collected by pytest (``norecursedirs``); results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def write_fleet(path: Path, n: int, seed: int = 7) -> None:
    from tests.fleetgen import iter_fleet

    with path.open("w", encoding="utf-8") as out:
        for image in iter_fleet(n, seed=seed):
            out.write(json.dumps(image) + "\n")


def child(args: argparse.Namespace) -> None:
    """One measurement; prints a JSON line {seconds, pairs, images, findings, rss_mb}."""
    from imagelint.engines import create_engine
    from imagelint.judgement.evaluate import evaluate
    from imagelint.policy import bundled_pack, load_policies
    from imagelint.sources import SnapshotSource

    policies = load_policies([args.policies or bundled_pack()])  # the default pack (ims), as check uses
    start = time.perf_counter()
    if args.mode == "parse":
        images = sum(len(page) for page in SnapshotSource(args.input).pages())
        findings = 0
    elif args.mode == "custodian":
        images, findings = custodian(args.input)
        policies = CUSTODIAN_FILTERS  # type: ignore[assignment]
    else:
        engine = create_engine(args.mode.split("+")[0].removesuffix("-nomemo"), policies, NOW)
        if args.mode == "cel-cpp-nomemo":
            from imagelint.engines.celcpp import CelCppEngine

            engine = CelCppEngine(policies, NOW, memoize=False)
        result = evaluate(SnapshotSource(args.input), policies, engine, now="2026-11-27T00:00:00Z")
        images, findings = result.summary.images, len(result.findings)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pairs = 0 if args.mode == "parse" else images * len(policies)
    print(json.dumps({"seconds": seconds, "images": images, "pairs": pairs, "findings": findings, "rss_mb": rss_mb}))


# Value filters that say what some of the pack's policies say, in Custodian's own language.
CUSTODIAN_FILTERS = [
    {"type": "value", "key": "disk_format", "op": "in", "value": ["zvhd2", "vhd", "zvhd", "raw", "qcow2"]},
    {"type": "value", "key": "__os_bit", "op": "in", "value": ["32", "64"]},
    {"type": "value", "key": "__os_type", "op": "in", "value": ["Linux", "Windows", "Other"]},
    {"type": "value", "key": "status", "op": "in", "value": ["queued", "saving", "deleted", "killed", "active"]},
    {"type": "value", "key": "hw_firmware_type", "op": "in", "value": ["bios", "uefi"]},
    {
        "type": "value",
        "key": "virtual_env_type",
        "op": "in",
        "value": ["FusionCompute", "Ironic", "DataImage", "IsoImage"],
    },
    {"type": "value", "key": "min_disk", "op": "gte", "value": 1},
    {"type": "value", "key": "min_disk", "op": "lte", "value": 1024},
    {"type": "value", "key": "visibility", "op": "in", "value": ["public", "private", "shared"]},
    {"type": "value", "key": "__system__cmkid", "value": "present"},
    {"type": "value", "key": "__lazyloading", "op": "in", "value": ["true", "false", "True", "False"]},
    {"type": "value", "key": "created_at", "value_type": "age", "op": "lt", "value": 365},
]


# The same twelve checks as imagelint policies, for a like-for-like comparison with Custodian.
SAME_AS_CUSTODIAN = [
    'image.disk_format in ["zvhd2", "vhd", "zvhd", "raw", "qcow2"]',
    'image.__os_bit in ["32", "64"]',
    'image.__os_type in ["Linux", "Windows", "Other"]',
    'image.status in ["queued", "saving", "deleted", "killed", "active"]',
    'image.hw_firmware_type in ["bios", "uefi"]',
    'image.virtual_env_type in ["FusionCompute", "Ironic", "DataImage", "IsoImage"]',
    "type(image.min_disk) == int && image.min_disk >= 1",
    "type(image.min_disk) == int && image.min_disk <= 1024",
    'image.visibility in ["public", "private", "shared"]',
    "has(image.__system__cmkid)",
    'image.__lazyloading in ["true", "false", "True", "False"]',
    'timestamp(image.created_at) + duration("8760h") > now',
]


def write_same_as_custodian(directory: Path) -> None:
    for number, expression in enumerate(SAME_AS_CUSTODIAN):
        doc = {
            "apiVersion": "imagelint/v1",
            "kind": "Policy",
            "metadata": {"name": f"c{number}", "severity": "low"},
            "spec": {"validations": [{"expression": expression}]},
        }
        (directory / f"c{number}.yaml").write_text(json.dumps(doc), encoding="utf-8")


def custodian(path: str) -> tuple[int, int]:
    from c7n.filters.core import ValueFilter

    from imagelint.sources import SnapshotSource

    filters = [ValueFilter(dict(f)) for f in CUSTODIAN_FILTERS]
    for f in filters:
        f.validate()
    images = failures = 0
    for page in SnapshotSource(path).pages():
        for image in page:
            for f in filters:
                if not f(image):
                    failures += 1
        images += len(page)
    return images, failures


def measure(
    mode: str, path: Path, repeat: int, policies: Path | None = None, *, script: Path | None = None
) -> dict[str, float]:
    """Medians of ``repeat`` fresh ``--child`` runs; ``script``: another tree's copy of this file (its code)."""
    runs = []
    extra = ["--policies", str(policies)] if policies else []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, str(script or __file__), "--child", mode, "--input", str(path), *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    best["us_per_pair"] = best["seconds"] / best["pairs"] * 1e6 if best["pairs"] else 0.0
    best["images_per_s"] = best["images"] / best["seconds"]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--reference-images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", metavar="MODE", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--policies", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        child(args)
        return

    try:
        import c7n  # noqa: F401

        have_custodian = True
    except ImportError:
        have_custodian = False
    with tempfile.TemporaryDirectory() as tmp:
        big, small, ref = Path(tmp, "big.jsonl"), Path(tmp, "small.jsonl"), Path(tmp, "ref.jsonl")
        write_fleet(big, args.images)
        write_fleet(small, args.images // 10)
        write_fleet(ref, args.reference_images)
        rows = [
            ("parse JSONL only (floor)", "parse", big),
            ("cel-cpp, end to end", "cel-cpp", big),
            ("cel-cpp without the memos, end to end", "cel-cpp-nomemo", big),
            (f"cel-cpp, end to end, {args.images // 10:,} images", "cel-cpp", small),
            (f"cel-python (reference), {args.reference_images} images", "cel-python", ref),
        ]
        same = Path(tmp, "same-as-custodian")
        same.mkdir()
        write_same_as_custodian(same)
        rows.append(("cel-cpp, end to end, the 12 Custodian checks as policies", "cel-cpp+12", big))
        if have_custodian:
            rows.append(("Cloud Custodian ValueFilter, 12 filters", "custodian", big))
        results = [
            (
                label,
                measure(mode, path, args.repeat if mode != "cel-python" else 1, same if mode.endswith("+12") else None),
            )
            for label, mode, path in rows
        ]
    reference = next(r for label, r in results if label.startswith("cel-python"))["us_per_pair"]
    print(
        f"fleet: {args.images:,} generated images (~40 keys each), bundled pack; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores; medians of {args.repeat}"
    )
    print()
    print("| run | images | µs per image-policy | images/s | peak RSS MB | findings kept | vs cel-python |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in results:
        ratio = f"{reference / r['us_per_pair']:.0f}x faster" if r["us_per_pair"] and "parse" not in label else "-"
        if label.startswith("cel-python"):
            ratio = "1x"
        per_pair = f"{r['us_per_pair']:.2f}" if r["pairs"] else f"({r['seconds'] / r['images'] * 1e6:.2f} per image)"
        print(
            f"| {label} | {int(r['images']):,} | {per_pair} | {r['images_per_s']:,.0f} | {r['rss_mb']:.0f} | "
            f"{int(r['findings']):,} | {ratio} |"
        )
    mine = next((r for label, r in results if "12 Custodian checks" in label), None)
    theirs = next((r for label, r in results if label.startswith("Cloud Custodian")), None)
    if mine and theirs:
        print(
            f"\nsame 12 checks: imagelint cel-cpp {mine['us_per_pair']:.2f} µs vs Custodian "
            f"{theirs['us_per_pair']:.2f} µs per image-check: {theirs['us_per_pair'] / mine['us_per_pair']:.1f}x"
        )


if __name__ == "__main__":
    main()
