"""Load, validate and analyse ``imagelint/v1`` policy files, reporting every problem with FILE:LINE:COL.

Loading never stops at the first problem: YAML syntax errors, schema errors (unknown or missing keys,
wrong types, bad severity or name, duplicate names across files) and CEL problems of all files are
collected and raised together as one ``PolicyError``. CEL positions point into the YAML file, at the
expression's own line and column, whatever the scalar style (plain, quoted, ``|`` or ``>``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imagelint.judgement.result import CLOUDS, PLACEHOLDERS, Remediation, Severity
from imagelint.policy import celtree
from imagelint.policy.model import Expr, Policy, Position, Validation, Variable

API_VERSION = "imagelint/v1"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TEST_SUFFIXES = (".test.yaml", ".test.yml")

TOP_KEYS = {"apiVersion": True, "kind": True, "metadata": True, "spec": True}
METADATA_KEYS = {
    "name": True,
    "title": False,
    "severity": True,
    "description": False,
    "references": False,
    "labels": False,
    "remediation": False,
}
REMEDIATION_KEYS = {"text": True, "commands": False}
SPEC_KEYS = {"params": False, "match": False, "variables": False, "validations": True}
VARIABLE_KEYS = {"name": True, "expression": True}
VALIDATION_KEYS = {"expression": True, "message": False, "messageExpression": False}


@dataclass(frozen=True)
class Problem:
    """One load-time problem; ``str()`` is the ``FILE:LINE:COL: message`` line users see."""

    file: str
    line: int
    column: int
    message: str
    level: str = "error"

    def __str__(self) -> str:
        prefix = "" if self.level == "error" else f"{self.level}: "
        return f"{self.file}:{self.line}:{self.column}: {prefix}{self.message}"


class PolicyError(Exception):
    """Policies could not be loaded; ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


NESTED = "YAML nested too deeply (deeper than Python's recursion limit allows)"


_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings (CEL compares them with ``timestamp()`` itself) and reads
    ``"\\ud83d\\ude00"`` in a double-quoted scalar as JSON does, as one character: PyYAML (YAML 1.1) makes two
    lone surrogates of it, and a policy written as JSON (``json.dumps`` escapes so) would then compare a
    param or literal that matches no image's text."""

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:  # the stubs' anchor type is wrong
        node = super().compose_scalar_node(anchor)
        if node.style == '"' and not node.value.isascii():
            node.value = _SURROGATE_PAIR.sub(
                lambda m: chr(0x10000 + ((ord(m[0][0]) - 0xD800) << 10) + ord(m[0][1]) - 0xDC00), node.value
            )
        return node


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


INT64 = (-(2**63), 2**63 - 1)

RECURSIVE = "the value contains itself (a recursive alias); CEL values are finite"
MAX_PARAM_VALUES = 100_000
"""How many values one param may hold once its YAML aliases are expanded: aliases of aliases double at
every level ("billion laughs"), and every engine works on the expanded value."""
EXPANDS = (
    f"the value expands to more than {MAX_PARAM_VALUES:,} values through YAML aliases (aliases of aliases "
    "double at every level); write the list out, or use fewer aliases"
)


def expanded_size(node: yaml.Node, limit: int = MAX_PARAM_VALUES) -> int:
    """How many nodes ``node`` stands for with every alias expanded, counted no further than past ``limit``
    (each distinct node is visited once, so the count itself stays cheap); a recursive alias counts 0 here,
    its constructor refuses it."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        known = sizes.get(id(n))
        if known is not None:
            return known
        sizes[id(n)] = 0  # in progress: a node that contains itself
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(item) for item in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        sizes[id(n)] = total = min(total, limit + 1)
        return total

    return size(node)


_NOT_CEL: dict[type, str] = {
    bytes: "binary data (!!binary)",
    set: "a set (!!set)",
    frozenset: "a set",
    tuple: "a pair list (!!pairs)",
}


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def param_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a param (``None`` when it can): CEL has null, bool, int, double, string, list
    and map, no bytes, sets or values that contain themselves (``&a [*a]``), and its ints are 64-bit."""
    stack: list[tuple[Any, frozenset[int]]] = [(value, frozenset())]  # a loop, not recursion: any depth
    seen: set[int] = set()  # aliases share containers: check each once, or nested aliases take exponential time
    while stack:
        item, above = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return "a string with a lone surrogate (\\ud800-\\udfff alone) is not text CEL can hold"
            continue
        if item is None or isinstance(item, (bool, float)):
            continue
        if isinstance(item, int):
            if not INT64[0] <= item <= INT64[1]:
                return f"integer out of range: CEL ints are 64-bit ({INT64[0]} to {INT64[1]})"
        elif isinstance(item, (list, dict)):
            if id(item) in above:
                return RECURSIVE
            if id(item) in seen:
                continue
            seen.add(id(item))
            inner = above | {id(item)}
            children = [*item, *item.values()] if isinstance(item, dict) else item
            stack += [(child, inner) for child in children]
        else:
            name = _NOT_CEL.get(type(item), f"a {type(item).__name__}")
            return f"{name} is not a param value (expected null, a bool, int, double, string, list or map)"
    return None


