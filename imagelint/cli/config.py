"""``imagelint.yaml``: per-repository defaults for the command line, never secrets.

Found in the working directory (``imagelint.yaml``, else ``imagelint.yml``) or named with ``--config FILE``.
Precedence: command-line flags override the file; the file overrides built-in defaults. ::

    policies: [policies/, team-policies/]    # replaces the bundled pack, like --policies
    pack: [openstack]                        # bundled packs by name, like --pack (with policies: both)
    params:                                  # like --param, merged per key (flags win)
      image-max-age: {max_age_days: 180}
    waivers: waivers.yaml
    allow-permanent-waivers: false
    baseline: imagelint-baseline.json
    fail-on: high
    engine: auto
    endpoint: https://ims.ap-southeast-1.myhuaweicloud.com
    query: {__imagetype: private}            # like --query KEY=VALUE, with the file's endpoint only
    page-size: 500
    min-images: 50                           # like --min-images (allow-empty: true, like --allow-empty)
    reports: {sarif: imagelint.sarif}        # like --report FORMAT=PATH
    attributes:                              # image attributes your cloud adds (see the static checks)
      os_hidden: bool
      __custom_tier: {type: string, values: [gold, silver]}

Relative paths are relative to the file's directory. Keys that look like secrets (password, token,
secret, access/secret keys...) are refused, as are endpoint URLs with credentials: config files get
committed, and credentials belong in the environment.

A file is picked up from the working directory without being named, and edited by many hands, so a setting
of it that weakens the gate (``fail-on: never`` or above the default, waivers, a baseline, permanent
waivers, ``allow-empty``, ``min-images: 0``) is announced on stderr with its ``FILE:LINE:COL`` whenever it
applies (``Config.weakening``). A value that fails a later check is reported at its ``FILE:LINE:COL`` too,
not as if it had been typed as a flag (``Config.locate``).

How it is wired, once for every option (also ones added later): before argparse runs, ``apply`` turns the
file's values into ``--option=value`` arguments placed *before* the user's own, for each option that the
chosen subcommand has and the user did not give. Argparse then treats them exactly like typed flags —
same conversions, same choices — and the user's flags, given or not, keep the last word.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from imagelint.engines import EngineName
from imagelint.judgement.gate import DEFAULT_FAIL_ON, FAIL_ON_CHOICES
from imagelint.policy.catalogue import TYPES, Attribute
from imagelint.policy.loader import _Loader, param_value
from imagelint.policy.yamlfile import FileProblems, Reader, compose, kind

FILE_NAMES = ("imagelint.yaml", "imagelint.yml")

KEYS = (
    "policies",
    "pack",
    "params",
    "waivers",
    "allow-permanent-waivers",
    "baseline",
    "fail-on",
    "engine",
    "endpoint",
    "query",
    "page-size",
    "allow-empty",
    "min-images",
    "reports",
    "attributes",
)
"""The keys of the file; each but ``attributes`` sets the option of the same name (``reports``: ``--report``)."""

_KEY = {"param": "params", "report": "reports"}
"""Option dest -> the file's key, where it is not the dest with dashes."""

WITH_FILE_ENDPOINT = ("query",)
"""From the file, applied only with the file's endpoint: a query chosen for one endpoint must not narrow another."""
WITH_ANY_ENDPOINT = ("page_size",)
"""From the file, applied with the file's endpoint or one given on the command line (a snapshot has no pages)."""

SECRET_KEY = re.compile(
    r"pass(word|wd)?$|passw|secret|token|credential|api[-_]?key|access[-_]?key|"
    r"private[-_]?key|^(ak|sk)$|^auth",
    re.IGNORECASE,
)


class ConfigFileError(FileProblems):
    """The config file is invalid (exit 2)."""


