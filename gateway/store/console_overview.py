"""The numbers on the console's overview: letters and deliveries since a time, the digital read
rate, the print share and why letters went to print, the job queue and each channel's health.

Each is one aggregate over an indexed range (``created_at``, ``submitted_at``, events by
``kind, at``, jobs by ``state, run_after``); ``senders`` narrows them to an operator's senders.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.store import tables
from gateway.store.jobs import DEAD, PENDING, RUNNING
from gateway.store.tables import as_utc

_s, _d, _e, _j = tables.shipments, tables.deliveries, tables.events, tables.jobs
PRINT = "print"
#: History events that send a letter to print: a digital channel's fallback, an operator's
#: "print now", and routing straight to print (no digital mailbox).
TO_PRINT_KINDS = ("fallback_print", "manual_print")
ROUTED = "routed"


def _of_senders(statement: sa.Select[Any], senders: tuple[str, ...] | None, shipment_id: sa.Column[Any]) -> sa.Select[Any]:
    if senders is None:
        return statement
    return statement.where(shipment_id.in_(sa.select(_s.c.id).where(_s.c.sender.in_(list(senders)))))


class OverviewReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def letters(self, since: dt.datetime, *, senders: tuple[str, ...] | None) -> dict[str, int]:
        """Letters received since ``since``, by current status."""
        query = sa.select(_s.c.status, sa.func.count()).where(_s.c.created_at >= since).group_by(_s.c.status)
        if senders is not None:
            query = query.where(_s.c.sender.in_(list(senders)))
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def deliveries(self, since: dt.datetime, *, senders: tuple[str, ...] | None) -> dict[tuple[str, str], int]:
        """Deliveries submitted since ``since``, by (channel, status)."""
        query = _of_senders(sa.select(_d.c.channel, _d.c.status, sa.func.count()).where(_d.c.submitted_at >= since)
                            .group_by(_d.c.channel, _d.c.status), senders, _d.c.shipment_id)
        with self.engine.connect() as conn:
            return {(channel, status): int(n) for channel, status, n in conn.execute(query)}

    def fallback_reasons(self, since: dt.datetime, *, senders: tuple[str, ...] | None, limit: int = 10) -> list[dict[str, Any]]:
        """Why letters went to print since ``since``: the events that sent them there, by kind,
        channel and text, most frequent first."""
        count = sa.func.count().label("letters")
        to_print = sa.or_(_e.c.kind.in_(TO_PRINT_KINDS), sa.and_(_e.c.kind == ROUTED, _e.c.channel == PRINT))
        query = _of_senders(sa.select(_e.c.kind, _e.c.channel, _e.c.detail, count).where(to_print, _e.c.at >= since)
                            .group_by(_e.c.kind, _e.c.channel, _e.c.detail).order_by(count.desc()).limit(limit),
                            senders, _e.c.shipment_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def queue(self, now: dt.datetime) -> dict[str, int]:
        """Jobs due now, waiting for later, running, and dead."""
        with self.engine.connect() as conn:
            return dict(
                due=_count(conn, _j.c.state == PENDING, _j.c.run_after <= now),
                waiting=_count(conn, _j.c.state == PENDING, _j.c.run_after > now),
                running=_count(conn, _j.c.state == RUNNING),
                dead=_count(conn, _j.c.state == DEAD),
            )

    def channel_health(self) -> list[dict[str, Any]]:
        query = sa.select(tables.channel_health).order_by(tables.channel_health.c.channel)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            for key in ("failing_since", "open_until"):
                row[key] = as_utc(row[key]) if row[key] else None
        return rows


def _count(conn: Connection, *conditions: sa.ColumnElement[bool]) -> int:
    return int(conn.scalar(sa.select(sa.func.count()).select_from(_j).where(*conditions)) or 0)
