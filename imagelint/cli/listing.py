"""``imagelint list`` and ``imagelint explain NAME``: what the loaded policies are and do.

``explain`` shows a policy in full — its text, params, CEL and messages — and its test cases as worked
examples (the image each case uses and the verdict it expects), so the tests double as documentation.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence

from imagelint.cli.common import catalogue, err, load, policy_paths
from imagelint.engines import judged_by
from imagelint.judgement.gate import ExitCode
from imagelint.policy import DEFAULT_PACK, bundled_packs, load_policies
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue
from imagelint.policy.model import Policy
from imagelint.policy.testing import cases_for


def run_list(args: argparse.Namespace) -> int:
    if args.packs:
        sys.stdout.write(render_packs())
        return ExitCode.OK
    sys.stdout.write(render_list(load(args, policy_paths(args))))
    return ExitCode.OK


def render_packs() -> str:
    """One line per bundled pack: name, number of policies, and whether it is the default."""
    lines = []
    for name, folder in bundled_packs().items():
        count = len(load_policies([folder]))
        default = "  (default)" if name == DEFAULT_PACK else ""
        lines.append(f"{name:<12}{count:>3} policies  --pack {name}{default}")
    return "\n".join(lines) + "\n"


def run_explain(args: argparse.Namespace) -> int:
    policies = load(args, policy_paths(args))
    found = [p for p in policies if p.name == args.name]
    if not found:
        close = difflib.get_close_matches(args.name, [p.name for p in policies], n=1)
        err(
            f"no loaded policy is named {args.name!r}"
            + (f"; did you mean {close[0]!r}?" if close else " (imagelint list shows them)")
        )
        return ExitCode.USAGE
    sys.stdout.write(render_explain(found[0], catalogue(args)))
    return ExitCode.OK


def render_list(policies: Sequence[Policy]) -> str:
    """One line per policy: name, severity, the engine ``--engine auto`` judges it with, title (aligned)."""
    if not policies:
        return "no policies\n"
    width = max(len(p.name) for p in policies)
    ordered = sorted(policies, key=lambda p: p.name)
    engines = [judged_by(p)[0] for p in ordered]
    engine_width = max(len(e) for e in engines)
    lines = [
        f"{p.name:<{width}}  {p.severity.label:<8}  {engine:<{engine_width}}  {p.title}"
        for p, engine in zip(ordered, engines, strict=True)
    ]
    return "\n".join(lines) + "\n"


def render_explain(policy: Policy, catalogue: Catalogue = IMAGE_ATTRIBUTES) -> str:
    engine, why = judged_by(policy)
    out = [
        f"{policy.name} ({policy.severity.label}): {policy.title}",
        f"  defined at {policy.position}",
        f"  judged by the {engine} engine" + (f" ({why})" if why else "") + " under --engine auto",
    ]
    if policy.description:
        out += ["", *_indent(policy.description.strip())]
    if policy.references:
        out += ["", "References:", *(f"  - {r}" for r in policy.references)]
    if policy.labels:
        out += ["", "Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(policy.labels.items()))]
    if policy.remediation is not None:
        out += ["", "Remediation:", *_indent(policy.remediation.text.strip())]
        out += [f"  {cloud}: {command}" for cloud, command in policy.remediation.commands.items()]
    if policy.params:
        out += ["", "Params (override with --param " + policy.name + ".KEY=VALUE):"]
        out += [f"  {k} = {json.dumps(v)}" for k, v in policy.params.items()]
    if policy.match is not None:
        out += ["", "Applies to images where (match):", *_indent(policy.match.text.strip())]
    for var in policy.variables:
        out += ["", f"Variable {var.name}:", *_indent(var.expression.text.strip())]
    for i, v in enumerate(policy.validations):
        out += ["", f"Validation {i}:", *_indent(v.expression.text.strip())]
        if v.message:
            out.append(f"  message: {v.message}")
        if v.message_expression is not None:
            out += ["  messageExpression:", *_indent(v.message_expression.text.strip(), 4)]
    cases = cases_for(policy, catalogue)
    out += [
        "",
        f"Examples ({len(cases)} test case{'s' if len(cases) != 1 else ''}):"
        if cases
        else "Examples: none (no *.test.yaml case expects anything of this policy)",
    ]
    for case in cases:
        verdicts = ", ".join(
            e.verdict + (f" ({e.message!r})" if e.message else "") for e in case.expect if e.policy == policy.name
        )
        extra = []
        if case.params:
            extra.append(f"params {json.dumps(case.params, sort_keys=True)}")
        extra.append(f"now {case.now.isoformat().replace('+00:00', 'Z')}")
        out.append(f"  - {case.name}: {verdicts}  [{'; '.join(extra)}]")
        out.append(f"      image {json.dumps(case.image, sort_keys=True, ensure_ascii=False)}")
        out.append(f"      ({case.file}:{case.line})")
    return "\n".join(out) + "\n"


def _indent(text: str, n: int = 2) -> list[str]:
    return [" " * n + line for line in text.splitlines()]
