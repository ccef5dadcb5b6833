"""Reads and writes of shipments, documents, events, reservations and audit records.

Every write is one transaction. A shipment, its documents and its first events are
inserted together, so a reader never sees a half-accepted shipment.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from gateway.errors import FaultCode, StorageError
from gateway.model import FINAL_STATUSES, Event, Shipment, Status, utcnow
from gateway.stored_form import from_data, to_data
from gateway.store import tables
from gateway.store.document_rows import StagedDocument, insert_documents
from gateway.store.jobs import enqueue
from gateway.store.alert_mail import insert_alerts
from gateway.store.outcome import Alert, NewJob
from gateway.store.writer import writer_for


# Built once: constructing statements per call is a measurable share of an intake.
_INSERT_SHIPMENT = tables.shipments.insert()
_INSERT_DOCUMENT = tables.documents.insert()
_INSERT_EVENT = tables.events.insert()
_IDENTITY = sa.select(tables.shipments.c.sender, tables.shipments.c.content_sha256, tables.shipments.c.status).where(
    tables.shipments.c.id == sa.bindparam("id"))
#: Ids per ``IN (...)`` in a lookup by a caller's list of ids: far below every driver's
#: bind-parameter limit, and large enough that a full call (``intake.max_ids_per_call``)
#: takes a couple of round trips.
IDS_PER_QUERY = 500
_STATUSES = sa.select(tables.shipments.c.id, tables.shipments.c.sender, tables.shipments.c.status, tables.shipments.c.status_changed_at).where(
    tables.shipments.c.id.in_(sa.bindparam("ids", expanding=True)))

logger = logging.getLogger(__name__)


class IdTaken(Exception):
    """The shipment id is already used."""


@dataclass(frozen=True, slots=True)
class Identity:
    sender: str
    content_sha256: str
    status: Status


@dataclass(frozen=True, slots=True)
class StoredShipment:
    shipment: Shipment
    status: Status
    content_sha256: str
    created_at: dt.datetime
    status_changed_at: dt.datetime


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer_for(engine)

    # --- writes ---

    def insert_shipment(
        self, shipment: Shipment, *, content_sha256: str, events: Sequence[Event], reserved: bool = False,
        dispatch: bool = True, documents: Sequence[StagedDocument] = (),
    ) -> None:
        """Insert the shipment with its documents and events; :class:`IdTaken` on a used id.

        ``reserved``: the id came from :meth:`reserve_id`, whose reservation is consumed.
        ``dispatch``: also put a routing job in the outbox, in the same transaction, so an
        accepted shipment is never forgotten by dispatch. ``documents``: documents kept in the
        database (:meth:`DocumentStore.stage`), committed with the shipment.
        """
        now = events[-1].at if events else utcnow()
        status = next((e.status for e in reversed(events) if e.status is not None), Status.RECEIVED)
        row = dict(
            id=shipment.id,
            sender=shipment.sender,
            status=str(status),
            title=shipment.title,
            external_ref=shipment.external_ref,
            content_sha256=content_sha256,
            data=to_data(shipment),
            created_at=now,
            status_changed_at=now,
            **search_columns(shipment),
        )
        document_rows = [
            dict(
                shipment_id=shipment.id,
                position=i,
                filename=d.filename,
                media_type=d.media_type,
                size=d.size,
                sha256=d.sha256,
                page_count=d.page_count,
                exclude_from_print=d.exclude_from_print,
            )
            for i, d in enumerate(shipment.documents)
        ]

        def work(conn: Connection) -> None:
            insert_documents(conn, documents)
            conn.execute(_INSERT_SHIPMENT, row)
            if document_rows:
                conn.execute(_INSERT_DOCUMENT, document_rows)
            insert_events(conn, shipment.id, events)
            if reserved:
                conn.execute(tables.reserved_ids.delete().where(tables.reserved_ids.c.id == shipment.id))
            if dispatch:
                enqueue(conn, [NewJob(kind="route", run_after=now, shipment_id=shipment.id)])

        try:
            self._writer.run(work)
        except IntegrityError as exc:
            if self._exists(shipment.id):
                raise IdTaken(shipment.id) from exc
            logger.error("storing shipment %s failed: %s", shipment.id, exc.orig)
            raise StorageError("the shipment could not be stored; the gateway's log has the details",
                               code=FaultCode.STORAGE_UNAVAILABLE) from exc
        except (OperationalError, DBAPIError) as exc:
            logger.error("database unavailable while storing shipment %s: %s", shipment.id, getattr(exc, "orig", exc))
            raise StorageError("the database is not available; nothing was accepted, try again",
                               code=FaultCode.STORAGE_UNAVAILABLE) from exc

    def record_event(self, shipment_id: str, event: Event) -> None:
        """Append ``event``; when it carries a status, that becomes the current status."""
        self._writer.run(lambda conn: append_event(conn, shipment_id, event))

    def reserve_id(self, shipment_id: str, sender: str) -> None:
        row = dict(id=shipment_id, sender=sender, reserved_at=utcnow())
        self._writer.run(lambda conn: conn.execute(tables.reserved_ids.insert(), row))

    def audit(
        self,
        *,
        operation: str,
        outcome: str,
        sender: str | None,
        detail: str,
        field: str | None = None,
        shipment_id: str | None = None,
        alert: Alert | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        """One audit record, and ``alert`` (an operator must hear of it) in the same transaction."""
        now = at or utcnow()
        row = dict(at=now, sender=sender, operation=operation, outcome=outcome, field=field, shipment_id=shipment_id, detail=detail)

        def work(conn: Connection) -> None:
            conn.execute(tables.audit_events.insert(), row)
            insert_alerts(conn, [alert] if alert else [], now=now)

        self._writer.run(work)

    # --- reads ---

    def reservation_sender(self, shipment_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(tables.reserved_ids.c.sender).where(tables.reserved_ids.c.id == shipment_id))

    def get(self, shipment_id: str) -> StoredShipment | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tables.shipments).where(tables.shipments.c.id == shipment_id)).first()
        if row is None:
            return None
        return StoredShipment(
            shipment=from_data(Shipment, row.data),
            status=Status(row.status),
            content_sha256=row.content_sha256,
            created_at=tables.as_utc(row.created_at),
            status_changed_at=tables.as_utc(row.status_changed_at),
        )

    def identity(self, shipment_id: str) -> Identity | None:
        """Owner, content digest and status without loading the shipment: what a repeat check needs."""
        with self.engine.connect() as conn:
            row = conn.execute(_IDENTITY, {"id": shipment_id}).first()
        return Identity(row.sender, row.content_sha256, Status(row.status)) if row else None

    def sender_of(self, shipment_id: str) -> str | None:
        """The sender that owns the shipment (None: no such shipment)."""
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(tables.shipments.c.sender).where(tables.shipments.c.id == shipment_id))

    def statuses(self, shipment_ids: Iterable[str]) -> dict[str, tuple[str, Status, dt.datetime]]:
        """id → (sender, status, status_changed_at) for the ids that exist.

        The ids go in chunks of :data:`IDS_PER_QUERY`: one ``IN`` with every id would need a
        bind parameter each, and psycopg refuses more than 65,535 (SQLite 32,766).
        """
        ids = list(dict.fromkeys(shipment_ids))
        found: dict[str, tuple[str, Status, dt.datetime]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IDS_PER_QUERY):
                rows = conn.execute(_STATUSES, {"ids": ids[start:start + IDS_PER_QUERY]}).all()
                found.update((r.id, (r.sender, Status(r.status), tables.as_utc(r.status_changed_at))) for r in rows)
        return found

    def ids_by_external_ref(self, sender: str, external_ref: str) -> list[str]:
        query = (
            sa.select(tables.shipments.c.id)
            .where(tables.shipments.c.sender == sender, tables.shipments.c.external_ref == external_ref)
            .order_by(tables.shipments.c.created_at, tables.shipments.c.id)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def events(self, shipment_id: str) -> list[Event]:
        query = sa.select(tables.events).where(tables.events.c.shipment_id == shipment_id).order_by(tables.events.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Event(
                at=tables.as_utc(r.at),
                kind=r.kind,
                status=Status(r.status) if r.status else None,
                channel=r.channel,
                detail=r.detail,
            )
            for r in rows
        ]

    def audit_records(self, *, sender: str | None = None) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(tables.in_order(tables.audit_events, sender=sender))]

    def count_shipments(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(tables.shipments)) or 0)

    # --- helpers ---

    def _exists(self, shipment_id: str) -> bool:
        return self.sender_of(shipment_id) is not None



def search_columns(shipment: Shipment) -> dict[str, object]:
    """What the console searches a letter by (migration 0006 fills them for older rows)."""
    filing = shipment.case_metadata or shipment.import_metadata
    recipient = shipment.recipient
    name = recipient.name or (recipient.address.name if recipient.address else None)
    return dict(
        case_year=filing.case_year if filing else None,
        case_sequence_number=filing.case_sequence_number if filing else None,
        document_number=shipment.case_metadata.journal_entry_number if shipment.case_metadata else None,
        recipient_identifier=recipient.identifier[:64] if recipient.identifier else None,
        recipient_name_key=name.lower()[:200] if name else None,
        title_key=shipment.title.lower()[:200],
    )


def append_event(conn: Connection, shipment_id: str, event: Event) -> None:
    """Append ``event`` inside ``conn``'s transaction; a status on it becomes the current status."""
    insert_events(conn, shipment_id, [event])
    if event.status is not None:
        # a final status sticks: a stop or a read that raced a running job is not overwritten
        conn.execute(
            tables.shipments.update()
            .where(tables.shipments.c.id == shipment_id, tables.shipments.c.status.not_in([str(s) for s in FINAL_STATUSES]))
            .values(status=str(event.status), status_changed_at=event.at)
        )


def insert_events(conn: Connection, shipment_id: str, events: Sequence[Event]) -> None:
    if events:
        conn.execute(
            _INSERT_EVENT,
            [
                dict(
                    shipment_id=shipment_id,
                    at=e.at.astimezone(dt.timezone.utc),  # SQLite keeps no zone: a +01:00 time would read back an hour off
                    kind=e.kind,
                    status=str(e.status) if e.status else None,
                    channel=e.channel,
                    detail=e.detail,
                )
                for e in events
            ],
        )
