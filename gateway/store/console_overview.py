"""The numbers on the console's overview: letters and deliveries since a time, the job queue and
each channel's health (the read rate and why letters went to print are
:class:`gateway.store.statistics.Statistics`').

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
from gateway.store.statistics import PRINT, for_senders
from gateway.store.tables import as_utc

_s, _d, _j = tables.shipments, tables.deliveries, tables.jobs


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
        query = for_senders(sa.select(_d.c.channel, _d.c.status, sa.func.count()).where(_d.c.submitted_at >= since)
                            .group_by(_d.c.channel, _d.c.status), _d.c.shipment_id, senders)
        with self.engine.connect() as conn:
            return {(channel, status): int(n) for channel, status, n in conn.execute(query)}

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
