"""Alerts as operators see and acknowledge them, and the audit of who did what.

The audit has one row per act: a sender system's SOAP calls (``sender``, written by the SOAP
layer) and an operator's console acts (``actor``): logins and failed logins, letters viewed,
documents downloaded, letters stopped, sent to print or retried, alerts acknowledged, exports.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.store import tables
from gateway.store.tables import by_key
from gateway.store.writer import writer_for

_a, _audit, _s = tables.alerts, tables.audit_events, tables.shipments


def _seen(*, open_only: bool, senders: tuple[str, ...] | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [_a.c.acknowledged_at.is_(None)] if open_only else []
    if senders is not None:
        conditions.append(sa.or_(_a.c.shipment_id.is_(None),
                                 _a.c.shipment_id.in_(sa.select(_s.c.id).where(_s.c.sender.in_(list(senders))))))
    return conditions


class ConsoleLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer_for(engine)

    # --- alerts ---

    def alerts(self, *, open_only: bool, senders: tuple[str, ...] | None, limit: int) -> list[dict[str, Any]]:
        """Alerts, newest first; an operator limited to some senders sees those about their letters
        and those about no letter (a channel down)."""
        query = sa.select(_a).where(*_seen(open_only=open_only, senders=senders)).order_by(_a.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def open_alerts(self, *, senders: tuple[str, ...] | None) -> int:
        query = sa.select(sa.func.count()).select_from(_a).where(*_seen(open_only=True, senders=senders))
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_a).where(_a.c.id == alert_id)).first()
        return dict(row._mapping) if row else None

    def acknowledge(self, alert_id: int, *, by: str, note: str, now: dt.datetime) -> bool:
        """Acknowledge an open alert; False when it was acknowledged already (or does not exist)."""
        statement = (_a.update().where(_a.c.id == alert_id, _a.c.acknowledged_at.is_(None))
                     .values(acknowledged_at=now, acknowledged_by=by, acknowledge_note=note))
        return bool(self._writer.run(lambda conn: conn.execute(statement).rowcount) == 1)

    # --- audit ---

    def record(self, *, actor: str | None, operation: str, outcome: str, now: dt.datetime, detail: str = "",
               shipment_id: str | None = None, client: str | None = None) -> None:
        row = dict(at=now, actor=actor, sender=None, operation=operation, outcome=outcome, shipment_id=shipment_id,
                   detail=detail, field=None, client=(client or "")[:64] or None)
        self._writer.run(lambda conn: conn.execute(_audit.insert(), row))

    def audit(self, *, limit: int, before_id: int | None = None, actor: str | None = None,
              shipment_id: str | None = None, senders: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Audit rows, newest first (``before_id``: the next page); with ``senders``, none about
        another sender's letters or calls (rows about no letter and no sender, as logins, stay)."""
        query = sa.select(*by_key(_audit)).order_by(_audit.c.id.desc()).limit(limit)
        if senders is not None:
            query = query.where(sa.or_(
                _audit.c.shipment_id.in_(sa.select(_s.c.id).where(_s.c.sender.in_(list(senders)))),
                sa.and_(_audit.c.shipment_id.is_(None), sa.or_(_audit.c.sender.is_(None), _audit.c.sender.in_(list(senders))))))
        if before_id is not None:
            query = query.where(_audit.c.id < before_id)
        if actor:
            query = query.where(sa.or_(_audit.c.actor == actor, _audit.c.sender == actor))
        if shipment_id:
            query = query.where(_audit.c.shipment_id == shipment_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
