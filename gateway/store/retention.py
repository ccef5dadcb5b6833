"""Retention: deleting the bytes of documents whose letters are over, keeping everything else.

Document bytes are content-addressed (``document_blobs``/``document_chunks`` rows, or a file
under the blob folder) and shared: two letters with the same attachment store it once. Purging
a letter marks its ``documents`` rows ``purged_at``; the bytes of a digest go only when no
document row that is not purged names it any more, in the same transaction. Files are removed
after the commit (a file left behind by a crash is only space; a file removed before a rollback
would be a letter without its document).

One race is left on PostgreSQL and with files: a new letter whose document is byte-identical to
one being purged at that very moment finds the bytes present (intake stores identical content
once) and may commit just after the purge removed them. That letter then fails at dispatch with
:class:`DocumentPurged` and an alert, never silently. SQLite writes one transaction at a time,
so its rows cannot race.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.errors import FaultCode, StorageError
from gateway.model import FINAL_STATUSES
from gateway.store import tables

_s, _doc, _blobs, _chunks = tables.shipments, tables.documents, tables.document_blobs, tables.document_chunks
logger = logging.getLogger(__name__)
_FINAL = sorted(str(s) for s in FINAL_STATUSES)


class DocumentPurged(StorageError):
    """The document's bytes were deleted by the retention rule; its row and the letter remain."""

    default_code = FaultCode.DOCUMENT_PURGED


def due(engine: Engine, *, before: dt.datetime, limit: int) -> list[str]:
    """Letters in a final status since before ``before`` that still have document bytes, oldest first."""
    unpurged = sa.exists().where(_doc.c.shipment_id == _s.c.id, _doc.c.purged_at.is_(None))
    query = (sa.select(_s.c.id)
             .where(_s.c.status.in_(_FINAL), _s.c.status_changed_at < before.astimezone(dt.timezone.utc), unpurged)
             .order_by(_s.c.status_changed_at, _s.c.id).limit(limit))
    with engine.connect() as conn:
        return list(conn.scalars(query))


def freed_by(conn: Connection, shipment_ids: Sequence[str]) -> dict[str, int]:
    """Digest → stored size of the bytes that purging ``shipment_ids`` frees: those no other
    letter's unpurged document names. (A digest kept as a file has no row: size 0.)"""
    if not shipment_ids:
        return {}
    other = _doc.alias("other")
    still_used = sa.exists().where(other.c.sha256 == _doc.c.sha256, other.c.purged_at.is_(None),
                                   other.c.shipment_id.not_in(list(shipment_ids)))
    query = (sa.select(_doc.c.sha256, sa.func.max(_doc.c.size)).where(_doc.c.shipment_id.in_(list(shipment_ids)), ~still_used)
             .group_by(_doc.c.sha256))
    return {sha: int(size) for sha, size in conn.execute(query)}


def freed(engine: Engine, shipment_ids: Sequence[str]) -> dict[str, int]:
    """What purging ``shipment_ids`` would free now (:func:`freed_by`), changing nothing."""
    with engine.connect() as conn:
        return freed_by(conn, shipment_ids)


def document_counts(engine: Engine, shipment_ids: Sequence[str]) -> dict[str, int]:
    """Shipment id → how many of its documents still have their bytes."""
    if not shipment_ids:
        return {}
    query = (sa.select(_doc.c.shipment_id, sa.func.count()).where(_doc.c.shipment_id.in_(list(shipment_ids)),
                                                                  _doc.c.purged_at.is_(None)).group_by(_doc.c.shipment_id))
    with engine.connect() as conn:
        return {sid: int(n) for sid, n in conn.execute(query)}


def purge(conn: Connection, shipment_ids: Sequence[str], *, now: dt.datetime) -> dict[str, int]:
    """Mark the letters' documents purged and delete the database bytes nobody else uses, in
    ``conn``'s transaction; answers the freed digests (their files go after the commit)."""
    freed = freed_by(conn, shipment_ids)
    conn.execute(_doc.update().where(_doc.c.shipment_id.in_(list(shipment_ids)), _doc.c.purged_at.is_(None))
                 .values(purged_at=now))
    digests = sorted(freed)
    for start in range(0, len(digests), 500):
        some = digests[start:start + 500]
        conn.execute(_chunks.delete().where(_chunks.c.sha256.in_(some)))  # SQLite does not cascade by default
        conn.execute(_blobs.delete().where(_blobs.c.sha256.in_(some)))
    return freed


@dataclass(frozen=True, slots=True)
class PurgedLetter:
    shipment_id: str
    title: str
    documents: int
    bytes: int
    purged_at: dt.datetime


def recently_purged(engine: Engine, *, limit: int = 100, senders: Sequence[str] | None = None) -> list[PurgedLetter]:
    """The letters purged last, newest first: what the console shows."""
    query = (sa.select(_doc.c.shipment_id, _s.c.title, sa.func.count().label("n"), sa.func.sum(_doc.c.size).label("size"),
                       sa.func.max(_doc.c.purged_at).label("at"))
             .join(_s, _s.c.id == _doc.c.shipment_id).where(_doc.c.purged_at.is_not(None))
             .group_by(_doc.c.shipment_id, _s.c.title).order_by(sa.desc("at")).limit(limit))
    if senders is not None:
        query = query.where(_s.c.sender.in_(list(senders)))
    with engine.connect() as conn:
        return [PurgedLetter(r.shipment_id, r.title, int(r.n), int(r.size or 0), tables.as_utc(r.at)) for r in conn.execute(query)]


def purged_at(engine: Engine, sha256: str) -> dt.datetime | None:
    """When the bytes of ``sha256`` were purged: None while any letter's document keeps them."""
    query = sa.select(sa.func.max(_doc.c.purged_at), sa.func.count(), sa.func.count(_doc.c.purged_at)).where(_doc.c.sha256 == sha256)
    with engine.connect() as conn:
        row: Any = conn.execute(query).one()
    at, uses, purged = row
    return tables.as_utc(at) if uses and uses == purged else None


class _Files(Protocol):
    def path(self, sha256: str) -> Path: ...


def remove_files(files: _Files, digests: Iterable[str]) -> int:
    """Remove the blob files of freed digests (those kept in the database have none); answers how many."""
    removed = 0
    for sha256 in digests:
        try:
            files.path(sha256).unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as exc:  # the purge is committed; a file left behind is only space
            logger.warning("retention: could not remove the blob file of %s: %s", sha256, exc)
    return removed
