"""CEL's values and standard functions in plain Python, as cel-cpp evaluates them: the compiled engine's runtime.

A CEL value is the Python value JSON gives (``str``, ``int``, ``float``, ``bool``, ``None``, ``list``,
``dict``) or one of the few classes here (``Uint``, ``Timestamp``, ``Duration``, ``CelType``; bytes are
``bytes``). An error is a raised ``CelError``: the compiled code turns it back into a value where CEL
absorbs errors (``&&``, ``||``, ``all``, ``exists``). Every function checks its operands' types exactly,
because CEL has no implicit conversion: ``Python's True == 1`` and ``1 + 1.0`` must not leak through.

Each behaviour here was read off cel-cpp (``cel-expr-python``) and is held to it by
``tests/test_compiled.py`` (the conformance suite and a property test against cel-cpp).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
UINT_MAX = (1 << 64) - 1
NANOS = 1_000_000_000
# cel-cpp's range: timestamps in years 1..9999, durations within about ±10,000 years
TS_MIN = -62135596800 * NANOS
TS_MAX = 253402300799 * NANOS + NANOS - 1
DUR_MAX = 315576000000 * NANOS + NANOS - 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CelError(Exception):
    """A CEL error value, raised."""


class Uint(int):
    """A CEL ``uint`` (a Python ``int`` subclass so that arithmetic and comparisons stay native)."""

    __slots__ = ()


class Timestamp:
    """A CEL timestamp: nanoseconds since the Unix epoch, UTC."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        if not TS_MIN <= ns <= TS_MAX:
            raise CelError("timestamp overflow")
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return type(other) is Timestamp and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(("ts", self.ns))

    def datetime(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(microseconds=self.ns // 1000)


class Duration:
    """A CEL duration in nanoseconds."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        if not -DUR_MAX <= ns <= DUR_MAX:
            raise CelError("duration overflow")
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return type(other) is Duration and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(("dur", self.ns))


class CelType:
    """A CEL type value (``type(x)``, the identifiers ``int``, ``string``...): compared by identity."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


T_INT, T_UINT, T_DOUBLE, T_BOOL = CelType("int"), CelType("uint"), CelType("double"), CelType("bool")
T_STRING, T_BYTES, T_LIST, T_MAP = CelType("string"), CelType("bytes"), CelType("list"), CelType("map")
T_NULL, T_TYPE = CelType("null_type"), CelType("type")
T_TIMESTAMP, T_DURATION = CelType("google.protobuf.Timestamp"), CelType("google.protobuf.Duration")
TYPE_IDENTS = {
    "int": T_INT,
    "uint": T_UINT,
    "double": T_DOUBLE,
    "bool": T_BOOL,
    "string": T_STRING,
    "bytes": T_BYTES,
    "list": T_LIST,
    "map": T_MAP,
    "null_type": T_NULL,
    "type": T_TYPE,
}
_TYPES: dict[type, CelType] = {
    int: T_INT,
    Uint: T_UINT,
    float: T_DOUBLE,
    bool: T_BOOL,
    str: T_STRING,
    bytes: T_BYTES,
    list: T_LIST,
    tuple: T_LIST,
    dict: T_MAP,
    type(None): T_NULL,
    CelType: T_TYPE,
    Timestamp: T_TIMESTAMP,
    Duration: T_DURATION,
}
_NUMERIC = (int, Uint, float)


def type_name(value: Any) -> str:
    found = _TYPES.get(type(value))
    return found.name if found else type(value).__name__


def no_overload(name: str, *args: Any) -> CelError:
    return CelError(f"no matching overload for {name}({', '.join(type_name(a) for a in args)})")


def typeof(value: Any) -> CelType:
    found = _TYPES.get(type(value))
    if found is None:
        raise CelError(f"unsupported value type {type(value).__name__}")
    return found


# --- equality and ordering -----------------------------------------------------------------------------


def eq(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality: numbers compare by value across int, uint and double; otherwise values
    of different types are unequal (not an error); lists and maps compare element by element."""
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is list or ta is tuple:
            return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))
        if ta is dict:
            return _map_eq(a, b)
        return bool(a == b)
    if ta in _NUMERIC and tb in _NUMERIC:  # bool is not in _NUMERIC
        if ta is float or tb is float:
            return float(a) == float(b)  # cel-cpp converts the integer to double (rounding) first
        return bool(a == b)
    if (ta is list or ta is tuple) and (tb is list or tb is tuple):
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))
    return False


def _map_eq(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    if len(a) != len(b):
        return False
    for key, value in a.items():
        found = map_find(b, key)
        if found is _ABSENT or not eq(value, found):
            return False
    return True


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _ordered(name: str, a: Any, b: Any) -> tuple[Any, Any]:
    ta, tb = type(a), type(b)
    if ta is tb and ta in (int, Uint, float, str, bytes, bool):
        return a, b
    if ta in _NUMERIC and tb in _NUMERIC:
        if ta is float or tb is float:
            return float(a), float(b)
        return a, b
    if ta is tb and (ta is Timestamp or ta is Duration):
        return a.ns, b.ns
    raise no_overload(name, a, b)


def lt(a: Any, b: Any) -> bool:
    x, y = _ordered("_<_", a, b)
    return bool(x < y)


def le(a: Any, b: Any) -> bool:
    x, y = _ordered("_<=_", a, b)
    return bool(x <= y)


def gt(a: Any, b: Any) -> bool:
    x, y = _ordered("_>_", a, b)
    return bool(x > y)


def ge(a: Any, b: Any) -> bool:
    x, y = _ordered("_>=_", a, b)
    return bool(x >= y)


# --- maps, lists, selection -----------------------------------------------------------------------------

_ABSENT = object()


def _key_of(key: Any) -> Any:
    """The representative of a lookup key among map keys (int, uint, bool, string); a double that holds an
    integer finds the int/uint key of that value, as in cel-cpp."""
    kind = type(key)
    if kind is str or kind is int or kind is Uint or kind is bool:
        return key
    if kind is float:
        if key.is_integer():
            return int(key)
        return _ABSENT
    raise CelError(f"unsupported key type {type_name(key)}")


def map_find(m: dict[Any, Any], key: Any) -> Any:
    """``m[key]`` by CEL's rules or ``_ABSENT``. Python's dict treats True, 1 and 1.0 as one key: check the
    kind of the stored key (bool against bool, a number against a number)."""
    if type(key) is str:
        return m.get(key, _ABSENT)
    wanted = _key_of(key)
    if wanted is _ABSENT:
        return _ABSENT
    for stored, value in m.items():
        ts = type(stored)
        if ts is str:
            continue
        if (ts is bool) != (type(wanted) is bool):
            continue
        if stored == wanted:
            return value
    return _ABSENT


def index(container: Any, key: Any) -> Any:
    kind = type(container)
    if kind is dict:
        found = map_find(container, key)
        if found is _ABSENT:
            raise CelError(f"no such key: {key!r}")
        return found
    if kind is list or kind is tuple:
        tk = type(key)
        if tk is int or tk is Uint or tk is float and key.is_integer():
            position = int(key)
        else:
            raise no_overload("_[_]", container, key)
        if not 0 <= position < len(container):
            raise CelError(f"index out of bounds: {position}")
        return container[position]
    raise no_overload("_[_]", container, key)


def select(container: Any, field: str) -> Any:
    if type(container) is dict:
        found = container.get(field, _ABSENT)
        if found is _ABSENT:
            raise CelError(f"no such key: {field!r}")
        return found
    raise CelError(f"type {type_name(container)} has no field {field!r}")


def has(container: Any, field: str) -> bool:
    if type(container) is dict:
        return field in container
    raise CelError(f"invalid type for has(): {type_name(container)}")


def contains_in(item: Any, container: Any) -> bool:
    """``item in container``."""
    kind = type(container)
    if kind is list or kind is tuple:
        ti = type(item)
        if ti is str:
            return any(type(x) is str and x == item for x in container)
        return any(eq(item, x) for x in container)
    if kind is dict:
        if type(item) not in (str, int, Uint, bool, float):
            raise no_overload("@in", item, container)
        return map_find(container, item) is not _ABSENT
    raise no_overload("@in", item, container)


def iterate(container: Any, macro: str) -> Any:
    kind = type(container)
    if kind is list or kind is tuple:
        return container
    if kind is dict:
        return list(container)
    raise CelError(f"{macro}() needs a list or a map, not {type_name(container)}")


def make_map(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if type(key) not in (str, int, Uint, bool):
            raise CelError(f"unsupported map key type {type_name(key)}")
        if map_find(out, key) is not _ABSENT:
            raise CelError("duplicate key in map")
        out[key] = value
    return out


def size(value: Any) -> int:
    kind = type(value)
    if kind is str or kind is bytes or kind is list or kind is tuple or kind is dict:
        return len(value)
    raise no_overload("size", value)


# --- arithmetic ------------------------------------------------------------------------------------------


def _int(value: int) -> int:
    if INT_MIN <= value <= INT_MAX:
        return value
    raise CelError("integer overflow")


def _nanos(value: int) -> Duration:
    """Duration arithmetic runs on int64 nanoseconds in cel-cpp (parsing allows more)."""
    if INT_MIN <= value <= INT_MAX:
        return Duration(value)
    raise CelError("integer overflow")


def _uint(value: int) -> Uint:
    if 0 <= value <= UINT_MAX:
        return Uint(value)
    raise CelError("unsigned integer overflow")


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(a + b)
        if ta is str or ta is float or ta is bytes:
            return a + b
        if ta is Uint:
            return _uint(a + b)
        if ta is list:
            return a + b
        if ta is Duration:
            return _nanos(a.ns + b.ns)
    if ta is Timestamp and tb is Duration:
        return Timestamp(a.ns + b.ns)
    if ta is Duration and tb is Timestamp:
        return Timestamp(a.ns + b.ns)
    if (ta is list or ta is tuple) and (tb is list or tb is tuple):
        return list(a) + list(b)
    raise no_overload("_+_", a, b)


def sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(a - b)
        if ta is float:
            return a - b
        if ta is Uint:
            return _uint(a - b)
        if ta is Timestamp or ta is Duration:
            return _nanos(a.ns - b.ns)
    if ta is Timestamp and tb is Duration:
        return Timestamp(a.ns - b.ns)
    raise no_overload("_-_", a, b)


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(a * b)
        if ta is float:
            return a * b
        if ta is Uint:
            return _uint(a * b)
    raise no_overload("_*_", a, b)


def div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is float:
            if b == 0.0:
                if a == 0.0 or math.isnan(a):
                    return math.nan
                return math.copysign(math.inf, a) * math.copysign(1.0, b)
            return a / b
        if ta is int or ta is Uint:
            if b == 0:
                raise CelError("divide by zero")
            quotient = abs(a) // abs(b)  # C++ truncates toward zero
            if (a < 0) != (b < 0):
                quotient = -quotient
            return _int(quotient) if ta is int else Uint(quotient)
    raise no_overload("_/_", a, b)


def mod(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb and (ta is int or ta is Uint):
        if b == 0:
            raise CelError("modulus by zero")
        rest = abs(a) % abs(b)  # C++: the sign of the dividend
        return (-rest if a < 0 else rest) if ta is int else Uint(rest)
    raise no_overload("_%_", a, b)


def neg(a: Any) -> Any:
    ta = type(a)
    if ta is int:
        return _int(-a)
    if ta is float:
        return -a
    raise no_overload("-_", a)  # cel-cpp has no negation of a duration


def logical_not(a: Any) -> bool:
    if a is True:
        return False
    if a is False:
        return True
    raise no_overload("!_", a)


def and_rest(pending: Any) -> bool:
    """The result of ``&&`` when no operand was false: ``pending`` is an error or a non-bool operand."""
    if isinstance(pending, CelError):
        raise pending
    raise no_overload("_&&_", pending)


def or_rest(pending: Any) -> bool:
    """The result of ``||`` when no operand was true."""
    if isinstance(pending, CelError):
        raise pending
    raise no_overload("_||_", pending)


def truth(value: Any, name: str) -> bool:
    if value is True or value is False:
        return value
    raise no_overload(name, value)


# --- strings ---------------------------------------------------------------------------------------------


def _strings(name: str, a: Any, b: Any) -> None:
    if type(a) is not str or type(b) is not str:
        raise no_overload(name, a, b)


def contains(a: Any, b: Any) -> bool:
    _strings("contains", a, b)
    return b in a


def starts_with(a: Any, b: Any) -> bool:
    _strings("startsWith", a, b)
    return bool(a.startswith(b))


def ends_with(a: Any, b: Any) -> bool:
    _strings("endsWith", a, b)
    return bool(a.endswith(b))


# --- conversions -----------------------------------------------------------------------------------------

_INT_TEXT = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+[ \t\n\v\f\r]*", re.ASCII)


def to_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is Uint:
        if value > INT_MAX:
            raise CelError("uint64 out of int64 range")
        return int(value)
    if kind is float:
        if math.isnan(value) or not -9.223372036854775e18 <= value <= 9.223372036854775e18:
            raise CelError("double out of int64 range")
        return int(value)
    if kind is str:
        if _INT_TEXT.fullmatch(value) is None:
            raise CelError("cannot convert string to int")
        number = int(value)
        if not INT_MIN <= number <= INT_MAX:
            raise CelError("cannot convert string to int")
        return number
    if kind is bool:
        return int(value)
    if kind is Timestamp:
        return value.ns // NANOS
    raise no_overload("int", value)


def to_uint(value: Any) -> Uint:
    kind = type(value)
    if kind is Uint:
        return value
    if kind is int:
        if value < 0:
            raise CelError("int64 out of uint64 range")
        return Uint(value)
    if kind is float:
        if math.isnan(value) or not 0 <= value <= 1.8446744073709550e19:
            raise CelError("double out of uint64 range")
        return Uint(int(value))
    if kind is str:
        if _INT_TEXT.fullmatch(value) is None or value.strip().startswith("-"):
            raise CelError("cannot convert string to uint")
        number = int(value)
        if number > UINT_MAX:
            raise CelError("cannot convert string to uint")
        return Uint(number)
    raise no_overload("uint", value)


_FLOAT_TEXT = re.compile(
    r"[ \t\n\v\f\r]*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)[ \t\n\v\f\r]*",
    re.ASCII | re.IGNORECASE,
)


def to_double(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is Uint:
        return float(value)
    if kind is str:
        if _FLOAT_TEXT.fullmatch(value) is None:
            raise CelError("cannot convert string to double")
        return float(value)
    raise no_overload("double", value)


def format_double(value: float) -> str:
    """cel-cpp's ``string(double)``: the shortest digits that read back, laid out as ``%g`` does."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0.0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits = repr(value)
    mantissa, _, exp_text = digits.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    whole, _, frac = mantissa.partition(".")
    exponent = int(exp_text) if exp_text else 0
    significant = (whole + frac).lstrip("0")
    # normalise to d.ddd x 10^e
    if whole.strip("0"):
        e10 = exponent + len(whole.lstrip("0")) - 1
    else:
        e10 = exponent - (len(frac) - len(frac.lstrip("0"))) - 1
    significant = significant.rstrip("0") or "0"
    if -4 <= e10 <= 5:  # %g's layout with the shortest round-trip digits (cel-cpp: 123456 but 1.234567e+06)
        text = f"{abs(value):.{max(0, len(significant) - e10 - 1)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return sign + text
    body = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
    return f"{sign}{body}e{'-' if e10 < 0 else '+'}{abs(e10):02d}"


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


def format_timestamp(value: Timestamp) -> str:
    seconds, nanos = divmod(value.ns, NANOS)
    moment = _EPOCH + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + _fraction(nanos) + "Z"


def format_duration(value: Duration) -> str:
    sign = "-" if value.ns < 0 else ""
    seconds, nanos = divmod(abs(value.ns), NANOS)
    return f"{sign}{seconds}{_fraction(nanos)}s"


def to_string(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is Uint:
        return str(int(value))
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return format_double(value)
    if kind is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise CelError("malformed UTF-8 bytes") from None
    if kind is Timestamp:
        return format_timestamp(value)
    if kind is Duration:
        return format_duration(value)
    raise no_overload("string", value)


def to_bytes(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is str:
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise CelError("malformed UTF-8 string") from None
    raise no_overload("bytes", value)


_BOOL_TEXT = {"true": True, "True": True, "TRUE": True, "t": True, "1": True}
_BOOL_TEXT.update({"false": False, "False": False, "FALSE": False, "f": False, "0": False})


def to_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is str:
        found = _BOOL_TEXT.get(value)
        if found is None:
            raise CelError("cannot convert string to bool")
        return found
    raise no_overload("bool", value)


_TIMESTAMP_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): no datetime objects,
    which cost more than the rest of the parse for the one timestamp per image a policy reads."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_PARSED: dict[str, Timestamp] = {}
"""The last texts ``parse_timestamp`` read: a pack reads an image's created_at in its code and again in the
message of its failure. Bounded in entries and in the length of a text kept (a fraction can be any length)."""
_PARSED_MAX = 64


def parse_timestamp(text: str) -> Timestamp:
    known = _PARSED.get(text)
    if known is not None:
        return known
    parsed = _parse_timestamp(text)
    if len(text) <= 40:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = parsed
    return parsed


def _parse_timestamp(text: str) -> Timestamp:
    found = _TIMESTAMP_TEXT.fullmatch(text)
    if found is None:
        raise CelError(f"invalid timestamp {text[:64]!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    y, mo, d, h, mi, sec = int(year), int(month), int(day), int(hour), int(minute), int(second)
    leap = mo == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= _MONTH_DAYS[mo] + leap and h <= 23 and mi <= 59 and sec <= 60 and y >= 1):
        raise CelError(f"invalid timestamp {text[:64]!r}")
    seconds = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec  # :60 is the next minute's :00
    if zone not in ("Z", "z"):
        if int(zone[1:3]) > 23 or int(zone[4:6]) > 59:
            raise CelError(f"invalid timestamp {text[:64]!r}")
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0  # digits past nanoseconds are cut, as in cel-cpp
    return Timestamp(seconds * NANOS + nanos)


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)", re.ASCII)
_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 1_000_000, "s": NANOS, "m": 60 * NANOS, "h": 3600 * NANOS}


def parse_duration(text: str) -> Duration:
    body, sign = text, 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return Duration(0)
    total, pos = 0, 0
    if not body:
        raise CelError(f"invalid duration {text[:64]!r}")
    while pos < len(body):
        found = _DURATION_PART.match(body, pos)
        if found is None:
            raise CelError(f"invalid duration {text[:64]!r}")
        number, unit = found.group(1), found.group(2)
        whole, _, frac = number.partition(".")
        scale = _UNITS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if total > DUR_MAX:
            raise CelError("duration out of range")
        pos = found.end()
    return Duration(sign * total)


def to_timestamp(value: Any) -> Timestamp:
    kind = type(value)
    if kind is Timestamp:
        return value
    if kind is str:
        return parse_timestamp(value)
    if kind is int:
        return Timestamp(value * NANOS)
    raise no_overload("timestamp", value)


def to_duration(value: Any) -> Duration:
    kind = type(value)
    if kind is Duration:
        return value
    if kind is str:
        return parse_duration(value)
    raise no_overload("duration", value)


def from_datetime(moment: dt.datetime) -> Timestamp:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    delta = moment - _EPOCH
    return Timestamp((delta.days * 86400 + delta.seconds) * NANOS + delta.microseconds * 1000)


# --- timestamp and duration accessors --------------------------------------------------------------------

_OFFSET = re.compile(r"([+-]?)([0-9]{1,2}):([0-9]{2})", re.ASCII)


def _local(value: Timestamp, zone: Any) -> tuple[dt.datetime, int]:
    seconds, nanos = divmod(value.ns, NANOS)
    moment = _EPOCH + dt.timedelta(seconds=seconds)
    if zone is not None:
        if type(zone) is not str:
            raise no_overload("timestamp accessor", value, zone)
        found = _OFFSET.fullmatch(zone)
        if found is not None:
            delta = dt.timedelta(hours=int(found.group(2)), minutes=int(found.group(3)))
            moment = moment + (-delta if found.group(1) == "-" else delta)
        else:
            try:
                from zoneinfo import ZoneInfo

                moment = moment.astimezone(ZoneInfo(zone))
            except Exception:  # noqa: BLE001 - any unknown zone name is CEL's error
                raise CelError(f"invalid time zone {zone[:64]!r}") from None
    return moment, nanos


def accessor(name: str, value: Any, zone: Any = None) -> int:
    if type(value) is Duration:
        if zone is not None:
            raise no_overload(name, value, zone)
        whole = int(value.ns / NANOS) if value.ns < 0 else value.ns // NANOS
        per = {"getHours": 3600, "getMinutes": 60, "getSeconds": 1}
        if name in per:
            return int(whole / per[name]) if whole < 0 else whole // per[name]
        if name == "getMilliseconds":
            millis = abs(value.ns) % NANOS // 1_000_000
            return -millis if value.ns < 0 else millis
        raise no_overload(name, value)
    if type(value) is not Timestamp:
        raise no_overload(name, value)
    moment, nanos = _local(value, zone)
    if name == "getFullYear":
        return moment.year
    if name == "getMonth":
        return moment.month - 1
    if name == "getDate":
        return moment.day
    if name == "getDayOfMonth":
        return moment.day - 1
    if name == "getDayOfYear":
        return moment.timetuple().tm_yday - 1
    if name == "getDayOfWeek":
        return (moment.weekday() + 1) % 7
    if name == "getHours":
        return moment.hour
    if name == "getMinutes":
        return moment.minute
    if name == "getSeconds":
        return moment.second
    if name == "getMilliseconds":
        return nanos // 1_000_000
    raise no_overload(name, value)
