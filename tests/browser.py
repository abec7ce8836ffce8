"""Headless Chromium for the HTML report tests (Debian's ``chromium`` package; ``.ci/run`` installs it).

No driver library: ``--dump-dom`` prints the DOM after the page's scripts ran, ``--screenshot`` writes a
PNG. The same ``screenshot`` call makes the docs' html-report.png (see test_format_html_browser).
A missing browser is a test failure, never a skip: the browser test is the only proof that the page's
script runs under its own Content-Security-Policy and that no image name runs as script.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class BrowserMissing(AssertionError):
    """Chromium is not installed: install it (``apt-get install -y chromium``) instead of skipping."""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserMissing("chromium not found on PATH: apt-get update && apt-get install -y chromium")


def _run(args: list[str], profile: Path) -> str:
    profile.mkdir(parents=True, exist_ok=True)  # an empty profile: no extensions, no state between tests
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path, profile: Path, *, fragment: str = "") -> str:
    """The serialised DOM of ``page`` (opened at ``#fragment`` when given) after its scripts ran."""
    return _run(["--dump-dom", page.resolve().as_uri() + (f"#{fragment}" if fragment else "")], profile)


def screenshot(page: Path, png: Path, profile: Path, *, width: int = 1280, height: int = 2000) -> Path:
    """A PNG of the top ``width`` x ``height`` pixels of ``page``."""
    _run([f"--screenshot={png.resolve()}", f"--window-size={width},{height}", page.resolve().as_uri()], profile)
    if not png.is_file() or png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"chromium wrote no PNG at {png}")
    return png
