"""MkDocs hook: the page ``bundled-policies.md``, built from the bundled policy files at every build.

The page is never committed, so it cannot drift from the pack: it is whatever ``imagelint.policy`` loads
from ``bundled_policy_dir()``, one section per pack. When that folder holds policy files itself it is one
pack; when it holds only folders (``policies/ims/``, ``policies/openstack/``...), each folder is a pack,
loaded on its own, as ``--policies`` would load it. ``render()`` is importable, for the tests.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from imagelint.policy import Policy, bundled_policy_dir, load_policies

PAGE = "bundled-policies.md"
POLICY_SUFFIXES = (".yaml", ".yml")

INTRO = """\
# The bundled packs

imagelint ships with two packs of policies: `ims` for Huawei Cloud IMS, which `imagelint check` uses unless
`--pack`, `--policies` (or `policies:` in `imagelint.yaml`) name others, and `openstack` for plain OpenStack Glance
(`--pack openstack`; `imagelint list --packs` lists them). They are written with
[the image library](cel-library.md), and every policy says how to fix what it finds (`metadata.remediation`).
Each quotes the text it enforces in `metadata.references`, and each has tests beside it (`NAME.test.yaml`)
for its pass, fail and skip paths, which `imagelint test` runs. The policies'
params can be changed without editing them: `--param NAME.KEY=VALUE`, or `params:` in
[the config file](config.md).

On the command line, `imagelint list` shows the same table and `imagelint explain NAME` one policy in full, with its
test cases as examples. This page is generated from the policy files when the site is built.
"""


def packs(root: Path | None = None) -> list[tuple[str, Path]]:
    """(name, folder) of each bundled pack; the name is "" when the folder itself is the only pack."""
    root = root or bundled_policy_dir()
    entries = sorted(root.iterdir())
    if any(p.is_file() and p.suffix in POLICY_SUFFIXES for p in entries):
        return [("", root)]
    return [(p.name, p) for p in entries if p.is_dir() and not p.name.startswith(("_", "."))]


def text(value: Any) -> str:
    """Plain text safe in Python-Markdown: no HTML, emphasis, links or table cells out of it."""
    escaped = html.escape(" ".join(str(value).split()), quote=False)
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", escaped)


def code(source: str) -> str:
    fence = "```"
    while fence in source:
        fence += "`"
    return f"{fence}text\n{source.strip()}\n{fence}\n"


def inline(value: Any) -> str:
    """A code span that holds any text (its fence is longer than any run of backticks inside)."""
    value = " ".join(str(value).split())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def anchor(pack: str, policy: Policy) -> str:
    """The policy's section id: its name, prefixed by the pack's when there are several (names may repeat)."""
    return f"{pack}-{policy.name}" if pack else policy.name


def policy_section(policy: Policy, pack: str, root: Path) -> str:
    out = [f"### {policy.name} {{#{anchor(pack, policy)}}}\n", f"**{text(policy.title)}**\n"]
    facts = [f"severity **{policy.severity.label}**"]
    if policy.labels:
        facts.append("labels " + ", ".join(inline(f"{k}: {v}") for k, v in sorted(policy.labels.items())))
    facts.append(f"file `{Path(policy.position.file).resolve().relative_to(root.resolve())}`")
    out.append(" · ".join(facts) + "\n")
    if policy.description:
        out.append(text(policy.description) + "\n")
    if policy.declared_params:
        params = ", ".join(inline(f"{k}: {json.dumps(policy.params[k])}") for k in sorted(policy.declared_params))
        out.append(f"Params (defaults): {params}\n")
    if policy.references:
        out.append("References:\n\n" + "".join(f"- {text(r)}\n" for r in policy.references))
    if policy.match is not None:
        out.append("Applies when (`spec.match`):\n\n" + code(policy.match.text))
    for variable in policy.variables:
        out.append(f"Variable `{variable.name}`:\n\n" + code(variable.expression.text))
    for i, validation in enumerate(policy.validations):
        message = f" — message: {text(validation.message)}" if validation.message else ""
        out.append(f"Validation {i}{message}:\n\n" + code(validation.expression.text))
        if validation.message_expression is not None:
            out.append("Its message (`messageExpression`):\n\n" + code(validation.message_expression.text))
    if policy.remediation is not None:
        fix = policy.remediation
        commands = "".join(f"- {text(cloud)}: {inline(command)}\n" for cloud, command in fix.commands.items())
        out.append(f"How to fix: {text(fix.text)}\n" + (f"\n{commands}" if commands else ""))
    return "\n".join(out)


def render(root: Path | None = None) -> str:
    root = root or bundled_policy_dir()
    out = [INTRO]
    for name, folder in packs(root):
        policies = sorted(load_policies([folder]), key=lambda p: p.name)
        heading = f"The {name} pack" if name else "Policies"
        out.append(f"## {heading}\n")
        out.append(f"{len(policies)} policies, from `{folder.relative_to(root.parent)}/`.\n")
        out.append("| policy | severity | title |\n|---|---|---|")
        out.append(
            "\n".join(f"| [{p.name}](#{anchor(name, p)}) | {p.severity.label} | {text(p.title)} |" for p in policies)
        )
        out.append("")
        out += [policy_section(p, name, root) for p in policies]
    return "\n".join(out)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files
