"""The Jinja environment shared by every template-driven reporter and by ``--template``.

Templates live in ``reports/`` (installed as ``imagelint.reports``). ``StrictUndefined`` turns a typo in a
template into an error instead of a silent blank; autoescaping is on for HTML/XML templates, chosen by
the template's file name (``*.html.j2``, ``*.xml.j2``). The context is exactly ``as_dict(result)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from imagelint._format.interface import ReportError

REPORTS_DIR = Path(__file__).resolve().parent.parent / "reports"
if not REPORTS_DIR.is_dir():  # running from a source checkout: reports/ sits at the top of the repo
    REPORTS_DIR = Path(__file__).resolve().parent.parent.parent / "reports"

_ANSI = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
         "bold": "1", "dim": "2"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(value: Any) -> str:
    """Make untrusted text harmless on a terminal: control, bidi and escape characters become ``\\xNN``.

    Image names come from other tenants; an ESC sequence in a name must not recolour or rewrite the
    terminal of whoever reads the report.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(value))


def _autoescape(name: str | None) -> bool:
    return bool(name) and name.endswith((".html.j2", ".xml.j2", ".html", ".xml"))


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

    env.filters["paint"] = paint
    env.filters["tsafe"] = terminal_safe
    return env


def render(template: str, context: dict[str, Any], *, color: bool = False, search: Path | None = None) -> str:
    """Render ``template`` (a name under ``reports/`` or ``search``) with ``context``."""
    try:
        return environment(color=color, search=search).get_template(template).render(context)
    except jinja2.TemplateNotFound as exc:
        raise ReportError(f"template not found: {exc.name}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ReportError(f"{template}: template error: {exc.message}") from None
