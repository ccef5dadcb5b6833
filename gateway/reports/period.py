"""The period a report covers: whole days in Europe/Oslo (both ends included), or an exact
half-open span of aware datetimes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.reports.columns import OSLO


@dataclass(frozen=True, slots=True)
class Period:
    """From ``start`` (included) up to ``end`` (not included), aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a report period needs times with a zone")
        if self.end <= self.start:
            raise ValueError(f"the period ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=OSLO)


def period(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> Period:
    """A date is a whole day in Oslo: ``start`` from its midnight, ``end`` up to the midnight
    after it (2026-12-01 to 2026-12-31 is December). Datetimes are taken as they are."""
    begins = start if isinstance(start, dt.datetime) else _midnight(start)
    ends = end if isinstance(end, dt.datetime) else _midnight(end + dt.timedelta(days=1))
    return Period(begins, ends)
