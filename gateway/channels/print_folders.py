"""The print folders: where a print job is, kept in files that survive a crash at any step.

::

    <print>/staging/<job>.pdf, <job>.json   a job waiting for a batch (its manifest data, stagedAt)
    <print>/jobs/<job>.json                 a job in a batch: batchId, later the print house's outcome
    <outbox>/batch-<batchId>/               the batch as the print house takes it (PDFs, manifest.xml)
    <receipts>/<batchId>.xml                the print house's receipt; then processed/ or rejected/

Every file is written atomically (temporary file, fsync, rename, fsync of the folder), and a
batch folder appears by one rename, so the print house never sees half a batch. A job both
staged and in ``jobs/`` means a batch was being written when the process stopped:
:meth:`PrintFolders.recover` finishes that (the batch folder exists) or undoes it (it does
not). Writers hold :meth:`PrintFolders.locked`, a file lock, so several threads or processes
can share one data directory.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict

from gateway.channels.print_manifest import ManifestJob
from gateway.channels.print_receipts import RecordedOutcome
from gateway.fileio import fsync_dir, write_atomic

MANIFEST_FILE = "manifest.xml"
BATCH_PREFIX = "batch-"


class StagedJob(TypedDict):
    """A staging sidecar: the job and when it was staged (ISO 8601)."""

    job: ManifestJob
    stagedAt: str


class BatchedJob(StagedJob, total=False):
    """An entry of ``jobs/``: the sidecar, its batch, and once known the print house's outcome."""

    batchId: str
    outcome: RecordedOutcome


class PrintFolders:
    def __init__(self, root: Path, *, outbox: Path | None = None, receipts: Path | None = None) -> None:
        """``root`` holds staging, jobs and the lock; ``outbox`` and ``receipts`` default to
        folders under it (the print house may be given others)."""
        self.outbox = outbox or root / "outbox"
        self.receipts = receipts or root / "receipts"
        self.processed = self.receipts / "processed"
        self.rejected = self.receipts / "rejected"
        self.staging = root / "staging"
        self.jobs = root / "jobs"
        self._lock_file = root / ".lock"
        for folder in (self.outbox, self.receipts, self.processed, self.rejected, self.staging, self.jobs):
            folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock over these folders for threads and processes alike
        (``flock`` locks belong to each open file, so every holder opens its own)."""
        with open(self._lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- staging ---

    def find_job(self, job_id: str) -> ManifestJob | None:
        """The job's manifest data, staged or batched; None when there is no such job."""
        for path in (self.staging / f"{job_id}.json", self.jobs / f"{job_id}.json"):
            entry = _read_json(path)
            if entry is not None:
                return entry["job"]  # type: ignore[no-any-return]
        return None

    def stage(self, job: ManifestJob, pdf: bytes, *, staged_at: dt.datetime) -> None:
        """Keep the job's PDF, then its sidecar: a PDF without a sidecar is a leftover."""
        write_atomic(self.staging / job["file"], pdf)
        write_atomic(self.staging / f"{job['shipmentId']}.json", _json(StagedJob(job=job, stagedAt=staged_at.isoformat())))

    def is_staged(self, job_id: str) -> bool:
        return (self.staging / f"{job_id}.json").exists()

    def staged(self) -> list[StagedJob]:
        """Every staged job, the longest waiting first."""
        entries = [e for p in self.staging.glob("*.json") if (e := _read_json(p)) is not None]
        return sorted(entries, key=lambda e: (dt.datetime.fromisoformat(e["stagedAt"]), e["job"]["shipmentId"]))

    def unstage(self, job_id: str) -> None:
        (self.staging / f"{job_id}.pdf").unlink(missing_ok=True)
        (self.staging / f"{job_id}.json").unlink(missing_ok=True)
        fsync_dir(self.staging)

    # --- batches ---

    def publish_batch(self, batch_id: str, chunk: Sequence[StagedJob], manifest: bytes) -> None:
        """Write the batch folder of the staged jobs ``chunk`` and make it appear by one rename;
        on any failure nothing of it is left. The jobs leave staging afterwards."""
        jobs = [entry["job"] for entry in chunk]
        tmp = self.outbox / f".{BATCH_PREFIX}{batch_id}.tmp"
        tmp.mkdir()
        try:
            for job in jobs:
                _copy_verified(self.staging / job["file"], tmp / job["file"], sha256=job["sha256"])
            write_atomic(tmp / MANIFEST_FILE, manifest)
            for entry in chunk:  # the index first: a crash before the rename is undone by recover()
                write_atomic(self.jobs / f"{entry['job']['shipmentId']}.json", _json({**entry, "batchId": batch_id}))
            os.rename(tmp, self.outbox / f"{BATCH_PREFIX}{batch_id}")
            fsync_dir(self.outbox)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for job in jobs:
                with contextlib.suppress(OSError):
                    (self.jobs / f"{job['shipmentId']}.json").unlink()
            raise
        for job in jobs:
            self.unstage(job["shipmentId"])

    def recover(self) -> None:
        """Finish or undo a batch that stopped half-way; drop leftovers of a crashed staging."""
        for tmp in self.outbox.glob(f".{BATCH_PREFIX}*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        for sidecar in self.staging.glob("*.json"):
            job_id = sidecar.stem
            entry = self.batched(job_id)
            if entry is None:
                continue
            if self._batch_published(entry["batchId"]):
                self.unstage(job_id)
            else:
                (self.jobs / f"{job_id}.json").unlink()
        for pdf in self.staging.glob("*.pdf"):
            if not pdf.with_suffix(".json").exists():
                pdf.unlink()

    def _batch_published(self, batch_id: str) -> bool:
        return (self.outbox / f"{BATCH_PREFIX}{batch_id}").exists() or self.has_receipt(batch_id)

    def published_batches(self) -> Iterator[tuple[str, Path]]:
        """Each batch folder in the outbox: its id and its manifest file."""
        for folder in sorted(self.outbox.glob(f"{BATCH_PREFIX}*")):
            if folder.is_dir():
                yield folder.name[len(BATCH_PREFIX):], folder / MANIFEST_FILE

    # --- receipts ---

    def has_receipt(self, batch_id: str) -> bool:
        name = f"{batch_id}.xml"
        return (self.receipts / name).exists() or (self.processed / name).exists()

    def settled_receipts(self, settle_seconds: float) -> list[Path]:
        """Receipt files unchanged for ``settle_seconds`` (the print house may still be writing newer ones)."""
        settled = time.time() - settle_seconds
        return [path for path in sorted(self.receipts.glob("*.xml"))
                if not path.name.startswith(".") and path.is_file() and path.stat().st_mtime <= settled]

    def batched(self, job_id: str) -> BatchedJob | None:
        return _read_json(self.jobs / f"{job_id}.json")  # type: ignore[return-value]

    def record_outcome(self, entry: BatchedJob, outcome: RecordedOutcome) -> None:
        write_atomic(self.jobs / f"{entry['job']['shipmentId']}.json", _json({**entry, "outcome": outcome}))

    def set_aside(self, path: Path, *, processed: bool) -> None:
        """Move a receipt file to ``processed/`` or ``rejected/``, never over an earlier one."""
        folder = self.processed if processed else self.rejected
        target = folder / path.name
        if target.exists():
            target = folder / f"{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}"
        os.replace(path, target)
        fsync_dir(folder)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def _copy_verified(source: Path, target: Path, *, sha256: str) -> None:
    """Copy in chunks (jobs can be hundreds of MB) and refuse a staged file that changed."""
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "xb") as out:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha256:
        raise OSError(f"staged job {source.name} does not match its recorded sha256")