def _cel_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "double" if isinstance(value, float) else "int"
    return {str: "string", list: "list", dict: "map", type(None): "null"}.get(type(value), type(value).__name__)


def param_mismatch(default: Any, value: Any) -> str | None:
    """Why ``value`` cannot replace a param declared with ``default`` (``None`` when it can).

    An override has the default's type: ``max_age_days=abc`` would otherwise make every image an error, and
    ``flags=[1]`` would check no attribute and pass them all. A list default with items takes a list of items
    of the first one's type, or one such item alone (the pack reads those with ``asList``); an int default
    takes an int, a double one either number; null and an empty list say nothing about the type.
    """
    want = _cel_type(default)
    if default is None or (isinstance(default, list) and not default):
        return None
    if isinstance(default, list):
        item = _cel_type(default[0])
        items = value if isinstance(value, list) else [value]
        wrong = next((v for v in items if _cel_type(v) not in (item, "int" if item == "double" else item)), None)
        if wrong is None:
            return None
        return f"expected a list of {item}s like its default, or one {item}; got {_cel_type(wrong)} {_shown(wrong)}"
    got = _cel_type(value)
    if got == want or (want == "double" and got == "int"):
        return None
    article = "an" if want == "int" else "a"
    return f"expected {article} {want} like its default {_shown(default)}; got {got} {_shown(value)}"


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a value may be a list of 100,000 (the alias cap)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def param_value(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[Any, str | None]:
    """A param's value built from its YAML node, and why it cannot be a param (``None`` when it can)."""
    try:
        if expanded_size(node) > MAX_PARAM_VALUES:
            return None, EXPANDS
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:  # a tag the safe loader refuses (!!python/name:...), a recursive alias
        if "recursive" in str(exc.problem if isinstance(exc, yaml.MarkedYAMLError) else exc):
            return None, RECURSIVE
        return None, yaml_message(exc)
    except RecursionError:
        return None, NESTED
    except Exception as exc:  # noqa: BLE001 - a constructor's own error: !!int x, an int of 5000 digits
        return None, " ".join(str(exc).split())
    return value, param_problem(value)


def yaml_message(exc: yaml.YAMLError) -> str:
    """A PyYAML error on one line, without its excerpt of the text (the caller gives the position)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(f"{exc.context + ': ' if exc.context else ''}{exc.problem or ''}".split())
    return " ".join(str(exc).split())


def parse_param(text: str) -> tuple[Any, str | None]:
    """A ``--param`` VALUE read as YAML (``365`` -> int, ``[a, b]`` -> list, ``x`` -> str), and why it cannot be
    a param (``None`` when it can): the text-side twin of ``param_value``."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node() if text.strip() else None
        if node is not None and expanded_size(node) > MAX_PARAM_VALUES:
            return None, f"VALUE: {EXPANDS}"
        value = loader.construct_document(node) if node is not None else (None if text.strip() else "")
    except yaml.YAMLError as exc:
        return None, f"VALUE is not a YAML scalar: {yaml_message(exc)}"
    except RecursionError:
        return None, "VALUE is nested too deeply"
    except Exception as exc:  # noqa: BLE001 - a constructor's own error: !!int x, 5000 digits, !!timestamp x
        return None, f"VALUE cannot be read: {' '.join(str(exc).split())}"
    finally:
        loader.dispose()
    return value, param_problem(value)


DEFAULT_PACK = "ims"
"""The pack used when no ``--pack``, ``--policies`` or PATH names others."""


def bundled_policy_dir() -> Path:
    """The bundled packs' folder: ``imagelint/policies`` when installed, ``policies/`` in a source checkout;
    each pack is a folder in it (``ims/``, ``openstack/``)."""
    here = Path(__file__).resolve().parent.parent
    installed = here / "policies"
    return installed if installed.is_dir() else here.parent / "policies"


def bundled_packs() -> dict[str, Path]:
    """Every bundled pack by name (its folder's name)."""
    root = bundled_policy_dir()
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(("_", "."))}


