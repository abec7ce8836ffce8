"""``imagelint init [DIR]``: start a policy repository from a scaffold.

Writes ``imagelint.yaml``, an example policy with its tests under ``policies/``, a ``.pre-commit-config.yaml``,
a GitHub workflow and a ``.gitlab-ci.yml`` (validate, test, then check with SARIF and JUnit reports). The
templates are ``imagelint/data/scaffold/``. It never overwrites: when any file it would write exists, it lists
them all and exits 2 having written nothing.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

from imagelint import __version__
from imagelint.cli.common import UsageError, err
from imagelint.judgement.gate import ExitCode

SCAFFOLD: tuple[tuple[str, str], ...] = (
    ("imagelint.yaml", "imagelint.yaml"),
    ("policies/private-images-have-owner.yaml", "example-policy.yaml"),
    ("policies/private-images-have-owner.test.yaml", "example-policy.test.yaml"),
    (".pre-commit-config.yaml", "pre-commit-config.yaml"),
    (".github/workflows/imagelint.yml", "github-workflow.yml"),
    (".gitlab-ci.yml", "gitlab-ci.yml"),
)
"""(path in the new repository, template in ``imagelint/data/scaffold``). The templates have no leading dot,
so that the package data carries them (setuptools' globs skip dotfiles)."""


def template(name: str) -> str:
    """A scaffold file's text, with the running version filled in (the CI files install that version)."""
    text = (resources.files("imagelint.data") / "scaffold" / name).read_text(encoding="utf-8")
    return text.replace("@IMAGELINT_VERSION@", __version__)


def conflicts(root: Path) -> list[str]:
    """What stands where the scaffold would write: existing files (links included), and files in the way of
    a folder it needs, each as one line."""
    out: list[str] = []
    for relative, _ in SCAFFOLD:
        target = root / relative
        for parent in reversed(target.relative_to(root).parents[:-1]):
            folder = root / parent
            if os.path.lexists(folder) and not folder.is_dir():
                out.append(f"{folder}: exists and is not a folder")
        if os.path.lexists(target):
            out.append(f"{target}: exists")
    return list(dict.fromkeys(out))


def run(args: argparse.Namespace) -> int:
    root = Path(args.directory)
    if os.path.lexists(root) and not root.is_dir():
        raise UsageError(f"init: {root} exists and is not a folder")
    problems = conflicts(root)
    if problems:
        err(
            f"init: nothing was written: {len(problems)} path{'s' if len(problems) != 1 else ''} in the way "
            "(move them, or choose another folder):"
        )
        for line in problems:
            err(f"  {line}")
        return ExitCode.USAGE
    written: list[Path] = []
    for relative, name in SCAFFOLD:
        target = root / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # "x": a file that appeared since the check above is still never overwritten
            with target.open("x", encoding="utf-8", newline="\n") as out:
                out.write(template(name))
        except OSError as exc:
            done = f" (written before it: {', '.join(str(p) for p in written)})" if written else ""
            raise UsageError(f"init: cannot write {target}: {exc.strerror or exc}{done}") from exc
        written.append(target)
        print(f"created {target}")
    where = "" if root == Path(".") else f"cd {root} && "
    err(f"next: {where}imagelint validate --strict && imagelint test")
    return ExitCode.OK
