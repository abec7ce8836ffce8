"""The targets file of an organisation audit: which clouds, regions, projects and endpoints one run reads.

A targets file is YAML: ``defaults`` (any target key but ``name``) and a ``targets`` list. Each target
names a cloud (a ``clouds.yaml`` entry) or an ``endpoint``; ``region``/``regions`` and
``project``/``projects``/``project_id``/``project_ids`` may list several, and such a target expands to
one target per (region, project) pair, named ``NAME/REGION/PROJECT`` (only the parts that vary)::

    defaults:
      auth: {token_env: IMS_TOKEN}
      labels: {owner: platform}
    targets:
      - name: prod
        cloud: prod
        regions: [eu-de, eu-nl]
        projects: [web, batch]
      - name: lab
        endpoint: https://ims.lab.example
        auth: {token_file: /run/secrets/lab-token}
        query: {visibility: private}
        min_images: 0          # an empty project is expected here (default: 1, as check's --min-images)

The file never holds a secret: credentials are named, never written (``token_env``, ``ak_env``/``sk_env``
name environment variables, ``token_file`` a file; a cloud's come from ``clouds.yaml``/``secure.yaml``).
A key that looks like a secret is refused. Problems are ``FILE:LINE:COL`` with did-you-mean on keys, all
of a file at once (``TargetsError``, exit 2).

``target_settings`` is the one place that turns a target into the ``ApiSettings`` (and the credential
variables) of one source; ``open_target`` builds the source through ``api.open_source``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from imagelint.policy.loader import Problem
from imagelint.policy.yamlfile import FileProblems, Reader, compose
from imagelint.sources.api import ApiSettings, ApiSource, open_source
from imagelint.sources.transport import ConfigError

APIS = ("images", "cloudimages")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]*")
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

AUTH_KEYS = ("token_env", "token_file", "ak_env", "sk_env", "security_token_env", "project_id_env", "none")
"""What ``auth:`` may say: the names of environment variables or a file, never a value."""
TARGET_KEYS = (
    "name",
    "cloud",
    "endpoint",
    "region",
    "regions",
    "project",
    "projects",
    "project_id",
    "project_ids",
    "api",
    "query",
    "labels",
    "auth",
    "page_size",
    "timeout",
    "retries",
    "ca_bundle",
    "insecure",
    "min_images",
)
_SECRET_KEY = re.compile(r"(?i)^(token|password|passwd|secret|sk|ak|access_key|secret_key|security_token|api_key)$")
_CREDENTIAL_VARIABLES = (
    "OS_AUTH_TOKEN",
    "OS_TOKEN",
    "OS_PASSWORD",
    "OS_USERNAME",
    "OS_AUTH_URL",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "HUAWEICLOUD_SDK_PROJECT_ID",
)
"""Variables a target's ``auth:`` replaces: a target with its own credentials never also sees these."""


class TargetsError(FileProblems):
    """A targets file cannot be used (exit 2)."""


@dataclass(frozen=True)
class AuthRef:
    """Where a target's credentials are: names of variables or of a file (never a secret itself)."""

    token_env: str | None = None
    token_file: str | None = None
    ak_env: str | None = None
    sk_env: str | None = None
    security_token_env: str | None = None
    project_id_env: str | None = None
    none: bool = False
    """``none: true``: send no credentials (a Glance without auth), whatever the environment holds."""

    @property
    def given(self) -> bool:
        return self != AuthRef()


@dataclass(frozen=True)
class Target:
    """One (cloud or endpoint, region, project) of the estate, after expansion."""

    name: str
    cloud: str | None = None
    endpoint: str | None = None
    region: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    api: str = "images"
    query: tuple[str, ...] = ()
    """``KEY=VALUE`` texts, as ``--query`` takes them."""
    labels: Mapping[str, str] = field(default_factory=dict)
    auth: AuthRef = AuthRef()
    page_size: int | None = None
    timeout: float | None = None
    retries: int | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    min_images: int | None = None
    """Fewer images judged makes the target incomplete; ``None``: the command line's floor (1 by default)."""
    where: str = ""
    """``FILE:LINE:COL`` of the entry this target came from, for messages."""

    @property
    def project(self) -> str | None:
        return self.project_id or self.project_name


