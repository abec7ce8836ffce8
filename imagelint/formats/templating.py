"""The Jinja environment shared by every template-driven reporter and by ``--template``.

Templates live in ``reports/`` (installed as ``imagelint.reports``). ``StrictUndefined`` turns a typo in a
template into an error instead of a silent blank; autoescaping is on for HTML/XML templates, chosen by
the template's file name (``*.html.j2``, ``*.xml.j2``). A user's template sees exactly ``as_dict(result)``;
our own templates get the same dict plus a ``view`` key of precomputed groupings (``imagelint.formats.view``).

Filters every template can use (documented in the README for ``--template`` authors):
``paint(style)`` ANSI colour (a no-op without colour), ``tsafe`` terminal-safe text, ``xml`` XML text and
attribute escaping (control characters included), ``md`` escaped Markdown text, ``mdcode``/``mdcell``
untrusted text as a Markdown code span (``mdcell`` inside a table), ``ghdata``/``ghprop`` GitHub workflow
command escaping, ``compact(n)`` a value as short JSON.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2

from imagelint.formats import escape
from imagelint.formats.escape import terminal_safe
from imagelint.formats.interface import Reporter, ReportError
from imagelint.judgement.result import RunResult

REPORTS_DIR = Path(__file__).resolve().parent.parent / "reports"
if not REPORTS_DIR.is_dir():  # running from a source checkout: reports/ sits at the top of the repo
    REPORTS_DIR = Path(__file__).resolve().parent.parent.parent / "reports"

_ANSI = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}

__all__ = [
    "REPORTS_DIR",
    "BuiltinTemplateReporter",
    "compact",
    "environment",
    "generate",
    "render",
    "render_file",
    "terminal_safe",
]


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".xml.j2", ".html", ".xml"))


def compact(value: Any, limit: int = 200) -> str:
    """A value as one line of JSON, cut at ``limit`` characters: attribute values can be huge."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def environment(*, color: bool = False, search: Path | None = None) -> jinja2.Environment:
    """A Jinja environment over ``reports/`` (plus ``search`` for a user template's own directory)."""
    paths = [str(search)] if search else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*paths, str(REPORTS_DIR)]),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def paint(text: Any, style: str) -> str:
        text = str(text)
        if not color:
            return text
        codes = ";".join(_ANSI[s] for s in style.split("+"))
        return f"\x1b[{codes}m{text}\x1b[0m"

    env.filters.update(
        {
            "paint": paint,
            "tsafe": terminal_safe,
            "xml": escape.xml_escape,
            "md": escape.md_text,
            "mdcode": escape.md_code,
            "mdcell": escape.md_cell,
            "ghdata": escape.gh_data,
            "ghprop": escape.gh_property,
            "compact": compact,
        }
    )
    return env


PIECE = 1 << 16
"""Characters per piece of a report that ``generate`` streams (Jinja yields a few characters at a time)."""


def generate(
    template: str, context: dict[str, Any], *, color: bool = False, search: Path | None = None
) -> Iterator[str]:
    """Render ``template`` (a name under ``reports/`` or ``search``) with ``context``, in pieces of about
    ``PIECE`` characters; a failure raises ``ReportError`` naming the template line."""
    env = environment(color=color, search=search)
    try:
        pieces: list[str] = []
        size = 0
        for piece in env.get_template(template).generate(context):
            pieces.append(piece)
            size += len(piece)
            if size >= PIECE:
                yield "".join(pieces)
                pieces, size = [], 0
        if pieces:
            yield "".join(pieces)
    except jinja2.TemplateNotFound as exc:
        raise ReportError(f"template not found: {exc.name}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ReportError(f"{_where(exc, template)}: template error: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise ReportError(f"{_where(exc, template)}: template error: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        # a user's template can fail at run time in the ways Python expressions fail
        raise ReportError(f"{_where(exc, template)}: template error: {type(exc).__name__}: {exc}") from None


def render(template: str, context: dict[str, Any], *, color: bool = False, search: Path | None = None) -> str:
    """The whole text of ``generate(...)``."""
    return "".join(generate(template, context, color=color, search=search))


class BuiltinTemplateReporter(Reporter):
    """A built-in report rendered from ``reports/TEMPLATE``: ``context(result)`` makes its context, and the
    report is written as Jinja produces it, never held whole (a JUnit report of 100,000 images is 70 MB)."""

    template: str

    @abstractmethod
    def context(self, result: RunResult) -> dict[str, Any]:
        """The template's context: ``context_with_view(result)`` and the format's own keys."""

    def chunks(self, result: RunResult) -> Iterator[str]:
        return generate(self.template, self.context(result), color=self.color)


def check_template(path: Path) -> None:
    """Load (parse and compile) a user's template now, so a syntax error stops the run before any image is
    read; raise ``ReportError`` with ``FILE:LINE`` when it is broken or missing."""
    if not path.is_file():
        raise ReportError(f"--template {path}: no such file")
    env = environment(search=path.resolve().parent)
    try:
        env.get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from None


def render_file(path: Path, context: dict[str, Any]) -> str:
    """Render a user's template file (``--template``) with ``context``."""
    return render(path.name, context, search=path.resolve().parent)


def _where(exc: BaseException, template: str) -> str:
    """``TEMPLATE:LINE`` of the failing template line: Jinja rewrites tracebacks so that template frames
    carry the template's file name and line."""
    tb = exc.__traceback__
    where = template
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(template) or name == template:
            where = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
