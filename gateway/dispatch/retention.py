"""The retention rule as a periodic job (``retention``) and as ``gateway purge``: which letters'
documents are due for deletion, decided here; the store deletes them
(:class:`~gateway.store.outcome.PurgeDocuments`, applied by :meth:`DispatchStore.apply`).

A letter is due when it has been in a final status for ``retention.documents_after_days``. Each
run purges up to ``retention.batch_size`` letters in one transaction and writes a line into each
letter's history; a full batch means more are waiting, so the job runs again at once, else after
``retention.interval_hours``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from gateway.channels.base import ChannelRejected
from gateway.config.retention import RetentionSettings
from gateway.dispatch.texts import OPERATOR_LANGUAGE, texts
from gateway.model import Document, Event
from gateway.store.blobs import DocumentStore
from gateway.store import retention as stored
from gateway.store.dispatch import DispatchStore
from gateway.store.outcome import Outcome, PurgeDocuments, Retry
from gateway.store.retention import DocumentPurged

KIND = "retention"


@dataclass(frozen=True, slots=True)
class Batch:
    """Letters due now, and what purging them would free."""

    shipment_ids: tuple[str, ...]
    full: bool


def due(store: DispatchStore, settings: RetentionSettings, now: dt.datetime) -> Batch:
    if not settings.enabled:
        return Batch((), False)
    before = now - dt.timedelta(days=settings.documents_after_days)
    ids = stored.due(store.engine, before=before, limit=settings.batch_size)
    return Batch(tuple(ids), len(ids) >= settings.batch_size)


def outcome(batch: Batch, settings: RetentionSettings, now: dt.datetime, counts: dict[str, int]) -> Outcome:
    """Purge the batch; ``counts``: shipment id → how many documents it has (for its history line)."""
    words = texts(OPERATOR_LANGUAGE)
    events = tuple((sid, Event(at=now, kind="documents_purged",
                               detail=words("documents_purged", count=counts.get(sid, 0), days=settings.documents_after_days)))
                   for sid in batch.shipment_ids)
    return Outcome(at=now, events=events, purge=(PurgeDocuments(shipment_ids=batch.shipment_ids),) if batch.shipment_ids else ())


def run(now: dt.datetime, *, store: DispatchStore, settings: RetentionSettings) -> Outcome:
    """One turn of the periodic job."""
    batch = due(store, settings, now)
    later = now if batch.full else now + dt.timedelta(hours=settings.interval_hours)
    counts = stored.document_counts(store.engine, batch.shipment_ids)
    return outcome(batch, settings, now, counts).then(Outcome(at=now, job=Retry(run_after=later, count_attempt=False)))


@dataclass(frozen=True, slots=True)
class Purged:
    letters: int
    documents: int
    freed_bytes: int  # of bytes no letter uses any more (database and files)


def purge_now(store: DispatchStore, settings: RetentionSettings, now: dt.datetime, *, dry_run: bool = False) -> Purged:
    """Every letter due now (``gateway purge``); with ``dry_run`` only what would go."""
    letters = documents = freed = 0
    seen: set[str] = set()
    while True:
        batch = due(store, settings, now)
        new = tuple(sid for sid in batch.shipment_ids if sid not in seen)
        if not new:
            break
        counts = stored.document_counts(store.engine, new)
        freed += sum(stored.freed(store.engine, new).values())
        letters, documents = letters + len(new), documents + sum(counts.values())
        if dry_run:
            seen.update(new)  # nothing changes: page on by leaving them out
            if not batch.full:
                break
            settings = _wider(settings, len(seen))
            continue
        store.apply(outcome(Batch(new, batch.full), settings, now, counts))
        if not batch.full:
            break
    return Purged(letters, documents, freed)


def _wider(settings: RetentionSettings, seen: int) -> RetentionSettings:
    """A dry run sees the letters it has counted again: ask for that many more."""
    return dataclasses.replace(settings, batch_size=seen + settings.batch_size)


def content_of(documents: DocumentStore, channel: str) -> Callable[[Document], bytes]:
    """A letter's document bytes for ``channel``; bytes the rule deleted make the channel refuse
    the letter (it falls back or ends NOT_DELIVERED with the reason), not a job that retries
    until it dies."""
    def content(document: Document) -> bytes:
        try:
            return documents.get(document.storage_ref)
        except DocumentPurged as exc:
            raise ChannelRejected(exc.message, channel=channel) from exc
    return content