@dataclass(frozen=True)
class TargetsFile:
    file: str
    digest: str
    """SHA-256 of the file's text: shards and results of one estate carry the same one."""
    targets: tuple[Target, ...]


# -- loading ---------------------------------------------------------------------------------------------


def load_targets(path: str | Path) -> TargetsFile:
    """Read, check and expand a targets file; ``TargetsError`` lists every problem with ``FILE:LINE:COL``."""
    node, file, text = compose(Path(path), "targets file", TargetsError)
    reader = _Reader(file)
    if node is None:
        raise TargetsError([Problem(file, 1, 1, "empty targets file: expected 'targets:' with a list of targets")])
    top = reader.keys(node, "targets file", ("defaults", "targets"), required=("targets",))
    defaults: dict[str, Any] = {}
    if "defaults" in top:
        defaults = reader.entry(top["defaults"][1], "defaults", defaults_entry=True)
    targets: list[Target] = []
    if "targets" in top:
        entries = top["targets"][1]
        if not isinstance(entries, yaml.SequenceNode) or not entries.value:
            reader.problem(entries, "targets: expected a non-empty list of targets")
        else:
            for index, item in enumerate(entries.value):
                before = len(reader.problems)
                raw = reader.entry(item, f"targets[{index}]")
                if raw and len(reader.problems) == before:  # a broken entry would only add follow-on problems
                    targets.extend(_expand(reader, item, raw, defaults, f"targets[{index}]"))
    seen: dict[str, str] = {}
    for t in targets:
        if t.name in seen:
            line, col = (int(x) for x in t.where.rsplit(":", 2)[1:])
            reader.problems.append(
                Problem(file, line, col, f"target name {t.name!r} is used twice (first at {seen[t.name]})")
            )
        else:
            seen[t.name] = t.where
    reader.raise_if_any(TargetsError)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return TargetsFile(file=file, digest=digest, targets=tuple(targets))


