"""Where each Digipost print letter is, in files under ``<data_dir>/print-digipost``:

- ``staged/<job>.json`` (+ ``<job>.<n>.pdf``): waiting for a batch; can be taken back;
- ``jobs/<job>.json``: handed to a batch (or sent alone); its documents are kept until Digipost
  has them, its outcome (PRINTED or REJECTED) once known;
- ``batches/<uuid>.json``: a Digipost batch, ``new`` → ``open`` (created there) → ``committed``.

Each file is written whole (:func:`~gateway.fileio.write_atomic`); a job moves from staged to
jobs by writing the new file before removing the old, so a crash in between leaves it in both
and :meth:`DigipostStore.recover` keeps the later one. Two ``flock`` locks, for threads and
processes alike: ``locked`` over the folders for a moment, ``sending`` over the talk with Digipost.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.fileio import write_atomic

__all__ = ["DigipostStore"]

Entry = dict[str, Any]


def _read(path: Path) -> Entry | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, entry: Entry) -> None:
    write_atomic(path, json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8"))


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` for threads and processes alike (each holder opens its own file)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DigipostStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.staged_dir, self.jobs_dir, self.batches_dir = root / "staged", root / "jobs", root / "batches"
        for folder in (self.staged_dir, self.jobs_dir, self.batches_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = root / ".lock"
        self._send_lock_file = root / ".send.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The folders, for a moment: staging, taking into a batch, recording an answer."""
        with _flock(self._lock_file):
            yield

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """The right to talk to Digipost about batches and taken letters, held across HTTP
        calls (:meth:`locked` never is, so staging a letter never waits on the network)."""
        with _flock(self._send_lock_file):
            yield

    # --- letters ---

    def find(self, job_id: str) -> Entry | None:
        return _read(self.jobs_dir / f"{job_id}.json") or _read(self.staged_dir / f"{job_id}.json")

    def is_staged(self, job_id: str) -> bool:
        return (self.staged_dir / f"{job_id}.json").exists() and not (self.jobs_dir / f"{job_id}.json").exists()

    def stage(self, entry: Entry, documents: list[bytes]) -> None:
        job_id = entry["jobId"]
        for n, data in enumerate(documents):
            write_atomic(self.staged_dir / f"{job_id}.{n}.pdf", data)
        _write(self.staged_dir / f"{job_id}.json", entry)  # last: the job exists once it is whole

    def unstage(self, job_id: str) -> None:
        (self.staged_dir / f"{job_id}.json").unlink(missing_ok=True)
        for pdf in self.staged_dir.glob(f"{job_id}.*.pdf"):
            pdf.unlink(missing_ok=True)

    def staged(self) -> list[Entry]:
        """Waiting letters, oldest first."""
        entries = [e for p in self.staged_dir.glob("*.json") if (e := _read(p)) is not None]
        return sorted(entries, key=lambda e: (e["stagedAt"], e["jobId"]))

    def documents(self, entry: Entry) -> list[bytes]:
        folder = self.staged_dir if self.is_staged(entry["jobId"]) else self.jobs_dir
        return [(folder / f"{entry['jobId']}.{n}.pdf").read_bytes() for n in range(len(entry["documents"]))]

    def take(self, entry: Entry, *, batch_uuid: str | None) -> Entry:
        """Move a staged letter into a batch (None: sent alone)."""
        job_id = entry["jobId"]
        for n in range(len(entry["documents"])):
            source = self.staged_dir / f"{job_id}.{n}.pdf"
            if source.exists():
                source.replace(self.jobs_dir / source.name)
        taken = {**entry, "batchUuid": batch_uuid, "sent": False, "outcome": None}
        _write(self.jobs_dir / f"{job_id}.json", taken)
        (self.staged_dir / f"{job_id}.json").unlink(missing_ok=True)
        return taken

    def update(self, entry: Entry) -> None:
        _write(self.jobs_dir / f"{entry['jobId']}.json", entry)
        if entry.get("sent") or entry.get("outcome"):
            for pdf in self.jobs_dir.glob(f"{entry['jobId']}.*.pdf"):  # Digipost has them, or never will
                pdf.unlink(missing_ok=True)

    def job(self, job_id: str) -> Entry | None:
        return _read(self.jobs_dir / f"{job_id}.json")

    def jobs(self, batch_uuid: str) -> list[Entry]:
        batch = self.batch(batch_uuid)
        return [e for job_id in (batch or {}).get("jobs", []) if (e := self.job(job_id)) is not None]

    def unsent(self) -> list[Entry]:
        """Letters taken to be sent alone that were not sent yet (a crash or an outage in between)."""
        entries = [e for p in self.jobs_dir.glob("*.json") if (e := _read(p)) is not None]
        return [e for e in entries if e.get("batchUuid") is None and not e.get("sent") and not e.get("outcome")]

    def recover(self) -> None:
        """A letter both staged and taken was being moved: the move is what happened."""
        for path in self.staged_dir.glob("*.json"):
            if (self.jobs_dir / path.name).exists():
                path.unlink(missing_ok=True)

    # --- batches ---

    def batch(self, batch_uuid: str) -> Entry | None:
        return _read(self.batches_dir / f"{batch_uuid}.json")

    def save_batch(self, batch: Entry) -> None:
        _write(self.batches_dir / f"{batch['uuid']}.json", batch)

    def batches(self) -> list[Entry]:
        entries = [e for p in self.batches_dir.glob("*.json") if (e := _read(p)) is not None]
        return sorted(entries, key=lambda e: (e["created"], e["uuid"]))