@dataclass(frozen=True)
class Config:
    """What a config file says, as the command line would say it."""

    file: str | None
    """The file read, or ``None`` when there is none."""
    arguments: dict[str, list[str]] = field(default_factory=dict)
    """Option dest -> ``--option=value`` arguments."""
    attributes: dict[str, Attribute] = field(default_factory=dict)
    """Extra image attributes for the static checks."""
    positions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Option dest -> ``(argument, FILE:LINE:COL)`` of the value each argument came from."""
    weakening: dict[str, str] = field(default_factory=dict)
    """Option dest -> ``FILE:LINE:COL: what the setting does to the gate``; after ``apply``, only those applied."""

    def locate(self, message: str) -> str:
        """A one-line error about a value this file set, told at the file's ``FILE:LINE:COL`` instead of as
        if typed as a flag (``--page-size 0: ...`` becomes ``imagelint.yaml:7:12: page-size 0: ...``)."""
        flag = _FLAG.match(message)
        if flag is None:
            return message
        option, rest = flag.group(1), message[flag.end() :]
        best, where = 0, ""
        for arguments in self.positions.values():
            for argument, at in arguments:
                name, _, given = argument.partition("=")
                if name != option:
                    continue
                # the argument the message is about: its value quoted whole, or its parts (a param's policy)
                score = 100 * (given in rest) + sum(f"'{part}'" in rest for part in re.split("[.=]", given) if part)
                if score > best:
                    best, where = score, at
        return f"{where}: {option[2:]}{rest}" if where else message


_FLAG = re.compile(r"(--[a-z][a-z-]*)(?::\d+:\d+)?(?=[: ])")
"""An error that begins with the flag it is about (``--param:1:1:`` when the loader read it as a file)."""


def find(argv: Sequence[str], cwd: Path | None = None) -> Path | None:
    """``--config FILE`` from the command line, else ``imagelint.yaml`` in the working directory."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    base = cwd or Path.cwd()
    for name in FILE_NAMES:
        if (base / name).is_file():
            return base / name
    return None


def load(path: Path, *, explicit: bool = True) -> Config:
    """Read and check a config file; ``ConfigFileError`` lists every problem with ``FILE:LINE:COL``."""
    node, file, _ = compose(path, "config file", ConfigFileError)
    if node is None:
        return Config(file)
    reader = Reader(file)
    _refuse_secrets(reader, node)
    reader.raise_if_any(ConfigFileError)
    top = reader.mapping(node, "config", dict.fromkeys(KEYS, False))
    base = path.parent
    out: dict[str, list[str]] = {}
    weakening: dict[str, str] = {}

    def at(node: yaml.Node) -> str:
        return f"{file}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    def weakens(dest: str, key: str, text: str) -> None:
        weakening[dest] = f"{at(top[key][1])}: {key}: {text}"

    def paths(key: str) -> list[str]:
        return [str(p if Path(p).is_absolute() else base / p) for p in reader.strings(top[key][1], key)]

    if "policies" in top:
        pnode = top["policies"][1]
        if isinstance(pnode, yaml.SequenceNode) and not pnode.value:
            reader.problem(
                pnode,
                "policies: an empty list; list policy files or directories, or remove the key to use the bundled pack",
            )
        out["policies"] = [f"--policies={p}" for p in paths("policies")]
    if "pack" in top:
        out["pack"] = [f"--pack={name}" for name in reader.strings(top["pack"][1], "pack")]
    params: dict[str, str] = {}  # argument -> FILE:LINE:COL, where it is finer than its key's value
    if "params" in top:
        found = _params(reader, top["params"][1])
        out["param"] = [argument for argument, _ in found]
        params = {argument: at(node) for argument, node in found}
    for key, option in (("waivers", "--waivers"), ("baseline", "--baseline")):
        if key in top:
            if isinstance(top[key][1], yaml.SequenceNode):  # the option takes one file; never use only the first
                reader.problem(top[key][1], f"{key}: expected one file name ({option} takes one file), got a list")
            else:
                out[key] = [f"{option}={p}" for p in paths(key)]
                what = "waived findings" if key == "waivers" else "findings recorded in the baseline"
                weakens(key, key, f"{what} do not fail the run")
    if "query" in top and "endpoint" not in top:
        reader.problem(
            top["query"][0],
            "query: applies only with the file's endpoint, and this file has none: "
            "add endpoint:, or give --query with --endpoint on the command line",
        )
    for key, choices in (("fail-on", FAIL_ON_CHOICES), ("engine", tuple(e.value for e in EngineName))):
        if key in top:
            text = reader.string(top[key][1], key)
            if text is not None and text not in choices:
                reader.problem(top[key][1], f"{key}: {text!r} is not one of: {', '.join(choices)}")
            elif text is not None:
                out[key.replace("-", "_")] = [f"--{key}={text}"]
                if key == "fail-on" and text == "never":
                    weakens("fail_on", key, "never turns the gate off: no finding fails the run")
                elif key == "fail-on" and FAIL_ON_CHOICES.index(text) > FAIL_ON_CHOICES.index(DEFAULT_FAIL_ON):
                    below = f"{text}: findings below {text} do not fail the run (the default is {DEFAULT_FAIL_ON})"
                    weakens("fail_on", key, below)
    if "allow-permanent-waivers" in top:
        flag = reader.boolean(top["allow-permanent-waivers"][1], "allow-permanent-waivers")
        if flag:
            out["allow_permanent_waivers"] = ["--allow-permanent-waivers"]
            weakens("allow_permanent_waivers", "allow-permanent-waivers", "waivers that never expire are accepted")
    if "allow-empty" in top and reader.boolean(top["allow-empty"][1], "allow-empty"):
        out["allow_empty"] = ["--allow-empty"]
        weakens("allow_empty", "allow-empty", "a run that judged no image passes")
    if "min-images" in top:
        floor = reader.integer(top["min-images"][1], "min-images")
        if floor is not None:
            out["min_images"] = [f"--min-images={floor}"]
            if floor == 0:
                weakens("min_images", "min-images", "0: a run that judged no image passes")
    if "endpoint" in top:
        url = reader.string(top["endpoint"][1], "endpoint")
        try:
            parts = urlsplit(url) if url is not None else None
        except ValueError as exc:  # "Invalid IPv6 URL"
            reader.problem(top["endpoint"][1], f"endpoint: {url!r} is not a URL ({exc})")
            parts = None
        if url is not None and parts is not None:
            if parts.username is not None or parts.password is not None:
                reader.problem(
                    top["endpoint"][1],
                    "endpoint: refusing a URL with credentials; config files get "
                    "committed: put credentials in the environment",
                )
            else:
                out["endpoint"] = [f"--endpoint={url}"]
    if "query" in top:
        query_nodes: list[yaml.Node] = []
        out["query"] = [f"--query={k}={v}" for k, v in _pairs(reader, top["query"][1], "query", query_nodes)]
        params.update({a: at(n) for a, n in zip(out["query"], query_nodes, strict=True)})
    if "page-size" in top:
        size = reader.integer(top["page-size"][1], "page-size")
        if size is not None:
            out["page_size"] = [f"--page-size={size}"]
    if "reports" in top:
        out["report"] = [
            f"--report={k}={v if Path(v).is_absolute() else base / v}"
            for k, v in _pairs(reader, top["reports"][1], "reports")
        ]
    attributes = _attributes(reader, top["attributes"][1]) if "attributes" in top else {}
    reader.raise_if_any(ConfigFileError)
    positions = {
        dest: [(a, params.get(a) or at(top[_KEY.get(dest, dest.replace("_", "-"))][1])) for a in arguments]
        for dest, arguments in out.items()
    }
    return Config(file, out, attributes, positions, weakening)


