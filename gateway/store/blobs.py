"""Content-addressed blob store for document bytes (files under ``var/blobs``).

A blob is written to a temporary file, fsynced, renamed to its SHA-256 name and its
directory fsynced, all before the shipment that refers to it commits: once a row names a
blob, the bytes are on disk. Identical documents are stored once.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from gateway.errors import FaultCode, StorageError
from gateway.fileio import fsync_dir


class BlobStore(Protocol):
    def put(self, data: bytes, *, sha256: str | None = None) -> str: ...
    def get(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...


class FileBlobStore:
    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, *, sha256: str | None = None) -> str:
        digest = sha256 or hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        try:
            if target.is_file() and target.stat().st_size == len(data):
                return digest
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            if self.fsync:
                fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot write document to the blob store: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except OSError as exc:
            raise StorageError(f"document {sha256} is not readable: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc
