"""Working-hour deadlines across weekends and Norwegian public holidays, with known dates."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gateway.dispatch.calendar import WorkingCalendar

OSLO = ZoneInfo("Europe/Oslo")
CAL = WorkingCalendar()


def oslo(*args):
    return dt.datetime(*args, tzinfo=OSLO)


@pytest.mark.parametrize(
    "start, hours, expected",
    [
        # Monday 08:00 + 40 h = Friday 16:00 (an ordinary week)
        (oslo(2026, 11, 16, 8, 0), 40, oslo(2026, 11, 20, 16, 0)),
        # Friday 15:00: one hour Friday, the rest from Monday; 40 h ends next Friday 15:00
        (oslo(2026, 11, 20, 15, 0), 40, oslo(2026, 11, 27, 15, 0)),
        # sent on a Saturday: counting starts Monday 08:00
        (oslo(2026, 11, 21, 11, 0), 8, oslo(2026, 11, 23, 16, 0)),
        # sent in the evening: counting starts the next morning
        (oslo(2026, 11, 17, 20, 0), 1, oslo(2026, 11, 18, 9, 0)),
        # Easter 2026: Maundy Thursday 2 April, Good Friday 3 April, Easter Monday 6 April are holidays
        (oslo(2026, 4, 1, 8, 0), 16, oslo(2026, 4, 7, 16, 0)),
        # 17 May 2027 is a Monday (Constitution Day): Friday 14 May 08:00 + 16 h → Tuesday 18 May 16:00
        (oslo(2027, 5, 14, 8, 0), 16, oslo(2027, 5, 18, 16, 0)),
        # Christmas 2026: 25 and 26 December (Friday, Saturday); 24 Dec (Thursday) is a working day
        (oslo(2026, 12, 24, 8, 0), 16, oslo(2026, 12, 28, 16, 0)),
        # New Year's Day 2027 (Friday) and the weekend
        (oslo(2026, 12, 31, 12, 0), 8, oslo(2027, 1, 4, 12, 0)),
        # Ascension Day 2026 is Thursday 14 May; Whit Monday 25 May
        (oslo(2026, 5, 13, 16, 0), 8, oslo(2026, 5, 15, 16, 0)),
        (oslo(2026, 5, 22, 8, 0), 16, oslo(2026, 5, 26, 16, 0)),
        # the default 40 h across 1 and 17 May 2026 (a Friday and a Sunday)
        (oslo(2026, 4, 27, 8, 0), 40, oslo(2026, 5, 4, 16, 0)),
    ],
)
def test_add_working_hours(start, hours, expected):
    assert CAL.add_working_hours(start, hours) == expected.astimezone(dt.timezone.utc)


def test_daylight_saving_change_keeps_local_working_hours():
    # clocks go forward on Sunday 29 March 2026; Friday 27 March 12:00 + 8 h = Monday 12:00 local
    assert CAL.add_working_hours(oslo(2026, 3, 27, 12, 0), 8) == oslo(2026, 3, 30, 12, 0).astimezone(dt.timezone.utc)


def test_holidays_are_not_working_days():
    for day in (dt.date(2026, 5, 17), dt.date(2026, 12, 25), dt.date(2026, 4, 6), dt.date(2026, 5, 1)):
        assert not CAL.is_working_day(day)
    assert CAL.is_working_day(dt.date(2026, 11, 23))


def test_naive_start_is_refused():
    with pytest.raises(ValueError):
        CAL.add_working_hours(dt.datetime(2026, 1, 5, 8), 1)


def test_danish_holidays_differ():
    dk = WorkingCalendar(country="DK", timezone="Europe/Copenhagen")
    # 1 May and 17 May are Norwegian public holidays, not Danish ones
    for day in (dt.date(2026, 5, 1), dt.date(2028, 5, 17)):
        assert dk.is_working_day(day) and not CAL.is_working_day(day)
    assert not dk.is_working_day(dt.date(2026, 4, 2))  # Maundy Thursday: both
