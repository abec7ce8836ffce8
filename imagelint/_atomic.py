"""Files that appear whole or not at all: snapshots (``imagelint fetch``) and report files.

``replacing(path)`` hands out a temporary file beside ``path`` and renames it over ``path`` only when the
writing ended without an exception, so a failed fetch or a report that broke half-way leaves ``path`` as it
was. One rename on one file system is atomic; the temporary file's name says what it is if a crash
(``kill -9``) ever leaves one behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def replacing(path: Path, *, durable: bool = False) -> Iterator[IO[bytes]]:
    """A binary file whose content becomes ``path``'s at the end of the ``with`` block.

    ``durable``: synced before the rename, so that after a crash the name never points at missing data.
    A symbolic link keeps pointing where it did (the file it names is replaced). A device or a pipe
    (``/dev/null``, ``/dev/stdout``) is written directly: a rename would replace the node itself.
    """
    try:
        special = not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        special = False
    if special:
        with open(path, "wb") as out:
            yield out
        return
    real = Path(os.path.realpath(path))
    fd, temporary = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it 0600; the file is as any new file
        os.replace(temporary, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
