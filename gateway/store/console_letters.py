"""The console's letter search and a letter's rows beyond what the repository reads.

Every filter uses an index (migration 0006): exact matches on id, external reference, case
and document number and recipient identifier; prefix matches (``LIKE 'x%'`` on lower-case
keys, ``text_pattern_ops`` on PostgreSQL) on the recipient's name and the title; a range on
``created_at``. Pages are keyset pages, newest first: the next page starts below the last
row's (``created_at``, ``id``), so page 1,000 costs what page 1 costs.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.store import tables
from gateway.store.tables import as_utc

_s = tables.shipments
_LISTED = (_s.c.id, _s.c.sender.label("sender"), _s.c.status, _s.c.title, _s.c.external_ref, _s.c.created_at, _s.c.status_changed_at,
           _s.c.case_year, _s.c.case_sequence_number, _s.c.document_number, _s.c.recipient_identifier)


@dataclass(frozen=True, slots=True)
class LetterQuery:
    """What to search for; None or empty: any."""

    shipment_id: str | None = None
    external_ref: str | None = None
    case_year: int | None = None
    case_sequence_number: int | None = None
    document_number: int | None = None
    sender: str | None = None
    recipient_identifier: str | None = None
    recipient_name: str | None = None  # a prefix, any case
    title: str | None = None  # a prefix, any case
    status: str | None = None
    created_from: dt.datetime | None = None
    created_before: dt.datetime | None = None
    #: Only these senders' letters (an operator limited to some); None: every sender's.
    senders: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class LetterPage:
    rows: list[dict[str, Any]]
    #: Where the next page starts (the last row's created_at and id), or None: this is the last.
    after: tuple[dt.datetime, str] | None


def _prefix(column: sa.Column[Any], text: str) -> sa.ColumnElement[bool]:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped + "%", escape="\\")


def where(query: LetterQuery) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``query`` over ``shipments``."""
    exact: list[tuple[sa.Column[Any], object]] = [
        (_s.c.id, query.shipment_id), (_s.c.external_ref, query.external_ref), (_s.c.case_year, query.case_year),
        (_s.c.case_sequence_number, query.case_sequence_number), (_s.c.document_number, query.document_number),
        (_s.c.sender, query.sender), (_s.c.recipient_identifier, query.recipient_identifier), (_s.c.status, query.status),
    ]
    conditions = [column == value for column, value in exact if value not in (None, "")]
    if query.recipient_name:
        conditions.append(_prefix(_s.c.recipient_name_key, query.recipient_name))
    if query.title:
        conditions.append(_prefix(_s.c.title_key, query.title))
    if query.created_from is not None:
        conditions.append(_s.c.created_at >= query.created_from)
    if query.created_before is not None:
        conditions.append(_s.c.created_at < query.created_before)
    if query.senders is not None:
        conditions.append(_s.c.sender.in_(list(query.senders)))
    return conditions


class LetterReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def search(self, query: LetterQuery, *, limit: int, after: tuple[dt.datetime, str] | None = None) -> LetterPage:
        statement = sa.select(*_LISTED).where(*where(query))
        if after is not None:
            statement = statement.where(sa.or_(_s.c.created_at < after[0], sa.and_(_s.c.created_at == after[0], _s.c.id < after[1])))
        statement = statement.order_by(_s.c.created_at.desc(), _s.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(statement)]
        for row in rows:
            row["created_at"], row["status_changed_at"] = as_utc(row["created_at"]), as_utc(row["status_changed_at"])
        more = len(rows) > limit
        rows = rows[:limit]
        return LetterPage(rows=rows, after=(rows[-1]["created_at"], rows[-1]["id"]) if more else None)

    def jobs(self, shipment_id: str) -> list[dict[str, Any]]:
        """Every job of the letter (done, dead and cancelled ones too), oldest first."""
        query = sa.select(tables.jobs).where(tables.jobs.c.shipment_id == shipment_id).order_by(tables.jobs.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def alerts(self, shipment_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(tables.in_order(tables.alerts, shipment_id=shipment_id))]

    def senders_of(self, shipment_ids: Sequence[str]) -> dict[str, str]:
        if not shipment_ids:
            return {}
        query = sa.select(_s.c.id, _s.c.sender).where(_s.c.id.in_(list(shipment_ids)))
        with self.engine.connect() as conn:
            return {r.id: r.sender for r in conn.execute(query)}


__all__ = ["LetterPage", "LetterQuery", "LetterReader", "where"]
