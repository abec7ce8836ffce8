"""Findings kept on disk, so that an audit's memory does not grow with the number of targets.

An estate of 200 projects can have a million findings; as objects they would take gigabytes. Each target's
findings are written to one anonymous temporary file as soon as the target is judged (pickled: the file is
our own, never read from elsewhere, and unpickling a ``Finding`` is several times faster than rebuilding it
from JSON), and the result's ``findings`` is a ``SpilledFindings``: a read-only sequence that reads them
back when reached (an offset per finding, 8 bytes, is all that stays in memory). The streaming reporters
(JSON, SARIF, CSV) then hold a batch at a time; the template formats group them by policy as indexes
(``formats.view.Picked``) and read back only what they show.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from imagelint.judgement.result import Finding

_BLOCK = 1 << 20


class Spill:
    """The one spill file of a run; ``add`` is thread-safe (the targets' threads call it)."""

    def __init__(self) -> None:
        # removed by the OS as soon as it is closed, or when the process dies
        self._file = tempfile.TemporaryFile(prefix="imagelint-findings-")  # noqa: SIM115 - lives with the result
        self._offsets = array("q")
        self._end = 0
        self._lock = threading.Lock()

    def add(self, findings: Iterable[Finding]) -> range:
        """Write ``findings``; returns their indexes, for ``findings()`` to put them in order."""
        lines = [pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL) for f in findings]
        with self._lock:
            first = len(self._offsets)
            for line in lines:
                self._offsets.append(self._end)
                self._end += len(line)
            self._offsets.append(self._end)  # the end of the last line: every finding has its start and end
            self._file.write(b"".join(lines))
            return range(first, first + len(lines))

    def findings(self, parts: Iterable[range]) -> SpilledFindings:
        """The findings of ``parts`` (what ``add`` returned), in that order."""
        with self._lock:
            self._file.flush()
            starts, ends = array("q"), array("q")
            for part in parts:
                starts.extend(self._offsets[part.start : part.stop])
                ends.extend(self._offsets[part.start + 1 : part.stop + 1])
            return SpilledFindings(self._file.fileno(), starts, ends, self)

    def close(self) -> None:
        self._file.close()


class SpilledFindings(Sequence[Finding]):
    """The findings of a ``Spill``, read back on access (``pread``: no shared file position)."""

    def __init__(self, fd: int, starts: array[int], ends: array[int], owner: Spill) -> None:
        self._fd = fd
        self._starts = starts
        self._ends = ends
        self._owner = owner  # keeps the file open as long as the findings are reachable

    def __len__(self) -> int:
        return len(self._starts)

    def _read(self, index: int) -> Finding:
        start = self._starts[index]
        return _decode(os.pread(self._fd, self._ends[index] - start, start))

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | Sequence[Finding]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:  # what the streaming reporters ask for: a batch, read a block at a time
                return list(self._between(start, stop))
            return [self._read(i) for i in range(start, stop, step)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._read(index)

    def __iter__(self) -> Iterator[Finding]:
        return self._between(0, len(self))

    def _between(self, i: int, n: int) -> Iterator[Finding]:
        # runs of consecutive findings (one target's) are read a block at a time
        while i < n:
            j = i
            while j + 1 < n and self._starts[j + 1] == self._ends[j] and self._ends[j + 1] - self._starts[i] <= _BLOCK:
                j += 1
            block = os.pread(self._fd, self._ends[j] - self._starts[i], self._starts[i])
            base = self._starts[i]
            for k in range(i, j + 1):
                yield _decode(block[self._starts[k] - base : self._ends[k] - base])
            i = j + 1


def _decode(data: bytes) -> Finding:
    finding: Finding = pickle.loads(data)  # noqa: S301 - our own temporary file, written by this process
    return finding
