"""Channel health: the circuit breaker's state per channel.

:meth:`ChannelHealth.failed` is the one rule for what a failure does; the dispatcher uses it
to foresee the breaker (to decide at once between retry and fallback) and the store uses it
to write the row, so the two cannot disagree.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store import tables
from gateway.store.outcome import ChannelFailed, ChannelSucceeded, HealthChange
from gateway.store.tables import as_utc

_health = tables.channel_health
MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    channel: str
    consecutive_failures: int = 0
    failing_since: dt.datetime | None = None
    open_until: dt.datetime | None = None
    last_error: str | None = None

    @property
    def clean(self) -> bool:
        return self.consecutive_failures == 0 and self.failing_since is None

    def failed(self, failure: ChannelFailed, *, now: dt.datetime) -> ChannelHealth:
        """The health after one more failure: the breaker opens at the threshold."""
        failures = self.consecutive_failures + 1
        return ChannelHealth(
            channel=self.channel,
            consecutive_failures=failures,
            failing_since=self.failing_since or now,
            open_until=now + dt.timedelta(seconds=failure.open_seconds) if failures >= failure.threshold else None,
            last_error=failure.error[:MAX_ERROR],
        )

    def failing_for(self, now: dt.datetime) -> dt.timedelta:
        return now - self.failing_since if self.failing_since else dt.timedelta(0)


def read(conn: Connection, channel: str) -> ChannelHealth:
    return _from_row(channel, conn.execute(sa.select(_health).where(_health.c.channel == channel)).first())


def apply(conn: Connection, change: HealthChange, *, now: dt.datetime) -> None:
    if isinstance(change, ChannelSucceeded):
        conn.execute(_health.update().where(_health.c.channel == change.channel)
                     .values(consecutive_failures=0, failing_since=None, open_until=None, last_error=None))
        return
    row = conn.execute(sa.select(_health).where(_health.c.channel == change.channel)).first()
    after = _from_row(change.channel, row).failed(change, now=now)
    values = dict(consecutive_failures=after.consecutive_failures, failing_since=after.failing_since,
                  open_until=after.open_until, last_error=after.last_error)
    if row is None:
        conn.execute(_health.insert(), dict(channel=change.channel, **values))
    else:
        conn.execute(_health.update().where(_health.c.channel == change.channel).values(**values))


def _from_row(channel: str, row: Any) -> ChannelHealth:
    if row is None:
        return ChannelHealth(channel=channel)
    return ChannelHealth(
        channel=channel,
        consecutive_failures=row.consecutive_failures,
        failing_since=as_utc(row.failing_since) if row.failing_since else None,
        open_until=as_utc(row.open_until) if row.open_until else None,
        last_error=row.last_error,
    )
