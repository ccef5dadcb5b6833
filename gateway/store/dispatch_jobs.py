"""Job states and the one way to put a job in the outbox (used inside other transactions)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from gateway.store import tables

PENDING, RUNNING, DONE, CANCELLED, DEAD = "pending", "running", "done", "cancelled", "dead"


_INSERT_JOB = tables.jobs.insert()


def enqueue(conn: Connection, *, kind: str, run_after: dt.datetime, shipment_id: str | None = None, channel: str | None = None) -> None:
    conn.execute(_INSERT_JOB, job_row(kind=kind, run_after=run_after, shipment_id=shipment_id, channel=channel))


def enqueue_many(conn: Connection, rows: list[dict[str, object]]) -> None:
    if rows:
        conn.execute(_INSERT_JOB, rows)


def job_row(*, kind: str, run_after: dt.datetime, shipment_id: str | None = None, channel: str | None = None) -> dict[str, object]:
    return dict(shipment_id=shipment_id, kind=kind, channel=channel, state=PENDING, attempts=0,
                run_after=run_after, created_at=run_after, updated_at=run_after)
