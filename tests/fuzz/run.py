"""Run the fuzz target (``tests.fuzz.inputs``) under atheris for a bounded time.

    python -m tests.fuzz.run [--seconds 25] [--corpus tests/fuzz/corpus] [--save DIR]

The committed corpus is read, never written: inputs the fuzzer finds go to a temporary folder (``--save DIR``
keeps them, to add the interesting ones to the corpus). A crash is saved as ``crash-*`` in the working
folder's ``fuzz-artifacts/`` and the exit code is non-zero; ``python -m tests.fuzz.inputs FILE`` replays it.
Each input has 10 s and the process 2 GB: a hang or a memory bomb is a crash too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--corpus", default=str(HERE / "corpus"))
    parser.add_argument("--save", default=None, help="keep the inputs found here (default: a temporary folder)")
    args = parser.parse_args()

    import atheris

    with atheris.instrument_imports(include=["imagelint", "yaml"]):
        from tests.fuzz import inputs

        inputs._READERS, inputs._EXPECTED = inputs._readers(), inputs.expected_errors()

    work = args.save or tempfile.mkdtemp(prefix="imagelint-fuzz-corpus-")
    artifacts = Path("fuzz-artifacts")
    artifacts.mkdir(exist_ok=True)
    argv = [
        sys.argv[0],
        work,  # new inputs go to the first folder
        args.corpus,
        f"-max_total_time={args.seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=4096",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    atheris.Setup(argv, inputs.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
