"""``imagelint fetch``: save every image of ``GET /v2/images`` as a snapshot that ``check --input`` reads.

Exit 0 written, 2 bad settings or an unwritable file, 3 the fetch failed (the file is left as it was; see
``sources.snapshot_writer``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imagelint.cli import live
from imagelint.cli.common import err
from imagelint.deadline import Deadline
from imagelint.judgement.gate import ExitCode
from imagelint.sources.interface import SourceError
from imagelint.sources.snapshot_writer import write_snapshot
from imagelint.sources.transport import ConfigError


def run(args: argparse.Namespace) -> int:
    deadline = Deadline(args.deadline)
    with deadline.backstop():
        return _run(args, deadline)


def _run(args: argparse.Namespace, deadline: Deadline) -> int:
    source = live.source(args, deadline)
    target = Path(args.output)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"--output {args.output}: folder {folder} does not exist")
    if target.is_dir():
        raise ConfigError(f"--output {args.output}: is a folder")
    try:
        count = write_snapshot(source, target, jsonl=args.jsonl)
    except SourceError as exc:
        kept = "left unchanged" if target.exists() else "not created"
        err(f"imagelint: INCOMPLETE: {exc}")
        err(
            f"imagelint: fetch failed after {source.pages_fetched} pages ({source.images_fetched} images); "
            f"no snapshot written ({args.output} {kept}); exit 3"
        )
        return ExitCode.SOURCE
    err(f"imagelint: fetched {count} images in {source.pages_fetched} pages -> {args.output}")
    return ExitCode.OK
