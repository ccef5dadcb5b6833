"""Persistence for dispatch: the job outbox, deliveries, the recipient register, channel
health and alerts.

Jobs are claimed with a lease. On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so
worker processes never wait on each other; on SQLite the write lock serialises claims. A job
whose lease has expired (its worker died) is claimable again. A worker finishes a job only
while it still holds the lease, in the same transaction as the job's effects.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.delivery import Receipt
from gateway.model import Status
from gateway.store import tables as t
from gateway.store.dispatch_jobs import CANCELLED, DEAD, DONE, PENDING, RUNNING, enqueue
from gateway.store.tables import as_utc as _utc
from gateway.store.writer import writer_for

T = TypeVar("T")

__all__ = ["CANCELLED", "DEAD", "DONE", "PENDING", "RUNNING", "enqueue", "DispatchStore", "Job", "LeaseLost"]


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


@dataclass(frozen=True, slots=True)
class Delivery:
    shipment_id: str
    channel: str
    idempotency_key: str
    reference: str
    status: Status
    submitted_at: dt.datetime
    read_deadline: dt.datetime | None
    cost_estimate_ore: int | None
    cost_ore: int | None
    open: bool
    receipt: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    channel: str
    consecutive_failures: int = 0
    failing_since: dt.datetime | None = None
    open_until: dt.datetime | None = None
    last_error: str | None = None


_LEASED = sa.and_(t.jobs.c.id == sa.bindparam("job_id"), t.jobs.c.lease_owner == sa.bindparam("owner"), t.jobs.c.state == RUNNING)
# Built once: the finishing statements run for every letter.
_FINISH = t.jobs.update().where(_LEASED).values(
    state=sa.bindparam("new_state"), lease_owner=None, lease_expires=None,
    updated_at=sa.bindparam("now"), last_error=sa.bindparam("error"),
)
_INSERT_DELIVERY = t.deliveries.insert()
_HEALTH_TTL = 1.0


class DispatchStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer = writer_for(engine)
        self._postgres = engine.dialect.name == "postgresql"
        # Channel health is read before every submit; a second-old view is good enough for a
        # circuit breaker and saves a query per letter. Writes here refresh it at once.
        self._health_cache: dict[str, tuple[float, ChannelHealth]] = {}

    def transaction(self, work: Callable[[Connection], T]) -> T:
        return self.writer.run(work)

    # --- jobs ---

    def claim(self, owner: str, *, now: dt.datetime, lease_seconds: float) -> Job | None:
        jobs = self.claim_many(owner, now=now, lease_seconds=lease_seconds, limit=1)
        return jobs[0] if jobs else None

    def claim_many(self, owner: str, *, now: dt.datetime, lease_seconds: float, limit: int) -> list[Job]:
        """Lease up to ``limit`` due jobs in one transaction (one commit for a handful of jobs)."""
        due = sa.or_(
            sa.and_(t.jobs.c.state == PENDING, t.jobs.c.run_after <= now),
            sa.and_(t.jobs.c.state == RUNNING, t.jobs.c.lease_expires < now),
        )
        query = sa.select(t.jobs.c.id).where(due).order_by(t.jobs.c.run_after, t.jobs.c.id).limit(limit)
        with self.engine.connect() as conn:  # idle workers look with a read, not the write lock
            if conn.scalar(sa.select(t.jobs.c.id).where(due).limit(1)) is None:
                return []
        if self._postgres:
            query = query.with_for_update(skip_locked=True)

        def work(conn: Connection) -> list[Job]:
            ids = list(conn.scalars(query))
            if not ids:
                return []
            rows = conn.execute(
                t.jobs.update()
                .where(t.jobs.c.id.in_(ids))
                .values(
                    state=RUNNING, lease_owner=owner, lease_expires=now + dt.timedelta(seconds=lease_seconds), updated_at=now,
                    # taking over from a worker that died counts as an attempt: a job that kills
                    # its worker every time must end, not loop
                    attempts=sa.case((t.jobs.c.state == RUNNING, t.jobs.c.attempts + 1), else_=t.jobs.c.attempts),
                )
                .returning(t.jobs.c.id, t.jobs.c.shipment_id, t.jobs.c.kind, t.jobs.c.channel, t.jobs.c.attempts)
            ).all()
            return sorted(
                (Job(id=r.id, shipment_id=r.shipment_id, kind=r.kind, channel=r.channel, attempts=r.attempts, owner=owner) for r in rows),
                key=lambda j: ids.index(j.id),
            )

        return self.writer.run(work)

    def renew(self, job: Job, *, now: dt.datetime, lease_seconds: float) -> bool:
        """Extend ``job``'s lease before working on it; False when another worker has it now."""
        def work(conn: Connection) -> bool:
            return conn.execute(
                t.jobs.update()
                .where(t.jobs.c.id == job.id, t.jobs.c.lease_owner == job.owner, t.jobs.c.state == RUNNING)
                .values(lease_expires=now + dt.timedelta(seconds=lease_seconds), updated_at=now)
            ).rowcount == 1

        return self.writer.run(work)

    def convert(self, conn: Connection, job: Job, *, kind: str, channel: str | None, now: dt.datetime) -> Job:
        """Turn a leased job into another kind (a routed letter goes on to submit at once)."""
        updated = conn.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job.id, t.jobs.c.lease_owner == job.owner, t.jobs.c.state == RUNNING)
            .values(kind=kind, channel=channel, updated_at=now)
        ).rowcount
        if updated != 1:
            raise LeaseLost(f"job {job.id} is no longer leased to {job.owner}")
        return Job(id=job.id, shipment_id=job.shipment_id, kind=kind, channel=channel, attempts=job.attempts, owner=job.owner)

    def finish(self, conn: Connection, job: Job, *, now: dt.datetime, state: str = DONE, error: str | None = None) -> None:
        """Close ``job`` inside ``conn``'s transaction, or raise :class:`LeaseLost`."""
        updated = conn.execute(_FINISH, dict(job_id=job.id, owner=job.owner, new_state=state, now=now, error=error)).rowcount
        if updated != 1:
            raise LeaseLost(f"job {job.id} is no longer leased to {job.owner}")

    def retry_later(self, conn: Connection, job: Job, *, now: dt.datetime, run_after: dt.datetime, error: str, count_attempt: bool = True) -> None:
        updated = conn.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job.id, t.jobs.c.lease_owner == job.owner, t.jobs.c.state == RUNNING)
            .values(state=PENDING, lease_owner=None, lease_expires=None, run_after=run_after, updated_at=now,
                    last_error=error[:2000], attempts=t.jobs.c.attempts + (1 if count_attempt else 0))
        ).rowcount
        if updated != 1:
            raise LeaseLost(f"job {job.id} is no longer leased to {job.owner}")

    def cancel_jobs(self, conn: Connection, shipment_id: str, *, now: dt.datetime, kinds: Iterable[str] | None = None) -> None:
        query = t.jobs.update().where(t.jobs.c.shipment_id == shipment_id, t.jobs.c.state == PENDING)
        if kinds is not None:
            query = query.where(t.jobs.c.kind.in_(list(kinds)))
        conn.execute(query.values(state=CANCELLED, updated_at=now))

    def has_job(self, kind: str) -> bool:
        with self.engine.connect() as conn:
            return (conn.scalar(sa.select(sa.func.count()).select_from(t.jobs).where(t.jobs.c.kind == kind, t.jobs.c.state.in_([PENDING, RUNNING]))) or 0) > 0

    def pending_jobs(self, shipment_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(t.jobs).where(t.jobs.c.state.in_([PENDING, RUNNING])).order_by(t.jobs.c.id)
        if shipment_id is not None:
            query = query.where(t.jobs.c.shipment_id == shipment_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def next_due(self) -> dt.datetime | None:
        with self.engine.connect() as conn:
            value = conn.scalar(sa.select(sa.func.min(t.jobs.c.run_after)).where(t.jobs.c.state == PENDING))
        return _utc(value) if value else None

    # --- deliveries ---

    def add_delivery(self, conn: Connection, receipt: Receipt, *, now: dt.datetime, read_deadline: dt.datetime | None) -> None:
        conn.execute(
            _INSERT_DELIVERY,
            dict(shipment_id=receipt.shipment_id, channel=receipt.channel, idempotency_key=receipt.idempotency_key,
                 reference=receipt.reference, status=str(receipt.status), submitted_at=now, read_deadline=read_deadline,
                 cost_estimate_ore=receipt.cost_ore, cost_ore=None, open=True,
                 receipt={"detail": receipt.detail, "extra": dict(receipt.extra)}),
        )

    def update_delivery(self, conn: Connection, idempotency_key: str, *, status: Status | None = None,
                        open: bool | None = None, cost_ore: int | None = None) -> None:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = str(status)
        if open is not None:
            values["open"] = open
        if cost_ore is not None:
            values["cost_ore"] = cost_ore
        if values:
            conn.execute(t.deliveries.update().where(t.deliveries.c.idempotency_key == idempotency_key).values(**values))

    def deliveries(self, *, shipment_id: str | None = None, channel: str | None = None, open_only: bool = False) -> list[Delivery]:
        query = sa.select(t.deliveries).order_by(t.deliveries.c.id)
        if shipment_id is not None:
            query = query.where(t.deliveries.c.shipment_id == shipment_id)
        if channel is not None:
            query = query.where(t.deliveries.c.channel == channel)
        if open_only:
            query = query.where(t.deliveries.c.open.is_(True))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Delivery(shipment_id=r.shipment_id, channel=r.channel, idempotency_key=r.idempotency_key, reference=r.reference,
                     status=Status(r.status), submitted_at=_utc(r.submitted_at),
                     read_deadline=_utc(r.read_deadline) if r.read_deadline else None,
                     cost_estimate_ore=r.cost_estimate_ore, cost_ore=r.cost_ore, open=r.open, receipt=r.receipt)
            for r in rows
        ]

    # --- recipient register ---

    def register_lookup(self, identifier: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(t.registry.c.status).where(t.registry.c.identifier == identifier))

    def register_set(self, entries: Sequence[tuple[str, str, str]], *, now: dt.datetime) -> int:
        """Upsert (identifier, kind, status) rows; answers how many were written."""

        def work(conn: Connection) -> int:
            for identifier, kind, status in entries:
                updated = conn.execute(
                    t.registry.update().where(t.registry.c.identifier == identifier).values(kind=kind, status=status, updated_at=now)
                ).rowcount
                if not updated:
                    conn.execute(t.registry.insert(), dict(identifier=identifier, kind=kind, status=status, updated_at=now))
            return len(entries)

        return self.writer.run(work)

    def register_delete(self, identifier: str) -> bool:
        return bool(self.writer.run(lambda conn: conn.execute(t.registry.delete().where(t.registry.c.identifier == identifier)).rowcount))

    def register_entries(self) -> list[tuple[str, str, str]]:
        with self.engine.connect() as conn:
            return [(r.identifier, r.kind, r.status) for r in conn.execute(sa.select(t.registry).order_by(t.registry.c.identifier))]

    # --- channel health ---

    def health(self, channel: str, *, fresh: bool = False) -> ChannelHealth:
        cached = self._health_cache.get(channel)
        if cached is not None and not fresh and time.monotonic() - cached[0] < _HEALTH_TTL:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.channel_health).where(t.channel_health.c.channel == channel)).first()
        health = _health(channel, row)
        self._health_cache[channel] = (time.monotonic(), health)
        return health

    def record_success(self, conn: Connection, channel: str, *, known: ChannelHealth | None = None) -> None:
        if known is not None and known.consecutive_failures == 0 and known.failing_since is None:
            return  # nothing to reset
        conn.execute(
            t.channel_health.update().where(t.channel_health.c.channel == channel)
            .values(consecutive_failures=0, failing_since=None, open_until=None, last_error=None)
        )
        self._health_cache.pop(channel, None)

    def record_failure(self, conn: Connection, channel: str, *, now: dt.datetime, error: str,
                       threshold: int, open_seconds: float) -> ChannelHealth:
        row = conn.execute(sa.select(t.channel_health).where(t.channel_health.c.channel == channel)).first()
        current = _health(channel, row)
        failures = current.consecutive_failures + 1
        health = ChannelHealth(
            channel=channel,
            consecutive_failures=failures,
            failing_since=current.failing_since or now,
            open_until=now + dt.timedelta(seconds=open_seconds) if failures >= threshold else None,
            last_error=error[:2000],
        )
        values = dict(consecutive_failures=health.consecutive_failures, failing_since=health.failing_since,
                      open_until=health.open_until, last_error=health.last_error)
        if row is None:
            conn.execute(t.channel_health.insert(), dict(channel=channel, **values))
        else:
            conn.execute(t.channel_health.update().where(t.channel_health.c.channel == channel).values(**values))
        self._health_cache[channel] = (time.monotonic(), health)
        return health

    # --- alerts ---

    def alert(self, conn: Connection, *, kind: str, now: dt.datetime, detail: str, channel: str | None = None,
              shipment_id: str | None = None) -> None:
        conn.execute(t.alerts.insert(), dict(at=now, kind=kind, channel=channel, shipment_id=shipment_id, detail=detail))

    def alerts(self, *, kind: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(t.alerts).order_by(t.alerts.c.id)
        if kind is not None:
            query = query.where(t.alerts.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _health(channel: str, row: Any) -> ChannelHealth:
    if row is None:
        return ChannelHealth(channel=channel)
    return ChannelHealth(
        channel=channel,
        consecutive_failures=row.consecutive_failures,
        failing_since=_utc(row.failing_since) if row.failing_since else None,
        open_until=_utc(row.open_until) if row.open_until else None,
        last_error=row.last_error,
    )
