"""The image library: CEL functions for policies about images, declared once for every engine.

Most functions are *expansions*: the loader replaces each call by standard CEL text before any engine sees
the expression (``celtree.expand``), so cel-cpp, cel-python and any later engine run the same standard CEL,
at the cost of the hand-written CEL they replace, with CEL's own errors. Only what standard CEL cannot
say is a *native* function (``imsTime``: standard CEL has no substring to rewrite ``yyyy-MM-dd hh:mm:ss``);
each native has one plain-Python implementation here, which every engine registers.

``cel.bind(name, init, body)`` (the CEL bindings extension) is an expansion too: ``body`` with every free
``name`` replaced by ``(init)``. CEL has no side effects, so that is the bound value, evaluated lazily like
``spec.variables``. The rest of the standard extensions is not enabled: cel-python has neither the string
extension's functions nor the optional syntax (``image.?x``), so those would mean different things on
different engines. docs/cel-library.md is the reference; tests/test_library.py holds every engine to it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

# One date of the Gregorian calendar, years 1900-2999 (what the API can hold), leap days included.
_DATE = (
    "((19[0-9]{2}|2[0-9]{3})-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|"
    "02-(0[1-9]|1[0-9]|2[0-8]))|(19(0[48]|[2468][048]|[13579][26])|2[0-9](0[48]|[2468][048]|[13579][26])|"
    "2[048]00)-02-29)"
)
_CLOCK = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
RFC3339 = f"^{_DATE}T{_CLOCK}([.][0-9]{{1,9}})?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])$"
"""RFC 3339 with any offset (the API's first form)."""
RFC3339_UTC = f"^{_DATE}T{_CLOCK}([.][0-9]{{1,9}})?Z$"
"""RFC 3339 in UTC (``Z``), the form the API page documents for its responses."""
SPACED = f"^{_DATE} {_CLOCK}$"
"""``yyyy-MM-dd hh:mm:ss``, the API's second UTC form."""
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
VISIBLE = "[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200d\\u2028\\u2029\\u202f\\u205f\\u2060\\u3000\\ufeff]"
"""One character that is neither Unicode white space nor zero-width (as CEL regex source, RE2 syntax)."""
FLAG_SPELLINGS = ("true", "True", "TRUE")
"""The strings ``flag()`` reads as true; boolean-attributes-valid reports every spelling but ``"true"``."""


@dataclass(frozen=True)
class Arg:
    """One argument of a library call, as the expansion sees it."""

    text: str
    """Its (already expanded) CEL text, parenthesised unless it is a selection, identifier or literal."""
    guard: str | None
    """A presence test for it (``has(image.x)``, ``"x" in image``), when it is a selection that can be absent."""
    literal: str | None
    """Its value, when it is a plain string literal."""
    attribute: str | None = None
    """The attribute name, when it is ``image.NAME`` or ``image["NAME"]``."""


class ExpansionError(ValueError):
    """A call the library cannot expand (reported at the call, like a type error)."""


@dataclass(frozen=True)
class Function:
    """A library function: its signature (for the static checks) and its expansion or implementation."""

    name: str
    params: tuple[str, ...]
    """CEL type names of the parameters (``dyn`` for any); ``image`` for the image itself."""
    result: str
    summary: str
    expand: Callable[[list[Arg]], str] | None = None
    """Standard CEL text for a call, or ``None`` for a native function."""
    native: Callable[..., object] | None = None
    """The plain-Python implementation of a native function (raises ``ValueError`` for a CEL error)."""
    literal_params: tuple[int, ...] = ()
    """Parameters that must be string literals (an attribute name)."""

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)}) -> {self.result}"


def _guarded(arg: Arg, test: str) -> str:
    return f"({arg.guard} && {test})" if arg.guard else f"({test})"


def _is_string(args: list[Arg]) -> str:
    return _guarded(args[0], f"type({args[0].text}) == string")


def _is_list(args: list[Arg]) -> str:
    return _guarded(args[0], f"type({args[0].text}) == list")


def _present(args: list[Arg]) -> str:
    return _guarded(args[0], f"type({args[0].text}) != null_type")


def _blank(args: list[Arg]) -> str:
    x = args[0].text
    test = f'type({x}) == null_type || (type({x}) == string && !{x}.matches("{VISIBLE}"))'
    guard = args[0].guard
    if guard and not guard.startswith("has("):
        guard = f"({guard})"  # `!k in image` would negate k
    return f"(!{guard} || {test})" if guard else f"({test})"


