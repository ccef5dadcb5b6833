"""The job queue at a glance, for ``/metrics``: two grouped counts over the jobs table.

Both stay cheap as the table grows: finished and cancelled jobs (almost every row) are left
out through the ``(state, run_after)`` index, and the answer is a few rows per job kind.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.store import tables
from gateway.store.jobs import DEAD, PENDING, RUNNING
from gateway.store.tables import as_utc

_jobs = tables.jobs
#: The states :func:`queue_stats` reports: ``due`` and ``waiting`` split the pending jobs at now.
DUE, WAITING = "due", "waiting"

_BY_STATE = (sa.select(_jobs.c.kind, _jobs.c.state, sa.func.count())
             .where(_jobs.c.state.in_([PENDING, RUNNING, DEAD])).group_by(_jobs.c.kind, _jobs.c.state))
_DUE = (sa.select(_jobs.c.kind, sa.func.count(), sa.func.min(_jobs.c.run_after))
        .where(_jobs.c.state == PENDING, _jobs.c.run_after <= sa.bindparam("now")).group_by(_jobs.c.kind))


@dataclass(frozen=True, slots=True)
class QueueStats:
    #: (kind, state) → jobs, state one of due, waiting, running, dead
    jobs: dict[tuple[str, str], int]
    #: kind → when the oldest due job of that kind became due
    oldest_due: dict[str, dt.datetime]


def queue_stats(engine: Engine, *, now: dt.datetime) -> QueueStats:
    with engine.connect() as conn:
        by_state = conn.execute(_BY_STATE).all()
        due = conn.execute(_DUE, {"now": now}).all()
    jobs: dict[tuple[str, str], int] = {}
    for kind, state, count in by_state:
        jobs[(kind, WAITING if state == PENDING else state)] = count
    oldest = {}
    for kind, count, first in due:
        jobs[(kind, DUE)] = count
        jobs[(kind, WAITING)] = jobs.get((kind, WAITING), 0) - count
        oldest[kind] = as_utc(first)
    return QueueStats(jobs=jobs, oldest_due=oldest)
