"""RE2 for ``matches()`` with a literal pattern on the fast path: linear time, at close to ``re`` speed.

CEL's ``matches`` is RE2 (cel-cpp links RE2; cel-python calls ``google-re2``), and RE2 runs in time linear
in the subject whatever the pattern. Python's ``re`` backtracks: ``^(a+)+$`` over 32 ``a`` and a ``!``
takes minutes, and image names are chosen by other tenants, so a shared image could stall a gate. This
matcher therefore never uses ``re``. It calls the ``google-re2`` binding's compiled program directly
(``_re2.RE2.Match``, about 0.5 µs a search) rather than through ``re2.search`` (3-4 µs: the wrapper
builds match objects and maps byte offsets back to characters, none of which a yes/no answer needs),
and compiles without capture groups, which RE2 then never tracks.

``tests/test_regex.py`` holds it to ``re2.search``'s answers on the bundled pack's patterns and on
adversarial ones, and to a bound on patterns that backtrack exponentially in ``re``.
"""

from __future__ import annotations

import re2
from re2 import _re2

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


def _options() -> re2.Options:
    options = re2.Options()
    options.never_capture = True  # only whether it matches is asked: RE2 can then use its fastest engines
    return options


class Matcher:
    """``Matcher(pattern)(text)`` == RE2 ``search(pattern, text) is not None``, in time linear in ``text``."""

    __slots__ = ("re2", "_match")

    def __init__(self, pattern: str) -> None:
        self.re2 = re2.compile(pattern)  # raises re2.error: the caller keeps CEL's own error then
        program = _re2.RE2(pattern.encode("utf-8"), _options())
        if not program.ok():  # compiled above, so only an RE2 change gets here
            raise re2.error(program.error())
        self._match = program.Match

    def __call__(self, text: str) -> bool:
        data = text.encode("utf-8")  # a lone surrogate raises here, as in re2.search
        return self._match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH
