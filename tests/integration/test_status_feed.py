"""The ``feed`` job: a channel that reports on all its letters in one feed (Digital Post's
receipts, Beskedfordeler's queue) has each entry placed on its letter, acknowledged only
after the commit, and put back when it cannot be placed yet.

The feed here is a queue with the semantics both real feeds share (an entry stays until it is
acknowledged; one put back is answered again); the real transports are tested against their
own doubles in test_digitalpost.py and test_sf1601.py.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest

from gateway.channels.base import ChannelUnavailable, FeedEntry, Letter, Receipt, StatusChange, StatusFeed, sent_digital
from gateway.channels.factory import build_channels
from gateway.config import ChannelSettings, DispatchSettings, PrintSettings
from gateway.dispatch.feed import UNPLACED_GRACE
from gateway.dispatch.worker import Worker
from gateway.model import Status
from tests.svarut_builders import PERSON_FNR, forsendelse

OSLO = ZoneInfo("Europe/Oslo")


class QueueFeedChannel:
    """A digital channel whose news comes through one queue: entries stay until acknowledged,
    released ones come back. ``remote_print`` answers receipts of a mailbox's own print."""

    name = "altinn3"

    def __init__(self, clock) -> None:
        self.clock = clock
        self.queue: list[FeedEntry] = []
        self.in_flight: list[FeedEntry] = []
        self.acknowledged: list[FeedEntry] = []
        self.submitted: list[str] = []
        self.remote_print = False
        self.fetch_error: Exception | None = None

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        reference = f"ref-{letter.shipment.id}"
        self.submitted.append(reference)
        if self.remote_print:
            return Receipt(channel=self.name, shipment_id=letter.shipment.id, idempotency_key=idempotency_key,
                           reference=reference, status=Status.SENT_TO_PRINT, detail="remote print")
        return sent_digital(letter, channel=self.name, idempotency_key=idempotency_key, reference=reference, detail="taken")

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        raise AssertionError("a feed channel is never polled per letter")

    def publish(self, reference: str, status: Status | None = None, *, failed: bool = False, detail: str = "",
                at: dt.datetime | None = None) -> None:
        self.queue.append(FeedEntry(reference=reference, status=status, failed=failed, detail=detail, at=at or self.clock(),
                                    token=str(len(self.queue) + len(self.acknowledged))))

    def fetch(self, *, limit: int) -> list[FeedEntry]:
        if self.fetch_error is not None:
            raise self.fetch_error
        taken, self.queue = self.queue[:limit], self.queue[limit:]
        self.in_flight.extend(taken)
        return taken

    def acknowledge(self, entries: Sequence[FeedEntry]) -> None:
        for entry in entries:
            self.in_flight.remove(entry)
            self.acknowledged.append(entry)

    def release(self, entries: Sequence[FeedEntry]) -> None:
        for entry in entries:
            self.in_flight.remove(entry)
        self.queue[:0] = list(entries)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=OSLO).astimezone(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def rig(start_gateway, settings_factory, svarut_client, database_url):
    clock = Clock()
    channels = ChannelSettings(print=PrintSettings(batch_max_age_seconds=60, return_address=("Kommune", "Postboks 1", "0101 Oslo")))
    settings = settings_factory(database_url, channels=channels, dispatch=DispatchSettings(feed_batch=3, max_attempts=5))
    feed = QueueFeedChannel(clock)
    gw = start_gateway(settings, clock=clock, channels={**build_channels(settings, clock=clock), "altinn3": feed})
    client, svc = svarut_client(gw)
    runtime = gw.runtime
    worker = Worker(runtime.dispatcher, runtime.dispatch_store, name="feed-test", lease_seconds=120)
    runtime.dispatcher.ensure_periodic_jobs()
    runtime.dispatch_store.register_set([(PERSON_FNR, "person", "digital")], now=clock())

    class Rig:
        pass

    r = Rig()
    r.gw, r.svc, r.client, r.feed, r.clock, r.store = gw, svc, client, feed, clock, runtime.dispatch_store

    def drain() -> None:
        for _ in range(100):
            if not worker.run_once():
                return
        raise AssertionError("jobs keep coming")

    def advance(**delta: float) -> None:
        clock.now += dt.timedelta(**delta)
        drain()

    r.drain, r.advance = drain, advance
    r.send = lambda **kw: svc.sendForsendelse(forsendelse=client and forsendelse(client, **kw))
    r.status = lambda sid: svc.retrieveForsendelseStatus(forsendelsesid=sid)
    r.history = lambda sid: [h.hendelse for h in svc.retrieveForsendelseHistorikk(forsendelsesid=sid)]
    return r


def _kinds(rig, sid: str) -> set[str]:
    return {j["kind"] for j in rig.store.pending_jobs(sid)}


def test_a_feed_channel_gets_no_poll_job_and_a_delivered_entry_ends_the_letter(rig):
    sid = rig.send()
    rig.drain()
    assert rig.status(sid) == "SENDT_DIGITALT"
    assert _kinds(rig, sid) == {"deadline"}  # no per-letter poll
    rig.feed.publish(f"ref-{sid}", Status.DELIVERED, detail="COMPLETED")
    rig.advance(seconds=11)
    assert rig.status(sid) == "LEVERT_SDP"
    assert any("COMPLETED" in h for h in rig.history(sid))
    assert [e.reference for e in rig.feed.acknowledged] == [f"ref-{sid}"]
    assert _kinds(rig, sid) == set()  # the deadline will not print a delivered letter
    [delivery] = rig.store.deliveries(shipment_id=sid)
    assert (delivery.status, delivery.open) == (Status.DELIVERED, False)


def test_an_entry_that_overtakes_its_letter_is_put_back_and_placed_later(rig):
    sid = rig.send()
    rig.feed.publish(f"ref-{sid}", Status.DELIVERED, detail="COMPLETED")
    rig.drain()  # the feed job is older than the letter's route job: it reads the entry before the delivery exists
    assert rig.status(sid) == "SENDT_DIGITALT"
    assert rig.feed.acknowledged == [] and len(rig.feed.queue) == 1  # put back, not lost
    rig.advance(seconds=11)
    assert rig.status(sid) == "LEVERT_SDP"


def test_an_entry_nobody_can_place_is_alerted_once_old_and_does_not_clog_the_feed(rig):
    rig.feed.publish("ref-unknown", Status.DELIVERED, detail="COMPLETED")
    rig.drain()
    assert rig.feed.acknowledged == [] and rig.store.alerts(kind="feed_unplaced") == []
    rig.advance(seconds=UNPLACED_GRACE.total_seconds() + 1)
    [alert] = rig.store.alerts(kind="feed_unplaced")
    assert "ref-unknown" in alert["detail"] and alert["channel"] == "altinn3"
    assert [e.reference for e in rig.feed.acknowledged] == ["ref-unknown"]


@pytest.mark.parametrize("digital_only, ends", [(False, "SENDT_PRINT"), (True, "IKKE_LEVERT")])
def test_a_refused_entry_falls_back_or_ends_with_an_alert(rig, digital_only, ends):
    sid = rig.send(kunDigitalLevering=digital_only)
    rig.drain()
    rig.feed.publish(f"ref-{sid}", failed=True, detail="INVALID: MeMo header")
    rig.advance(seconds=11)
    assert rig.status(sid) == ends
    assert any("INVALID: MeMo header" in h for h in rig.history(sid))
    [alert] = rig.store.alerts(kind="mailbox_refused")
    assert alert["shipment_id"] == sid


def test_entries_of_a_failed_commit_are_put_back(rig, monkeypatch):
    sid = rig.send()
    rig.drain()
    rig.feed.publish(f"ref-{sid}", Status.DELIVERED)
    real_apply = rig.store.apply
    calls = []

    def failing(outcome, job=None):
        if job is not None and job.kind == "feed" and not calls:
            calls.append(job)
            raise OSError("disk full")
        return real_apply(outcome, job)

    monkeypatch.setattr(rig.store, "apply", failing)
    rig.advance(seconds=11)
    assert calls and rig.feed.acknowledged == []
    assert rig.status(sid) == "SENDT_DIGITALT"
    rig.advance(seconds=11)
    assert rig.status(sid) == "LEVERT_SDP"
    assert len(rig.feed.acknowledged) == 1


def test_a_full_batch_is_followed_by_the_next_at_once_and_an_outage_waits(rig):
    sids = [rig.send() for _ in range(5)]
    rig.drain()
    for sid in sids:
        rig.feed.publish(f"ref-{sid}", Status.NOTIFIED)
    rig.advance(seconds=11)  # batches of 3: both rounds in the same drain
    assert {rig.status(sid) for sid in sids} == {"VARSLET"}
    rig.feed.fetch_error = ChannelUnavailable("feed down", channel="altinn3")
    rig.advance(seconds=11)
    [job] = [j for j in rig.store.pending_jobs() if j["kind"] == "feed"]
    assert "feed down" in job["last_error"]


def test_a_mailbox_s_own_remote_print_is_a_print_without_read_deadline(rig):
    rig.feed.remote_print = True
    sid = rig.send()
    rig.drain()
    assert rig.status(sid) == "SENDT_PRINT"
    assert _kinds(rig, sid) == set()  # no deadline: it must never be printed a second time
    rig.feed.publish(f"ref-{sid}", Status.PRINTED, detail="remote print done")
    rig.advance(seconds=11)
    assert rig.status(sid) == "PRINTET"
    assert not any(p.name.endswith(".pdf") for p in (rig.gw.runtime.settings.storage.print_dir).rglob("*"))


def test_a_poll_job_left_from_before_the_channel_had_a_feed_ends_quietly(rig):
    from gateway.store.outcome import NewJob

    sid = rig.send()
    rig.drain()
    rig.store.ensure_job(NewJob(kind="poll", channel="altinn3", shipment_id=sid, run_after=rig.clock()))
    rig.drain()  # QueueFeedChannel.poll would fail the test
    assert _kinds(rig, sid) == {"deadline"}
    assert rig.store.alerts() == []
