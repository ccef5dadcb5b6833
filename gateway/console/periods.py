"""The overview's periods: today, this week (from Monday) and this month, in Oslo time."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
PERIODS = (("today", "I dag"), ("week", "Denne uken"), ("month", "Denne måneden"))


def period_starts(now: dt.datetime) -> dict[str, dt.datetime]:
    """When each period began, as UTC times."""
    local = now.astimezone(OSLO)
    midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=OSLO)
    starts = {
        "today": midnight,
        "week": midnight - dt.timedelta(days=local.weekday()),
        "month": midnight.replace(day=1),
    }
    return {name: start.astimezone(dt.timezone.utc) for name, start in starts.items()}
