"""Benchmark: the bundled pack against the same pack at an earlier commit, per image, on each engine.

    python tests/benchmarks/bench_pack.py [--before 2bba061] [--images 20000] [--reference-images 300] [--repeat 5]
                                          [--engines cel-cpp,compiled,cel-python] [--code-before REV]

The pack of ``--before`` (``git archive`` of its ``policies/``, the hand-written CEL before the image
library) and the working tree's pack are judged over the same generated fleet by the current code, each
measurement in a fresh process (``bench_engines.py --child``), end to end as ``imagelint check`` does
minus the report. Medians of ``--repeat`` runs for cel-cpp and the compiled engine, before and after
alternated; one run each for cel-python (the reference, about 40 ms per image); every ratio compares numbers
taken in this same run. The findings column shows both
packs find the same things.

With ``--code-before REV`` the comparison is of the code instead: the working tree's pack judged by the
``imagelint`` and ``tests`` of REV (``git archive``, its own ``bench_engines.py --child``) and by the
working tree's, alternated the same way.

Not collected by pytest (``norecursedirs``); results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engines import measure, write_fleet  # noqa: E402


def archive_at(revision: str, paths: list[str], into: Path) -> None:
    """``paths`` as they were at ``revision``, extracted under ``into`` (``git archive``)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, *paths], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def pack_at(revision: str, into: Path) -> Path:
    """The IMS pack's YAML files as they were at ``revision`` (flat ``policies/`` then)."""
    archive_at(revision, ["policies"], into)
    return into / "policies"


def code_at(revision: str, into: Path) -> Path:
    """REV's ``imagelint`` and ``tests`` in ``into``: its ``bench_engines.py`` imports that code."""
    archive_at(revision, ["imagelint", "tests"], into)
    return into / "tests" / "benchmarks" / "bench_engines.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="2bba061")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--reference-images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--engines", default="cel-cpp,compiled,cel-python", help="comma-separated, in this order")
    parser.add_argument("--code-before", metavar="REV", help="compare REV's code with the working tree's, same pack")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    from imagelint.policy import bundled_pack

    with tempfile.TemporaryDirectory() as tmp:
        big, ref = Path(tmp, "big.jsonl"), Path(tmp, "ref.jsonl")
        write_fleet(big, args.images)
        write_fleet(ref, args.reference_images)
        after = bundled_pack()  # the default pack, ims
        if args.code_before:
            old_script = code_at(args.code_before, Path(tmp, "code"))
            before = after
        else:
            before = pack_at(args.before, Path(tmp, "before"))
        rows = []
        # cel-python, the reference, is too slow for more than a few hundred images and one run
        plan = [(e, ref, 1) if e == "cel-python" else (e, big, args.repeat) for e in engines]
        for engine, fleet, repeat in plan:
            # alternated, so that a change in the machine's load hits both packs alike
            runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for _ in range(repeat):
                script = old_script if args.code_before else None  # None: this tree's bench_engines.py
                runs["before"].append(measure(engine, fleet, 1, before, script=script))
                runs["after"].append(measure(engine, fleet, 1, after))
            old, new = (
                {k: statistics.median(r[k] for r in runs[side]) for k in runs[side][0]} for side in ("before", "after")
            )
            rows.append((engine, old, new))
    compared = f"code at {args.code_before}" if args.code_before else f"pack at {args.before}"
    print(
        f"fleet: generated images (~40 keys each); {compared} vs working tree; python "
        f"{sys.version.split()[0]}; cel-cpp and compiled medians of {args.repeat}, cel-python one run each"
    )
    print()
    print("| engine | images | µs per image, before | µs per image, after | after / before | findings before / after |")
    print("|---|---:|---:|---:|---:|---:|")
    for engine, old, new in rows:
        per_old = old["seconds"] / old["images"] * 1e6
        per_new = new["seconds"] / new["images"] * 1e6
        print(
            f"| {engine} | {int(old['images']):,} | {per_old:,.1f} | {per_new:,.1f} | {per_new / per_old:.2f} | "
            f"{int(old['findings']):,} / {int(new['findings']):,} |"
        )


if __name__ == "__main__":
    main()
