"""Which reports one run writes, and writing them: ``--format``/``--output``, ``--report``, ``--template``.

``plan`` runs before any image is read, so an unknown format, a clash of destinations or a broken template
is a usage error (exit 2) and not a surprise after a long fetch. Rules:

* ``--report FORMAT=PATH`` (repeatable) writes FORMAT to PATH; ``--report FORMAT`` or ``FORMAT=-`` to stdout.
* ``--format``/``--output`` is the shorthand for one more report. Without any ``--report`` it always applies
  (default ``--format auto`` on stdout); with ``--report`` it applies only when given explicitly, so
  ``--report sarif=x.sarif`` alone does not also print text.
* ``--template FILE.j2`` takes the place of ``--format`` for that shorthand report.
* ``auto`` is ``github`` when ``GITHUB_ACTIONS=true``, else ``text`` (coloured on a terminal).
* At most one report goes to stdout and no path is written twice, nor over a file the run reads or writes
  otherwise (``others``: the snapshot, waivers, baselines, the config file), which would be lost.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from imagelint.atomic import replacing
from imagelint.formats import FORMAT_CHOICES, OutputFormat
from imagelint.formats.escape import unicode_safe
from imagelint.formats.interface import Reporter, ReportError
from imagelint.formats.template import TemplateReporter
from imagelint.judgement.result import RunResult


@dataclass(frozen=True)
class ReportTarget:
    """One report of the run: what renders it and where it goes."""

    label: str
    """The format name (``template`` for ``--template``), for messages."""
    path: str | None
    """File to write; ``None`` for stdout."""
    reporter: Reporter


def parse_format(name: str, option: str) -> str:
    """Check a format name (``auto`` included); raise ``ReportError`` naming the choices otherwise."""
    if name not in FORMAT_CHOICES:
        raise ReportError(f"{option} {name!r}: unknown format (expected one of: {', '.join(FORMAT_CHOICES)})")
    return name


def resolve_auto(environ: Mapping[str, str]) -> OutputFormat:
    """What ``--format auto`` means here: annotations under GitHub Actions, else text."""
    return OutputFormat.GITHUB if environ.get("GITHUB_ACTIONS") == "true" else OutputFormat.TEXT


def parse_report(spec: str) -> tuple[str, str | None]:
    """``"sarif=out.sarif"`` -> ``("sarif", "out.sarif")``; ``"json"`` or ``"json=-"`` -> ``("json", None)``."""
    name, sep, path = spec.partition("=")
    parse_format(name, "--report")
    if sep and not path:
        raise ReportError(f"--report {spec!r}: empty PATH (use FORMAT alone or FORMAT=- for stdout)")
    return name, None if not sep or path == "-" else path


def plan(
    *,
    format: str | None,
    output: str | None,
    reports: Sequence[str],
    template: str | None,
    color: str = "auto",
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    others: Mapping[str, str | None] | None = None,
) -> list[ReportTarget]:
    """The reports of one run, checked; ``color`` is ``--color`` (auto, always, never); ``others`` maps the
    options of the run's other files (``--input``...) to their paths, which no report may replace."""
    environ = os.environ if environ is None else environ
    stdout = sys.stdout if stdout is None else stdout
    if format is not None:
        parse_format(format, "--format")
    if template is not None and format is not None:
        raise ReportError(
            "--template replaces --format for the main report; add other formats with --report FORMAT=PATH"
        )
    wanted = [parse_report(spec) for spec in reports]
    if not wanted or format is not None or output is not None or template is not None:
        wanted.insert(
            0, ("template" if template is not None else format or "auto", None if output in (None, "-") else output)
        )
    _check_destinations(wanted, others or {})
    targets = []
    for name, path in wanted:
        if name == "template":
            assert template is not None
            targets.append(ReportTarget("template", path, TemplateReporter(template)))
            continue
        fmt = resolve_auto(environ) if name == "auto" else OutputFormat(name)
        use_color = color == "always" or (
            color == "auto" and path is None and not environ.get("NO_COLOR") and stdout.isatty()
        )
        targets.append(ReportTarget(fmt.value, path, fmt.reporter(color=use_color and fmt is OutputFormat.TEXT)))
    return targets


def _check_destinations(wanted: Sequence[tuple[str, str | None]], others: Mapping[str, str | None]) -> None:
    on_stdout = [name for name, path in wanted if path is None]
    if len(on_stdout) > 1:
        raise ReportError(
            f"more than one report on stdout ({', '.join(on_stdout)}): "
            "give all but one a PATH, e.g. --report sarif=imagelint.sarif"
        )
    kept = {_where(path): option for option, path in others.items() if path and path != "-"}
    seen: dict[Path, str] = {}
    for name, path in wanted:
        if path is None:
            continue
        key = _where(path)
        if key in seen:
            raise ReportError(f"reports {seen[key]} and {name} would both be written to {path}")
        if key in kept and not _is_device(key):
            shown = "the main report (--format auto)" if name == "auto" else f"report {name}"
            raise ReportError(f"{shown} would be written over the {kept[key]} file {path}")
        seen[key] = name


def _where(path: str) -> Path:
    return Path(path).resolve()


def _is_device(path: Path) -> bool:
    """``/dev/null``, a pipe or a terminal: writing one does not destroy what another option reads."""
    try:
        return not path.is_file() and path.exists()
    except OSError:
        return False


def _utf8(text: str) -> bytes:
    """``text`` in UTF-8, a lone surrogate as U+FFFD: encoding is the test for one, as the text has to be
    encoded anyway (the search before every encoding cost 1.5 µs a finding in the JSON report)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return unicode_safe(text).encode("utf-8")


def write_all(targets: Sequence[ReportTarget], result: RunResult, *, stdout: TextIO | None = None) -> None:
    """Render and write every report, piece by piece (``Reporter.chunks``). A report that fails does not
    stop the others; the first failure is raised afterwards as ``ReportError``."""
    stdout = sys.stdout if stdout is None else stdout
    first: ReportError | None = None
    for target in targets:
        # UTF-8 whatever the locale says about stdout; lone surrogates cannot straddle two pieces
        data = (_utf8(chunk) for chunk in target.reporter.chunks(result))
        try:
            if target.path is None:
                _write_stream(stdout, data)
            else:
                _write_file(Path(target.path), data)
        except ReportError as exc:
            first = first or exc
    if first is not None:
        raise first


def _write_stream(stream: TextIO, data: Iterable[bytes]) -> None:
    buffer: BinaryIO | None = getattr(stream, "buffer", None)
    try:
        if buffer is not None:
            stream.flush()
        for piece in data:
            if buffer is None:
                stream.write(piece.decode("utf-8"))
            else:
                buffer.write(piece)
        if buffer is not None:
            buffer.flush()
    except BrokenPipeError:
        # the reader has gone (`imagelint check | head`): what it wanted it got. Point the descriptor at
        # /dev/null so that the interpreter's last flush does not fail again; the exit code stays the verdict.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


def _write_file(path: Path, data: Iterable[bytes]) -> None:
    """Atomically (``imagelint.atomic``): a report that fails half-way (a template error, a full disk)
    leaves ``path`` as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as out:
            out.writelines(data)
    except OSError as exc:
        raise ReportError(f"cannot write report {path}: {exc.strerror or exc}") from None
