"""CEL engines behind one interface: ``compiled`` (CEL compiled to Python, the default where it compiles),
``cel-cpp`` (Google's C++ runtime) and ``cel-python`` (the reference)."""

from __future__ import annotations

import datetime as dt
import enum

from imagelint.engines import celcpp
from imagelint.engines.celcpp import CelCppEngine
from imagelint.engines.celpython import CelPythonEngine
from imagelint.engines.compiled import CompiledEngine, compile_reason
from imagelint.engines.interface import ERROR, FAIL, PASS, SKIP, Engine, EngineError, Outcome
from imagelint.policy.loader import PolicyError
from imagelint.policy.model import Policy


class EngineName(str, enum.Enum):
    AUTO = "auto"
    CEL_PYTHON = "cel-python"
    CEL_CPP = "cel-cpp"
    COMPILED = "compiled"

    def resolve(self) -> EngineName:
        """The interpreter behind ``auto`` for what the compiled engine cannot compile: cel-cpp when its wheel
        imports, else cel-python."""
        if self is EngineName.AUTO:
            return EngineName.CEL_CPP if celcpp.available() else EngineName.CEL_PYTHON
        return self


def _interpreter(policies: list[Policy], now: dt.datetime) -> Engine:
    if celcpp.available():
        return CelCppEngine(policies, now)
    return CelPythonEngine(policies, now)


def judged_by(policy: Policy) -> tuple[str, str | None]:
    """The engine ``--engine auto`` judges ``policy`` with, and why when it is not the compiled one."""
    reason = compile_reason(policy)
    if reason is None:
        return EngineName.COMPILED.value, None
    return EngineName.AUTO.resolve().value, f"outside the compiled subset: {reason}"


def create_engine(name: EngineName | str, policies: list[Policy], now: dt.datetime) -> Engine:
    """Type-check the policies (the same check for both engines), then compile them for ``name``."""
    problems = celcpp.type_check(policies)
    if problems:
        raise PolicyError(problems)
    chosen = EngineName(name)
    if chosen is EngineName.AUTO:  # compiled policy by policy, the interpreter for the rest
        return CompiledEngine(policies, now, fallback=_interpreter)
    if chosen is EngineName.COMPILED:
        return CompiledEngine(policies, now)
    resolved = chosen.resolve()
    if resolved is EngineName.CEL_CPP:
        return CelCppEngine(policies, now)
    return CelPythonEngine(policies, now)


__all__ = [
    "ERROR",
    "FAIL",
    "CompiledEngine",
    "PASS",
    "SKIP",
    "Engine",
    "EngineError",
    "EngineName",
    "Outcome",
    "create_engine",
]
