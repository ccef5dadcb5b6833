"""Where document bytes live: rows in the database, or files for large ones on one node.

Both are addressed by SHA-256 and store identical content once.

* :class:`FileBlobStore` writes a file under ``var/blobs/ab/cd/<sha256>``: a temporary file,
  fsynced, renamed into place, its directory fsynced, and the entries of ``ab`` and ``cd``
  made durable, all before the shipment that refers to it commits. A file that is already
  there (identical content) gets its directory fsynced too, since the call that renamed it
  may not have done so yet.
* :class:`DocumentStore` is what intake and dispatch use. A document up to
  ``storage.inline_document_bytes`` is *staged*: its bytes go into the database
  (:mod:`gateway.store.document_rows`) in the shipment's own transaction, so one commit (one
  fsync) makes the letter and its documents durable together, and a refused letter leaves
  none of their bytes behind. A file per document (up to two new directories, two to four
  fsyncs) cost more than the whole rest of an intake's storage work for a letter of a few
  small PDFs. With ``storage.documents = "files"`` (the default) larger documents go to the
  files first; with ``"database"`` every document is staged, chunk by chunk, so nodes that
  share only the database can dispatch each other's letters.

A document's ``storage_ref`` says where it is: ``db:<sha256>`` or the bare SHA-256 of a file.
Either is read back in chunks (:meth:`DocumentStore.chunks`).
"""
from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Engine

from gateway.errors import FaultCode, StorageError
from gateway.fileio import fsync_dir, write_atomic
from gateway.spool import Content, SpooledContent, content_sha256, file_chunks
from gateway.store.document_rows import CHUNK_BYTES, StagedDocument, read_chunks, stored
from gateway.store.retention import DocumentPurged, purged_at

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
            raise self._unreadable(sha256, exc) from exc

    def chunks(self, sha256: str, size: int) -> Iterator[bytes]:
        """The file in pieces of ``size`` bytes."""
        try:
            yield from file_chunks(self.path(sha256), size)
        except OSError as exc:
            raise self._unreadable(sha256, exc) from exc

    @staticmethod
    def _unreadable(sha256: str, exc: OSError) -> StorageError:
        return StorageError(f"document {sha256} is not readable: {exc}", code=FaultCode.STORAGE_UNAVAILABLE)


class DocumentStore:
    """Where intake puts document bytes and dispatch reads them: rows in the shipment's
    transaction (:mod:`gateway.store.document_rows`) or files written before it."""

    def __init__(self, engine: Engine, files: FileBlobStore, *, inline_max_bytes: int, in_database: bool = False,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        self.engine = engine
        self.files = files
        self.inline_max_bytes = inline_max_bytes
        self.in_database = in_database
        self.chunk_bytes = chunk_bytes

    def stage(self, data: Content, *, sha256: str) -> tuple[str, StagedDocument | None]:
        """(storage_ref, document to insert with the shipment or ``None``).

        A document for the files is written and fsynced now; one for the database is only
        durable once the caller has inserted the returned :class:`StagedDocument` and
        committed (its bytes are read from ``data`` then, chunk by chunk).
        """
        if self.in_database or len(data) <= self.inline_max_bytes:
            return INLINE_PREFIX + sha256, StagedDocument(sha256, data, self.chunk_bytes)
        return self.files.put(data, sha256=sha256), None

    def chunks(self, ref: str) -> Iterator[bytes]:
        """The document's bytes in pieces, never all of them in memory at once;
        :class:`DocumentPurged` when the retention rule deleted them."""
        try:
            if ref.startswith(INLINE_PREFIX):
                yield from read_chunks(self.engine, ref[len(INLINE_PREFIX):])
            else:
                yield from self.files.chunks(ref, self.chunk_bytes)
        except StorageError as exc:
            raise self._purged(ref) or exc

    def get(self, ref: str) -> bytes:
        """The whole document (what a channel's :class:`Letter` hands on)."""
        if not ref.startswith(INLINE_PREFIX):
            try:
                return self.files.get(ref)
            except StorageError as exc:
                raise self._purged(ref) or exc
        return b"".join(self.chunks(ref))

    def _purged(self, ref: str) -> DocumentPurged | None:
        """Why a document could not be read, when the reason is the retention rule."""
        sha256 = ref.removeprefix(INLINE_PREFIX)
        try:
            at = purged_at(self.engine, sha256)
        except Exception:  # noqa: BLE001 - the read's own error is the one to report
            return None
        if at is None:
            return None
        return DocumentPurged(f"document {sha256} was deleted on {at:%Y-%m-%d} by the retention rule ([retention]); "
                              "the letter's history and costs are kept, its documents cannot be sent any more")

    def exists(self, ref: str) -> bool:
        if not ref.startswith(INLINE_PREFIX):
            return self.files.exists(ref)
        return stored(self.engine, ref[len(INLINE_PREFIX):])
