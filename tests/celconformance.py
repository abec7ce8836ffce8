"""CEL's own conformance suite (google/cel-spec "simple" tests, tests/data/cel-spec-conformance/) on our engines.

A small reader for the text format of protocol buffers (the files are ``SimpleTestFile`` messages; the
project does not depend on protobuf), and one runner per engine that evaluates a case's expression with its
bindings and compares the result with the expected ``cel.expr.Value`` (maps order-agnostic, NaN matches
NaN, an expected error matches any error).

Each case gets an outcome: ``pass``, ``fail`` (in scope, wrong answer) or ``skip: REASON`` (outside what
the engine is asked to do: protobuf messages, extensions the project does not enable, declarations the
type checker needs...). ``python -m tests.celconformance`` prints the per-file table of docs/engines.md.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "cel-spec-conformance" / "testdata"
FILES = sorted(p.stem for p in DATA.glob("*.textproto"))

# --- text format reader --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<punct>[{}\[\]:<>,;])|(?P<word>[^\s{}\[\]:<>,;"'#]+)""",
    re.S,
)
_ESC = {
    "?": "?",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def _unquote(text: str) -> bytes:
    """A text-format string literal as bytes (the format's escapes are C's, octal and hex are bytes)."""
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        n = body[i + 1]
        if n in _ESC:
            out += _ESC[n].encode()
            i += 2
        elif n in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1 : j], 8))
            i = j
        elif n == "x":
            j = i + 2
            while j < len(body) and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2 : j], 16))
            i = j
        elif n in "uU":
            width = 4 if n == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode("utf-8", "surrogatepass")
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{n}")
    return bytes(out)


class Bytes(bytes):
    """A string field's raw bytes (decoded to ``str`` by the reader of a ``string_value``)."""


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    for found in _TOKEN.finditer(text):
        for kind in ("str", "punct", "word"):
            if found.group(kind) is not None:
                yield kind, found.group(kind)


def parse_textproto(text: str) -> dict[str, list[Any]]:
    """Every field as a list of values (repeated or not): a message is a dict, a scalar a str/Bytes."""
    tokens = list(_tokens(text))
    pos = 0

    def message(end: str | None) -> dict[str, list[Any]]:
        nonlocal pos
        out: dict[str, list[Any]] = {}
        while pos < len(tokens):
            kind, value = tokens[pos]
            if end is not None and value == end and kind == "punct":
                pos += 1
                return out
            if value in (",", ";"):
                pos += 1
                continue
            if value == "[":  # extension or Any type URL: [type.googleapis.com/x.Y]
                close = next(i for i in range(pos, len(tokens)) if tokens[i][1] == "]")
                name = "[" + "".join(v for _, v in tokens[pos + 1 : close]) + "]"
                pos = close + 1
            else:
                name = value
                pos += 1
            if tokens[pos][1] == ":":
                pos += 1
            kind, value = tokens[pos]
            if value in ("{", "<"):
                pos += 1
                item: Any = message("}" if value == "{" else ">")
            elif value == "[":  # a list of scalars or messages
                pos += 1
                items = []
                while tokens[pos][1] != "]":
                    if tokens[pos][1] == ",":
                        pos += 1
                        continue
                    if tokens[pos][1] == "{":
                        pos += 1
                        items.append(message("}"))
                    else:
                        items.append(scalar())
                pos += 1
                out.setdefault(name, []).extend(items)
                continue
            else:
                item = scalar()
            out.setdefault(name, []).append(item)
        if end is not None:
            raise ValueError("unterminated message")
        return out

    def scalar() -> Any:
        nonlocal pos
        kind, value = tokens[pos]
        pos += 1
        if kind == "str":
            data = _unquote(value)
            while pos < len(tokens) and tokens[pos][0] == "str":  # adjacent literals concatenate
                data += _unquote(tokens[pos][1])
                pos += 1
            return Bytes(data)
        if value == "-" and pos < len(tokens):
            pos += 1
            return "-" + tokens[pos - 1][1]
        return value

    return message(None)


def _one(msg: dict[str, list[Any]], name: str, default: Any = None) -> Any:
    values = msg.get(name)
    return values[-1] if values else default


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", "surrogatepass") if isinstance(value, bytes) else str(value)


# --- expected values -------------------------------------------------------------------------------------


class OutOfScope(Exception):
    pass


@dataclass
class Case:
    file: str
    section: str
    name: str
    expr: str
    message: dict[str, list[Any]]

    @property
    def id(self) -> str:
        return f"{self.file}/{self.section}/{self.name}"


