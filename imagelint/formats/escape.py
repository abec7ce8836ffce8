"""Escaping of untrusted text for each output syntax.

Image names, ids, tags, messages built from image data and every attribute value come from other tenants
(shared and public images). Each function here makes such text inert in one syntax; reporters and
templates call them on every value that did not come from our own code. Policy titles and descriptions
come from the team's own policy files but pass through the same functions: the cost is nil and a
policy pack copied from elsewhere is not more trustworthy than an image name.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(value: Any) -> str:
    """Make untrusted text harmless on a terminal: control, bidi and escape characters become ``\\xNN``.

    Image names come from other tenants; an ESC sequence in a name must not recolour or rewrite the
    terminal of whoever reads the report. Markdown uses it too: a newline must not end a table row.
    """
    return _CONTROL.sub(_visible, str(value))


def unicode_safe(text: str) -> str:
    """Replace lone surrogates (JSON allows ``"\\ud800"``) with U+FFFD so the text can be encoded as UTF-8.

    Without this one hostile image name would make writing any report raise ``UnicodeEncodeError``.
    """
    return _SURROGATE.sub("\ufffd", text)


# --- XML (JUnit, and attributes in HTML are handled by Jinja's autoescape) -----------------------------

# XML 1.0 cannot carry these at all, not even as character references: they are shown as visible escapes.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_SPECIAL = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&apos;",
    # character references keep newlines and tabs through attribute-value normalisation
    "\n": "&#10;",
    "\r": "&#13;",
    "\t": "&#9;",
}
_XML_SPECIAL_RE = re.compile("[&<>\"'\n\r\t]")


def xml_escape(value: Any) -> Markup:
    """Text safe in XML element content *and* attribute values; ``Markup`` so autoescape leaves it alone."""
    text = _XML_ILLEGAL.sub(_visible, str(value))
    return Markup(_XML_SPECIAL_RE.sub(lambda m: _XML_SPECIAL[m.group()], text))


# --- Markdown (GitHub-flavoured) ------------------------------------------------------------------------

_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def md_text(value: Any) -> str:
    """Inline Markdown text with every ASCII punctuation backslash-escaped (CommonMark allows that for all
    of them), so nothing becomes a link, an emphasis, HTML or a table cell border. Control characters are
    made visible first, so a newline cannot end a table row or a list item. ``:`` is escaped too, which keeps
    GitHub's extended autolinks (``http://...``) from firing on the text.
    """
    return _MD_PUNCT.sub(r"\\\1", terminal_safe(value))


def md_code(value: Any, *, in_table: bool = False) -> str:
    """Untrusted text as an inline code span: no links, autolinks, HTML or emphasis are recognised inside.

    The fence is one backtick longer than the longest backtick run in the text, padded with spaces so a
    leading or trailing backtick stays literal. In a table ``|`` must still be escaped: GFM splits cells
    before it parses code spans (and renders ``\\|`` inside a code span in a table as ``|``).
    """
    text = terminal_safe(value)
    if not text:
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence} {text} {fence}"


def md_cell(value: Any) -> str:
    """``md_code`` for a GFM table cell."""
    return md_code(value, in_table=True)


# --- GitHub Actions workflow commands -------------------------------------------------------------------

_GH_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def gh_data(value: Any) -> str:
    """The message part of ``::error ...::MESSAGE``: ``%``, CR and LF escaped as the runner expects, so a
    newline in an image name cannot start a new workflow command. Other control characters (ESC, which
    the log viewer interprets as colour, bidi overrides) are made visible."""
    text = str(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return _GH_CONTROL.sub(_visible, text)


def gh_property(value: Any) -> str:
    """A property value (``title=...``): like ``gh_data`` plus ``:`` and ``,``, which end a property."""
    return gh_data(value).replace(":", "%3A").replace(",", "%2C")


# --- CSV ------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell that a spreadsheet shows as text: one starting with ``= + - @`` TAB or CR is prefixed with
    ``'`` (OWASP's advice against CSV/formula injection); quoting is left to the ``csv`` module."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


# --- SARIF message strings ------------------------------------------------------------------------------

_SARIF_SPECIAL = re.compile(r"([\\\[\]])")


def sarif_text(value: Any) -> str:
    """A SARIF plain-text message string (SARIF 2.1.0 §3.11): ``{``/``}`` doubled (they would start
    placeholders) and ``\\``, ``[``, ``]`` backslash-escaped (they would start embedded links, which a viewer
    turns into clickable links)."""
    text = _SARIF_SPECIAL.sub(r"\\\1", str(value))
    return text.replace("{", "{{").replace("}", "}}")