def _refuse_secrets(reader: Reader, node: yaml.Node, where: str = "", seen: set[int] | None = None) -> None:
    """Refuse secret-looking keys anywhere in the file (nested ones too: query, params)."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias: its node was checked (&a [*a] loops, nested aliases grow exponentially)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            key = str(knode.value) if isinstance(knode, yaml.ScalarNode) else ""
            if SECRET_KEY.search(key.replace("-", "_")):
                reader.problem(
                    knode,
                    f"{where}{key}: refusing a key that looks like a secret; config files get "
                    "committed: put credentials in the environment (OS_AUTH_TOKEN, "
                    "HUAWEICLOUD_SDK_AK/SK, OS_PASSWORD) or use --token-file",
                )
            else:
                _refuse_secrets(reader, vnode, f"{where}{key}.", seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_secrets(reader, item, where, seen)


def _pairs(reader: Reader, node: yaml.Node, where: str, nodes: list[yaml.Node] | None = None) -> list[tuple[str, str]]:
    """A mapping KEY: VALUE, or a list of ``KEY=VALUE`` strings; ``nodes`` gets each pair's value node."""
    nodes = [] if nodes is None else nodes
    if isinstance(node, yaml.MappingNode):
        out = []
        for key, (_, vnode) in reader.mapping(node, where).items():
            if not isinstance(vnode, yaml.ScalarNode) or vnode.tag.endswith(":null"):
                reader.problem(vnode, f"{where}.{key}: expected a single value, got {kind(vnode)}")
                continue
            out.append((key, str(vnode.value)))
            nodes.append(vnode)
        return out
    pairs = []
    if isinstance(node, yaml.SequenceNode):
        items = [(item, reader.string(item, f"{where}[{i}]")) for i, item in enumerate(node.value)]
    else:
        items = [(node, reader.string(node, where))]
    for item, text in items:
        if text is not None:
            key, sep, val = text.partition("=")
            if not sep or not key:
                reader.problem(item, f"{where}: {text!r}: expected KEY=VALUE")
            else:
                pairs.append((key, val))
                nodes.append(item)
    return pairs


def _params(reader: Reader, node: yaml.Node) -> list[tuple[str, yaml.Node]]:
    out = []
    for name, (_, pnode) in reader.mapping(node, "params").items():
        for key, (_, vnode) in reader.mapping(pnode, f"params.{name}").items():
            param, refused = param_value(_Loader(""), vnode)
            if refused is not None:
                reader.problem(vnode, f"params.{name}.{key}: {refused}")
                continue
            out.append((f"--param={name}.{key}={_flow_yaml(param)}", vnode))
    return out