def bundled_pack(name: str = DEFAULT_PACK) -> Path:
    """The folder of one bundled pack; ``PolicyError`` naming the packs there are for an unknown name."""
    packs = bundled_packs()
    if name not in packs:
        known = ", ".join(packs) or "none"
        raise PolicyError([Problem("--pack", 1, 1, f"no bundled pack named {name!r} (bundled packs: {known})")])
    return packs[name]


def policy_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Expand files and directories (every ``*.yaml``/``*.yml`` below, sorted; test files excluded)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.endswith(TEST_SUFFIXES)
            )
            if not found:
                problems.append(Problem(str(path), 1, 1, "no policy files (*.yaml, *.yml) in this directory"))
            files += found
        elif path.is_file():
            if not path.name.endswith(TEST_SUFFIXES):  # a shell glob (policies/*.yaml) picks up test files too
                files.append(path)
        else:
            problems.append(Problem(str(path), 1, 1, "no such policy file or directory"))
    return files, problems


def load_policies(
    paths: Iterable[str | Path], overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Policy]:
    """Load every policy under ``paths``; raise ``PolicyError`` listing all problems if there are any.

    ``overrides`` maps policy name -> {param: value} (from ``--param``); unknown policies or params are
    problems too, because a typo there would silently change a gate.
    """
    paths = list(paths)
    files, problems = policy_files(paths)
    policies: list[Policy] = []
    seen: dict[str, Position] = {}
    for path in files:
        for policy in _load_file(path, problems):
            if policy.name in seen:
                first = seen[policy.name]
                problems.append(
                    Problem(
                        policy.position.file,
                        policy.position.line,
                        policy.position.column,
                        f"duplicate policy name {policy.name!r} (first defined at {first})",
                    )
                )
                continue
            seen[policy.name] = policy.position
            policies.append(policy)
    if not problems and not policies:  # a gate over no policy passes every fleet: never what was meant
        problems = [_nothing_loaded(Path(p)) for p in paths] or [Problem("--policies", 1, 1, "no policy paths")]
    if not problems and overrides:
        policies = _apply_overrides(policies, overrides, problems)
    if problems:
        raise PolicyError(problems)
    return policies


def _nothing_loaded(path: Path) -> Problem:
    if path.name.endswith(TEST_SUFFIXES) and path.is_file():
        why = "a policy test file (*.test.yaml) holds no policies; give the policy files or their directory"
    elif path.is_dir():
        why = "no policy document in the files of this directory"
    else:
        why = "no policy document in this file (it is empty, comments or '---' only)"
    return Problem(str(path), 1, 1, f"no policies loaded: {why}")


def _apply_overrides(
    policies: list[Policy], overrides: Mapping[str, Mapping[str, Any]], problems: list[Problem]
) -> list[Policy]:
    from dataclasses import replace

    by_name = {p.name: p for p in policies}
    for name, values in overrides.items():
        policy = by_name.get(name)
        if policy is None:
            problems.append(Problem("--param", 1, 1, f"no loaded policy is named {name!r}"))
            continue
        unknown = sorted(set(values) - policy.declared_params)
        if unknown:
            declared = ", ".join(sorted(policy.declared_params)) or "none"
            problems.append(
                Problem("--param", 1, 1, f"policy {name!r} declares no param {unknown[0]!r} (declared: {declared})")
            )
            continue
        mismatched = [(k, why) for k, v in values.items() if (why := param_mismatch(policy.params.get(k), v))]
        if mismatched:
            key, why = mismatched[0]
            problems.append(Problem("--param", 1, 1, f"{name}.{key}: {why}"))
            continue
        by_name[name] = replace(policy, params={**policy.params, **values})
    return [by_name[p.name] for p in policies]


