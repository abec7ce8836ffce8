"""``imagelint fetch``: save every image of ``GET /v2/images`` as a snapshot that ``check --input`` reads.

The snapshot is written atomically: images stream into a temporary file beside ``--output`` (constant
memory whatever the fleet size), and only after the last page arrived is the final file assembled, its
metadata first, synced, and moved into place with ``os.replace`` (``imagelint._atomic``). A fetch that
fails leaves ``--output`` as it was (absent, or the previous snapshot) and exits 3, so no file ever looks
complete when it is not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from imagelint import __version__
from imagelint._atomic import json_bytes, replacing
from imagelint._source.api import ApiSource, source_from_args
from imagelint._source.interface import SourceError
from imagelint._source.transport import ConfigError


class SnapshotWriteError(Exception):
    """The snapshot file could not be written (exit 2, like an unwritable report)."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``fetch`` on the CLI's subparsers."""
    from imagelint._source.api import add_arguments

    p = sub.add_parser("fetch", help="save every image of the live API as a snapshot file")
    add_arguments(p, endpoint=True)
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="snapshot file to write (atomically)")
    p.add_argument("--jsonl", action="store_true", help="write JSON Lines (metadata line first) instead of JSON")
    return p


def run_fetch(args: argparse.Namespace) -> int:
    """``imagelint fetch``: 0 written, 2 bad settings, 3 the fetch failed (nothing written)."""
    source = source_from_args(args)
    target = Path(args.output)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"--output {args.output}: folder {folder} does not exist")
    if target.is_dir():
        raise ConfigError(f"--output {args.output}: is a folder")
    try:
        count = _write(source, target, folder, jsonl=args.jsonl)
    except SourceError as exc:
        kept = "left unchanged" if target.exists() else "not created"
        print(f"imagelint: INCOMPLETE: {exc}", file=sys.stderr)
        print(f"imagelint: fetch failed after {source.pages_fetched} pages ({source.images_fetched} images); "
              f"no snapshot written ({args.output} {kept}); exit 3", file=sys.stderr)
        return 3
    print(f"imagelint: fetched {count} images in {source.pages_fetched} pages -> {args.output}", file=sys.stderr)
    return 0


def _write(source: ApiSource, target: Path, folder: Path, *, jsonl: bool) -> int:
    body = _temp(folder, target.name, ".images")
    try:
        count = 0
        with body:
            for page in source.pages():
                for image in page:
                    # the API may send "\ud800": a lone surrogate has no UTF-8 form, json_bytes escapes it
                    data = json_bytes(image, separators=(",", ":"))
                    if jsonl:
                        body.write(data + b"\n")
                    else:
                        body.write((b",\n" if count else b"\n") + data)
                    count += 1
        meta = {"snapshot": {"endpoint": source.location(), "query": source.query_string(),
                             "fetched_at": source.fetched_at, "pages": source.pages_fetched, "images": count,
                             "complete": True, "page_size": source.options.page_size,
                             "duplicates": source.duplicates, "tool": f"imagelint {__version__}"}}
        # durable: the rename must not outrun the data on a crash
        with replacing(target, durable=True) as final, open(body.name, "rb") as images:
            if jsonl:
                final.write(json_bytes(meta) + b"\n")
                shutil.copyfileobj(images, final, 1 << 20)
            else:
                final.write(b'{"snapshot": ' + json_bytes(meta["snapshot"], indent=1) + b',\n"images": [')
                shutil.copyfileobj(images, final, 1 << 20)
                final.write(b"\n]}\n")
        return count
    except OSError as exc:
        raise SnapshotWriteError(f"cannot write snapshot {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(body.name)


def _temp(folder: Path, name: str, suffix: str) -> IO[bytes]:
    # the images, before the metadata can be written ahead of them; in the target's folder, named for
    # what it is if a crash ever leaves it behind
    return tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=f"{suffix}.partial", delete=False)


__all__ = ["SnapshotWriteError", "add_parser", "run_fetch"]
