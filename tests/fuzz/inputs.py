"""The fuzz target: one input, one reader of hostile input, and nothing but the reader's own error.

The first byte picks the reader (the snapshot reader as JSON or JSON Lines, read whole and for a few
attributes, which must agree; the policy loader, the waiver,
baseline and config loaders, the query validator); the rest is the file's content. A reader may return a
value or raise its own one-line error (``SourceError``, ``PolicyError``, ``FileProblems``, ``ConfigError``);
anything else is a crash: what a user would have seen as ``internal error``, exit 4.

    python -m tests.fuzz.run --seconds 25          # coverage-guided, from the corpus in tests/fuzz/corpus
    python -m tests.fuzz.inputs FILE...            # replay inputs (a crash the fuzzer saved)

``tests/test_fuzz_corpus.py`` replays the committed corpus in the ordinary suite.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

KEPT = frozenset({"name", "min_disk", "tags", "a"})
"""The attributes the snapshot reader is also asked to keep (``SnapshotSource(fields=...)``)."""
READERS = ("snapshot.json", "snapshot.jsonl", "policy.yaml", "waivers.yaml", "baseline.json", "imagelint.yaml", "query")


def _readers() -> list[Callable[[Path, bytes], object]]:
    from imagelint.cli import config
    from imagelint.judgement.baseline import load_baseline
    from imagelint.judgement.waivers import load_waivers
    from imagelint.policy import load_policies
    from imagelint.sources.interface import SourceError
    from imagelint.sources.jsontext import project
    from imagelint.sources.query import parse_query
    from imagelint.sources.snapshot import SnapshotSource

    def read(path: Path, fields: frozenset[str] | None) -> object:
        try:
            return [image for page in SnapshotSource(str(path), fields=fields).pages() for image in page]
        except SourceError as exc:
            return exc

    def snapshot(path: Path, _: bytes) -> object:
        # read whole, and for a few attributes (as check reads for a small pack; with a name that is not
        # ASCII, which msgspec cannot keep: decoded whole, then kept): the same images, less what was not
        # asked for, or the same error
        whole = read(path, None)
        for fields in (KEPT, KEPT | {"\u00e9"}):
            kept = read(path, fields)
            if isinstance(whole, SourceError):
                if not isinstance(kept, SourceError) or str(kept) != str(whole):
                    raise AssertionError(f"read whole: {whole}; read for {sorted(fields)}: {kept!r}")
                continue
            expected = [project(image, fields | {"id"}) for image in whole]  # type: ignore[attr-defined]
            if repr(kept) != repr(expected):  # repr: NaN is not equal to itself
                raise AssertionError(f"read for {sorted(fields)}: {kept!r}, expected {expected!r}")
        if isinstance(whole, SourceError):
            raise whole
        return whole

    def query(_: Path, data: bytes) -> object:
        return parse_query(data.decode("utf-8", "replace").split("\n"))

    return [
        snapshot,
        snapshot,
        lambda path, _: load_policies([path]),
        lambda path, _: load_waivers(path, allow_permanent=True),
        lambda path, _: load_baseline(path),
        lambda path, _: config.load(path),
        query,
    ]


def expected_errors() -> tuple[type[BaseException], ...]:
    from imagelint.policy import PolicyError
    from imagelint.policy.yamlfile import FileProblems
    from imagelint.sources.interface import SourceError
    from imagelint.sources.transport import ConfigError

    return (SourceError, PolicyError, FileProblems, ConfigError)


_READERS: list[Callable[[Path, bytes], object]] = []
_EXPECTED: tuple[type[BaseException], ...] = ()
_FOLDER = tempfile.TemporaryDirectory(prefix="imagelint-fuzz-")


def one_input(data: bytes) -> None:
    """Run one input; raises only for a crash."""
    global _READERS, _EXPECTED
    if not _READERS:
        _READERS, _EXPECTED = _readers(), expected_errors()
    if not data:
        return
    which = data[0] % len(READERS)
    path = Path(_FOLDER.name) / READERS[which]
    path.write_bytes(data[1:])
    try:
        _READERS[which](path, data[1:])
    except _EXPECTED as exc:
        text = str(exc)
        # one line per problem, and never empty: what the CLI prints is all a user gets
        if not text.strip() or (which != 2 and "\n" in text and not hasattr(exc, "problems")):
            raise AssertionError(f"{READERS[which]}: unreadable error {text!r}") from exc


def main(paths: list[str]) -> int:
    for name in paths:
        one_input(Path(name).read_bytes())
        print(f"ok {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