def cases(file: str) -> list[Case]:
    data = parse_textproto((DATA / f"{file}.textproto").read_text(encoding="utf-8"))
    out = []
    for section in data.get("section", []):
        for test in section.get("test", []):
            out.append(
                Case(file, _text(_one(section, "name")), _text(_one(test, "name")), _text(_one(test, "expr")), test)
            )
    return out


def _number(text: str) -> float:
    lowered = text.lower()
    if lowered in ("inf", "infinity", "-inf", "-infinity", "nan", "-nan"):
        return float(lowered.replace("infinity", "inf"))
    return float(text)


def expected_value(value: dict[str, list[Any]]) -> Any:
    """A ``cel.expr.Value`` as a tagged Python value: ("int", 1), ("list", [...]), ..."""
    if "null_value" in value:
        return ("null", None)
    if "bool_value" in value:
        return ("bool", _one(value, "bool_value") == "true")
    if "int64_value" in value:
        return ("int", int(_one(value, "int64_value"), 0))
    if "uint64_value" in value:
        return ("uint", int(_one(value, "uint64_value"), 0))
    if "double_value" in value:
        return ("double", _number(_one(value, "double_value")))
    if "string_value" in value:
        return ("string", _text(_one(value, "string_value")))
    if "bytes_value" in value:
        return ("bytes", bytes(_one(value, "bytes_value")))
    if "type_value" in value:
        return ("type", _text(_one(value, "type_value")))
    if "list_value" in value:
        items = _one(value, "list_value").get("values", [])
        return ("list", [expected_value(v) for v in items])
    if "map_value" in value:
        entries = _one(value, "map_value").get("entries", [])
        return ("map", [(expected_value(_one(e, "key")), expected_value(_one(e, "value"))) for e in entries])
    if "object_value" in value:
        obj = _one(value, "object_value")
        for url, kind in (
            ("[type.googleapis.com/google.protobuf.Timestamp]", "timestamp"),
            ("[type.googleapis.com/google.protobuf.Duration]", "duration"),
        ):
            if url in obj:
                fields = _one(obj, url)
                return (kind, int(_one(fields, "seconds", "0")) * 10**9 + int(_one(fields, "nanos", "0")))
        raise OutOfScope("expects a protobuf message")
    if "enum_value" in value:
        raise OutOfScope("expects an enum value")
    raise OutOfScope(f"unknown value kind {sorted(value)}")


def same(expected: Any, got: Any) -> bool:
    kind, value = expected
    if got is None or got[0] != kind:
        # cel-cpp and our engines call the types of timestamps and durations by their protobuf names
        return False
    if kind == "double":
        return (math.isnan(value) and math.isnan(got[1])) or (
            value == got[1] and math.copysign(1, value) == math.copysign(1, got[1])
        )
    if kind == "list":
        return len(value) == len(got[1]) and all(same(a, b) for a, b in zip(value, got[1], strict=True))
    if kind == "map":
        if len(value) != len(got[1]):
            return False
        return all(any(same(k, gk) and same(v, gv) for gk, gv in got[1]) for k, v in value)
    if kind == "type":
        return _type_alias(value) == _type_alias(got[1])
    return bool(value == got[1])


def _type_alias(name: str) -> str:
    return {
        "google.protobuf.Timestamp": "timestamp",
        "google.protobuf.Duration": "duration",
        "null_type": "null_type",
    }.get(name, name)


# --- scope (shared by the engines) -----------------------------------------------------------------------

_EXTENSION_FILES = {
    "math_ext": "the math extension is not enabled",
    "string_ext": "the strings extension is not enabled",
}
_PROTO_FILES = {"dynamic": "protobuf well-known-type wrappers", "type_deduction": "type-checker deductions"}


def common_scope(case: Case) -> str | None:
    """Why a case is out of scope for every engine here, or None."""
    test = case.message
    if case.file in _EXTENSION_FILES:
        return _EXTENSION_FILES[case.file]
    if case.file in _PROTO_FILES:
        return _PROTO_FILES[case.file]
    if _one(test, "check_only") == "true":
        return "type-check only"
    if _one(test, "container"):
        return "needs a container (protobuf names)"
    if _one(test, "disable_macros") == "true":
        return "macros disabled"
    if "typed_result" in test or "unknown" in test or "any_unknowns" in test:
        return "typed results / unknowns"
    if re.search(r"\b(google\.protobuf|cel\.expr|TestAllTypes|NestedTestAllTypes|proto[23]\.)", case.expr):
        return "protobuf messages"
    for binding in test.get("bindings", []):
        inner = _one(_one(binding, "value"), "value")
        if inner is None:
            return "binding without a value"
        try:
            expected_value(inner)
        except OutOfScope:
            return "protobuf message binding"
    if "value" in test:
        try:
            expected_value(_one(test, "value"))
        except OutOfScope as exc:
            return str(exc)
    return None