def _one_of(args: list[Arg]) -> str:
    return _guarded(args[0], f"type({args[0].text}) == string && {args[0].text} in {args[1].text}")


def _matching(pattern: str) -> Callable[[list[Arg]], str]:
    def expand(args: list[Arg]) -> str:
        x = args[0].text
        return _guarded(args[0], f'type({x}) == string && {x}.matches("{pattern}")')

    return expand


def _is_ims_time(args: list[Arg]) -> str:
    x = args[0].text
    return _guarded(args[0], f'type({x}) == string && ({x}.matches("{RFC3339}") || {x}.matches("{SPACED}"))')


def _flag(args: list[Arg]) -> str:
    name = args[1].literal or ""
    ref = f"image.{name}" if re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9]*", name) else f"image[{_quote(name)}]"
    present = f"has({ref})" if ref.startswith("image.") else f"{_quote(name)} in image"
    spellings = ", ".join(_quote(s) for s in FLAG_SPELLINGS)
    return f"({present} && (type({ref}) == bool ? {ref} : type({ref}) == string && {ref} in [{spellings}]))"


def _describe(args: list[Arg]) -> str:
    x = args[0].text
    return (
        f"(type({x}) == string ? '\"' + {x} + '\"' : type({x}) == bool ? "
        f"({x} ? 'true (a JSON boolean)' : 'false (a JSON boolean)') : type({x}) == int ? "
        f"string({x}) + ' (a JSON number)' : type({x}) == null_type ? 'null' : type({x}) == list ? "
        f"'a JSON list' : type({x}) == map ? 'a JSON object' : 'a JSON number')"
    )


MAX_DURATION_SECONDS = 9_223_372_036
"""cel-cpp holds durations in int64 nanoseconds (about 292 years); cel-python up to 10,000 years."""


def _is_not(args: list[Arg]) -> str:
    name, value, what = (a.text for a in args)
    return (
        f"(type({value}) == string ? {name} + ' \"' + {value} + '\" is not ' + {what} : "
        f"{name} + ' is not a string, expected ' + {what})"
    )


def _documented_values(arg: Arg) -> tuple[str, tuple[str, ...]]:
    """The attribute an argument selects and its documented values (``DocumentedError`` if none)."""
    from imagelint.policy.catalogue import IMAGE_ATTRIBUTES

    name = arg.attribute or ""
    attribute = IMAGE_ATTRIBUTES.get(name)
    if attribute is None or not attribute.values:
        raise ExpansionError(f"the attribute catalogue documents no set of values for {name or 'this argument'}")
    return name, attribute.values


def _documented(args: list[Arg]) -> str:
    _, values = _documented_values(args[0])
    return _one_of([args[0], Arg("[" + ", ".join(_quote(v) for v in values) + "]", None, None)])


def _not_documented(args: list[Arg]) -> str:
    name, values = _documented_values(args[0])
    return _is_not([Arg(_quote(name), None, name), args[0], Arg(_quote("one of " + ", ".join(values)), None, None)])


def _as_list(args: list[Arg]) -> str:
    x = args[0].text
    return f"(type({x}) == list ? {x} : [{x}])"


def _and_more(args: list[Arg]) -> str:
    items, noun = args[0].text, args[1].literal or ""
    more = _quote(f" more {noun})" if noun else " more)")
    return f"(size({items}) > 1 ? ' (and ' + string(size({items}) - 1) + {more} : '')"


def _ims_time(args: list[Arg]) -> str:
    # RFC 3339 in standard CEL (no call out of the engine, a few hundred ns); only the space form, which
    # standard CEL cannot read, and errors go to the native. The RFC 3339 pattern alone decides: a text it
    # matches is never the space form, so isImsTime's second pattern would only cost a lookup
    x = args[0].text
    rfc3339 = _guarded(args[0], f'type({x}) == string && {x}.matches("{RFC3339}")')
    return f"({rfc3339} ? timestamp({x}) : imsTimeNative({x}))"


def _span(unit_seconds: int) -> Callable[[list[Arg]], str]:
    limit = MAX_DURATION_SECONDS // unit_seconds

    def expand(args: list[Arg]) -> str:
        n = args[0].text
        # anything but an int within the range both engines hold is an error on both (cel-python would
        # multiply a bool, cel-cpp would clamp a long duration)
        return (
            f'(type({n}) == int && {n} >= -{limit} && {n} <= {limit} ? duration(string({n} * {unit_seconds}) + "s")'
            f' : duration("{limit + 1} or more is out of range"))'
        )

    return expand


