"""Statistics for operators: how many letters went where, how many were read in time, why
letters went to print, and what print cost.

Every query aggregates in the database and answers a bounded number of rows whatever the
number of letters: volumes come back per UTC hour and channel (at most 24 × days × channels
rows), which :func:`bucketed` folds into days, ISO weeks or months in the operator's time
zone. Grouping by hour in SQL and by calendar in Python keeps the queries the same on SQLite
and PostgreSQL and gets daylight saving right (an Oslo day is 23, 24 or 25 UTC hours).

A letter counts once per channel it was handed to (a delivery): a letter that fell back from
Altinn to print counts under both, as both were used. ``senders`` limits everything to those
senders' letters (an operator who sees only some).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.frozen import frozen
from gateway.store import tables

__all__ = ["BUCKETS", "PRINT", "CostSummary", "PrintReason", "ReadRate", "Statistics", "Volume", "bucketed", "for_senders"]

PRINT = "print"
ROUTED = "routed"
#: History events that send a letter to print after its route (the dispatcher's fallback, an operator).
TO_PRINT_KINDS = ("fallback_print", "manual_print")
#: The calendar periods :func:`bucketed` folds hours into.
BUCKETS = ("day", "week", "month")
#: Distinct reasons answered at most; the rest are summed as one "other" row.
MAX_REASONS = 200
_d = tables.deliveries
_e = tables.events
_s = tables.shipments


@frozen
class Volume:
    """Letters handed to ``channel`` in the hour (UTC) that starts at ``hour``."""

    hour: dt.datetime
    channel: str
    letters: int


@frozen
class ReadRate:
    """Digital deliveries with a read deadline, and how many were read by it."""

    digital: int
    read_in_time: int

    @property
    def rate(self) -> float | None:
        return self.read_in_time / self.digital if self.digital else None


@frozen
class PrintReason:
    """Letters sent to print for one reason: ``kind`` ``routed`` (print was the route from the
    start), ``fallback_print`` (after ``channel``, a digital one) or ``manual_print`` (an
    operator), ``detail`` the history's text."""

    kind: str
    channel: str | None
    detail: str
    letters: int


@frozen
class CostSummary:
    """Print and digital deliveries of a period, in øre. ``printed_with_cost`` are the print
    deliveries the print house has billed (their receipt arrived); ``estimated_ore`` is the
    estimate stored at sending for all print deliveries."""

    printed: int
    printed_with_cost: int
    cost_ore: int
    estimated_ore: int
    digital: int

    @property
    def average_print_ore(self) -> float | None:
        """What one printed letter cost on average (billed letters only)."""
        return self.cost_ore / self.printed_with_cost if self.printed_with_cost else None

    def saving_ore(self, *, fallback_per_letter_ore: int) -> int:
        """What printing the digital letters too would have cost: each at the period's average
        billed print cost, or at ``fallback_per_letter_ore`` when nothing was billed."""
        per_letter = self.average_print_ore
        return round(self.digital * (per_letter if per_letter is not None else fallback_per_letter_ore))