def expectation(case: Case) -> tuple[str, Any]:
    test = case.message
    if "eval_error" in test or "any_eval_errors" in test:
        return ("error", None)
    if "value" in test:
        return ("value", expected_value(_one(test, "value")))
    return ("value", ("bool", True))


def bindings(case: Case) -> dict[str, Any]:
    return {
        _text(_one(b, "key")): expected_value(_one(_one(b, "value"), "value")) for b in case.message.get("bindings", [])
    }


# --- the engines -----------------------------------------------------------------------------------------


def _compiled_tagged(value: Any) -> Any:
    from imagelint.engines import celvalues as cv

    kind = type(value)
    if value is None:
        return ("null", None)
    if kind is bool:
        return ("bool", value)
    if kind is cv.Uint:
        return ("uint", int(value))
    if kind is int:
        return ("int", value)
    if kind is float:
        return ("double", value)
    if kind is str:
        return ("string", value)
    if kind is bytes:
        return ("bytes", value)
    if kind in (list, tuple):
        return ("list", [_compiled_tagged(v) for v in value])
    if kind is dict:
        return ("map", [(_compiled_tagged(k), _compiled_tagged(v)) for k, v in value.items()])
    if kind is cv.Timestamp:
        return ("timestamp", value.ns)
    if kind is cv.Duration:
        return ("duration", value.ns)
    if kind is cv.CelType:
        return ("type", value.name)
    return ("?", repr(value))


def _to_compiled(tagged: Any) -> Any:
    from imagelint.engines import celvalues as cv

    kind, value = tagged
    if kind == "uint":
        return cv.Uint(value)
    if kind == "list":
        return [_to_compiled(v) for v in value]
    if kind == "map":
        return {_to_compiled(k): _to_compiled(v) for k, v in value}
    if kind == "timestamp":
        return cv.Timestamp(value)
    if kind == "duration":
        return cv.Duration(value)
    if kind == "type":
        return cv.TYPE_IDENTS.get(value)
    return value


def run_compiled(case: Case) -> tuple[str, Any]:
    """("value", tagged) / ("error", message) / ("skip", reason)."""
    from celpy.celparser import CELParseError

    from imagelint.engines import celvalues as cv
    from imagelint.engines.compiled import Compiler, Unsupported, _Scope
    from imagelint.policy import celtree

    try:
        tree = celtree.parse(case.expr)
    except CELParseError:
        return ("skip", "cel-python's parser (which the project uses) rejects it")
    except RecursionError:
        return ("skip", "nested beyond the parser's recursion limit")
    compiler = Compiler()
    compiler.namespace["_now"] = cv.Timestamp(0)
    compiler.namespace["_params"] = {}
    scope = _Scope({})
    for name, tagged in bindings(case).items():
        slot = compiler.fresh("_b")
        compiler.namespace[slot] = _to_compiled(tagged)
        scope.bound[name] = slot
    try:
        function = compiler.value_function(tree, scope)
    except Unsupported as exc:
        return ("skip", f"outside the compiled subset: {exc}")
    try:
        return ("value", _compiled_tagged(function(None)))
    except cv.CelError as exc:
        return ("error", str(exc))


