"""Policy unit tests: ``imagelint test [PATH...]`` runs ``*.test.yaml`` files on every available engine.

A test file sits next to the policies it tests; the policies of its directory are loaded (with the static
checks) and each case is judged by each engine. A case passes when every engine gives every expected
verdict (and message substring). Engines that disagree make the case fail even when one of them is right:
a policy whose meaning depends on the engine is a bug. Format::

    policy: image-max-age              # optional: the policy of `expect: VERDICT` shorthands
    now: 2026-11-27T00:00:00Z          # optional default `now` (else 2026-01-01T00:00:00Z)
    images:                            # optional named images for `base:`
      active: {id: img-1, status: active, created_at: "2026-01-01T00:00:00Z"}
    cases:
      - name: an old active image fails
        base: active                   # start from a named image...
        image: {created_at: "2019-01-01T00:00:00Z"}   # ...and override attributes (or give the whole image)
        unset: [tags]                  # optional: attributes to remove from the base
        params: {max_age_days: 30}     # optional: param overrides for the expected policies
        now: 2026-06-01T00:00:00Z      # optional
        expect: fail                   # pass | fail | skip | error, or {POLICY: VERDICT, ...}
        message: days old              # optional substring of a finding's message (with fail/error)

``expect`` as a mapping may also give ``{POLICY: {verdict: fail, message: "..."}}``. Output: one line per
failing case (``FILE:LINE: ...``), then ``N passed, N failed``; exit 1 when a case failed, 2 when a test
file or a policy is invalid. Policies of the tested directories whose pass, fail or skip (with a
``match``) path no case covers are reported as warnings on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from imagelint.engines import ERROR, FAIL, PASS, SKIP, EngineName, celcpp
from imagelint.engines.celcpp import CelCppEngine
from imagelint.engines.celpython import CelPythonEngine
from imagelint.engines.interface import Engine
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint.policy.loader import TEST_SUFFIXES, PolicyError, Problem
from imagelint.policy.model import Policy
from imagelint.policy.static import load_checked
from imagelint.policy.yamlfile import FileProblems, Reader, compose, value
from imagelint.times import TimeError, parse_time

DEFAULT_NOW = "2026-01-01T00:00:00Z"
VERDICTS = {"pass": PASS, "fail": FAIL, "skip": SKIP, "error": ERROR}
NAMES = {code: name for name, code in VERDICTS.items()}
FILE_KEYS = {"policy": False, "now": False, "images": False, "cases": True}
CASE_KEYS = {
    "name": True,
    "base": False,
    "image": False,
    "unset": False,
    "params": False,
    "now": False,
    "expect": True,
    "message": False,
}


class TestFileError(FileProblems):
    """A test file is invalid (exit 2)."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True)
class Expectation:
    policy: str
    verdict: str
    message: str | None = None


@dataclass(frozen=True)
class Case:
    """One test case, resolved: the full image and what to expect of which policies."""

    file: str
    line: int
    name: str
    image: dict[str, Any]
    now: dt.datetime
    params: dict[str, Any]
    expect: tuple[Expectation, ...]


@dataclass
class Outcome:
    passed: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def engines() -> list[str]:
    """The engines this installation has: cel-python always, cel-cpp when its wheel imports."""
    names = [EngineName.CEL_PYTHON.value]
    if celcpp.available():
        names.append(EngineName.CEL_CPP.value)
    return names