def _flow_yaml(param: object) -> str:
    """``param`` as the YAML that ``--param`` parses back to it.

    ASCII-only flow style round-trips every param value; JSON did not (``.nan`` came back as the string
    ``NaN``, an emoji as two lone surrogates).
    """
    text = yaml.dump(param, Dumper=yaml.SafeDumper, default_flow_style=True, allow_unicode=False, width=float("inf"))
    return text.removesuffix("\n...\n").rstrip("\n")  # a lone scalar ends with a document end marker


def _attributes(reader: Reader, node: yaml.Node) -> dict[str, Attribute]:
    out = {}
    for name, (_, vnode) in reader.mapping(node, "attributes").items():
        where = f"attributes.{name}"
        if isinstance(vnode, yaml.MappingNode):
            spec = reader.mapping(vnode, where, {"type": True, "values": False, "always": False, "nullable": False})
            type_node = spec.get("type", (None, None))[1]
            values = tuple(reader.strings(spec["values"][1], f"{where}.values")) if "values" in spec else ()
            always = bool(reader.boolean(spec["always"][1], f"{where}.always")) if "always" in spec else False
            nullable = bool(reader.boolean(spec["nullable"][1], f"{where}.nullable")) if "nullable" in spec else False
        else:
            type_node, values, always, nullable = vnode, (), False, False
        if type_node is None:
            continue
        type_name = reader.string(type_node, f"{where}.type" if isinstance(vnode, yaml.MappingNode) else where)
        if type_name is not None and type_name not in TYPES:
            reader.problem(type_node, f"{where}: unknown type {type_name!r} (expected one of: {', '.join(TYPES)})")
        elif type_name is not None:
            out[name] = Attribute(name, type_name, always=always, nullable=nullable, values=values)
    return out


# --- wiring into argparse -----------------------------------------------------------------------------


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)  # type: ignore[no-any-return]
    return None


def _command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[str | None, int]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for i, arg in enumerate(argv):
                if arg in action.choices:
                    return arg, i
    return None, -1


def _given(sub: argparse.ArgumentParser, action: argparse.Action, argv: Sequence[str], rivals_too: bool = True) -> bool:
    """Whether the user's arguments set ``action`` (or, with ``rivals_too``, a rival of its mutually exclusive
    group: ``--input`` takes the place of the file's ``endpoint``)."""
    rivals = [action]
    for group in sub._mutually_exclusive_groups:
        if rivals_too and action in group._group_actions:
            rivals = list(group._group_actions)
    options = [o for a in rivals for o in a.option_strings]
    for arg in argv:
        if arg == "--":
            break
        head = arg.split("=", 1)[0]
        # argparse accepts unambiguous prefixes (--fail for --fail-on), so a prefix counts as given
        if head.startswith("--") and len(head) > 2 and any(o.startswith(head) for o in options if o.startswith("--")):
            return True
        if head in options:
            return True
    return False


def apply(parser: argparse.ArgumentParser, argv: Sequence[str], cwd: Path | None = None) -> tuple[list[str], Config]:
    """The command line with the config file's values inserted as arguments, and the config itself."""
    argv = list(argv)
    command, at = _command(parser, argv)
    sub = _subparser(parser, command) if command is not None else None
    if sub is None or not any("--config" in a.option_strings for a in sub._actions):
        return argv, Config(None)  # e.g. `schema`: it needs no config, so a broken one must not stop it
    path = find(argv[at + 1 :], cwd)
    if path is None:
        return argv, Config(None)
    config = load(path)
    user = argv[at + 1 :]
    injected: dict[str, list[str]] = {}
    given: set[str] = set()
    for action in sub._actions:
        if _given(sub, action, user):
            given.add(action.dest)
        arguments = config.arguments.get(action.dest)
        if arguments and (action.dest == "param" or action.dest not in given):
            # --param merges per key (the user's later --param wins); every other option is all or nothing
            injected[action.dest] = arguments
    if "endpoint" not in injected:  # the command line chose the source
        user_endpoint = any(
            a.dest == "endpoint" and a.option_strings and _given(sub, a, user, False) for a in sub._actions
        )
        for dest in WITH_FILE_ENDPOINT + (() if user_endpoint else WITH_ANY_ENDPOINT):
            injected.pop(dest, None)
    applied = {dest: text for dest, text in config.weakening.items() if dest in injected}
    config = replace(config, weakening=applied, positions={d: p for d, p in config.positions.items() if d in injected})
    return argv[: at + 1] + [a for args in injected.values() for a in args] + user, config
