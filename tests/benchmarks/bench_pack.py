"""Benchmark: the bundled pack against the same pack at an earlier commit, per image, on each engine.

    python tests/benchmarks/bench_pack.py [--before 2bba061] [--images 20000] [--reference-images 300] [--repeat 5]
                                          [--engines cel-cpp,compiled,cel-python] [--code-before REV]
                                          [--instructions N [--base 200]]

The pack of ``--before`` (``git archive`` of its ``policies/``, the hand-written CEL before the image
library) and the working tree's pack are judged over the same generated fleet by the current code, each
measurement in a fresh process (``bench_engines.py --child``), end to end as ``imagelint check`` does
minus the report. Medians of ``--repeat`` runs for cel-cpp and the compiled engine, before and after
alternated; one run each for cel-python (the reference, about 40 ms per image); every ratio compares numbers
taken in this same run. The findings column shows both
packs find the same things.

With ``--instructions N`` the measure is instructions instead of seconds, for a machine too noisy for a
1 % difference: each child runs under ``valgrind --tool=cachegrind --cache-sim=no`` (``PYTHONHASHSEED=0``)
on the first ``--base`` images of the fleet (default 200) and on the first base + N; the difference over N is the
instructions an image costs, start-up excluded; the same for the same code and inputs on any load.

With ``--code-before REV`` the comparison is of the code instead: the working tree's pack judged by the
``imagelint`` and ``tests`` of REV (``git archive``, its own ``bench_engines.py --child``) and by the
working tree's, alternated the same way.

Not collected by pytest (``norecursedirs``); results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import re
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

ENGINES = Path(__file__).resolve().parent / "bench_engines.py"


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


def instructions(engine: str, fleet: Path, base: int, extra: int, pack: Path, script: Path | None = None) -> float:
    """Instructions per image of ``engine`` judging ``pack``: cachegrind's count on the first ``base`` +
    ``extra`` images of ``fleet`` less its count on the first ``base``, over ``extra``."""
    lines = fleet.read_text(encoding="utf-8").splitlines(keepends=True)
    counts = []
    for n in (base, base + extra):
        part = fleet.with_name(f"{fleet.stem}-{n}.jsonl")
        part.write_text("".join(lines[:n]), encoding="utf-8")
        run = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
             str(script or ENGINES), "--child", engine, "--input", str(part), "--policies", str(pack)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        found = re.search(r"I\s+refs:\s+([0-9,]+)", run.stderr)
        if found is None:
            raise SystemExit(f"bench_pack: no instruction count from valgrind:\n{run.stderr[-2000:]}")
        counts.append(int(found.group(1).replace(",", "")))
    return (counts[1] - counts[0]) / extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="2bba061")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--reference-images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--engines", default="cel-cpp,compiled,cel-python", help="comma-separated, in this order")
    parser.add_argument("--code-before", metavar="REV", help="compare REV's code with the working tree's, same pack")
    parser.add_argument("--instructions", type=int, metavar="N", help="count instructions (valgrind) over N images")
    parser.add_argument("--base", type=int, default=200, help="images of the run subtracted (--instructions)")
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
        if args.instructions:
            script = old_script if args.code_before else None
            n, base = args.instructions, args.base
            print(f"instructions per image: the first {base} + {n:,} generated images less the first {base}")
            print(
                f"({'code at ' + args.code_before if args.code_before else 'pack at ' + args.before} vs working tree)"
            )
            print()
            print("| engine | instructions per image, before | after | after / before |")
            print("|---|---:|---:|---:|")
            for engine in engines:
                old_n = instructions(engine, big, base, n, before, script)
                new_n = instructions(engine, big, base, n, after)
                print(f"| {engine} | {old_n:,.0f} | {new_n:,.0f} | {new_n / old_n:.3f} |", flush=True)
            return
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
