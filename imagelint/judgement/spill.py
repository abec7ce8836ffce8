"""Findings kept on disk, so that an audit's memory does not grow with the number of targets.

An estate of 200 projects can have a million findings; as objects they would take gigabytes. Each target's
findings are written to one anonymous temporary file as soon as the target is judged, and the result's
``findings`` is a ``SpilledFindings``: a read-only sequence that reads them back when reached (an offset
per finding, 8 bytes, is all that stays in memory).

A finding is written as a ``marshal``led tuple of its fields' plain values (the file is our own, written and
read by this process only): the reports read an estate's findings back two or three times, and a pickled
``Finding`` cost about 7 µs to write and 7 to read (enums rebuilt by value, the frozen dataclass set field by
field), 670 bytes with its policy's remediation repeated in each. The tuple takes about 1.2 µs to write, 1.8
to read, and 280 bytes; the objects many findings share (remediations, waivers) are kept once, in memory,
and written as their index. A finding marshal cannot write (a value nested past its limit) is pickled.

The streaming reporters (JSON, SARIF, CSV) hold a batch at a time; the template formats group them by
policy as indexes (``formats.view.Picked``) and read back only what they show.
"""

from __future__ import annotations

import bisect
import itertools
import marshal
import os
import pickle
import tempfile
import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any, overload

from imagelint.judgement.result import Finding, ImageRef, Severity, Status, Tally, built

_BLOCK = 1 << 20

_FIELDS = (
    "policy",
    "severity",
    "status",
    "validation",
    "message",
    "image",
    "attributes",
    "waiver",
    "baselined",
    "target",
    "state",
    "remediation",
)
if tuple(f.name for f in fields(Finding)) != _FIELDS:  # a new field must be written too, or it is lost
    raise RuntimeError("judgement.spill: Finding's fields changed; update _FIELDS, _encode and _decode")
_SEVERITIES = {int(s): s for s in Severity}
_STATUSES = {s.value: s for s in Status}
_MARSHAL, _PICKLE = b"M", b"P"


class Spill:
    """The one spill file of a run; ``add`` is thread-safe (the targets' threads call it)."""

    def __init__(self) -> None:
        # removed by the OS as soon as it is closed, or when the process dies
        self._file = tempfile.TemporaryFile(prefix="imagelint-findings-")  # noqa: SIM115 - lives with the result
        self._offsets = array("q")
        self._flags = bytearray()  # per finding: severity | waived << 3 | baselined << 4 (tally() counts them)
        self._end = 0
        self._lock = threading.Lock()
        self.shared: list[Any] = [None]
        """Objects many findings share (remediations, waivers), written as their index here; 0 is None."""
        self._shared_at: dict[int, int] = {}

    def add(self, findings: Iterable[Finding]) -> range:
        """Write ``findings``; returns their indexes, for ``findings()`` to put them in order."""
        with self._lock:
            kept = list(findings)
            lines = [self._encode(f) for f in kept]
            # indexed like _offsets: one per finding, then one for the end of the batch (never selected)
            self._flags.extend(_flag(f) for f in kept)
            self._flags.append(_NOT_A_FINDING)
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
            chosen = [part for part in parts if len(part)]
            flags = b"".join(self._flags[part.start : part.stop] for part in chosen)
            return SpilledFindings(self._file.fileno(), self._offsets, chosen, self, flags)

    def close(self) -> None:
        self._file.close()

    def _index(self, shared: Any) -> int:
        if shared is None:
            return 0
        at = self._shared_at.get(id(shared))
        if at is None:  # the list keeps the object alive, so its id is not reused while the spill lives
            at = self._shared_at[id(shared)] = len(self.shared)
            self.shared.append(shared)
        return at

    def _encode(self, f: Finding) -> bytes:
        i = f.image
        values: Any = (
            f.policy,
            int(f.severity),
            f.status.value,
            f.validation,
            f.message,
            (i.id, i.name, i.visibility, i.owner),
            f.attributes,
            self._index(f.waiver),
            f.baselined,
            f.target,
            f.state,
            self._index(f.remediation),
        )
        if type(f.attributes) is dict and type(f.image) is ImageRef:
            try:
                return _MARSHAL + marshal.dumps(values)
            except ValueError:  # nested too deeply, or a type marshal does not write
                pass
        return _PICKLE + pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL)


class SpilledFindings(Sequence[Finding]):
    """The findings of a ``Spill``, read back on access (``pread``: no shared file position)."""

    def __init__(self, fd: int, offsets: array[int], parts: list[range], owner: Spill, flags: bytes) -> None:
        self._fd = fd
        # the spill's own offsets, read through the parts: no copy of 16 bytes a finding (13 MB at 830,000)
        self._offsets = offsets
        self._parts = parts
        self._first = list(itertools.accumulate((len(p) for p in parts), initial=0))  # each part's first index
        self._owner = owner  # keeps the file open as long as the findings are reachable
        self._flags = flags

    def tally(self) -> Tally:
        """The counts a result states, from what ``add`` noted: no finding is read back for them."""
        by_severity = {s.label: 0 for s in reversed(Severity)}
        waived = baselined = 0
        for flag in range(1 << 5):
            n = self._flags.count(flag)
            if n:
                by_severity[Severity(flag & 7).label] += n
                waived += n if flag & 8 else 0
                baselined += n if flag & 16 else 0
        return Tally(by_severity, waived, baselined)

    def __len__(self) -> int:
        return self._first[-1]

    def _where(self, index: int) -> tuple[int, int]:
        """The part holding finding ``index`` and the finding's position in the spill's offsets."""
        k = bisect.bisect_right(self._first, index) - 1
        return k, self._parts[k].start + index - self._first[k]

    def _read(self, index: int) -> Finding:
        _, at = self._where(index)
        start = self._offsets[at]
        return _decode(os.pread(self._fd, self._offsets[at + 1] - start, start), self._owner.shared)

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
        # a part's findings (one page's, written by one add()) lie end to end: read a block at a time
        offsets, shared = self._offsets, self._owner.shared
        while i < n:
            k, at = self._where(i)
            stop = min(self._parts[k].stop, at + n - i)
            end = at + 1
            while end < stop and offsets[end + 1] - offsets[at] <= _BLOCK:
                end += 1
            base = offsets[at]
            block = os.pread(self._fd, offsets[end] - base, base)
            for r in range(at, end):
                yield _decode(block[offsets[r] - base : offsets[r + 1] - base], shared)
            i += end - at


_NOT_A_FINDING = 255


def _flag(f: Finding) -> int:
    return int(f.severity) | (8 if f.waiver is not None else 0) | (16 if f.baselined else 0)


def _decode(data: bytes, shared: list[Any]) -> Finding:
    if data[:1] == _PICKLE:
        finding: Finding = pickle.loads(data[1:])  # noqa: S301 - our own temporary file, written by this process
        return finding
    policy, severity, status, validation, message, ref, attributes, waiver, baselined, target, state, fix = (
        marshal.loads(data[1:])  # our own temporary file, written by this process
    )
    image_id, name, visibility, owner = ref
    return built(
        Finding,
        policy=policy,
        severity=_SEVERITIES[severity],
        status=_STATUSES[status],
        validation=validation,
        message=message,
        image=built(ImageRef, id=image_id, name=name, visibility=visibility, owner=owner),
        attributes=attributes,
        waiver=shared[waiver],
        baselined=baselined,
        target=target,
        state=state,
        remediation=shared[fix],
    )
