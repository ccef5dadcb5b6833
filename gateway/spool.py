"""Document bytes that stay on disk while a request is handled.

A 350 MB MTOM attachment must not be held in memory (the gateway runs 16 calls at once):
the multipart reader streams it into a file of the request's :class:`Spool`, hashing it on
the way, and hands on a :class:`SpooledContent` in place of ``bytes``. PDF checks read it
from the file, and the blob store adopts the file by renaming it (the spool lives under the
data folder, on the same file system as the blobs), or, with documents kept in the database,
copies it into chunk rows a piece at a time (:func:`content_chunks`). Whatever is left is
removed when the request ends.

Document content is therefore ``bytes | SpooledContent`` (:data:`Content`) everywhere
between the SOAP layer and the store.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union


@dataclass(frozen=True, slots=True)
class SpooledContent:
    """Bytes in a spool file; ``size`` and ``sha256`` were computed while it was written."""

    path: Path
    size: int
    sha256: str

    def __len__(self) -> int:
        return self.size

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    def read(self) -> bytes:
        """All of it in memory: only for content known to be small (a MeMo message)."""
        with self.open() as f:
            return f.read()


Content = Union[bytes, SpooledContent]


def content_bytes(content: Content) -> bytes:
    return content.read() if isinstance(content, SpooledContent) else bytes(content)


def content_chunks(content: Content, size: int) -> Generator[bytes, None, None]:
    """``content`` in pieces of ``size`` bytes (the last one shorter; none for empty
    content), read from the spool file one piece at a time."""
    if isinstance(content, SpooledContent):
        yield from file_chunks(content.path, size)
        return
    view = memoryview(content)
    for start in range(0, len(view), size):
        yield bytes(view[start:start + size])


def file_chunks(path: str | os.PathLike[str], size: int) -> Iterator[bytes]:
    """The file at ``path`` in pieces of ``size`` bytes, read one at a time."""
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def content_sha256(content: Content) -> str:
    return content.sha256 if isinstance(content, SpooledContent) else hashlib.sha256(content).hexdigest()


class SpoolFile:
    """A file being written into the spool; :meth:`finish` turns it into content."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "xb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def finish(self) -> SpooledContent:
        self._file.close()
        return SpooledContent(self.path, self.size, self._hash.hexdigest())

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class Spool:
    """The spool files of one request, removed by :meth:`close` (files adopted by the blob
    store are gone from here already)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._paths: list[Path] = []
        self._lock = threading.Lock()

    def new_file(self) -> SpoolFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4().hex}.part"
        with self._lock:
            self._paths.append(path)
        return SpoolFile(path)

    def close(self) -> None:
        with self._lock:
            paths, self._paths = self._paths, []
        for path in paths:
            path.unlink(missing_ok=True)


def process_spool_dir(root: str | os.PathLike[str]) -> Path:
    """This process's own spool directory under ``root``, after removing those of processes
    that are gone (a crash or SIGKILL leaves its spool files behind; with
    ``server.processes`` > 1 the living ones keep theirs)."""
    root = Path(root)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and entry.name.startswith("p") and entry.name[1:].isdigit():
                if not _alive(int(entry.name[1:])):
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_file() and entry.name.endswith(".part"):
                entry.unlink(missing_ok=True)  # from a release that spooled into the root
    return root / f"p{os.getpid()}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a dead process's number, reused by this one
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def copy_into(content: SpooledContent, out: BinaryIO) -> None:
    """Stream ``content`` into ``out`` (when a rename cannot adopt it)."""
    with content.open() as source:
        shutil.copyfileobj(source, out, 1024 * 1024)
