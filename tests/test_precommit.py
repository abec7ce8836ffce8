"""``.pre-commit-hooks.yaml`` under the real pre-commit: ``pre-commit try-repo`` with a clone of this repository
at HEAD, on a temporary policy repository holding a good policy (with its tests) and a broken one.

pre-commit builds the hooks' environment itself (a virtualenv and ``pip install`` of the clone, dependencies
from the package index). ``try-repo`` keeps it in a store of its own that it deletes afterwards, so every call
builds it anew: this test makes two calls, and a failing policy test under pre-commit is left to
``test_init.py``, whose ``repo: local`` hooks need no environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

GOOD = """\
apiVersion: imagelint/v1
kind: Policy
metadata:
  name: images-have-names
  title: Images have a name
  severity: low
spec:
  validations:
    - expression: image.name != null && image.name != ""
      message: image has no name
"""
GOOD_TEST = """\
policy: images-have-names
cases:
  - name: a named image passes
    image: {id: a, name: web}
    expect: pass
  - name: an unnamed image fails
    image: {id: b, name: ""}
    expect: fail
    message: no name
"""
BROKEN = """\
apiVersion: imagelint/v1
kind: Policy
metadata:
  name: broken
  severity: high
spec:
  validations:
    - expression: image.visibility == "private" &&
"""


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )


def test_hooks_pass_a_good_policy_and_stop_a_broken_one_at_its_line(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_"))},
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path / "home"),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "NO_COLOR": "1",
    }
    hooks = tmp_path / "imagelint"
    git("clone", "-q", str(ROOT), str(hooks), cwd=tmp_path, env=env)
    repo = tmp_path / "policy-repo"
    for name, text in {
        "policies/images-have-names.yaml": GOOD,
        "policies/images-have-names.test.yaml": GOOD_TEST,
        # a draft in a folder of its own: the tests of policies/ load only that folder
        "drafts/policies/broken.yaml": BROKEN,
    }.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(textwrap.dedent(text), encoding="utf-8")
    git("init", "-q", ".", cwd=repo, env=env)
    git("add", "-A", cwd=repo, env=env)

    def try_repo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "pre-commit"), "try-repo", str(hooks), *args, "--color", "never"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    start = time.monotonic()
    good = try_repo("--files", "policies/images-have-names.yaml", "policies/images-have-names.test.yaml")
    first = time.monotonic() - start
    assert good.returncode == 0, good.stdout + good.stderr
    assert [line.rsplit(".", 1)[-1] for line in good.stdout.splitlines() if line.startswith("imagelint ")] == [
        "Passed",
        "Passed",
    ]

    start = time.monotonic()
    broken = try_repo("--files", "drafts/policies/broken.yaml")
    again = time.monotonic() - start
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "imagelint validate....." in broken.stdout and "Failed" in broken.stdout
    problem = "drafts/policies/broken.yaml:8:49: spec.validations[0].expression: CEL syntax error"
    assert any(line.startswith(problem) for line in broken.stdout.splitlines()), broken.stdout

    print(f"pre-commit try-repo: {first:.1f} s with a good policy, {again:.1f} s with the broken one")


def test_the_hooks_file_declares_the_two_hooks():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["imagelint-validate", "imagelint-test"]
    assert all(h["language"] == "python" and h["require_serial"] for h in hooks)
    assert [h["entry"] for h in hooks] == ["imagelint validate --strict", "imagelint test"]
