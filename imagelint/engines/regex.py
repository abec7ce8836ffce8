"""RE2 for ``matches()`` with a literal pattern on the fast path: linear time, at close to ``re`` speed.

CEL's ``matches`` is RE2 (cel-cpp links RE2; cel-python calls ``google-re2``), and RE2 runs in time linear
in the subject whatever the pattern. Python's ``re`` backtracks: ``^(a+)+$`` over 32 ``a`` and a ``!``
takes minutes, and image names are chosen by other tenants, so a shared image could stall a gate. This
matcher therefore never uses ``re``. It calls the ``google-re2`` binding's compiled program directly
(``_re2.RE2.Match``, about 0.5 µs a search) rather than through ``re2.search`` (3-4 µs: the wrapper
builds match objects and maps byte offsets back to characters, none of which a yes/no answer needs),
and compiles without capture groups, which RE2 then never tracks.

A crossing into the binding still costs about 1 µs, and the bundled packs make some nine of them an image,
nearly all on the image library's own patterns. For those few exact patterns (``NATIVE``) the answer comes
from plain Python instead, in a third of the time: string methods where the pattern is a character class
(``blank()``) or a shape that ``strip``/``partition`` decide, and ``re`` only where the pattern is
anchored at both ends and has no unbounded repetition (dates, times, UUIDs), so that ``re.match`` looks at
a bounded prefix of the subject and the number of paths it can try is fixed by the pattern, whatever a
tenant writes. A pattern not in the table, however similar, goes to RE2.

``tests/test_regex.py`` holds both paths to ``re2.search``'s answers on the bundled pack's patterns and on
adversarial ones (the natives also over property-generated subjects), and to a bound on patterns that
backtrack exponentially in ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import re2
from re2 import _re2

from imagelint.policy import library

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


def _options() -> re2.Options:
    options = re2.Options()
    options.never_capture = True  # only whether it matches is asked: RE2 can then use its fastest engines
    return options


class Matcher:
    """``Matcher(pattern)(text)`` == RE2 ``search(pattern, text) is not None``, in time linear in ``text``.

    ``test`` is the same function, plain Python where ``NATIVE`` has the pattern: hot loops call it."""

    __slots__ = ("re2", "_match", "test")

    def __init__(self, pattern: str) -> None:
        self.re2 = re2.compile(pattern)  # raises re2.error: the caller keeps CEL's own error then
        program = _re2.RE2(pattern.encode("utf-8"), _options())
        if not program.ok():  # compiled above, so only an RE2 change gets here
            raise re2.error(program.error())
        self._match = program.Match
        self.test: Callable[[str], bool] = NATIVE.get(pattern) or self.search

    def search(self, text: str) -> bool:
        """RE2's own answer, whatever the pattern (what ``NATIVE`` is tested against)."""
        data = text.encode("utf-8")  # a lone surrogate raises here, as in re2.search
        return self._match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH

    def __call__(self, text: str) -> bool:
        return self.test(text)


# --- the library's patterns in plain Python ------------------------------------------------------------------
# Each answers as RE2's search does for every str, and raises UnicodeEncodeError where RE2's path would (a
# lone surrogate); a subject is encoded, to check that, only when it is not ASCII.

_WHITE = " \t\r\n"


def _encoded_false(text: str) -> bool:
    """False, once ``text`` is known to encode (a check that costs nothing for ASCII)."""
    if not text.isascii():
        text.encode("utf-8")
    return False


def _anchored(pattern: str) -> Callable[[str], bool]:
    """A pattern ``^...$`` without ``*``, ``+`` or ``{n,}`` over ASCII: its language is finite, so ``re.match``
    reads a bounded prefix and tries a number of paths fixed by the pattern, whatever the subject."""
    match = re.compile(pattern.removesuffix("$") + r"\Z", re.ASCII).match  # RE2's $ is the end, not a "\n"

    def test(text: str) -> bool:
        return match(text) is not None or _encoded_false(text)

    return test


def cel_text(source: str) -> str:
    """A library pattern as RE2 receives it: the CEL string literal's escapes (``\\t``, ``\\u00a0``) decoded."""
    simple = {"t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}
    return re.sub(r"\\([tnvfr]|u[0-9a-fA-F]{4})", lambda m: simple.get(m[1]) or chr(int(m[1][1:], 16)), source)


_INVISIBLE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200E)))
    + "\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
"""The characters ``library.VISIBLE`` excludes (tests/test_regex.py holds the two to each other)."""


def _visible(text: str) -> bool:
    # [^...] is found somewhere <=> something is left once those characters are stripped from both ends
    _encoded_false(text)
    return text.strip(_INVISIBLE) != ""


def _positive_digits(text: str) -> bool:
    # ^[0-9]*[1-9][0-9]*$: ASCII digits only (str.isdigit alone takes other scripts' digits), not all "0"
    return (text.isascii() and text.isdigit() and text.strip("0") != "") or _encoded_false(text)


def _json_list(text: str) -> bool:
    # (?s)^[ \t\r\n]*\[.*\][ \t\r\n]*$: inside the white space at both ends, "[" ... "]"
    _encoded_false(text)  # a match can hold any character
    inner = text.strip(_WHITE)
    return len(inner) >= 2 and inner[0] == "[" and inner[-1] == "]"


def _blank_value(text: str) -> bool:
    # ^[^=]*=[ \t\r\n]*$: after the first "=" (the class cannot pass one), nothing but white space
    _encoded_false(text)
    _, equals, rest = text.partition("=")
    return equals != "" and rest.strip(_WHITE) == ""


def _dot_at_end(text: str) -> bool:
    # [.][ \t\r\n]*$: a "." followed by nothing but white space
    _encoded_false(text)
    return text.rstrip(_WHITE).endswith(".")


NATIVE: dict[str, Callable[[str], bool]] = {
    **{p: _anchored(p) for p in (library.RFC3339, library.RFC3339_UTC, library.SPACED, library.UUID)},
    cel_text(library.VISIBLE): _visible,  # blank()
    "^[0-9]*[1-9][0-9]*$": _positive_digits,  # image-size-positive
    r"(?s)^[ \t\r\n]*\[.*\][ \t\r\n]*$": _json_list,  # os-feature-list-json: a raw CEL string, RE2's escapes
    "^[^=]*=[ \t\r\n]*$": _blank_value,  # required-tags: a "..." CEL string, the characters themselves
    "[.][ \t\r\n]*$": _dot_at_end,  # required-tags
}
"""Pattern, as RE2 receives it -> the same answer as ``search(pattern, text) is not None``, in plain Python."""
