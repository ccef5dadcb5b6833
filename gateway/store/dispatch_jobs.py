"""Job states and the one way to put a job in the outbox (used inside other transactions)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from gateway.store import tables as t

PENDING, RUNNING, DONE, CANCELLED, DEAD = "pending", "running", "done", "cancelled", "dead"


def enqueue(conn: Connection, *, kind: str, run_after: dt.datetime, shipment_id: str | None = None, channel: str | None = None) -> None:
    conn.execute(
        t.jobs.insert(),
        dict(shipment_id=shipment_id, kind=kind, channel=channel, state=PENDING, attempts=0,
             run_after=run_after, created_at=run_after, updated_at=run_after),
    )