class _Reader(Reader):
    """``Reader`` with did-you-mean on keys and the targets file's value shapes."""

    def keys(
        self, node: yaml.Node, where: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        got = self.mapping(node, where, None)
        out = {}
        for key, pair in got.items():
            if key in allowed:
                out[key] = pair
            elif _SECRET_KEY.match(key):
                self.problem(
                    pair[0],
                    f"{where}.{key}: no secrets in a targets file; name where the secret is instead "
                    "(auth: {token_env: VARIABLE}, token_file: PATH, ak_env/sk_env, or a cloud in clouds.yaml)",
                )
            else:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(allowed)})"
                self.problem(pair[0], f"{where}: unknown key {key!r}{hint}")
        if isinstance(node, yaml.MappingNode):
            for key in required:
                if key not in got:
                    self.problem(node, f"{where}: missing required key {key!r}")
        return out

    def entry(self, node: yaml.Node, where: str, *, defaults_entry: bool = False) -> dict[str, Any]:
        """A target (or ``defaults``) as plain values; keys that fail a check are left out."""
        allowed = [k for k in TARGET_KEYS if not (defaults_entry and k == "name")]
        pairs = self.keys(node, where, allowed, required=() if defaults_entry else ("name",))
        out: dict[str, Any] = {}
        for key, (_, vnode) in pairs.items():
            here = f"{where}.{key}"
            before = len(self.problems)
            value: Any
            if key in ("regions", "projects", "project_ids"):
                value = self.strings(vnode, here)
                if not value and len(self.problems) == before:
                    self.problem(vnode, f"{here}: expected a non-empty list")
            elif key in ("page_size", "retries", "min_images"):
                value = self.integer(vnode, here)
                if value is not None and value < (1 if key == "page_size" else 0):
                    self.problem(
                        vnode, f"{here}: expected {'a positive integer' if key == 'page_size' else '0 or more'}"
                    )
            elif key == "timeout":
                value = self.number(vnode, here)
            elif key == "insecure":
                value = self.boolean(vnode, here)
            elif key == "labels":
                value = self.labels(vnode, here)
            elif key == "query":
                value = self.query(vnode, here)
            elif key == "auth":
                value = self.auth(vnode, here)
            else:
                value = self.string(vnode, here)
                if value is not None and key == "name" and not _NAME.fullmatch(value):
                    self.problem(vnode, f"{here}: {value!r}: letters, digits and . _ : @ / - only")
                if value is not None and key == "api" and value not in APIS:
                    close = difflib.get_close_matches(value, APIS, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    self.problem(vnode, f"{here}: unknown API {value!r} (expected images or cloudimages){hint}")
            if len(self.problems) == before and value is not None:
                out[key] = (value, vnode)
        for one, many in (("region", "regions"), ("project", "projects"), ("project_id", "project_ids")):
            if one in pairs and many in pairs:
                self.problem(pairs[many][0], f"{where}: give {one} or {many}, not both")
        if ("project" in pairs or "projects" in pairs) and ("project_id" in pairs or "project_ids" in pairs):
            self.problem(node, f"{where}: name projects by name (project/projects) or by id (project_id/project_ids)")
        return out

    def number(self, node: yaml.Node, where: str) -> float | None:
        if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith((":int", ":float")):
            self.problem(node, f"{where}: expected a number of seconds, got {_kind(node)}")
            return None
        seconds = float(node.value)
        if not seconds > 0:
            self.problem(node, f"{where}: expected a positive number of seconds")
            return None
        return seconds

    def labels(self, node: yaml.Node, where: str) -> dict[str, str] | None:
        pairs = self.mapping(node, where, None)
        out = {}
        for key, (knode, vnode) in pairs.items():
            if not _LABEL_KEY.fullmatch(key):
                self.problem(knode, f"{where}: label key {key!r}: letters, digits and . _ / - only")
            value = self.string(vnode, f"{where}.{key}")
            if value is not None:
                out[key] = value
        return out if isinstance(node, yaml.MappingNode) else None

    def query(self, node: yaml.Node, where: str) -> tuple[str, ...] | None:
        """``{KEY: VALUE or [VALUES]}`` or a list of ``KEY=VALUE`` texts, as ``KEY=VALUE`` texts."""
        if isinstance(node, yaml.MappingNode):
            out = []
            for key, (_, vnode) in self.mapping(node, where, None).items():
                for value in self.strings(vnode, f"{where}.{key}"):
                    out.append(f"{key}={value}")
            return tuple(out)
        if isinstance(node, yaml.SequenceNode):
            texts = self.strings(node, where)
            for item, text in zip(node.value, texts, strict=False):
                if "=" not in text:
                    self.problem(item, f"{where}: {text!r}: expected KEY=VALUE, e.g. visibility=private")
            return tuple(texts)
        self.problem(node, f"{where}: expected a mapping of query parameters, got {_kind(node)}")
        return None

    def auth(self, node: yaml.Node, where: str) -> AuthRef | None:
        pairs = self.keys(node, where, AUTH_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        values: dict[str, Any] = {}
        for key, (_, vnode) in pairs.items():
            if key == "none":
                values[key] = self.boolean(vnode, f"{where}.none")
                continue
            text = self.string(vnode, f"{where}.{key}")
            if text is not None and key.endswith("_env") and not _ENV_NAME.fullmatch(text):
                self.problem(
                    vnode,
                    f"{where}.{key}: expected the NAME of an environment variable (letters, digits, _), not its value",
                )
                continue
            values[key] = text
        kinds = [k for k in ("token_env", "token_file", "ak_env", "none") if values.get(k)]
        if len(kinds) > 1:
            self.problem(node, f"{where}: give one of token_env, token_file, ak_env+sk_env or none")
        if bool(values.get("ak_env")) != bool(values.get("sk_env")):
            self.problem(node, f"{where}: ak_env and sk_env go together")
        return AuthRef(**{k: v for k, v in values.items() if v is not None})


def _kind(node: yaml.Node) -> str:
    from imagelint.policy.loader import describe_node

    return describe_node(node)


def _expand(
    reader: _Reader, node: yaml.Node, raw: dict[str, Any], defaults: dict[str, Any], where: str
) -> list[Target]:
    """One entry (over ``defaults``) as its targets: one per (region, project) pair."""
    merged = {k: v for k, (v, _) in defaults.items()}
    for k, (v, _) in raw.items():
        if k == "labels":
            merged[k] = {**merged.get("labels", {}), **v}
        elif k == "auth":
            merged[k] = v  # a target's auth replaces the default's whole: credentials never mix
        else:
            merged[k] = v
    # a target naming the one form (region) overrides the default's other (regions), and so on
    for one, many in (("region", "regions"), ("project", "projects"), ("project_id", "project_ids")):
        if one in raw and many not in raw:
            merged.pop(many, None)
        if many in raw and one not in raw:
            merged.pop(one, None)
    if "project" in raw or "projects" in raw:
        merged.pop("project_id", None)
        merged.pop("project_ids", None)
    if "project_id" in raw or "project_ids" in raw:
        merged.pop("project", None)
        merged.pop("projects", None)
    # a target's own cloud or endpoint replaces the default's other one (both in one entry: the endpoint
    # overrides the cloud's catalog, as image_endpoint_override does)
    if "cloud" in raw and "endpoint" not in raw:
        merged.pop("endpoint", None)
    if "endpoint" in raw and "cloud" not in raw:
        merged.pop("cloud", None)
    name = merged.get("name")
    if name is None:
        return []
    position = f"{reader.file}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
    if not merged.get("cloud") and not merged.get("endpoint"):
        reader.problem(node, f"{where} ({name}): needs a cloud (a clouds.yaml name) or an endpoint")
        return []
    regions: list[str | None] = list(merged.get("regions") or [merged.get("region")])
    by_id = "project_id" in merged or "project_ids" in merged
    projects: list[str | None] = list(
        merged.get("project_ids") or [merged.get("project_id")]
        if by_id
        else merged.get("projects") or [merged.get("project")]
    )
    for values, what in ((regions, "region"), (projects, "project")):
        repeated = sorted({v for v in values if values.count(v) > 1 and v is not None})
        if repeated:
            reader.problem(node, f"{where} ({name}): {what} {repeated[0]!r} is listed twice")
            return []
    out = []
    for region in regions:
        for project in projects:
            parts = [name]
            if len(regions) > 1 and region is not None:
                parts.append(region)
            if len(projects) > 1 and project is not None:
                parts.append(project)
            out.append(
                Target(
                    name="/".join(parts),
                    cloud=merged.get("cloud"),
                    endpoint=merged.get("endpoint"),
                    region=region,
                    project_id=project if by_id else None,
                    project_name=None if by_id else project,
                    api=merged.get("api", "images"),
                    query=tuple(merged.get("query", ())),
                    labels=dict(merged.get("labels", {})),
                    auth=merged.get("auth", AuthRef()),
                    page_size=merged.get("page_size"),
                    timeout=merged.get("timeout"),
                    retries=merged.get("retries"),
                    ca_bundle=merged.get("ca_bundle"),
                    insecure=bool(merged.get("insecure", False)),
                    min_images=merged.get("min_images"),
                    where=position,
                )
            )
    return out


# -- selection -------------------------------------------------------------------------------------------


def parse_label(text: str) -> tuple[str, str]:
    """``--label KEY=VALUE``; ``ConfigError`` when it is not one."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--label {text!r}: expected KEY=VALUE, e.g. --label env=prod")
    return key.strip(), value.strip()


def select(targets: Sequence[Target], names: Sequence[str], labels: Sequence[tuple[str, str]]) -> list[Target]:
    """The targets named (``--target``; a name also selects what it expanded to) and carrying every label.

    A name that selects nothing is a ``ConfigError`` with a did-you-mean: a typo must not audit nothing.
    """
    chosen = list(targets)
    if names:
        known = [t.name for t in targets]
        for name in names:
            if not any(t.name == name or t.name.startswith(name + "/") for t in targets):
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"--target {name!r}: no such target in the targets file{hint}")
        chosen = [t for t in chosen if any(t.name == n or t.name.startswith(n + "/") for n in names)]
    for key, value in labels:
        chosen = [t for t in chosen if t.labels.get(key) == value]
    if not chosen:
        raise ConfigError("--target/--label: no target of the targets file is selected")
    return chosen


# -- from a target to a source ---------------------------------------------------------------------------


def cloud_support() -> bool:
    """Whether this imagelint reads clouds (``clouds.yaml``, catalogs, regions): the clouds module is there."""
    return importlib.util.find_spec("imagelint.sources.clouds") is not None


def target_settings(target: Target, env: Mapping[str, str]) -> tuple[ApiSettings, dict[str, str]]:
    """The ``ApiSettings`` of one target and the environment its credentials come from.

    A target with ``auth:`` sees only the variables it names (under the names ``auth.resolve`` reads),
    never the process's other credentials; one without sees the process's environment, as ``check`` does.
    ``ConfigError`` (exit 2) names the target for a variable that is not set, or a cloud target where this
    imagelint cannot read clouds.
    """
    if target.cloud is not None and not cloud_support():
        # open_source would ignore the cloud and take credentials from the environment: never silently
        raise ConfigError(
            f"target {target.name}: cloud targets need cloud support (clouds.yaml and the service catalog), "
            "which this imagelint lacks; give the target an endpoint and auth instead"
        )
    if target.api != "images" and not cloud_support():
        raise ConfigError(f"target {target.name}: api {target.api} needs cloud support, which this imagelint lacks")
    environment = dict(env)
    token_file = None
    auth = target.auth
    if auth.given:
        for name in _CREDENTIAL_VARIABLES:
            environment.pop(name, None)
        if auth.token_file:
            token_file = auth.token_file
        mapping = {
            "token_env": "OS_AUTH_TOKEN",
            "ak_env": "HUAWEICLOUD_SDK_AK",
            "sk_env": "HUAWEICLOUD_SDK_SK",
            "security_token_env": "HUAWEICLOUD_SDK_SECURITY_TOKEN",
            "project_id_env": "HUAWEICLOUD_SDK_PROJECT_ID",
        }
        for key, variable in mapping.items():
            source_name = getattr(auth, key)
            if source_name is None:
                continue
            value = env.get(source_name, "").strip()
            if not value:
                raise ConfigError(f"target {target.name}: auth.{key}: environment variable {source_name} is not set")
            environment[variable] = value
    settings = ApiSettings(
        endpoint=target.endpoint or "",
        query=target.query,
        page_size=target.page_size,
        token_file=token_file,
        ca_bundle=target.ca_bundle,
        insecure=target.insecure,
        cloud=target.cloud,
        region=target.region,
        project_id=target.project_id,
        project_name=target.project_name,
        api=target.api,
    )
    if target.timeout is not None:
        settings = replace(settings, timeout=target.timeout)
    if target.retries is not None:
        settings = replace(settings, retries=target.retries)
    return settings, environment


def open_target(
    target: Target,
    env: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
) -> ApiSource:
    """The source of one target (no request sent); ``ConfigError`` names the target and its entry."""
    env = os.environ if env is None else env
    settings, environment = target_settings(target, env)
    if timeout is not None and target.timeout is None:
        settings = replace(settings, timeout=timeout)
    if retries is not None and target.retries is None:
        settings = replace(settings, retries=retries)
    try:
        return open_source(settings, env=environment, stderr=stderr)
    except ConfigError as exc:
        # the class is kept: audit tells a region without the image service from a bad setting
        raise type(exc)(f"{target.where}: target {target.name}: {exc}") from None


def shard(targets: Sequence[Target], index: int, total: int) -> list[Target]:
    """Shard ``index`` (1-based) of ``total``: every ``total``-th target in name order, from ``index``.

    The same names give the same shards on every machine, and shard sizes differ by at most one.
    """
    ordered = sorted(targets, key=lambda t: t.name)
    return [t for i, t in enumerate(ordered) if i % total == index - 1]
