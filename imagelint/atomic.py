"""Files that appear whole or not at all: snapshots (``imagelint fetch``) and report files.

``replacing(path)`` hands out a temporary file beside ``path`` and renames it over ``path`` only when the
writing ended without an exception, so a failed fetch or a report that broke half-way leaves ``path`` as it
was. One rename on one file system is atomic; the temporary file's name says what it is if a crash
(``kill -9``) ever leaves one behind.

``json_bytes`` is the UTF-8 JSON those files hold: readable text, yet always encodable and read back as
the same values, whatever strings the API sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_ESCAPED = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""Written as ``\\uXXXX``: a lone surrogate has no UTF-8 form at all; DEL, the C1 controls (U+009B starts a
terminal escape sequence) and U+2028/U+2029 (line breaks to some editors and YAML) are invisible in review."""


def json_bytes(value: Any, **options: Any) -> bytes:
    """``json.dumps(value, ensure_ascii=False, **options)`` as UTF-8, with the characters above escaped."""
    text = json.dumps(value, ensure_ascii=False, **options)
    # outside its strings, json.dumps writes only ASCII: every match is inside a string, where \uXXXX is valid
    return _ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


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
