"""RE2 semantics at Python ``re`` speed, for ``matches()`` with a literal pattern on the fast path.

CEL's ``matches`` is RE2 (cel-cpp links RE2; cel-python calls ``google-re2``). The ``google-re2`` binding
costs about 4 µs per search and cel-cpp's Python binding recompiles the pattern at every evaluation
(10-25 µs), while a precompiled Python ``re`` search costs 0.2 µs. The two engines agree on a subset that
is easy to state, so ``Matcher`` uses ``re`` only inside it and RE2 everywhere else:

* the pattern compiles under RE2 (so it is valid CEL) and under ``re`` with ``re.ASCII`` (so ``\\d``,
  ``\\w``, ``\\b`` mean ASCII, as in RE2), and contains none of the constructs the two read differently:
  POSIX classes ``[[:alpha:]]`` (a plain set to ``re``), ``{,n}`` (a literal to RE2, ``{0,n}`` to ``re``);
* the subject is printable ASCII (code points 32-126): no newline, so ``$`` cannot match before a final
  ``\\n`` as it does in ``re``; no ``\\v``, which ``re``'s ``\\s`` matches and RE2's does not.

``tests/test_regex.py`` holds the two to the same answers on the bundled pack's patterns and on
adversarial ones.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import re2

_DIFFERENT = ("[:", "{,")


class Matcher:
    """``Matcher(pattern)(text)`` == RE2 ``search(pattern, text) is not None``."""

    def __init__(self, pattern: str) -> None:
        self.re2 = re2.compile(pattern)  # raises re2.error: the caller keeps CEL's own error then
        self.fast: Callable[[str], object] | None = None
        if not any(marker in pattern for marker in _DIFFERENT):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # e.g. "possible nested set": a sign the readings differ
                    self.fast = re.compile(pattern, re.ASCII).search
            except (re.error, FutureWarning, DeprecationWarning):
                self.fast = None

    def __call__(self, text: str) -> bool:
        if self.fast is not None and text.isascii() and text.isprintable():  # i.e. code points 32-126
            return self.fast(text) is not None
        return self.re2.search(text) is not None
