"""What keeps a finding from failing the gate, around one run: waivers and a baseline.

``Suppression`` is built before the first image is read, so that a bad waivers or baseline file stops the
run (exit 2) before any network call. Waivers mark findings while the whole image is still at hand
(``annotate``); after the run, ``finish`` reports expired and stale waivers, marks the findings the baseline
records, and writes a new baseline when asked to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from imagelint.judgement import baseline as _baseline
from imagelint.judgement import waivers as _waivers
from imagelint.judgement.evaluate import Annotate
from imagelint.judgement.result import RunResult, key_of
from imagelint.policy.catalogue import IMAGE_ATTRIBUTES, Catalogue


class Suppression:
    """Waivers (``WaiverError``) and baselines (``BaselineError``) of one run; ``say`` prints a note line."""

    def __init__(
        self,
        now: dt.datetime,
        *,
        waivers: str | None = None,
        allow_permanent: bool = False,
        baseline: str | None = None,
        write_baseline: str | None = None,
        catalogue: Catalogue = IMAGE_ATTRIBUTES,
        say: Callable[[str], None] = print,
    ) -> None:
        self.now = now
        self.say = say
        self.write_to = write_baseline
        self.waivers = (
            _waivers.load_waivers(waivers, allow_permanent=allow_permanent, catalogue=catalogue) if waivers else None
        )
        self.baseline = _baseline.load_baseline(baseline) if baseline else None

    @property
    def reads_whole_images(self) -> bool:
        """A waiver selects images by a CEL ``match``, which may read any attribute."""
        return self.waivers is not None and any(rule.program is not None for rule in self.waivers.rules)

    @property
    def annotate(self) -> Annotate | None:
        return self.waivers.annotator(self.now) if self.waivers else None

    def finish(self, result: RunResult) -> RunResult:
        """Expired and stale waivers, baseline marks and fixed entries; writes the new baseline."""
        if self.waivers is not None:
            result = self.waivers.finish(result, self.now)
        if self.baseline is not None:
            result = _baseline.apply_baseline(result, self.baseline)
        if self.write_to is not None:
            if not result.source.complete:
                self.say(f"imagelint: not writing baseline {self.write_to}: the run did not see the whole fleet")
            else:
                _baseline.write_baseline(self.write_to, result)
                written = _baseline.Baseline(
                    self.write_to, frozenset(key_of(f) for f in result.findings if f.waiver is None)
                )
                # every recorded finding is now accepted; "fixed" still compares with --baseline, if given
                result = replace(_baseline.apply_baseline(result, written), fixed=result.fixed)
                self.say(f"imagelint: wrote baseline {self.write_to} ({len(written.keys)} findings)")
        for line in _waivers.notes(result) + _baseline.notes(result):
            self.say(line)
        return result
