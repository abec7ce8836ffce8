"""``imagelint.atomic.replacing``: the one way snapshots and report files are written."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from imagelint.atomic import replacing


def test_the_old_file_stays_when_writing_fails(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as out:
        out.write(b"half of the new")
        raise RuntimeError("broke half-way")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    with replacing(target, durable=True) as out:
        out.write(b"new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_link_keeps_pointing_where_it_did(tmp_path):
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "real" / "r.json")  # dangling until the first write
    for text in (b"one", b"two"):
        with replacing(link) as out:
            out.write(text)
        assert link.is_symlink() and (tmp_path / "real" / "r.json").read_bytes() == text


def test_a_pipe_is_written_in_place(tmp_path):
    # /dev/null and /dev/stdout are not regular files either: a rename would replace the node itself
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with replacing(fifo) as out:
        out.write(b"through the pipe")
    reader.join(timeout=30)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
