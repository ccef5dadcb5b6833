"""The job outbox: states, the lease, and the statements that move a job.

Jobs are claimed with a lease. On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so
worker processes never wait on each other; on SQLite the write lock serialises claims. A job
whose lease has expired (its worker died) is claimable again. A job is ended (finished, or
put back to wait) only by the worker that still holds its lease, in the same transaction as
the job's effects; :data:`_LEASED` is that condition, written once.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store import tables
from gateway.store.outcome import CancelJobs, Finish, JobEnd, NewJob, Retry
from gateway.store.tables import as_utc

PENDING, RUNNING, DONE, CANCELLED, DEAD = "pending", "running", "done", "cancelled", "dead"
_jobs = tables.jobs
#: Error texts kept on a job row (the full text is in the log).
MAX_ERROR = 2000
#: Jobs that report on a letter rather than move it (a status receipt to its archive): they
#: outlive the letter's end, so cancelling "all" of a letter's jobs leaves them waiting.
OUTLIVE_THE_LETTER = ("archive_receipt",)


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow); its effects are dropped."""


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    shipment_id: str | None
    kind: str
    channel: str | None
    attempts: int
    owner: str


_LEASED = sa.and_(_jobs.c.id == sa.bindparam("job_id"), _jobs.c.lease_owner == sa.bindparam("owner"), _jobs.c.state == RUNNING)
# Built once: they run for every letter.
_INSERT = _jobs.insert()
_FINISH = _jobs.update().where(_LEASED).values(
    state=sa.bindparam("new_state"), lease_owner=None, lease_expires=None,
    updated_at=sa.bindparam("now"), last_error=sa.bindparam("error"),
)
_RENEW = _jobs.update().where(_LEASED).values(lease_expires=sa.bindparam("expires"), updated_at=sa.bindparam("now"))
#: Waiting and due, or running under a lease that has expired (its worker died).
_DUE = sa.or_(
    sa.and_(_jobs.c.state == PENDING, _jobs.c.run_after <= sa.bindparam("now")),
    sa.and_(_jobs.c.state == RUNNING, _jobs.c.lease_expires < sa.bindparam("now")),
)
#: Whether anything is due (idle workers ask this with a read, not the write lock).
ANY_DUE = sa.select(_jobs.c.id).where(_DUE).limit(1)
#: The due jobs, oldest first (``limit`` of them); a claim locks them on PostgreSQL.
DUE_FIRST = sa.select(_jobs.c.id).where(_DUE).order_by(_jobs.c.run_after, _jobs.c.id).limit(sa.bindparam("limit"))
_LEASE = (
    _jobs.update()
    .where(_jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(
        state=RUNNING, lease_owner=sa.bindparam("owner"), lease_expires=sa.bindparam("expires"), updated_at=sa.bindparam("now"),
        # taking over from a worker that died counts as an attempt: a job that kills
        # its worker every time must end, not loop
        attempts=sa.case((_jobs.c.state == RUNNING, _jobs.c.attempts + 1), else_=_jobs.c.attempts),
    )
    .returning(_jobs.c.id, _jobs.c.shipment_id, _jobs.c.kind, _jobs.c.channel, _jobs.c.attempts)
)


def job_row(job: NewJob) -> dict[str, object]:
    return dict(shipment_id=job.shipment_id, kind=job.kind, channel=job.channel, state=PENDING, attempts=0,
                run_after=job.run_after, created_at=job.run_after, updated_at=job.run_after)


def enqueue(conn: Connection, jobs: Sequence[NewJob]) -> None:
    """Put ``jobs`` in the outbox inside ``conn``'s transaction."""
    if jobs:
        conn.execute(_INSERT, [job_row(job) for job in jobs])


def end(conn: Connection, job: Job, how: JobEnd, *, now: dt.datetime) -> None:
    """Finish ``job`` or put it back to wait, or raise :class:`LeaseLost` (rolling back the
    transaction and every effect written in it)."""
    keys = dict(job_id=job.id, owner=job.owner)
    if isinstance(how, Finish):
        updated = conn.execute(_FINISH, dict(keys, new_state=how.state, now=now, error=how.error)).rowcount
    else:
        values: dict[str, Any] = dict(
            state=PENDING, lease_owner=None, lease_expires=None, run_after=how.run_after, updated_at=now,
            last_error=how.error[:MAX_ERROR], attempts=_jobs.c.attempts + (1 if how.count_attempt else 0),
        )
        if how.kind is not None:
            values.update(kind=how.kind, channel=how.channel)
        updated = conn.execute(_jobs.update().where(_LEASED).values(**values), keys).rowcount
    if updated != 1:
        raise LeaseLost(f"job {job.id} is no longer leased to {job.owner}")


def renew(conn: Connection, job: Job, *, now: dt.datetime, lease_seconds: float) -> bool:
    expires = now + dt.timedelta(seconds=lease_seconds)
    return conn.execute(_RENEW, dict(job_id=job.id, owner=job.owner, expires=expires, now=now)).rowcount == 1


def cancel(conn: Connection, what: CancelJobs, *, now: dt.datetime) -> None:
    query = _jobs.update().where(_jobs.c.shipment_id == what.shipment_id, _jobs.c.state == PENDING)
    if what.kinds is not None:
        query = query.where(_jobs.c.kind.in_(list(what.kinds)))
    else:
        query = query.where(_jobs.c.kind.not_in(OUTLIVE_THE_LETTER))
    conn.execute(query.values(state=CANCELLED, updated_at=now))


def hasten(conn: Connection, shipment_id: str, *, now: dt.datetime) -> int:
    """The letter's waiting jobs that move it become due now (an operator's "retry now")."""
    query = _jobs.update().where(_jobs.c.shipment_id == shipment_id, _jobs.c.state == PENDING, _jobs.c.run_after > now,
                                 _jobs.c.kind.not_in(OUTLIVE_THE_LETTER))
    return int(conn.execute(query.values(run_after=now, updated_at=now)).rowcount)


def lease(conn: Connection, ids: list[int], owner: str, *, now: dt.datetime, lease_seconds: float) -> list[Job]:
    """Lease the jobs ``ids`` to ``owner``, in the order given."""
    expires = now + dt.timedelta(seconds=lease_seconds)
    rows = conn.execute(_LEASE, dict(ids=ids, owner=owner, expires=expires, now=now)).all()
    order = {job_id: index for index, job_id in enumerate(ids)}
    return sorted(
        (Job(id=r.id, shipment_id=r.shipment_id, kind=r.kind, channel=r.channel, attempts=r.attempts, owner=owner) for r in rows),
        key=lambda job: order[job.id],
    )


def active(kinds: Iterable[str] | None = None, shipment_id: str | None = None, channel: str | None = None) -> sa.Select[Any]:
    """Jobs still waiting or running, oldest first."""
    query = sa.select(_jobs).where(_jobs.c.state.in_([PENDING, RUNNING])).order_by(_jobs.c.id)
    if channel is not None:
        query = query.where(_jobs.c.channel == channel)
    if kinds is not None:
        query = query.where(_jobs.c.kind.in_(list(kinds)))
    if shipment_id is not None:
        query = query.where(_jobs.c.shipment_id == shipment_id)
    return query


def next_due(conn: Connection) -> dt.datetime | None:
    value = conn.scalar(sa.select(sa.func.min(_jobs.c.run_after)).where(_jobs.c.state == PENDING))
    return as_utc(value) if value else None