class Statistics:
    """Read-only aggregates over deliveries and events. Callers hold no connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgresql = engine.dialect.name == "postgresql"

    def volume_by_hour(self, start: dt.datetime, end: dt.datetime, *, senders: Sequence[str] | None = None) -> list[Volume]:
        """Deliveries submitted in ``[start, end)`` per UTC hour and channel."""
        hour = sa.func.date_trunc("hour", _d.c.submitted_at) if self._postgresql else sa.func.strftime("%Y-%m-%d %H:00:00", _d.c.submitted_at)
        query = (sa.select(hour.label("hour"), _d.c.channel, sa.func.count().label("letters"))
                 .where(_d.c.submitted_at >= start, _d.c.submitted_at < end)
                 .group_by(hour, _d.c.channel).order_by(hour, _d.c.channel))
        with self.engine.connect() as conn:
            rows = conn.execute(for_senders(query, _d.c.shipment_id, senders)).all()
        return [Volume(hour=_utc(r.hour), channel=r.channel, letters=int(r.letters)) for r in rows]

    def read_rate(self, start: dt.datetime, end: dt.datetime, *, senders: Sequence[str] | None = None) -> ReadRate:
        """Digital deliveries submitted in ``[start, end)`` (those with a read deadline), and
        those whose letter has a ``read`` event by the deadline."""
        read_in_time = sa.exists().where(_e.c.shipment_id == _d.c.shipment_id, _e.c.kind == "read",
                                          _e.c.at <= _d.c.read_deadline)
        query = (sa.select(sa.func.count().label("digital"),
                           sa.func.coalesce(sa.func.sum(sa.case((read_in_time, 1), else_=0)), 0).label("read"))
                 .where(_d.c.submitted_at >= start, _d.c.submitted_at < end, _d.c.read_deadline.is_not(None)))
        with self.engine.connect() as conn:
            row = conn.execute(for_senders(query, _d.c.shipment_id, senders)).one()
        return ReadRate(digital=int(row.digital), read_in_time=int(row.read))

    def print_reasons(self, start: dt.datetime, end: dt.datetime, *, senders: Sequence[str] | None = None,
                      limit: int = MAX_REASONS) -> list[PrintReason]:
        """Why letters went to print in ``[start, end)``: routed there from the start, fallen back
        from a digital channel, or sent there by an operator; by kind, channel and the history's
        text, most frequent first: at most ``limit`` rows, then one ``other`` row for the rest."""
        went_to_print = sa.or_(_e.c.kind.in_(TO_PRINT_KINDS), sa.and_(_e.c.kind == ROUTED, _e.c.channel == PRINT))
        count = sa.func.count().label("letters")
        query = (sa.select(_e.c.kind, _e.c.channel, _e.c.detail, count).where(_e.c.at >= start, _e.c.at < end, went_to_print)
                 .group_by(_e.c.kind, _e.c.channel, _e.c.detail).order_by(count.desc(), _e.c.kind, _e.c.detail))
        query = for_senders(query, _e.c.shipment_id, senders)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
            reasons = [PrintReason(kind=r.kind, channel=r.channel, detail=r.detail, letters=int(r.letters)) for r in rows[:limit]]
            if len(rows) > limit:
                grouped = query.subquery()
                everything = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(grouped.c.letters), 0))).scalar_one()
                reasons.append(PrintReason(kind="other", channel=None, detail="", letters=int(everything) - sum(r.letters for r in reasons)))
        return reasons

    def costs(self, start: dt.datetime, end: dt.datetime, *, senders: Sequence[str] | None = None) -> CostSummary:
        """Print and digital deliveries submitted in ``[start, end)`` and what print cost."""
        is_print = _d.c.channel == PRINT
        billed = sa.and_(is_print, _d.c.cost_ore.is_not(None))
        query = sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((is_print, 1), else_=0)), 0).label("printed"),
            sa.func.coalesce(sa.func.sum(sa.case((billed, 1), else_=0)), 0).label("billed"),
            sa.func.coalesce(sa.func.sum(sa.case((billed, _d.c.cost_ore), else_=0)), 0).label("cost"),
            sa.func.coalesce(sa.func.sum(sa.case((is_print, sa.func.coalesce(_d.c.cost_estimate_ore, 0)), else_=0)), 0).label("estimate"),
            sa.func.coalesce(sa.func.sum(sa.case((is_print, 0), else_=1)), 0).label("digital"),
        ).where(_d.c.submitted_at >= start, _d.c.submitted_at < end)
        with self.engine.connect() as conn:
            row = conn.execute(for_senders(query, _d.c.shipment_id, senders)).one()
        return CostSummary(printed=int(row.printed), printed_with_cost=int(row.billed), cost_ore=int(row.cost),
                           estimated_ore=int(row.estimate), digital=int(row.digital))


def bucketed(volumes: Iterable[Volume], bucket: str, *, timezone: str = "Europe/Oslo") -> dict[dt.date, dict[str, int]]:
    """Hourly volumes folded into calendar periods of ``timezone``: each period's first day
    (the day, the ISO week's Monday, the month's first) → channel → letters, in order."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, not {bucket!r}")
    zone = ZoneInfo(timezone)
    periods: dict[dt.date, dict[str, int]] = {}
    for volume in sorted(volumes, key=lambda v: v.hour):
        day = volume.hour.astimezone(zone).date()
        first = day if bucket == "day" else day - dt.timedelta(days=day.weekday()) if bucket == "week" else day.replace(day=1)
        channels = periods.setdefault(first, {})
        channels[volume.channel] = channels.get(volume.channel, 0) + volume.letters
    return periods


def for_senders(query: Any, shipment_id: Any, senders: Sequence[str] | None) -> Any:
    """``query`` narrowed to the letters of ``senders`` (None: every sender's)."""
    if senders is None:
        return query
    return query.where(shipment_id.in_(sa.select(_s.c.id).where(_s.c.sender.in_(list(senders)))))


def _utc(value: dt.datetime | str) -> dt.datetime:
    """An hour as the database gives it (PostgreSQL: a datetime; SQLite: text, UTC) → aware UTC."""
    hour = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return hour.replace(tzinfo=dt.timezone.utc) if hour.tzinfo is None else hour.astimezone(dt.timezone.utc)
