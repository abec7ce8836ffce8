"""Run the ``run:`` steps of a GitHub workflow job or composite action as the runner would, on this machine.

For the tests of ``action.yml`` and of the workflow ``imagelint init`` writes: each ``run:`` is written to a
file and run as the Linux runner does, ``bash --noprofile --norc -eo pipefail FILE`` for ``shell: bash`` and
``bash -e FILE`` when no shell is named, with the step's ``env:`` on top of the job's and a fresh
``GITHUB_ENV`` and ``GITHUB_OUTPUT`` file per step (``NAME=value`` lines written to ``GITHUB_ENV`` reach the
later steps, as on the runner), and ``${{ ... }}`` expressions replaced from the contexts given
(``inputs``, ``vars``, ``secrets``, ...). ``uses:`` steps (checkout, setup-python, upload actions) are skipped
and returned, for the test to look at. Only the expressions these files use are understood:
``${{ ctx.name }}`` and the step conditions ``always()`` and ``hashFiles('glob') != ''``; anything else
fails the test, so a new expression in those files gets a deliberate update here.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
REFERENCE = re.compile(r"([a-z]+)\.([A-Za-z0-9_-]+)")
CONDITION = re.compile(r"always\(\)(?:\s*&&\s*hashFiles\('([^']+)'\)\s*!=\s*'')?")


@dataclass
class Outcome:
    returncode: int
    """The exit code of the first failed step, else 0."""
    outputs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    """One per ``run:`` step that ran, in order."""
    skipped_uses: list[str] = field(default_factory=list)
    """The ``uses:`` of the steps not run here."""
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    """What each step with an ``id`` wrote to ``GITHUB_OUTPUT``, by id."""

    @property
    def stdout(self) -> str:
        return "".join(p.stdout for p in self.outputs)

    @property
    def stderr(self) -> str:
        return "".join(p.stderr for p in self.outputs)


def expand(value: Any, contexts: Mapping[str, Mapping[str, str]]) -> str:
    """``value`` with every ``${{ ctx.name }}`` replaced; a missing name is "" as on the runner."""

    def one(match: re.Match[str]) -> str:
        ref = REFERENCE.fullmatch(match.group(1))
        if ref is None or ref.group(1) not in contexts:
            raise AssertionError(f"expression not understood by tests/ghsteps.py: {match.group(0)}")
        return str(contexts[ref.group(1)].get(ref.group(2), ""))

    return EXPRESSION.sub(one, str(value))


def should_run(step: Mapping[str, Any], failed: bool, cwd: Path) -> bool:
    condition = step.get("if")
    if condition is None:
        return not failed
    match = CONDITION.fullmatch(str(condition).strip())
    if match is None:
        raise AssertionError(f"step condition not understood by tests/ghsteps.py: {condition}")
    return match.group(1) is None or any(cwd.glob(match.group(1)))


def run_steps(
    steps: list[Mapping[str, Any]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    contexts: Mapping[str, Mapping[str, str]],
    job_env: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run ``steps`` in ``cwd`` with the process environment ``env`` (plus the job's and the step's)."""
    outcome = Outcome(returncode=0)
    scripts = cwd.parent / f".{cwd.name}-steps"
    scripts.mkdir(exist_ok=True)
    base = {**env, **{k: expand(v, contexts) for k, v in (job_env or {}).items()}}
    for number, step in enumerate(steps):
        if "uses" in step:
            outcome.skipped_uses.append(str(step["uses"]))
            continue
        if not should_run(step, outcome.returncode != 0, cwd):
            continue
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if "shell" in step else ["bash", "-e"]
        assert step.get("shell", "bash") == "bash", step
        script = scripts / f"step{number}.sh"
        script.write_text(expand(step["run"], contexts), encoding="utf-8")
        files = {name: scripts / f"step{number}.{name.lower()}" for name in ("GITHUB_ENV", "GITHUB_OUTPUT")}
        for path in files.values():
            path.write_text("", encoding="utf-8")
        step_env = {**base, **{k: expand(v, contexts) for k, v in step.get("env", {}).items()}}
        step_env.update({name: str(path) for name, path in files.items()})
        proc = subprocess.run(
            [*shell, str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outcome.outputs.append(proc)
        base.update(_assignments(files["GITHUB_ENV"]))
        if "id" in step:
            outcome.step_outputs[step["id"]] = _assignments(files["GITHUB_OUTPUT"])
        if proc.returncode and not outcome.returncode:
            outcome.returncode = proc.returncode
    return outcome


def _assignments(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a ``GITHUB_ENV``/``GITHUB_OUTPUT`` file (the multi-line form is not used here)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        assert "<<" not in line.partition("=")[0], f"multi-line form not understood by tests/ghsteps.py: {line}"
        name, sep, value = line.partition("=")
        assert sep, f"not NAME=value: {line!r}"
        out[name] = value
    return out
