"""CEL engines behind one interface: ``cel-python`` (reference) and ``cel-cpp`` (fast, the default)."""

from __future__ import annotations

import datetime as dt
import enum

from imagelint.engines import celcpp
from imagelint.engines.celcpp import CelCppEngine
from imagelint.engines.celpython import CelPythonEngine
from imagelint.engines.interface import ERROR, FAIL, PASS, SKIP, Engine, EngineError, Outcome
from imagelint.policy.loader import PolicyError
from imagelint.policy.model import Policy


class EngineName(str, enum.Enum):
    AUTO = "auto"
    CEL_PYTHON = "cel-python"
    CEL_CPP = "cel-cpp"

    def resolve(self) -> EngineName:
        """``auto`` is cel-cpp when its wheel imports, else cel-python."""
        if self is EngineName.AUTO:
            return EngineName.CEL_CPP if celcpp.available() else EngineName.CEL_PYTHON
        return self


def create_engine(name: EngineName | str, policies: list[Policy], now: dt.datetime) -> Engine:
    """Type-check the policies (the same check for both engines), then compile them for ``name``."""
    problems = celcpp.type_check(policies)
    if problems:
        raise PolicyError(problems)
    resolved = EngineName(name).resolve()
    if resolved is EngineName.CEL_CPP:
        return CelCppEngine(policies, now)
    return CelPythonEngine(policies, now)


__all__ = ["ERROR", "FAIL", "PASS", "SKIP", "Engine", "EngineError", "EngineName", "Outcome", "create_engine"]