def test_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """``*.test.yaml`` files: given ones, those under directories, and the sibling of a given policy file."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.name.endswith(TEST_SUFFIXES) and p.is_file())
        elif path.is_file() and path.name.endswith(TEST_SUFFIXES):
            files.append(path)
        elif path.is_file():
            sibling = path.with_name(path.name.rsplit(".", 1)[0] + ".test.yaml")
            if sibling.is_file():
                files.append(sibling)
            else:
                problems.append(Problem(str(path), 1, 1, f"no test file {sibling.name} next to this policy"))
        else:
            problems.append(Problem(str(path), 1, 1, "no such test file or directory"))
    return list(dict.fromkeys(files)), problems


def parse_now(text: str) -> dt.datetime | None:
    try:
        return parse_time(text)
    except TimeError:
        return None


def load_cases(path: Path, policies: Sequence[Policy]) -> list[Case]:
    """Parse one test file against the policies it may name; ``TestFileError`` on any problem."""
    node, file, _ = compose(path, "test file", TestFileError)
    reader = Reader(file)
    if node is None:
        raise TestFileError([Problem(file, 1, 1, "empty test file (expected a mapping with 'cases:')")])
    top = reader.mapping(node, "test file", FILE_KEYS)
    reader.raise_if_any(TestFileError)
    known = {p.name: p for p in policies}
    default_policy = reader.string(top["policy"][1], "policy") if "policy" in top else None
    if default_policy is not None and default_policy not in known:
        reader.problem(top["policy"][1], f"policy: no policy named {default_policy!r} next to this file")
    default_now = _now(reader, top["now"][1], "now") if "now" in top else parse_now(DEFAULT_NOW)
    images: dict[str, dict[str, Any]] = {}
    if "images" in top:
        for name, (_, inode) in reader.mapping(top["images"][1], "images").items():
            if isinstance(inode, yaml.MappingNode):
                images[name] = value(inode)
            else:
                reader.problem(inode, f"images.{name}: expected a mapping (an image)")
    cases_node = top["cases"][1]
    cases: list[Case] = []
    if not isinstance(cases_node, yaml.SequenceNode) or not cases_node.value:
        reader.problem(cases_node, "cases: expected a non-empty list of cases")
    else:
        for i, item in enumerate(cases_node.value):
            case = _case(reader, file, item, f"cases[{i}]", known, default_policy, default_now, images)
            if case is not None:
                cases.append(case)
    reader.raise_if_any(TestFileError)
    return cases


def _now(reader: Reader, node: yaml.Node, where: str) -> dt.datetime | None:
    text = reader.string(node, where)
    parsed = parse_now(text) if text is not None else None
    if text is not None and parsed is None:
        reader.problem(
            node,
            f"{where}: {text!r} is not an RFC 3339 time with a zone within years 1..9999 in UTC, "
            "e.g. 2026-01-31T00:00:00Z",
        )
    return parsed


def _case(
    reader: Reader,
    file: str,
    item: yaml.Node,
    where: str,
    known: dict[str, Policy],
    default_policy: str | None,
    default_now: dt.datetime | None,
    images: dict[str, dict[str, Any]],
) -> Case | None:
    entry = reader.mapping(item, where, CASE_KEYS)
    if "name" not in entry or "expect" not in entry:
        return None
    before = len(reader.problems)
    name = reader.string(entry["name"][1], f"{where}.name") or where
    image: dict[str, Any] = {}
    if "base" in entry:
        base = reader.string(entry["base"][1], f"{where}.base")
        if base is not None and base not in images:
            reader.problem(
                entry["base"][1],
                f"{where}.base: no image named {base!r} under images: (named: {', '.join(images) or 'none'})",
            )
        elif base is not None:
            image = json.loads(json.dumps(images[base]))  # a deep copy, so cases cannot leak into each other
    if "image" in entry:
        inode = entry["image"][1]
        if isinstance(inode, yaml.MappingNode):
            image.update(value(inode))
        else:
            reader.problem(inode, f"{where}.image: expected a mapping (image attributes)")
    elif "base" not in entry:
        reader.problem(item, f"{where}: needs an image: 'image:', or 'base:' with optional 'image:' overrides")
    for key in reader.strings(entry["unset"][1], f"{where}.unset") if "unset" in entry else []:
        image.pop(key, None)
    now = _now(reader, entry["now"][1], f"{where}.now") if "now" in entry else default_now
    params: dict[str, Any] = {}
    if "params" in entry:
        pnode = entry["params"][1]
        params = value(pnode) if isinstance(pnode, yaml.MappingNode) else {}
        if not isinstance(pnode, yaml.MappingNode):
            reader.problem(pnode, f"{where}.params: expected a mapping of param: value")
    message = reader.string(entry["message"][1], f"{where}.message") if "message" in entry else None
    expect = _expectations(reader, entry["expect"][1], f"{where}.expect", known, default_policy, message)
    for key in params:
        if not any(key in known[e.policy].declared_params for e in expect if e.policy in known):
            reader.problem(entry["params"][1], f"{where}.params: no expected policy declares a param {key!r}")
    if len(reader.problems) > before or now is None:
        return None
    return Case(file, item.start_mark.line + 1, name, image, now, params, tuple(expect))


def _expectations(
    reader: Reader,
    node: yaml.Node,
    where: str,
    known: dict[str, Policy],
    default_policy: str | None,
    message: str | None,
) -> list[Expectation]:
    def verdict(vnode: yaml.Node, at: str) -> str | None:
        text = reader.string(vnode, at)
        if text is not None and text not in VERDICTS:
            reader.problem(vnode, f"{at}: {text!r} is not a verdict (expected one of: {', '.join(VERDICTS)})")
            return None
        return text

    out: list[Expectation] = []
    if isinstance(node, yaml.ScalarNode):
        if default_policy is None:
            reader.problem(
                node, f"{where}: a bare verdict needs a file-level 'policy:'; else write {{POLICY: VERDICT}}"
            )
            return []
        v = verdict(node, where)
        if v is not None:
            out.append(Expectation(default_policy, v, message))
    else:
        if message is not None:
            reader.problem(
                node,
                f"{where}: with a mapping of policies, give message per policy: "
                "{POLICY: {verdict: fail, message: ...}}",
            )
        for policy, (knode, vnode) in reader.mapping(node, where).items():
            if policy not in known:
                reader.problem(knode, f"{where}: no policy named {policy!r} next to this file")
                continue
            if isinstance(vnode, yaml.MappingNode):
                spec = reader.mapping(vnode, f"{where}.{policy}", {"verdict": True, "message": False})
                v = verdict(spec["verdict"][1], f"{where}.{policy}.verdict") if "verdict" in spec else None
                m = reader.string(spec["message"][1], f"{where}.{policy}.message") if "message" in spec else None
            else:
                v, m = verdict(vnode, f"{where}.{policy}"), None
            if v is not None:
                out.append(Expectation(policy, v, m))
    for e in out:
        if e.message is not None and e.verdict not in ("fail", "error"):
            reader.problem(node, f"{where}: a message can only be expected with fail or error, not {e.verdict}")
    return out


class _Runner:
    """Judges cases, caching one compiled engine per (policies, params, now, engine)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.cache: dict[tuple[Any, ...], Engine] = {}

    def engine(self, name: str, policies: list[Policy], now: dt.datetime) -> Engine:
        key = (
            name,
            tuple(id(p) for p in policies),
            json.dumps([dict(p.params) for p in policies], sort_keys=True, default=str),
            now,
        )
        if key not in self.cache:
            cls = CelCppEngine if name == EngineName.CEL_CPP.value else CelPythonEngine
            self.cache[key] = cls(policies, now)
        return self.cache[key]

    def run(self, case: Case, known: dict[str, Policy]) -> list[str]:
        """The failure lines of one case (empty when it passes)."""
        policies = []
        for e in case.expect:
            p = known[e.policy]
            mine = {k: v for k, v in case.params.items() if k in p.declared_params}
            policies.append(replace(p, params={**p.params, **mine}) if mine else p)
        verdicts: dict[str, list[tuple[str, str, list[str]]]] = {e.policy: [] for e in case.expect}
        for name in self.names:
            codes, details = self.engine(name, policies, case.now).evaluate(case.image)
            for i, e in enumerate(case.expect):
                messages = [m for _, _, m in details.get(i, [])]
                verdicts[e.policy].append((name, NAMES[codes[i]], messages))
        out = []
        head = f"{case.file}:{case.line}: case {case.name!r}: "
        for e in case.expect:
            got = verdicts[e.policy]
            distinct = {v for _, v, _ in got}
            if len(distinct) > 1:
                detail = ", ".join(f"{n} {v}{_first(ms)}" for n, v, ms in got)
                out.append(f"{head}{e.policy}: engines disagree: {detail}")
                continue
            actual = got[0][1]
            if actual != e.verdict:
                out.append(
                    f"{head}{e.policy}: expected {e.verdict}, got {actual}{_first(got[0][2])} "
                    f"({', '.join(n for n, _, _ in got)})"
                )
                continue
            if e.message is not None:
                for n, _, messages in got:
                    if not any(e.message in m for m in messages):
                        out.append(
                            f"{head}{e.policy}: no {e.verdict} message contains {e.message!r} ({n}: "
                            f"{' | '.join(messages) or 'no message'})"
                        )
                        break
        return out