# --- one file ---------------------------------------------------------------------------------------


def _pos(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _load_file(path: Path, problems: list[Problem]) -> list[Policy]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, 1, 1, f"cannot read policy file: {exc}"))
        return []
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # raised while constructing: the reader checks the whole text first
        problems.append(reader_problem(file, text, exc))
        return []
    nodes: list[yaml.Node] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
    except yaml.MarkedYAMLError as exc:
        problems.append(syntax_problem(file, exc))
        return []
    except RecursionError:  # PyYAML composes and constructs nested collections recursively
        problems.append(Problem(file, loader.line + 1, loader.column + 1, NESTED))
        return []
    finally:
        loader.dispose()
    out = []
    for node in nodes:
        if isinstance(node, yaml.ScalarNode) and node.value == "" and node.tag.endswith(":null"):
            continue  # an empty document (e.g. a trailing ---)
        doc = _Doc(file, text, loader, problems)
        policy = doc.policy(node)
        if policy is not None:
            out.append(policy)
    return out


class _Doc:
    """Validates one YAML document node into a ``Policy``, appending problems as it goes."""

    def __init__(self, file: str, text: str, loader: _Loader, problems: list[Problem]) -> None:
        self.file, self.text, self.loader, self.problems = file, text, loader, problems
        self.ok = True

    def problem(self, node: yaml.Node | Position, message: str) -> None:
        pos = node if isinstance(node, Position) else _pos(self.file, node)
        self.problems.append(Problem(pos.file, pos.line, pos.column, message))
        self.ok = False

    def mapping(self, node: yaml.Node, where: str, keys: Mapping[str, bool]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{where}: expected a mapping, got {describe_node(node)}")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else None
            if key is None:
                self.problem(knode, f"{where}: keys must be strings")
                continue
            if key in out:
                self.problem(knode, f"{where}: duplicate key {key!r}")
                continue
            if key not in keys:
                allowed = ", ".join(keys)
                self.problem(knode, f"{where}: unknown key {key!r} (allowed: {allowed})")
                continue
            out[key] = (knode, vnode)
        for key, required in keys.items():
            if required and key not in out:
                self.problem(node, f"{where}: missing required key {key!r}")
        return out

    def string(self, node: yaml.Node, where: str, *, allow_empty: bool = False) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.problem(node, f"{where}: expected a string, got {describe_node(node)}")
            return None
        if not allow_empty and not node.value.strip():
            self.problem(node, f"{where}: must not be empty")
            return None
        return str(node.value)

    def string_list(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{where}: expected a list of strings, got {describe_node(node)}")
            return ()
        values = [self.string(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        return tuple(v for v in values if v is not None)

    def policy(self, node: yaml.Node) -> Policy | None:
        top = self.mapping(node, "document", TOP_KEYS)
        if not top:
            return None
        if "apiVersion" in top and self.string(top["apiVersion"][1], "apiVersion") not in (None, API_VERSION):
            self.problem(
                top["apiVersion"][1], f"apiVersion: expected {API_VERSION!r}, got {top['apiVersion'][1].value!r}"
            )
        if "kind" in top and self.string(top["kind"][1], "kind") not in (None, "Policy"):
            self.problem(top["kind"][1], f"kind: expected 'Policy', got {top['kind'][1].value!r}")
        meta = self.mapping(top["metadata"][1], "metadata", METADATA_KEYS) if "metadata" in top else {}
        name = self.string(meta["name"][1], "metadata.name") if "name" in meta else None
        if name is not None and not NAME_RE.match(name):
            self.problem(
                meta["name"][1],
                f"metadata.name: {name!r} must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)",
            )
            name = None
        severity = None
        if "severity" in meta:
            text = self.string(meta["severity"][1], "metadata.severity")
            if text is not None:
                try:
                    severity = Severity.parse(text)
                    if text != severity.label:
                        raise ValueError(f"severity must be lower-case: {severity.label!r}")
                except ValueError as exc:
                    self.problem(meta["severity"][1], f"metadata.severity: {exc}")
        title = self.string(meta["title"][1], "metadata.title") if "title" in meta else None
        description = (
            self.string(meta["description"][1], "metadata.description", allow_empty=True)
            if "description" in meta
            else ""
        )
        references = self.string_list(meta["references"][1], "metadata.references") if "references" in meta else ()
        labels = self.labels(meta["labels"][1]) if "labels" in meta else {}
        remediation = self.remediation(meta["remediation"][1]) if "remediation" in meta else None

        spec = self.mapping(top["spec"][1], "spec", SPEC_KEYS) if "spec" in top else {}
        params: dict[str, Any] = {}
        if "params" in spec:
            pnode = spec["params"][1]
            if isinstance(pnode, yaml.MappingNode):
                pkeys = self.mapping(pnode, "spec.params", _AnyKeys())
                for key, (knode, vnode) in pkeys.items():
                    if not VAR_RE.match(key):
                        self.problem(knode, f"spec.params: {key!r} is not a valid CEL identifier")
                        continue
                    value, refused = param_value(self.loader, vnode)
                    if refused is not None:
                        self.problem(vnode, f"spec.params.{key}: {refused}")
                        value = None  # still declared: the expressions that use it need no second message
                    params[key] = value
            else:
                self.problem(pnode, f"spec.params: expected a mapping, got {describe_node(pnode)}")
        match = self.expr(spec["match"][1], "spec.match", {}) if "match" in spec else None
        variables, defined = self.variables(spec["variables"][1]) if "variables" in spec else ((), {})
        validations = self.validations(spec["validations"][1], defined) if "validations" in spec else ()
        for expr in ([match] if match else []) + [
            e for v in validations for e in (v.expression, v.message_expression) if e
        ]:
            self.check_params(expr, params)
        for var in variables:
            self.check_params(var.expression, params)
        if not self.ok or name is None or severity is None:
            return None
        return Policy(
            name=name,
            title=title or name,
            severity=severity,
            description=description or "",
            references=references,
            labels=labels,
            params=params,
            match=match,
            variables=variables,
            validations=validations,
            position=_pos(self.file, node),
            declared_params=frozenset(params),
            remediation=remediation,
        )

    def remediation(self, node: yaml.Node) -> Remediation | None:
        entries = self.mapping(node, "metadata.remediation", REMEDIATION_KEYS)
        text = self.string(entries["text"][1], "metadata.remediation.text") if "text" in entries else None
        commands: dict[str, str] = {}
        if "commands" in entries:
            clouds = self.mapping(entries["commands"][1], "metadata.remediation.commands", dict.fromkeys(CLOUDS, False))
            for cloud, (_, vnode) in clouds.items():
                where = f"metadata.remediation.commands.{cloud}"
                command = self.string(vnode, where)
                if command is None:
                    continue
                problem = _command_problem(command)
                if problem:
                    self.problem(vnode, f"{where}: {problem}")
                    continue
                commands[cloud] = command
        return Remediation(text, commands) if text is not None else None

    def labels(self, node: yaml.Node) -> dict[str, str]:
        entries = self.mapping(node, "metadata.labels", _AnyKeys())
        out = {}
        for key, (_, vnode) in entries.items():
            value = self.string(vnode, f"metadata.labels.{key}", allow_empty=True)
            if value is not None:
                out[key] = value
        return out

    def variables(self, node: yaml.Node) -> tuple[tuple[Variable, ...], dict[str, frozenset[str] | None]]:
        """The variables, and each name with the strings of its list when that is known at load time
        (``celtree.list_keys``): the analysis then sees which attributes ``image[k]`` over it reads."""
        known: dict[str, frozenset[str] | None] = {}
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"spec.variables: expected a list, got {describe_node(node)}")
            return (), known
        out: list[Variable] = []
        for i, item in enumerate(node.value):
            where = f"spec.variables[{i}]"
            entry = self.mapping(item, where, VARIABLE_KEYS)
            if "name" not in entry or "expression" not in entry:
                continue
            name = self.string(entry["name"][1], f"{where}.name")
            if name is None:
                continue
            if not VAR_RE.match(name):
                self.problem(entry["name"][1], f"{where}.name: {name!r} is not a valid CEL identifier")
                continue
            if any(v.name == name for v in out):
                self.problem(entry["name"][1], f"{where}.name: variable {name!r} is defined twice")
                continue
            expr = self.expr(entry["expression"][1], f"{where}.expression", known)
            if expr is not None:
                out.append(Variable(name, expr))
                known[name] = celtree.list_keys(expr.tree, known) if expr.tree is not None else None
        return tuple(out), known

    def validations(self, node: yaml.Node, defined: celtree.Bound) -> tuple[Validation, ...]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, "spec.validations: expected a non-empty list of validations")
            return ()
        out = []
        for i, item in enumerate(node.value):
            where = f"spec.validations[{i}]"
            entry = self.mapping(item, where, VALIDATION_KEYS)
            if "expression" not in entry:
                continue
            expr = self.expr(entry["expression"][1], f"{where}.expression", defined)
            message = self.string(entry["message"][1], f"{where}.message") if "message" in entry else None
            mexpr = (
                self.expr(entry["messageExpression"][1], f"{where}.messageExpression", defined)
                if "messageExpression" in entry
                else None
            )
            if expr is not None:
                out.append(Validation(expr, message, mexpr))
        return tuple(out)

    def expr(self, node: yaml.Node, where: str, defined: celtree.Bound) -> Expr | None:
        source = self.string(node, where)
        if source is None:
            return None
        mapper = _offset_mapper(self.file, self.text, node, source)
        try:
            analysis = celtree.analyse(source, defined, library=True)
        except RecursionError:  # cel-python's parse tree has about ten levels per parenthesis
            self.problem(mapper(0), f"{where}: expression nested too deeply to read (cel-cpp allows 32 levels)")
            return None
        for issue in analysis.issues:
            self.problem(mapper(issue.offset), f"{where}: {issue.message}")
        if analysis.issues or analysis.tree is None:
            return None
        origin = analysis.origin
        return Expr(
            source=analysis.source,
            where=where,
            position=mapper(0),
            tree=analysis.tree,
            attributes=frozenset(analysis.attributes),
            whole_image=analysis.whole_image,
            variables=frozenset(analysis.variables),
            shape_only=frozenset(analysis.attributes - analysis.values - analysis.matched),
            matched=frozenset(analysis.matched - analysis.values),
            offset_to_position=mapper if origin is None else (lambda offset: mapper(origin(offset))),
            written=source,
            written_tree=analysis.written_tree,
            written_to_position=mapper,
        )

    def check_params(self, expr: Expr, params: Mapping[str, Any]) -> None:
        for offset, key in _param_keys(expr):
            if key not in params:
                declared = ", ".join(sorted(params)) or "none"
                self.problem(
                    expr.at(offset), f"{expr.where}: params.{key} is not declared in spec.params (declared: {declared})"
                )


class _AnyKeys(dict):  # type: ignore[type-arg]
    """A key table that accepts every key (for user maps: params, labels)."""

    def __contains__(self, key: object) -> bool:
        return True


def _param_keys(expr: Expr) -> list[tuple[int, str]]:
    """(offset, key) of every ``params.KEY`` / ``params["KEY"]`` in ``expr``."""
    out = []
    for tree in expr.tree.iter_subtrees():
        if tree.data == "member_dot" and celtree._ident_name(tree.children[0]) == "params":  # type: ignore[arg-type]
            out.append((tree.meta.start_pos, str(celtree._token(tree))))
        elif tree.data == "member_index" and celtree._ident_name(tree.children[0]) == "params":  # type: ignore[arg-type]
            key = celtree._string_literal(tree.children[1])  # type: ignore[arg-type]
            if key is not None:
                out.append((tree.meta.start_pos, key))
    return out


def _command_problem(command: str) -> str | None:
    """Why a remediation command template is refused, or ``None``: one line, known placeholders only."""
    if any(ch in command for ch in "\n\r") or not command.isprintable():
        return "must be one line of printable text"
    rest = re.sub(r"\{(" + "|".join(PLACEHOLDERS) + r")\}", "", command)
    if "{" in rest or "}" in rest:
        found = re.search(r"\{[^{}]*\}?|\}", rest)
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        return f"unknown placeholder {found.group() if found else '{'!r} (known: {known})"
    return None


def syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    """A YAML syntax error as a problem at the place the parser gave up."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem(file, line, col, f"YAML syntax error: {exc.problem or exc.context}")


def reader_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character that YAML refuses anywhere in a file, comments included (NUL, C0 and C1 controls...)."""
    index = exc.position if 0 <= exc.position <= len(text) else 0
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    code = ord(exc.character) if isinstance(exc.character, str) else exc.character
    return Problem(
        file,
        line,
        column,
        f"YAML syntax error: character U+{code:04X} is not allowed in YAML, not even "
        f"in a comment; remove it, or write it as \\u{code:04X} in a double-quoted "
        "string",
    )


def describe_node(node: yaml.Node) -> str:
    """What a node is, for messages: ``a mapping``, ``a list``, ``a string ('x')``, ``an int (3)``..."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "null":
        return "nothing (null)"
    return f"{'an' if kind == 'int' else 'a'} {kind} ({node.value!r})"


def _offset_mapper(file: str, text: str, node: yaml.Node, value: str) -> Callable[[int], Position]:
    """Map an offset into a scalar's value to its file position.

    Works for every scalar style by pairing the n-th non-blank character of the value with the n-th
    non-blank character the scalar's source text produces (after a block indicator line or opening quote):
    folding and indentation only ever change whitespace. In a quoted scalar an escape (``\\"``, ``\\t``,
    ``\\u00e9``, a surrogate pair, ``''``) is one unit of the source that produces one character, or none (an
    escaped line break), so a column after it is still exact.
    """
    start, end = node.start_mark.index, node.end_mark.index
    style = getattr(node, "style", None)  # self.string() made sure it is a scalar
    if style in ("'", '"'):
        units = _quoted_units(text, start + 1, end - 1, style)
    else:
        raw_start = start
        if style in ("|", ">"):
            newline = text.find("\n", start)
            raw_start = newline + 1 if newline != -1 else start
        units = [(i, text[i]) for i in range(raw_start, end)]
    line_starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            line_starts.append(i + 1)

    def position_of(index: int) -> Position:
        line = bisect.bisect_right(line_starts, index) - 1
        return Position(file, line + 1, index - line_starts[line] + 1)

    solid = [index for index, produced in units if produced and not produced.isspace()]

    def mapper(offset: int) -> Position:
        offset = max(0, min(offset, len(value)))
        n = sum(1 for ch in value[:offset] if not ch.isspace())
        if n < len(solid):
            return position_of(solid[n])
        last = solid[-1] if solid else (units[0][0] if units else start)
        return position_of(min(last, max(len(text) - 1, 0)))

    return mapper


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}
_ESCAPES.update({"e": "\x1b", " ": " ", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"})
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}


def _quoted_units(text: str, i: int, stop: int, style: str) -> list[tuple[int, str]]:
    """``(source index, what it produces)`` for the body of a quoted scalar, escape by escape."""
    units: list[tuple[int, str]] = []
    while i < stop:
        ch = text[i]
        if style == "'" and ch == "'" and i + 1 < stop and text[i + 1] == "'":
            units.append((i, "'"))
            i += 2
        elif style == '"' and ch == "\\" and i + 1 < stop:
            code = text[i + 1]
            if code in _HEX_DIGITS:
                width = _HEX_DIGITS[code]
                produced = _hex_char(text[i + 2 : i + 2 + width])
                i_next = i + 2 + width
                # a surrogate pair written as two escapes is one character (see _Loader)
                if 0xD800 <= ord(produced[:1] or " ") <= 0xDBFF and text[i_next : i_next + 2] == "\\u":
                    low = _hex_char(text[i_next + 2 : i_next + 6])
                    if 0xDC00 <= ord(low[:1] or " ") <= 0xDFFF:
                        i_next += 6
                units.append((i, produced))
                i = i_next
            elif code in "\r\n":  # an escaped line break produces nothing
                i += 3 if text[i + 1 : i + 3] == "\r\n" else 2
            else:
                units.append((i, _ESCAPES.get(code, code)))
                i += 2
        else:
            units.append((i, ch))
            i += 1
    return units


def _hex_char(digits: str) -> str:
    try:
        return chr(int(digits, 16))
    except ValueError:  # PyYAML refused the scalar already; only a column is at stake here
        return "?"
