"""Operators' statistics (gateway/store/statistics.py) on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest

from gateway.model import Event, Party, Shipment, Status
from gateway.store import migrate, tables
from gateway.store.engine import create_engine
from gateway.store.repository import Repository
from gateway.store.statistics import MAX_REASONS, CostSummary, PrintReason, ReadRate, Statistics, Volume, bucketed

UTC = dt.timezone.utc
#: Friday 2026-10-23 … Tuesday 2026-11-03 Oslo time: a month end, a week end and the end of
#: daylight saving (Sunday 2026-10-25, 03:00 → 02:00) inside.
START = dt.datetime(2026, 10, 22, 22, 0, tzinfo=UTC)
END = dt.datetime(2026, 11, 3, 23, 0, tzinfo=UTC)


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


class Letters:
    """Letters written straight into the tables, with the deliveries and events a dispatched
    letter has."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.repo = Repository(engine)
        self.n = 0

    def letter(self, *, sender: str = "kommune", at: dt.datetime) -> str:
        self.n += 1
        sid = _id(self.n)
        self.repo.insert_shipment(Shipment(id=sid, sender=sender, title=f"Brev {self.n}", recipient=Party(), documents=()),
                                  content_sha256="0" * 64, events=[Event(at=at, kind="accepted", status=Status.ACCEPTED)])
        return sid

    def delivery(self, sid: str, channel: str, at: dt.datetime, *, deadline: dt.datetime | None = None,
                 cost: int | None = None, estimate: int | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(tables.deliveries.insert().values(
                shipment_id=sid, channel=channel, idempotency_key=f"{sid}:{channel}", reference=f"ref-{sid}", status="SENT",
                submitted_at=at, read_deadline=deadline, cost_estimate_ore=estimate, cost_ore=cost, open=True, receipt={}))

    def event(self, sid: str, kind: str, at: dt.datetime, *, channel: str | None = None, detail: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(tables.events.insert().values(shipment_id=sid, at=at, kind=kind, channel=channel, detail=detail))


@pytest.fixture
def letters(database_url):
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    yield Letters(engine)
    engine.dispose()


def test_volumes_by_hour_fold_into_oslo_days_weeks_and_months(letters):
    at = dt.datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # Saturday 23:30 in Oslo (summer time)
    late = dt.datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # Monday 00:30 in Oslo (winter time)
    november = dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday
    for when, channel in ((at, "altinn3"), (at, "altinn3"), (at, "print"), (late, "altinn3"), (november, "print")):
        letters.delivery(letters.letter(at=when), channel, when)
    letters.delivery(letters.letter(at=END), "altinn3", END)  # outside [START, END)
    stats = Statistics(letters.engine)
    hours = stats.volume_by_hour(START, END)
    assert hours == [Volume(hour=at.replace(minute=0), channel="altinn3", letters=2), Volume(hour=at.replace(minute=0), channel="print", letters=1),
                     Volume(hour=late.replace(minute=0), channel="altinn3", letters=1), Volume(hour=november, channel="print", letters=1)]
    assert bucketed(hours, "day") == {dt.date(2026, 10, 24): {"altinn3": 2, "print": 1}, dt.date(2026, 10, 26): {"altinn3": 1},
                                      dt.date(2026, 11, 2): {"print": 1}}
    assert bucketed(hours, "week") == {dt.date(2026, 10, 19): {"altinn3": 2, "print": 1}, dt.date(2026, 10, 26): {"altinn3": 1},
                                       dt.date(2026, 11, 2): {"print": 1}}  # ISO weeks start on Monday
    assert bucketed(hours, "month") == {dt.date(2026, 10, 1): {"altinn3": 3, "print": 1}, dt.date(2026, 11, 1): {"print": 1}}
    with pytest.raises(ValueError, match="bucket"):
        bucketed(hours, "year")


def test_senders_limit_every_figure(letters):
    when = dt.datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
    mine = letters.letter(sender="kommune", at=when)
    other = letters.letter(sender="annen", at=when)
    for sid in (mine, other):
        letters.delivery(sid, "print", when, cost=2500, estimate=2600)
        letters.event(sid, "routed", when, channel="print", detail="utskrift (reservert mot digital post)")
    stats = Statistics(letters.engine)
    assert sum(v.letters for v in stats.volume_by_hour(START, END, senders=["kommune"])) == 1
    assert stats.costs(START, END, senders=["kommune"]).printed == 1
    assert stats.print_reasons(START, END, senders=["annen"])[0].letters == 1
    assert stats.volume_by_hour(START, END, senders=[]) == []


def test_read_rate_counts_reads_by_the_deadline(letters):
    sent = dt.datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
    deadline = sent + dt.timedelta(days=5)
    in_time, too_late, unread = (letters.letter(at=sent) for _ in range(3))
    for sid in (in_time, too_late, unread):
        letters.delivery(sid, "altinn3", sent, deadline=deadline)
    letters.event(in_time, "read", deadline - dt.timedelta(hours=1))
    letters.event(too_late, "read", deadline + dt.timedelta(hours=1))
    printed = letters.letter(at=sent)
    letters.delivery(printed, "print", sent)  # no deadline: not a digital delivery
    rate = Statistics(letters.engine).read_rate(START, END)
    assert rate == ReadRate(digital=3, read_in_time=1) and rate.rate == pytest.approx(1 / 3)
    assert ReadRate(digital=0, read_in_time=0).rate is None


def test_print_reasons_most_frequent_first(letters):
    when = dt.datetime(2026, 10, 28, 9, 0, tzinfo=UTC)
    for _ in range(3):
        sid = letters.letter(at=when)
        letters.event(sid, "fallback_print", when, channel="altinn3", detail="ikke lest innen lesefristen")
    sid = letters.letter(at=when)
    letters.event(sid, "routed", when, channel="print", detail="utskrift (reservert mot digital post)")
    letters.event(sid, "routed", when, channel="altinn3", detail="Altinn (digital postkasse)")  # not to print
    assert Statistics(letters.engine).print_reasons(START, END) == [
        PrintReason(kind="fallback_print", channel="altinn3", detail="ikke lest innen lesefristen", letters=3),
        PrintReason(kind="routed", channel="print", detail="utskrift (reservert mot digital post)", letters=1)]


def test_print_reasons_are_bounded(letters):
    when = dt.datetime(2026, 10, 28, 9, 0, tzinfo=UTC)
    sid = letters.letter(at=when)
    with letters.engine.begin() as conn:
        conn.execute(tables.events.insert(), [dict(shipment_id=sid, at=when, kind="fallback_print", channel="altinn3",
                                                   detail=f"Altinn avviste brevet: feil {n}") for n in range(MAX_REASONS + 5)])
    reasons = Statistics(letters.engine).print_reasons(START, END)
    assert len(reasons) == MAX_REASONS + 1 and reasons[-1] == PrintReason(kind="other", channel=None, detail="", letters=5)


def test_costs_and_the_saving_against_printing_everything(letters):
    when = dt.datetime(2026, 10, 29, 9, 0, tzinfo=UTC)
    for cost in (2500, 3500, None):  # the last one's print receipt has not come
        letters.delivery(letters.letter(at=when), "print", when, cost=cost, estimate=2800)
    for _ in range(4):
        letters.delivery(letters.letter(at=when), "altinn3", when, deadline=when + dt.timedelta(days=5))
    costs = Statistics(letters.engine).costs(START, END)
    assert costs == CostSummary(printed=3, printed_with_cost=2, cost_ore=6000, estimated_ore=8400, digital=4)
    assert costs.average_print_ore == 3000 and costs.saving_ore(fallback_per_letter_ore=9999) == 12000
    nothing_billed = CostSummary(printed=0, printed_with_cost=0, cost_ore=0, estimated_ore=0, digital=4)
    assert nothing_billed.saving_ore(fallback_per_letter_ore=2900) == 11600
