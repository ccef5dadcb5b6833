"""The alerts' mail: which alerts wait to be mailed, which were mailed lately (for the dedupe
window and the digest interval), and writing what became of a mail
(:class:`~gateway.store.outcome.AlertsMailed`) in the transaction of the job's outcome.

``mail_state`` is NULL while an alert waits; a failed mail leaves it NULL with one more
``mail_attempts`` and ``mail_after`` set, so no alert is ever dropped.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store import tables
from gateway.store.outcome import Alert, AlertsMailed
from gateway.store.tables import as_utc

SENT, DUPLICATE, NOBODY = "sent", "duplicate", "nobody"
MAX_ERROR = 2000
_alerts = tables.alerts
_INSERT = _alerts.insert()
_COLUMNS = (_alerts.c.id, _alerts.c.at, _alerts.c.kind, _alerts.c.channel, _alerts.c.shipment_id, _alerts.c.detail,
            _alerts.c.mail_attempts, _alerts.c.mail_after, _alerts.c.mailed_at)


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    at: dt.datetime
    kind: str
    channel: str | None
    shipment_id: str | None
    detail: str
    mail_attempts: int = 0
    mail_after: dt.datetime | None = None
    mailed_at: dt.datetime | None = None


def _row(r: Any) -> AlertRow:
    return AlertRow(id=r.id, at=as_utc(r.at), kind=r.kind, channel=r.channel, shipment_id=r.shipment_id, detail=r.detail,
                    mail_attempts=r.mail_attempts, mail_after=as_utc(r.mail_after) if r.mail_after else None,
                    mailed_at=as_utc(r.mailed_at) if r.mailed_at else None)


def insert_alerts(conn: Connection, alerts: Iterable[Alert], *, now: dt.datetime) -> None:
    """Raise ``alerts`` (waiting to be mailed) inside ``conn``'s transaction."""
    rows = [dict(at=now, kind=a.kind, channel=a.channel, shipment_id=a.shipment_id, detail=a.detail) for a in alerts]
    if rows:
        conn.execute(_INSERT, rows)


def waiting(conn: Connection, *, limit: int) -> list[AlertRow]:
    """Alerts not yet mailed, oldest first."""
    query = sa.select(*_COLUMNS).where(_alerts.c.mail_state.is_(None)).order_by(_alerts.c.id).limit(limit)
    return [_row(r) for r in conn.execute(query)]


def mailed_since(conn: Connection, since: dt.datetime) -> list[AlertRow]:
    """Alerts that went out in a mail at or after ``since``."""
    query = sa.select(*_COLUMNS).where(_alerts.c.mail_state == SENT, _alerts.c.mailed_at >= since).order_by(_alerts.c.id)
    return [_row(r) for r in conn.execute(query)]


def apply(conn: Connection, results: Iterable[AlertsMailed], *, now: dt.datetime) -> None:
    for result in results:
        if not result.ids:
            continue
        which = _alerts.c.id.in_(list(result.ids)) & _alerts.c.mail_state.is_(None)
        if result.state is not None:
            conn.execute(_alerts.update().where(which).values(mail_state=result.state, mailed_at=now, mail_error=None))
        else:
            conn.execute(_alerts.update().where(which).values(
                mail_attempts=_alerts.c.mail_attempts + 1, mail_after=result.retry_after, mail_error=result.error[:MAX_ERROR]))
