"""Writing snapshots: every image of a live source saved as the file that ``SnapshotSource`` reads back.

The snapshot is written atomically: images stream into a temporary file beside the target (constant
memory whatever the fleet size), and only after the last page arrived is the final file assembled, its
metadata first, synced, and moved into place with ``os.replace`` (``imagelint.atomic``). A fetch that
fails leaves the target as it was (absent, or the previous snapshot), so no file ever looks complete when
it is not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from imagelint import __version__
from imagelint.atomic import json_bytes, replacing
from imagelint.sources.api import ApiSource


class SnapshotWriteError(Exception):
    """The snapshot file could not be written (exit 2, like an unwritable report)."""


def write_snapshot(source: ApiSource, target: Path, *, jsonl: bool) -> int:
    """Fetch every page of ``source`` into ``target``; the number of images written.

    Raises ``SourceError`` when the fetch fails (``target`` untouched) and ``SnapshotWriteError`` when the
    file cannot be written.
    """
    folder = target.parent if str(target.parent) else Path(".")
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
        meta = {
            "snapshot": {
                "endpoint": source.location(),
                "query": source.query_string(),
                "fetched_at": source.fetched_at,
                "pages": source.pages_fetched,
                "images": count,
                "complete": True,
                "page_size": source.options.page_size,
                "duplicates": source.duplicates,
                "tool": f"imagelint {__version__}",
            }
        }
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