def _cpp_tagged(value: Any) -> Any:
    from cel_expr_python import cel

    kind = value.type()
    if kind == cel.Type.ERROR:
        raise RuntimeError(str(value.value()))
    py = value.value()
    name = kind.name()
    if kind == cel.Type.NULL:
        return ("null", None)
    if kind == cel.Type.BOOL:
        return ("bool", bool(py))
    if kind == cel.Type.INT:
        return ("int", int(py))
    if kind == cel.Type.UINT:
        return ("uint", int(py))
    if kind == cel.Type.DOUBLE:
        return ("double", float(py))
    if kind == cel.Type.STRING:
        return ("string", py)
    if kind == cel.Type.BYTES:
        return ("bytes", bytes(py))
    if kind == cel.Type.TIMESTAMP:
        delta = py - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return ("timestamp", (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)
    if kind == cel.Type.DURATION:
        return ("duration", (py.days * 86400 + py.seconds) * 10**9 + py.microseconds * 1000)
    if name.startswith("LIST"):
        return ("list", [_plain_tagged(v) for v in value.plain_value()])
    if name.startswith("MAP"):
        return ("map", [(_plain_tagged(k), _plain_tagged(v)) for k, v in value.plain_value().items()])
    if kind == cel.Type.TYPE:
        return ("type", _cpp_type_name(str(py)))
    return ("?", name)


def _cpp_type_name(text: str) -> str:
    names = {
        "INT": "int",
        "UINT": "uint",
        "DOUBLE": "double",
        "STRING": "string",
        "BOOL": "bool",
        "BYTES": "bytes",
        "NULL": "null_type",
        "TYPE": "type",
        "TIMESTAMP": "google.protobuf.Timestamp",
        "DURATION": "google.protobuf.Duration",
    }
    if text.startswith("LIST"):
        return "list"
    if text.startswith("MAP"):
        return "map"
    return names.get(text, text)


def _plain_tagged(value: Any) -> Any:
    # plain_value() loses int/uint (both int): the conformance lists and maps rarely hold uints
    if value is None:
        return ("null", None)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", bytes(value))
    if isinstance(value, list):
        return ("list", [_plain_tagged(v) for v in value])
    if isinstance(value, dict):
        return ("map", [(_plain_tagged(k), _plain_tagged(v)) for k, v in value.items()])
    if isinstance(value, dt.datetime):
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return ("timestamp", (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)
    if isinstance(value, dt.timedelta):
        return ("duration", (value.days * 86400 + value.seconds) * 10**9 + value.microseconds * 1000)
    if type(value).__name__ == "Type":
        return ("type", _cpp_type_name(str(value)))
    return ("?", repr(value))


def _to_plain(tagged: Any) -> Any:
    kind, value = tagged
    if kind == "list":
        return [_to_plain(v) for v in value]
    if kind == "map":
        return {_to_plain(k): _to_plain(v) for k, v in value}
    if kind == "timestamp":
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value // 1000)
    if kind == "duration":
        return dt.timedelta(microseconds=value // 1000)
    if kind in ("uint", "type"):
        raise OutOfScope(f"a {kind} binding")
    return value


def run_cel_cpp(case: Case) -> tuple[str, Any]:
    from cel_expr_python import cel

    try:
        values = {k: _to_plain(v) for k, v in bindings(case).items()}
    except OutOfScope as exc:
        return ("skip", f"the binding cannot express {exc}")
    env = cel.NewEnv(variables={k: cel.Type.DYN for k in values})
    try:
        program = env.compile(case.expr, True)
    except RuntimeError as exc:
        return ("skip", f"cel-cpp does not compile it ({str(exc).splitlines()[0][:60]})")
    try:
        return ("value", _cpp_tagged(program.eval(env.Activation(values))))
    except RuntimeError as exc:
        return ("error", str(exc))


def run_cel_python(case: Case) -> tuple[str, Any]:
    import celpy
    from celpy import celtypes

    from imagelint.engines import celpython

    def to_cel(tagged: Any) -> Any:
        kind, value = tagged
        if kind == "list":
            return celtypes.ListType([to_cel(v) for v in value])
        if kind == "map":
            return celtypes.MapType({to_cel(k): to_cel(v) for k, v in value})
        return {
            "int": celtypes.IntType,
            "uint": celtypes.UintType,
            "double": celtypes.DoubleType,
            "string": celtypes.StringType,
            "bytes": celtypes.BytesType,
            "bool": celtypes.BoolType,
            "null": lambda v: None,
            "timestamp": lambda ns: celtypes.TimestampType(
                dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)
            ),
            "duration": lambda ns: celtypes.DurationType(seconds=ns // 10**9, nanos=ns % 10**9),
            "type": lambda v: None,
        }[kind](value)

    def tagged(value: Any) -> Any:
        if value is None:
            return ("null", None)
        if isinstance(value, celtypes.BoolType):
            return ("bool", bool(value))
        if isinstance(value, celtypes.UintType):
            return ("uint", int(value))
        if isinstance(value, celtypes.IntType):
            return ("int", int(value))
        if isinstance(value, celtypes.DoubleType):
            return ("double", float(value))
        if isinstance(value, celtypes.StringType):
            return ("string", str(value))
        if isinstance(value, celtypes.BytesType):
            return ("bytes", bytes(value))
        if isinstance(value, celtypes.ListType):
            return ("list", [tagged(v) for v in value])
        if isinstance(value, celtypes.MapType):
            return ("map", [(tagged(k), tagged(v)) for k, v in value.items()])
        if isinstance(value, celtypes.TimestampType):
            delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            return ("timestamp", (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)
        if isinstance(value, celtypes.DurationType):
            return ("duration", (value.days * 86400 + value.seconds) * 10**9 + value.microseconds * 1000)
        if isinstance(value, type):
            names = {
                celtypes.IntType: "int",
                celtypes.UintType: "uint",
                celtypes.DoubleType: "double",
                celtypes.StringType: "string",
                celtypes.BoolType: "bool",
                celtypes.BytesType: "bytes",
                celtypes.ListType: "list",
                celtypes.MapType: "map",
                celtypes.TimestampType: "google.protobuf.Timestamp",
                celtypes.DurationType: "google.protobuf.Duration",
            }
            return ("type", names.get(value, value.__name__))
        return ("?", repr(value))

    env = celpython.environment()
    try:
        program = env.program(celpython._collapsed(env.compile(case.expr)))  # as the cel-python engine runs it
    except Exception as exc:  # noqa: BLE001 - any refusal of cel-python's
        return ("skip", f"cel-python does not compile it ({type(exc).__name__})")
    try:
        activation = {k: to_cel(v) for k, v in bindings(case).items()}
        result = program.evaluate(activation)
    except Exception as exc:  # noqa: BLE001 - cel-python raises plain Python errors too
        return ("error", f"{type(exc).__name__}: {exc}")
    if isinstance(result, celpy.CELEvalError):
        return ("error", str(result))
    return ("value", tagged(result))


RUNNERS: dict[str, Callable[[Case], tuple[str, Any]]] = {
    "compiled": run_compiled,
    "cel-cpp": run_cel_cpp,
    "cel-python": run_cel_python,
}

# cases where cel-cpp (cel-expr-python 0.1.x) answers differently from the spec: the compiled engine follows
# cel-cpp, so these are out of its scope too (filled from the runs; each with the reason)
CEL_CPP_DIFFERS: dict[str, str] = {}


def outcome(case: Case, engine: str) -> tuple[str, str]:
    """("pass" | "fail" | "skip", detail)."""
    reason = common_scope(case)
    if reason is not None:
        return ("skip", reason)
    if engine == "compiled" and case.id in CEL_CPP_DIFFERS:
        return ("skip", CEL_CPP_DIFFERS[case.id])
    try:
        kind, got = RUNNERS[engine](case)
    except RecursionError:
        return ("skip", "nested beyond the recursion limit")
    if kind == "skip":
        return ("skip", got)
    want_kind, want = expectation(case)
    if want_kind == "error":
        return ("pass", "") if kind == "error" else ("fail", f"expected an error, got {got}")
    if kind == "error":
        return ("fail", f"expected {want}, got error {str(got)[:80]}")
    return ("pass", "") if same(want, got) else ("fail", f"expected {want}, got {got}")


def table(engines: list[str]) -> str:
    lines = ["| file | " + " | ".join(f"{e} pass / fail / out of scope" for e in engines) + " |"]
    lines.append("|---" * (len(engines) + 1) + "|")
    totals = {e: [0, 0, 0] for e in engines}
    for file in FILES:
        row = [file]
        for engine in engines:
            counts = [0, 0, 0]
            for case in cases(file):
                kind, _ = outcome(case, engine)
                counts[("pass", "fail", "skip").index(kind)] += 1
            totals[engine] = [a + b for a, b in zip(totals[engine], counts, strict=True)]
            row.append(" / ".join(map(str, counts)))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("| **all** | " + " | ".join(" / ".join(map(str, totals[e])) for e in engines) + " |")
    return "\n".join(lines) + "\n"


def reasons(engine: str) -> dict[str, int]:
    counted: dict[str, int] = {}
    for file in FILES:
        for case in cases(file):
            kind, detail = outcome(case, engine)
            if kind == "skip":
                key = re.sub(r"\(.*", "", detail).strip()
                counted[key] = counted.get(key, 0) + 1
    return dict(sorted(counted.items(), key=lambda kv: -kv[1]))


def main(argv: list[str]) -> int:
    engines = argv or list(RUNNERS)
    sys.stdout.write(table(engines))
    for engine in engines:
        sys.stdout.write(f"\nout of scope for {engine}:\n")
        for reason, count in reasons(engine).items():
            sys.stdout.write(f"  {count:4}  {reason}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
