"""Where document bytes live: in the database for small documents, as files for large ones.

Both are addressed by SHA-256 and store identical content once.

* :class:`FileBlobStore` writes a file under ``var/blobs/ab/cd/<sha256>``: a temporary file,
  fsynced, renamed into place, its directory fsynced, and the entries of ``ab`` and ``cd``
  made durable, all before the shipment that refers to it commits. A file that is already
  there (identical content) gets its directory fsynced too, since the call that renamed it
  may not have done so yet.
* :class:`DocumentStore` is what intake and dispatch use. A document up to
  ``storage.inline_document_bytes`` is *staged*: its bytes go into the ``document_blobs``
  table in the shipment's own transaction, so one commit (one fsync) makes the letter and its
  documents durable together, and a refused letter leaves none of their bytes behind. A file per document
  (up to two new directories, two to four fsyncs) cost more than the whole rest of an
  intake's storage work for a letter of a few small PDFs. Larger documents go to the files
  first.

A document's ``storage_ref`` says where it is: ``db:<sha256>`` or the bare SHA-256 of a file.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from gateway.errors import FaultCode, StorageError
from gateway.fileio import fsync_dir, write_atomic
from gateway.spool import Content, SpooledContent, content_bytes, content_sha256
from gateway.store import tables as t

INLINE_PREFIX = "db:"


class FileBlobStore:
    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)
        self._durable: set[Path] = set()  # directories whose entry this process has fsynced

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: Content, *, sha256: str | None = None) -> str:
        """Store ``data`` (fsynced, its directory entries too) and answer its digest.

        A :class:`SpooledContent` is adopted: its spool file is fsynced and renamed into
        place (copied only when the spool is on another file system), so a 350 MB document
        is never read into memory."""
        digest = sha256 or content_sha256(data)
        target = self.path(digest)
        try:
            if target.is_file() and target.stat().st_size == len(data):
                # Another call may have renamed it into place and not fsynced the directory
                # yet (or failed to): the entry must be durable before a shipment names it.
                self._durable_dirs(target.parent)
                if self.fsync:
                    fsync_dir(target.parent)
                return digest
            for level in (target.parent.parent, target.parent):
                level.mkdir(exist_ok=True)
            self._durable_dirs(target.parent)
            if not (isinstance(data, SpooledContent) and self._adopt(data, target)):
                write_atomic(target, data, fsync=self.fsync)  # the file, then its directory
        except OSError as exc:
            raise StorageError(f"cannot write document to the blob store: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc
        return digest

    def _adopt(self, content: SpooledContent, target: Path) -> bool:
        """Rename the spool file into place; False when it is on another file system."""
        if self.fsync:
            with open(content.path, "rb") as f:
                os.fsync(f.fileno())
        try:
            os.replace(content.path, target)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                return False
            raise
        if self.fsync:
            fsync_dir(target.parent)
        return True

    def _durable_dirs(self, directory: Path) -> None:
        """Make the entries of ``ab`` and ``ab/cd`` durable in their parents, once per process:
        whoever created them (another thread, another process, an earlier failed call) may
        not have fsynced them yet."""
        if not self.fsync:
            return
        for level in (directory.parent, directory):
            if level not in self._durable:
                fsync_dir(level.parent)
                self._durable.add(level)

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except OSError as exc:
            raise StorageError(f"document {sha256} is not readable: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc


@dataclass(frozen=True, slots=True)
class InlineBlob:
    """Document bytes to insert in the shipment's transaction (:func:`insert_inline`)."""

    sha256: str
    data: bytes


_INSERT_INLINE = {
    "sqlite": sqlite.insert(t.document_blobs).on_conflict_do_nothing(index_elements=["sha256"]),
    "postgresql": postgresql.insert(t.document_blobs).on_conflict_do_nothing(index_elements=["sha256"]),
}
_SELECT_INLINE = sa.select(t.document_blobs.c.data).where(t.document_blobs.c.sha256 == sa.bindparam("sha256"))
_EXISTS_INLINE = sa.select(t.document_blobs.c.sha256).where(t.document_blobs.c.sha256 == sa.bindparam("sha256"))


def insert_inline(conn: Connection, blobs: Sequence[InlineBlob]) -> None:
    """Insert staged documents in ``conn``'s transaction; content already stored is kept once.

    Rows go in digest order: two letters with the same attachments in another order would
    otherwise each hold one row's lock and wait for the other's (a PostgreSQL deadlock).
    """
    unique = {b.sha256: b for b in blobs}
    if unique:
        rows = [{"sha256": sha, "size": len(unique[sha].data), "data": unique[sha].data} for sha in sorted(unique)]
        conn.execute(_INSERT_INLINE[conn.dialect.name], rows)


class DocumentStore:
    """Small documents in the database, in the shipment's transaction; large ones as files."""

    def __init__(self, engine: Engine, files: FileBlobStore, *, inline_max_bytes: int) -> None:
        self.engine = engine
        self.files = files
        self.inline_max_bytes = inline_max_bytes

    def stage(self, data: Content, *, sha256: str) -> tuple[str, InlineBlob | None]:
        """(storage_ref, bytes to insert with the shipment or ``None``).

        A large document is written to a file and fsynced now; a small one is only durable
        once the caller has inserted the returned :class:`InlineBlob` and committed.
        """
        if len(data) <= self.inline_max_bytes:
            return INLINE_PREFIX + sha256, InlineBlob(sha256, content_bytes(data))
        return self.files.put(data, sha256=sha256), None

    def get(self, ref: str) -> bytes:
        if not ref.startswith(INLINE_PREFIX):
            return self.files.get(ref)
        data = self._inline(_SELECT_INLINE, ref)
        if data is None:
            raise StorageError(f"document {ref} is not in the database", code=FaultCode.STORAGE_UNAVAILABLE)
        return bytes(data)

    def exists(self, ref: str) -> bool:
        if not ref.startswith(INLINE_PREFIX):
            return self.files.exists(ref)
        return self._inline(_EXISTS_INLINE, ref) is not None

    def _inline(self, statement: sa.Select[Any], ref: str) -> Any:
        """The one column ``statement`` selects for an inline document, or ``None``."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(statement, {"sha256": ref[len(INLINE_PREFIX):]}).scalar()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"document {ref} is not readable: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc
