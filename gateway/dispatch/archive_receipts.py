"""Status receipts back to the archive a letter came from (noarkExchange, issue #12 item 6).

A letter that came in through ``/noarkExchange`` (``shipment.exchange``) from a sender with an
``archive_endpoint`` gets one ``archive_receipt`` job when it reaches DELIVERED, PRINTED, READ,
NOT_DELIVERED or MANUALLY_HANDLED (an operator stopped it: the archive must know it will not arrive). The job is queued in the same transaction as the status, by
:meth:`ArchiveReceipts.added_to`, which the dispatcher runs on every outcome it applies (every
handler, the feed, fall-backs, giving up), so no handler has to remember it. Only the event that
ends the letter counts (its status was not final before): a final status sticks, and a later
event that cannot change it (a read after a digital-only delivery) sends no second receipt.

The job's ``channel`` column names the status it reports. Sending it is
:class:`~gateway.channels.noark_archive.NoarkArchiveClient`'s; a failure retries with the
dispatcher's backoff up to ``max_attempts``, and a refusal or the last failure buries the job
with an ``archive_receipt_failed`` alert. Nothing here changes the letter's status: its history
gets an event without one. Texts come from ``mappings/archive_receipts.toml``.
"""
from __future__ import annotations

import datetime as dt
import functools
import random
from typing import Any, Protocol

from gateway.channels.noark_archive import ArchiveEndpoint, ArchiveRefused, ArchiveUnavailable, StatusReceipt
from gateway.config import DispatchSettings, Settings
from gateway.dispatch.backoff import backoff_seconds
from gateway.model import FINAL_STATUSES, Event, Shipment, Status
from gateway.resources import load_table
from gateway.store.jobs import DEAD, MAX_ERROR, Job
from gateway.store.outcome import Alert, Finish, NewJob, Outcome, Retry
from gateway.store.repository import Repository

KIND = "archive_receipt"
RECEIPT_STATUSES = frozenset({Status.DELIVERED, Status.PRINTED, Status.READ, Status.NOT_DELIVERED, Status.MANUALLY_HANDLED})
ALERT = "archive_receipt_failed"


class ArchiveSender(Protocol):
    def put_receipt(self, endpoint: ArchiveEndpoint, receipt: StatusReceipt) -> str: ...


@functools.cache
def _table() -> dict[str, Any]:
    return load_table("archive_receipts")


def receipt_for(shipment: Shipment, status: Status, event: Event | None) -> StatusReceipt:
    """The AppReceipt that tells the archive ``shipment`` reached ``status`` (``event``: the
    history entry that says so, for its channel and detail)."""
    exchange = shipment.exchange
    if exchange is None:
        raise ValueError(f"{shipment.id} did not come through noarkExchange")
    row = _table()["status"][status.value]
    names = _table()["channel"]
    channel = (event.channel if event else None) or ""
    text = row["text"].format(channel=names.get(channel, channel or names["none"]), detail=(event.detail if event else "") or "-")
    # the envelope turned round: from the letter's receiver back to the archive, its ref echoed
    return StatusReceipt(conversation_id=exchange.conversation_id, sender_orgnr=exchange.receiver_orgnr,
                         receiver_orgnr=exchange.sender_orgnr, sender_ref=exchange.receiver_ref,
                         receiver_ref=exchange.sender_ref, type=row["type"], code=row["code"], text=text)


def endpoint_of(settings: Settings, shipment: Shipment) -> ArchiveEndpoint | None:
    """The archive to tell about ``shipment``, or ``None`` when its sender has none."""
    sender = settings.sender(shipment.sender)
    if sender is None or not sender.archive_endpoint:
        return None
    return ArchiveEndpoint(url=sender.archive_endpoint, dialect=sender.archive_dialect, username=sender.archive_username,
                           password=sender.archive_password, timeout_seconds=sender.archive_timeout_seconds)


class ArchiveReceipts:
    def __init__(self, *, settings: Settings, repository: Repository, archive: ArchiveSender, rng: random.Random) -> None:
        self.settings = settings
        self.policy: DispatchSettings = settings.dispatch
        self.repository = repository
        self.archive = archive
        self.rng = rng
        self._any = any(s.archive_endpoint for s in settings.senders)

    def added_to(self, outcome: Outcome) -> Outcome:
        """``outcome`` with an ``archive_receipt`` job for each letter it ends that must be told."""
        if not self._any:
            return outcome  # no sender has an archive: not one read per status
        jobs: list[NewJob] = []
        seen: set[str] = set()
        for shipment_id, event in outcome.events:
            if event.status not in RECEIPT_STATUSES or shipment_id in seen:
                continue
            seen.add(shipment_id)
            stored = self.repository.get(shipment_id)
            if stored is None or stored.status in FINAL_STATUSES or stored.shipment.exchange is None:
                continue
            if endpoint_of(self.settings, stored.shipment) is not None:
                jobs.append(NewJob(kind=KIND, shipment_id=shipment_id, channel=event.status.value, run_after=outcome.at))
        return outcome.then(Outcome(at=outcome.at, jobs=tuple(jobs))) if jobs else outcome

    def handle(self, job: Job, now: dt.datetime) -> Outcome:
        """Send the receipt ``job`` stands for; retry, or give up with an alert."""
        stored = self.repository.get(job.shipment_id or "")
        status = Status(job.channel or "")
        endpoint = endpoint_of(self.settings, stored.shipment) if stored is not None else None
        if stored is None or endpoint is None or stored.shipment.exchange is None:
            return Outcome(at=now, job=Finish())  # the letter, or its sender's archive, is gone since
        sid = stored.shipment.id
        events = [e for e in self.repository.events(sid) if e.status is status]
        receipt = receipt_for(stored.shipment, status, events[-1] if events else None)
        try:
            self.archive.put_receipt(endpoint, receipt)
        except ArchiveUnavailable as exc:
            attempts = job.attempts + 1
            if attempts < self.policy.max_attempts:
                delay = backoff_seconds(attempts, base=self.policy.backoff_base_seconds, cap=self.policy.backoff_max_seconds, rng=self.rng)
                return Outcome(at=now, job=Retry(run_after=now + dt.timedelta(seconds=delay), error=str(exc)))
            return self.given_up(job, f"{attempts} attempts: {exc}", now, code=receipt.code, endpoint=endpoint.url)
        except ArchiveRefused as exc:
            return self.given_up(job, str(exc), now, code=receipt.code, endpoint=endpoint.url)
        detail = _table()["history"]["sent"].format(code=receipt.code, endpoint=endpoint.url)
        return Outcome(at=now, job=Finish(), events=((sid, Event(at=now, kind=KIND, detail=detail)),))

    def given_up(self, job: Job, error: str, now: dt.datetime, *, code: str | None = None, endpoint: str = "") -> Outcome:
        """The receipt will not be sent: the job is buried, the operator alerted, the letter's
        history says so; its status stays what it is."""
        detail = _table()["history"]["failed"].format(code=code or job.channel, endpoint=endpoint or "arkivet", error=error)[:MAX_ERROR]
        events = ((job.shipment_id, Event(at=now, kind=ALERT, detail=detail)),) if job.shipment_id else ()
        return Outcome(at=now, job=Finish(state=DEAD, error=error[:MAX_ERROR]), events=events,
                       alerts=(Alert(kind=ALERT, shipment_id=job.shipment_id, detail=detail),))
