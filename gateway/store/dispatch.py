"""The dispatch store: what workers claim, what they read, and :meth:`DispatchStore.apply`,
the one way a handled job's :class:`~gateway.store.outcome.Outcome` is written.

Callers never hold a connection. ``apply`` writes an outcome in one transaction (shared with
other workers' outcomes by group commit on SQLite) and checks the job's lease once, last:
a worker that lost its lease changes nothing.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, Engine

from gateway.store import alert_mail as _alert_mail
from gateway.metrics import Metrics
from gateway.store import deliveries as _deliveries
from gateway.store import health as _health
from gateway.store import jobs as _jobs
from gateway.store import registry as _registry
from gateway.store import retention as _retention
from gateway.store.blobs import FileBlobStore
from gateway.store import tables
from gateway.store.alert_mail import AlertRow
from gateway.store.deliveries import Delivery
from gateway.store.health import ChannelHealth
from gateway.store.jobs import Job, LeaseLost
from gateway.store.outcome import NewJob, Outcome, delivery_outcomes
from gateway.store.repository import append_event
from gateway.store.writer import writer_for

__all__ = ["AlertRow", "ChannelHealth", "Delivery", "DispatchStore", "Job", "LeaseLost"]

#: Channel health is read before every submit; a second-old view is good enough for a
#: circuit breaker and saves a query per letter. Applying a health change drops it at once.
_HEALTH_TTL = 1.0


class DispatchStore:
    def __init__(self, engine: Engine, *, metrics: Metrics | None = None, files: FileBlobStore | None = None) -> None:
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.files = files  # where purged documents' files are removed (None: rows only)
        self.writer = writer_for(engine)
        # PostgreSQL workers skip each other's locked rows instead of waiting on them
        self._due_first = _jobs.DUE_FIRST.with_for_update(skip_locked=True) if engine.dialect.name == "postgresql" else _jobs.DUE_FIRST
        self._health_cache: dict[str, tuple[float, ChannelHealth]] = {}

    # --- writing ---

    def apply(self, outcome: Outcome, job: Job | None = None) -> None:
        """Write ``outcome`` in one transaction; with ``job``, end it there too (or raise
        :class:`LeaseLost` and write nothing)."""
        if job is not None and outcome.job is None:
            raise ValueError(f"the outcome of job {job.id} ({job.kind}) says neither finish nor retry")

        freed: dict[str, int] = {}

        def work(conn: Connection) -> None:
            now = outcome.at
            if outcome.health is not None:
                _health.apply(conn, outcome.health, now=now)
            for shipment_id, event in outcome.events:
                append_event(conn, shipment_id, event)
            _deliveries.insert(conn, outcome.deliveries, now=now)
            for change in outcome.delivery_changes:
                _deliveries.change(conn, change)
            for cancel in outcome.cancel:
                _jobs.cancel(conn, cancel, now=now)
            for shipment_id in outcome.hasten:
                _jobs.hasten(conn, shipment_id, now=now)
            _jobs.enqueue(conn, outcome.jobs)
            _alert_mail.insert_alerts(conn, outcome.alerts, now=now)
            _alert_mail.apply(conn, outcome.mailed, now=now)
            for purge in outcome.purge:
                freed.update(_retention.purge(conn, purge.shipment_ids, now=now))
            if job is not None and outcome.job is not None:
                _jobs.end(conn, job, outcome.job, now=now)  # the lease, checked once

        try:
            self.writer.run(work)
        finally:
            if outcome.health is not None:
                self._health_cache.pop(outcome.health.channel, None)
        for channel, reached in delivery_outcomes(outcome):  # committed: counted
            self.metrics.deliveries.labels(channel, reached).inc()
        if self.files is not None and freed:  # only after the commit: see gateway.store.retention
            _retention.remove_files(self.files, freed)

    def ensure_job(self, job: NewJob) -> None:
        """Queue ``job`` unless one of its kind (for its channel, when it names one) is waiting
        or running: the periodic ones, which run once at a time however many workers start."""
        def work(conn: Connection) -> None:
            if conn.execute(_jobs.active(kinds=[job.kind], channel=job.channel).limit(1)).first() is None:
                _jobs.enqueue(conn, [job])

        self.writer.run(work)

    # --- jobs ---

    def claim(self, owner: str, *, now: dt.datetime, lease_seconds: float) -> Job | None:
        jobs = self.claim_many(owner, now=now, lease_seconds=lease_seconds, limit=1)
        return jobs[0] if jobs else None

    def claim_many(self, owner: str, *, now: dt.datetime, lease_seconds: float, limit: int) -> list[Job]:
        """Lease up to ``limit`` due jobs in one transaction (one commit for a handful of jobs)."""
        with self.engine.connect() as conn:  # idle workers look with a read, not the write lock
            if conn.scalar(_jobs.ANY_DUE, {"now": now}) is None:
                return []

        def work(conn: Connection) -> list[Job]:
            ids = list(conn.scalars(self._due_first, {"now": now, "limit": limit}))
            return _jobs.lease(conn, ids, owner, now=now, lease_seconds=lease_seconds) if ids else []

        return self.writer.run(work)

    def renew(self, job: Job, *, now: dt.datetime, lease_seconds: float) -> bool:
        """Extend ``job``'s lease before working on it; False when another worker has it now."""
        return self.writer.run(lambda conn: _jobs.renew(conn, job, now=now, lease_seconds=lease_seconds))

    def has_job(self, kind: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_jobs.active(kinds=[kind]).limit(1)).first() is not None

    def pending_jobs(self, shipment_id: str | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(_jobs.active(shipment_id=shipment_id))]

    def next_due(self) -> dt.datetime | None:
        with self.engine.connect() as conn:
            return _jobs.next_due(conn)

    # --- reading ---

    def deliveries(self, *, shipment_id: str | None = None, channel: str | None = None, open_only: bool = False,
                   references: Sequence[str] | None = None) -> list[Delivery]:
        """Deliveries, oldest first; ``references`` picks those the channel knows by these ids."""
        with self.engine.connect() as conn:
            rows = conn.execute(_deliveries.select(shipment_id=shipment_id, channel=channel, open_only=open_only,
                                                   references=references)).all()
        return [_deliveries.from_row(r) for r in rows]

    def health(self, channel: str, *, fresh: bool = False) -> ChannelHealth:
        cached = self._health_cache.get(channel)
        if cached is not None and not fresh and time.monotonic() - cached[0] < _HEALTH_TTL:
            return cached[1]
        with self.engine.connect() as conn:
            health = _health.read(conn, channel)
        self._health_cache[channel] = (time.monotonic(), health)
        return health

    def alerts(self, *, kind: str | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(tables.in_order(tables.alerts, kind=kind))]

    def alerts_waiting(self, *, limit: int) -> list[AlertRow]:
        """Alerts not mailed yet, oldest first."""
        with self.engine.connect() as conn:
            return _alert_mail.waiting(conn, limit=limit)

    def alerts_mailed_since(self, since: dt.datetime) -> list[AlertRow]:
        with self.engine.connect() as conn:
            return _alert_mail.mailed_since(conn, since)

    # --- recipient register ---

    def register_lookup(self, identifier: str) -> str | None:
        with self.engine.connect() as conn:
            return _registry.lookup(conn, identifier)

    def register_set(self, entries: Sequence[tuple[str, str, str]], *, now: dt.datetime) -> int:
        """Upsert (identifier, kind, status) rows; answers how many were written."""
        return self.writer.run(lambda conn: _registry.upsert(conn, entries, now=now))

    def register_delete(self, identifier: str) -> bool:
        return self.writer.run(lambda conn: _registry.delete(conn, identifier))

    def register_entries(self) -> list[tuple[str, str, str]]:
        with self.engine.connect() as conn:
            return _registry.entries(conn)

