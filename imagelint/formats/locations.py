"""Where a policy (or waiver) file sits relative to the repository, for annotations and SARIF locations.

GitHub places annotations and code-scanning alerts on a path relative to the repository root; a path
outside it (the bundled pack inside site-packages) cannot be placed there and is reported as ``None``.
"""

from __future__ import annotations

import os
from pathlib import Path


def repository_root() -> Path:
    """``$GITHUB_WORKSPACE`` under Actions, else the nearest directory above the working directory that holds
    ``.git``, else the working directory itself."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace:
        return Path(workspace).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    return cwd


def relative_path(path: str, root: Path) -> str | None:
    """``path`` as a POSIX path relative to ``root``, or ``None`` when it is not below ``root``."""
    if not path or path.startswith("<"):
        return None
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None
