"""The fuzz corpus (tests/fuzz/corpus) replayed through the fuzz target in the ordinary suite: every input
ends in a value or the reader's own error. ``.ci/run`` runs the coverage-guided fuzzer itself
(``python -m tests.fuzz.run``) for a bounded time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import inputs

CORPUS = sorted((Path(__file__).parent / "fuzz" / "corpus").iterdir())


def test_the_corpus_covers_every_reader():
    assert {p.read_bytes()[0] % len(inputs.READERS) for p in CORPUS if p.read_bytes()} == set(
        range(len(inputs.READERS))
    )


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_a_corpus_input_ends_in_a_value_or_the_readers_error(path):
    inputs.one_input(path.read_bytes())


def test_the_target_reports_an_error_that_is_not_the_readers_own(monkeypatch):
    inputs.one_input(b"\x06visibility=public")  # loads the readers
    broken = list(inputs._READERS)
    broken[6] = lambda path, data: 1 / 0
    monkeypatch.setattr(inputs, "_READERS", broken)
    with pytest.raises(ZeroDivisionError):
        inputs.one_input(b"\x06visibility=public")
