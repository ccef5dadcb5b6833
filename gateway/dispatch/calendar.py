"""Working-hour arithmetic with national holiday calendars.

A read deadline of "40 working hours" counts only the hours inside the working day
(08:00–16:00 local time by default) on days that are neither weekends nor public holidays
of the configured country (the ``holidays`` package). A letter sent on Friday at 15:00 has
one working hour that day; the rest is counted from Monday 08:00.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingCalendar:
    country: str = "NO"
    timezone: str = "Europe/Oslo"
    day_start_hour: int = 8
    day_end_hour: int = 16

    def __post_init__(self) -> None:
        if not 0 <= self.day_start_hour < self.day_end_hour <= 24:
            raise ValueError("the working day must start before it ends, within 0-24")

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances by key

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and day not in _holidays(self.country, day.year)

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` working hours after ``start`` (aware datetimes, answer in UTC)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        remaining = dt.timedelta(hours=hours)
        local = start.astimezone(self._zone)
        day = local.date()
        cursor = local
        while True:
            if self.is_working_day(day):
                opens = self._at(day, self.day_start_hour)
                closes = self._at(day, self.day_end_hour)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(dt.timezone.utc)
                    remaining -= available
            day += dt.timedelta(days=1)
            cursor = self._at(day, 0)

    def _at(self, day: dt.date, hour: int) -> dt.datetime:
        if hour == 24:
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self._zone)
        return dt.datetime.combine(day, dt.time(hour), self._zone)


@functools.cache
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)