def _first(messages: list[str]) -> str:
    return f" ({messages[0]})" if messages else ""


def run(
    paths: Sequence[str | Path], *, catalogue: Catalogue = IMAGE_ATTRIBUTES, engine_names: Sequence[str] | None = None
) -> Outcome:
    """Run every case of the test files under ``paths``; ``PolicyError``/``TestFileError`` when invalid."""
    files, problems = test_files(paths)
    if problems:
        raise TestFileError(problems)
    runner = _Runner(engine_names or engines())
    outcome = Outcome()
    by_dir: dict[Path, dict[str, Policy]] = {}
    covered: dict[str, set[str]] = {}
    all_policies: dict[str, Policy] = {}
    file_problems: list[Problem] = []
    for path in files:
        directory = path.parent
        if directory not in by_dir:
            policies, _ = load_checked([directory], catalogue=catalogue)
            type_problems = celcpp.type_check(policies)  # what `check` runs before any engine compiles
            if type_problems:
                raise PolicyError(type_problems)
            by_dir[directory] = {p.name: p for p in policies}
        try:
            cases = load_cases(path, list(by_dir[directory].values()))
        except TestFileError as exc:
            file_problems += exc.problems
            continue
        for case in cases:
            lines = runner.run(case, by_dir[directory])
            outcome.lines += lines
            if lines:
                outcome.failed += 1
            else:
                outcome.passed += 1
            for e in case.expect:
                covered.setdefault(e.policy, set()).add(e.verdict)
    if file_problems:
        raise TestFileError(file_problems)
    for raw in paths:  # coverage is judged for the directories given, not for a single test file
        if Path(raw).is_dir():
            policies, _ = load_checked([raw], catalogue=catalogue)
            for p in policies:
                all_policies.setdefault(p.name, p)
    for name, policy in sorted(all_policies.items()):
        wanted = ["pass", "fail"] + (["skip"] if policy.match is not None else [])
        missing = [v for v in wanted if v not in covered.get(name, set())]
        if missing:
            outcome.warnings.append(
                f"{policy.position.file}:{policy.position.line}: warning: policy {name} has no "
                f"test case expecting {' or '.join(missing)}"
            )
    return outcome


def cases_for(policy: Policy, catalogue: Catalogue = IMAGE_ATTRIBUTES) -> list[Case]:
    """The test cases next to ``policy`` that expect something of it (for ``imagelint explain``)."""
    directory = Path(policy.position.file).parent
    out: list[Case] = []
    files, _ = test_files([directory])
    try:
        policies, _ = load_checked([directory], catalogue=catalogue)
    except Exception:  # noqa: BLE001 - examples are best effort; `validate` and `test` report problems
        return out
    for path in files:
        if path.parent != directory:
            continue
        try:
            cases = load_cases(path, policies)
        except FileProblems:
            continue
        out += [c for c in cases if any(e.policy == policy.name for e in c.expect)]
    return out