def _ims_text(args: list[Arg]) -> str:
    t = args[0].text

    def two(part: str, plus: str = "") -> str:
        limit = "9" if plus else "10"
        return f'(({t}.{part}() < {limit} ? "0" : "") + string({t}.{part}(){plus}))'

    # grouped in parentheses to stay within cel-cpp's parser depth
    return (
        f'((string({t}.getFullYear()) + "-" + {two("getMonth", " + 1")} + "-" + {two("getDate")}) + " " + '
        f'({two("getHours")} + ":" + {two("getMinutes")} + ":" + {two("getSeconds")}))'
    )


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ims_time(text: object) -> dt.datetime:
    """``imsTime``: the UTC time of either form the IMS API writes; ``ValueError`` for anything else.

    Accepts exactly the strings ``isImsTime`` is true for (the same patterns), so a policy that tests
    first never errors; a fraction of a second is kept to the microsecond (what both engines hold).
    """
    if not isinstance(text, str):
        raise ValueError("imsTime() takes a string")
    spaced = _SPACED_RE.match(text) is not None
    if not spaced and not _RFC3339_RE.match(text):
        raise ValueError("imsTime(): the text is neither RFC 3339 nor yyyy-MM-dd hh:mm:ss")
    # the patterns fixed every field's place and range: slicing is all the parsing left
    fields = (int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19]))
    if spaced:
        return dt.datetime(*fields, tzinfo=dt.UTC)
    rest = text[19:]
    zone = rest[-1:] if rest.endswith("Z") else rest[-6:]
    fraction = rest[: len(rest) - len(zone)]
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    when = dt.datetime(*fields, micro, tzinfo=dt.UTC)
    if zone == "Z":
        return when
    sign = 1 if zone[0] == "+" else -1
    return when - sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))


# Python's re reads these patterns as RE2 does here: ASCII classes and digits only; \Z for RE2's $
_SPACED_RE = re.compile(SPACED.replace("$", r"\Z"), re.ASCII)
_RFC3339_RE = re.compile(RFC3339.replace("$", r"\Z"), re.ASCII)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("present", ("dyn",), "bool", "the attribute is there and not null", _present),
        Function("blank", ("dyn",), "bool", "absent, null, empty or only white space / zero-width", _blank),
        Function("isString", ("dyn",), "bool", "the value is there and a string", _is_string),
        Function("isList", ("dyn",), "bool", "the value is there and a list", _is_list),
        Function("oneOf", ("dyn", "list"), "bool", "a string that is one of the list's", _one_of),
        Function("flag", ("image", "string"), "bool", 'an IMS flag that is true or "true"', _flag, literal_params=(1,)),
        Function("isUUID", ("dyn",), "bool", "a string that is a UUID (either letter case)", _matching(UUID)),
        Function("isImsTime", ("dyn",), "bool", "a string imsTime() reads", _is_ims_time),
        Function("isUtcTime", ("dyn",), "bool", "a string in RFC 3339 with Z", _matching(RFC3339_UTC)),
        Function("imsTime", ("string",), "timestamp", "the time of either IMS form", _ims_time),
        Function("imsTimeNative", ("string",), "timestamp", "imsTime's implementation", native=ims_time),
        Function("imsText", ("timestamp",), "string", "a time written yyyy-MM-dd hh:mm:ss (UTC)", _ims_text),
        Function("days", ("int",), "duration", "n days (|n| <= 106,751) as a duration", _span(86400)),
        Function("hours", ("int",), "duration", "n hours (|n| <= 2,562,047) as a duration", _span(3600)),
        Function("describe", ("dyn",), "string", "a value for a message", _describe),
        Function("documented", ("dyn",), "bool", "image.X is one of the catalogue's values for X", _documented),
        Function("notDocumented", ("dyn",), "string", 'a message: X "value" is not one of ...', _not_documented),
        Function("asList", ("dyn",), "list", "a list as it is, anything else as a list of one", _as_list),
        Function("isNot", ("string", "dyn", "string"), "string", 'a message: NAME "value" is not WHAT', _is_not),
        Function(
            "andMore",
            ("list", "string"),
            "string",
            "a message's ' (and N more NOUN)' after a list's first",
            _and_more,
            literal_params=(1,),
        ),
    )
}
"""Every library function by name."""

NATIVES = {name: f for name, f in FUNCTIONS.items() if f.native is not None}
"""The functions engines must implement (with ``Function.native``)."""
