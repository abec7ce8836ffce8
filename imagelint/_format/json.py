"""The JSON reporter: the documented result object (``imagelint._result.as_dict``), serialised."""

from __future__ import annotations

import json

from imagelint._format.interface import Reporter
from imagelint._result import RunResult, as_dict


class JsonReporter(Reporter):
    def render(self, result: RunResult) -> str:
        return json.dumps(as_dict(result), indent=2, ensure_ascii=False) + "\n"
