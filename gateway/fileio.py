"""Durable file writes: fsync the file, rename into place, fsync the directory."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from gateway.spool import Content, SpooledContent, copy_into


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: Content, *, fsync: bool = True) -> None:
    """``path`` holds either its old content or all of ``data``, even across a crash."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as out:
            if isinstance(data, SpooledContent):
                copy_into(data, out)
            else:
                out.write(data)
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)
