"""``--template FILE.j2``: a user's own Jinja template rendered with exactly the JSON result model.

The context is ``as_dict(result)`` and nothing else (no ``view``), so the README's description of the JSON
result is the whole contract. Autoescaping follows the file name (``*.html.j2``, ``*.xml.j2``), undefined
names are errors (``StrictUndefined``), and our filters (``md``, ``xml``, ``tsafe``...) are available.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from imagelint.formats.interface import Reporter
from imagelint.formats.templating import check_template, render_file
from imagelint.judgement.result import RunResult, as_dict


class TemplateReporter(Reporter):
    def __init__(self, path: str | Path, *, color: bool = False) -> None:
        super().__init__(color=color)
        self.path = Path(path)
        check_template(self.path)  # fail before any image is read

    def chunks(self, result: RunResult) -> Iterator[str]:
        # one piece, rendered whole before anything is written: a user's template that fails part way
        # leaves no half report on stdout
        yield render_file(self.path, as_dict(result))
