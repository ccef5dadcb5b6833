"""What the reports read: every letter of a period with its history and deliveries, and the
print costs of a period, streamed in batches so memory stays the same whatever the number of
letters.

Letters are read by keyset pages (``(created_at, id)`` after the last one seen, on the index
of migration 0008), each page on a connection of its own, with its events and deliveries
fetched for the page's ids. A server-side cursor would do the same in one query, but would hold
one transaction (a PostgreSQL snapshot, SQLite's read lock) open for the minutes a 100,000-letter
report takes; pages hold nothing between them. A letter that comes in during the report and
sorts after the last page read is included; nothing is read twice.

Only the parts of the stored shipment a report shows are extracted from its JSON in the query
(the case metadata, the recipient's kind, the cost code), not whole shipments.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.store import tables
from gateway.store.tables import as_utc

#: Letters per page: their events and deliveries are one ``IN`` query each.
PAGE_SIZE = 500

_s, _e, _d = tables.shipments, tables.events, tables.deliveries


@dataclass(frozen=True, slots=True)
class LetterEvent:
    at: dt.datetime
    kind: str
    status: str | None
    channel: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class LetterDelivery:
    channel: str
    reference: str
    status: str
    submitted_at: dt.datetime
    cost_ore: int | None  # what was charged; None until the channel says (an estimate may be known)
    cost_estimate_ore: int | None
    production_cost_ore: int | None  # the print house's split of cost_ore, where it gives one
    postage_ore: int | None
    sheets: int | None


@dataclass(frozen=True, slots=True)
class LetterRecord:
    """One letter as the per-letter report shows it; times are UTC."""

    id: str
    sender: str
    title: str
    external_ref: str | None
    status: str
    created_at: dt.datetime
    status_changed_at: dt.datetime
    recipient_kind: str | None
    cost_code: str | None
    case_metadata: dict[str, Any] | None  # the stored form of CaseMetadata
    events: tuple[LetterEvent, ...]
    deliveries: tuple[LetterDelivery, ...]


@dataclass(frozen=True, slots=True)
class CostLine:
    """One charged delivery: who sent it, on which cost code, when, and what it cost."""

    sender: str
    cost_code: str | None
    at: dt.datetime  # when the letter was handed to the channel (UTC)
    channel: str
    production_ore: int
    postage_ore: int
    sheets: int


def _in_period(column: sa.ColumnElement[Any], start: dt.datetime, end: dt.datetime) -> sa.ColumnElement[bool]:
    # SQLite stores times without their zone: bind UTC, as they were written
    return sa.and_(column >= start.astimezone(dt.timezone.utc), column < end.astimezone(dt.timezone.utc))


def _letters_query(start: dt.datetime, end: dt.datetime, senders: Sequence[str] | None) -> sa.Select[Any]:
    query = sa.select(
        _s.c.id, _s.c.sender, _s.c.title, _s.c.external_ref, _s.c.status, _s.c.created_at, _s.c.status_changed_at,
        _s.c.data["case_metadata"].label("case_metadata"),
        _s.c.data[("recipient", "kind")].as_string().label("recipient_kind"),
        _s.c.data["cost_code"].as_string().label("cost_code"),
    ).where(_in_period(_s.c.created_at, start, end))
    if senders is not None:
        query = query.where(_s.c.sender.in_(list(senders)))
    return query


def count_letters(engine: Engine, *, start: dt.datetime, end: dt.datetime, senders: Sequence[str] | None = None) -> int:
    """How many letters :func:`letter_records` will answer (for a progress bar)."""
    query = sa.select(sa.func.count()).select_from(_s).where(_in_period(_s.c.created_at, start, end))
    if senders is not None:
        query = query.where(_s.c.sender.in_(list(senders)))
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def letter_records(engine: Engine, *, start: dt.datetime, end: dt.datetime, senders: Sequence[str] | None = None,
                   page_size: int = PAGE_SIZE) -> Iterator[LetterRecord]:
    """The letters that came in from ``start`` up to ``end`` (of ``senders``: all when None),
    oldest first, each with its events and deliveries in the order written."""
    base = _letters_query(start, end, senders).order_by(_s.c.created_at, _s.c.id).limit(page_size)
    after: tuple[dt.datetime, str] | None = None
    while True:
        query = base if after is None else base.where(sa.tuple_(_s.c.created_at, _s.c.id) > sa.tuple_(*after))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return
            ids = [r.id for r in rows]
            events = _grouped(conn.execute(sa.select(_e).where(_e.c.shipment_id.in_(ids)).order_by(_e.c.id)), _event)
            deliveries = _grouped(conn.execute(sa.select(_d).where(_d.c.shipment_id.in_(ids)).order_by(_d.c.id)), _delivery)
        for r in rows:
            yield LetterRecord(
                id=r.id, sender=r.sender, title=r.title, external_ref=r.external_ref, status=r.status,
                created_at=as_utc(r.created_at), status_changed_at=as_utc(r.status_changed_at),
                recipient_kind=r.recipient_kind, cost_code=r.cost_code or None,
                case_metadata=r.case_metadata if isinstance(r.case_metadata, dict) else None,
                events=tuple(events.get(r.id, ())), deliveries=tuple(deliveries.get(r.id, ())))
        last = rows[-1]
        # the keyset in the form it was stored: SQLite compares naive UTC text
        after = (last.created_at, last.id)
        if len(rows) < page_size:
            return


def _grouped(rows: Any, make: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in rows:
        out.setdefault(r.shipment_id, []).append(make(r))
    return out


def _event(r: Any) -> LetterEvent:
    return LetterEvent(at=as_utc(r.at), kind=r.kind, status=r.status, channel=r.channel, detail=r.detail)


def _delivery(r: Any) -> LetterDelivery:
    return LetterDelivery(channel=r.channel, reference=r.reference, status=r.status, submitted_at=as_utc(r.submitted_at),
                          cost_ore=r.cost_ore, cost_estimate_ore=r.cost_estimate_ore,
                          production_cost_ore=r.production_cost_ore, postage_ore=r.postage_ore, sheets=r.sheets)


def cost_lines(engine: Engine, *, start: dt.datetime, end: dt.datetime, senders: Sequence[str] | None = None,
               page_size: int = 5000) -> Iterator[CostLine]:
    """Every delivery with a charged cost handed to its channel from ``start`` up to ``end``.

    Where the channel gave no split (Digipost's print service charges one price) the whole cost
    is production cost and postage is 0; sheets then come from the channel's own count."""
    query = (sa.select(_d.c.id, _d.c.channel, _d.c.submitted_at, _d.c.cost_ore, _d.c.production_cost_ore, _d.c.postage_ore,
                       _d.c.sheets, _d.c.receipt, _s.c.sender, _s.c.data["cost_code"].as_string().label("cost_code"))
             .join(_s, _s.c.id == _d.c.shipment_id)
             .where(_d.c.cost_ore.is_not(None), _in_period(_d.c.submitted_at, start, end))
             .order_by(_d.c.id).limit(page_size))
    if senders is not None:
        query = query.where(_s.c.sender.in_(list(senders)))
    after = None
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query if after is None else query.where(_d.c.id > after)).all()
        for r in rows:
            production = r.production_cost_ore if r.production_cost_ore is not None else r.cost_ore
            sheets = r.sheets if r.sheets is not None else _int((r.receipt or {}).get("extra", {}).get("sheets"))
            yield CostLine(sender=r.sender, cost_code=r.cost_code or None, at=as_utc(r.submitted_at), channel=r.channel,
                           production_ore=production, postage_ore=r.postage_ore or 0, sheets=sheets)
        if len(rows) < page_size:
            return
        after = rows[-1].id


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
