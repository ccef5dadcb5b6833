"""The dispatcher: what each job kind does, and how a letter moves to its final state.

Job kinds:

* ``route`` — choose the channel (register + policy) and queue a ``submit``; or end the letter
  as NOT_DELIVERED when digital-only and unreachable.
* ``submit`` — hand the letter to a channel with the idempotency key ``<shipment>:<channel>``.
  Transient failures retry with backoff and feed the channel's circuit breaker; past
  ``max_attempts``, after a refusal, or when the channel has been failing longer than
  ``outage_to_print_hours``, the letter falls back to print (or NOT_DELIVERED if digital-only).
* ``poll`` — ask a digital channel for news: NOTIFIED, READ, or failed (→ fallback).
* ``deadline`` — unread when the read deadline passes: print (or DELIVERED if digital-only).
* ``print_cycle`` — periodic: close print batches, read the print house's receipts
  (PRINTED with the real cost), alert on batches without receipts.

Each job's effects (events, deliveries, follow-up jobs, closing the job) commit in one
transaction, and only while the worker still holds the job's lease.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection

from gateway.channels.base import Channel, ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange
from gateway.config import Settings
from gateway.dispatch.backoff import backoff_seconds
from gateway.dispatch.calendar import WorkingCalendar
from gateway.dispatch.routing import PRINT, RecipientRegister, choose_route
from gateway.model import FINAL_STATUSES, Event, PartyKind, Status
from gateway.store.blobs import DocumentStore
from gateway.store.dispatch import DEAD, ChannelHealth, DispatchStore, Job, LeaseLost, enqueue
from gateway.store.dispatch_jobs import enqueue_many, job_row
from gateway.store.repository import Repository, StoredShipment, append_event

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
PERIODIC = frozenset({"print_cycle"})
DIGITAL_CHANNEL_LABELS = {"altinn3": "Altinn", "altinn2": "Altinn", "digitalpost": "Digital Post"}


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        repository: Repository,
        store: DispatchStore,
        blobs: DocumentStore,
        channels: Mapping[str, Channel],
        register: RecipientRegister,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.d = settings.dispatch
        self.repository = repository
        self.store = store
        self.blobs = blobs
        self.channels = dict(channels)
        self.register = register
        self.clock = clock
        self.rng = rng or random.Random()
        self.calendar = WorkingCalendar(
            country=self.d.holiday_country, timezone=self.d.timezone,
            day_start_hour=self.d.working_day_start_hour, day_end_hour=self.d.working_day_end_hour,
        )
        self._danish_calendar = WorkingCalendar(country="DK", timezone="Europe/Copenhagen",
                                                day_start_hour=self.d.working_day_start_hour, day_end_hour=self.d.working_day_end_hour)
        self._handlers: dict[str, Callable[[Job, dt.datetime], None]] = {
            "route": self._route,
            "submit": self._submit,
            "poll": self._poll,
            "deadline": self._deadline,
            "print_cycle": self._print_cycle,
        }

    def digital_channels(self, kind: PartyKind) -> list[str]:
        """Digital channels for a recipient of this kind, in order of preference."""
        names = ("digitalpost",) if kind in (PartyKind.DK_CPR, PartyKind.DK_CVR) else ("altinn3", "altinn2")
        return [name for name in names if name in self.channels]

    # --- entry point ---

    def handle(self, job: Job) -> None:
        now = self.clock()
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise ValueError(f"unknown job kind {job.kind!r}")
            if job.kind not in PERIODIC and job.attempts >= self.d.max_attempts:
                raise RuntimeError(f"{job.attempts} attempts (workers died or the job kept failing)")
            handler(job, now)
        except LeaseLost as exc:
            logger.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - a bug or an outage must not kill the worker
            logger.exception("job %s (%s) failed", job.id, job.kind)
            self._retry_or_bury(job, now, f"{type(exc).__name__}: {exc}")

    def ensure_periodic_jobs(self) -> None:
        if PRINT in self.channels and not self.store.has_job("print_cycle"):
            self.store.transaction(lambda conn: enqueue(conn, kind="print_cycle", channel=PRINT, run_after=self.clock()))

    # --- handlers ---

    def _route(self, job: Job, now: dt.datetime) -> None:
        stored = self._shipment(job)
        if stored.status in FINAL_STATUSES:
            return self._done(job, now)
        route = choose_route(stored.shipment, register=self.register,
                             digital_channels=self.digital_channels(stored.shipment.recipient.kind),
                             print_available=PRINT in self.channels)
        if route.channel is None:
            def work(conn: Connection) -> None:
                self._end(conn, stored.shipment.id, Status.NOT_DELIVERED, "not_delivered", route.reason, now)
                self.store.finish(conn, job, now=now)

            return self.store.transaction(work)
        # The same leased job goes on as the submit at once; the routing is recorded in the
        # submit's own transaction (one commit per letter, not two). A crash before that
        # commit repeats routing and submit with the same idempotency key.
        routed = Event(at=now, kind="routed", channel=route.channel, detail=f"{_label(route.channel)} ({route.reason})")
        submit = Job(id=job.id, shipment_id=job.shipment_id, kind="submit", channel=route.channel, attempts=job.attempts, owner=job.owner)
        self._submit(submit, now, stored=stored, routed=routed)

    def _submit(self, job: Job, now: dt.datetime, *, stored: StoredShipment | None = None, routed: Event | None = None) -> None:
        stored = stored or self._shipment(job)
        if stored.status in FINAL_STATUSES or stored.status is Status.READ:
            return self._done(job, now)  # read meanwhile, or stopped: nothing to send
        if job.channel == PRINT and stored.status is Status.SENT_TO_PRINT:
            return self._done(job, now)  # two fallbacks raced (poll failure and deadline): one print

        def tx(fn: Callable[[Connection], Any], *, continues: bool = True) -> Any:
            """Run ``fn`` in one transaction with the routing record; a job that goes on
            (a retry) is turned into a submit job, one that ends needs no conversion."""
            def work(conn: Connection) -> Any:
                if routed is not None:
                    append_event(conn, stored.shipment.id, routed)
                    if continues:
                        self.store.convert(conn, job, kind="submit", channel=job.channel, now=now)
                return fn(conn)

            return self.store.transaction(work)

        name = job.channel or PRINT
        channel = self.channels.get(name)
        if channel is None:
            return tx(lambda conn: self._fall_back(conn, job, stored, f"channel {name} is not configured", now))
        digital = name != PRINT
        health = self.store.health(name)
        if digital and self._outage(health, now):
            return tx(lambda conn: self._fall_back(conn, job, stored, _outage_text(health, now), now, alert="channel_outage"))
        open_until = health.open_until
        if open_until and open_until > now:
            return tx(lambda conn: self.store.retry_later(
                conn, job, now=now, run_after=open_until, error=f"{name} circuit open", count_attempt=False))

        key = f"{stored.shipment.id}:{name}"
        letter = Letter(shipment=stored.shipment, content=lambda d: self.blobs.get(d.storage_ref))
        try:
            receipt = channel.submit(letter, idempotency_key=key)
        except ChannelUnavailable as exc:
            unavailable = exc  # the transaction may run on another thread (group commit): bind it
            return tx(lambda conn: self._unavailable(conn, job, stored, name, unavailable, now))
        except ChannelRejected as exc:
            reason = f"{_label(name)} refused: {exc}"
            return tx(lambda conn: self._fall_back(conn, job, stored, reason, now), continues=False)
        tx(lambda conn: self._submitted(conn, job, stored, receipt, now, health=health), continues=False)

    def _unavailable(self, conn: Connection, job: Job, stored: StoredShipment, name: str, exc: ChannelUnavailable, now: dt.datetime) -> None:
        health = self.store.record_failure(conn, name, now=now, error=str(exc), threshold=self.d.breaker_threshold,
                                           open_seconds=self.d.breaker_open_seconds)
        attempts = job.attempts + 1
        if name != PRINT and self._outage(health, now):
            return self._fall_back(conn, job, stored, _outage_text(health, now), now, alert="channel_outage")
        if attempts >= self.d.max_attempts:
            return self._fall_back(conn, job, stored, f"{_label(name)} failed {attempts} times: {exc}", now, alert="delivery_failed")
        delay = backoff_seconds(attempts, base=self.d.backoff_base_seconds, cap=self.d.backoff_max_seconds, rng=self.rng,
                                retry_after=exc.retry_after)
        run_after = now + dt.timedelta(seconds=delay)
        if health.open_until and health.open_until > run_after:
            run_after = health.open_until
        self.store.retry_later(conn, job, now=now, run_after=run_after, error=str(exc))

    def _submitted(self, conn: Connection, job: Job, stored: StoredShipment, receipt: Receipt, now: dt.datetime,
                   *, health: ChannelHealth | None = None) -> None:
        sid = stored.shipment.id
        self.store.record_success(conn, receipt.channel, known=health)
        if receipt.channel == PRINT:
            self.store.add_delivery(conn, receipt, now=now, read_deadline=None)
            cost = f", anslått kostnad {receipt.cost_ore / 100:.2f} kr" if receipt.cost_ore is not None else ""
            append_event(conn, sid, Event(at=now, kind="sent_to_print", status=Status.SENT_TO_PRINT, channel=PRINT,
                                          detail=f"{receipt.detail or 'lagt i utskriftskø'}{cost}"))
        else:
            deadline = self._calendar_for(stored).add_working_hours(now, self._read_deadline_hours(stored))
            self.store.add_delivery(conn, receipt, now=now, read_deadline=deadline)
            append_event(conn, sid, Event(at=now, kind="sent_digital", status=Status.SENT_DIGITAL, channel=receipt.channel,
                                          detail=f"{_label(receipt.channel)} ({receipt.reference}), lesefrist {deadline.isoformat(timespec='minutes')}"))
            enqueue_many(conn, [
                job_row(kind="poll", channel=receipt.channel, shipment_id=sid,
                        run_after=now + dt.timedelta(seconds=self._poll_interval(receipt.channel))),
                job_row(kind="deadline", channel=receipt.channel, shipment_id=sid, run_after=deadline),
            ])
        self.store.finish(conn, job, now=now)

    def _poll(self, job: Job, now: dt.datetime) -> None:
        stored = self._shipment(job)
        name = job.channel or ""
        channel = self.channels.get(name)
        if stored.status in FINAL_STATUSES or stored.status in (Status.READ, Status.SENT_TO_PRINT) or channel is None:
            return self._done(job, now)
        open_deliveries = [d for d in self.store.deliveries(shipment_id=stored.shipment.id, channel=name, open_only=True)]
        if not open_deliveries:
            return self._done(job, now)
        receipts = [_receipt(d) for d in open_deliveries]
        try:
            changes = channel.poll(receipts)
        except (ChannelUnavailable, ChannelRejected) as exc:
            delay = backoff_seconds(job.attempts + 1, base=self.d.backoff_base_seconds, cap=self._poll_interval(name), rng=self.rng)
            error = str(exc)
            return self.store.transaction(lambda conn: self.store.retry_later(conn, job, now=now, run_after=now + dt.timedelta(seconds=delay), error=error))
        self.store.transaction(lambda conn: self._apply_poll(conn, job, stored, changes, receipts, now))

    def _apply_poll(self, conn: Connection, job: Job, stored: StoredShipment, changes: list[StatusChange],
                    receipts: list[Receipt], now: dt.datetime) -> None:
        sid, status = stored.shipment.id, stored.status
        keys = {r.reference: r.idempotency_key for r in receipts}
        for change in changes:
            key = keys.get(change.reference)
            if change.failed:
                if key:
                    self.store.update_delivery(conn, key, open=False)
                self.store.cancel_jobs(conn, sid, now=now, kinds=("deadline",))
                return self._fall_back(conn, job, stored, change.detail or "the mailbox could not deliver", now)
            if change.status is Status.READ:
                if key:
                    self.store.update_delivery(conn, key, status=Status.READ, open=False)
                append_event(conn, sid, Event(at=change.at, kind="read", status=Status.READ, channel=job.channel, detail=change.detail))
                self.store.cancel_jobs(conn, sid, now=now, kinds=("deadline",))
                return self.store.finish(conn, job, now=now)
            if change.status is Status.NOTIFIED and status is Status.SENT_DIGITAL:
                if key:
                    self.store.update_delivery(conn, key, status=Status.NOTIFIED)
                append_event(conn, sid, Event(at=change.at, kind="notified", status=Status.NOTIFIED, channel=job.channel, detail=change.detail))
                status = Status.NOTIFIED
        self.store.retry_later(conn, job, now=now, run_after=now + dt.timedelta(seconds=self._poll_interval(job.channel or "")),
                               error="", count_attempt=False)

    def _deadline(self, job: Job, now: dt.datetime) -> None:
        stored = self._shipment(job)
        if stored.status in FINAL_STATUSES or stored.status in (Status.READ, Status.SENT_TO_PRINT):
            return self._done(job, now)
        sid = stored.shipment.id

        def work(conn: Connection) -> None:
            self.store.cancel_jobs(conn, sid, now=now, kinds=("poll",))
            for d in self.store.deliveries(shipment_id=sid, open_only=True):
                if d.channel != PRINT:
                    self.store.update_delivery(conn, d.idempotency_key, open=False)
            if not stored.shipment.printable:
                append_event(conn, sid, Event(at=now, kind="delivered", status=Status.DELIVERED, channel=job.channel,
                                              detail="lesefristen er ute; kun digital levering"))
                self.store.finish(conn, job, now=now)
            else:
                self._fall_back(conn, job, stored, "ikke lest innen lesefristen", now)

        self.store.transaction(work)

    def _print_cycle(self, job: Job, now: dt.datetime) -> None:
        channel = self.channels.get(PRINT)
        if channel is None:
            return self._done(job, now)
        self._cancel_unwanted_prints(channel, now)
        flush = getattr(channel, "flush", None)
        if flush is not None:
            flush()
        open_deliveries = self.store.deliveries(channel=PRINT, open_only=True)
        changes = channel.poll([_receipt(d) for d in open_deliveries]) if open_deliveries else []
        by_shipment = {d.shipment_id: d for d in open_deliveries}
        overdue: list[Any] = getattr(channel, "overdue_batches", lambda now: [])(now)
        alerted = {a["detail"] for a in self.store.alerts(kind="print_receipt_overdue")}

        def work(conn: Connection) -> None:
            for change in changes:
                d = by_shipment.get(change.shipment_id)
                if d is None:
                    continue
                if change.failed:
                    self.store.update_delivery(conn, d.idempotency_key, open=False)
                    self._end(conn, change.shipment_id, Status.NOT_DELIVERED, "not_delivered", f"trykkeriet avviste: {change.detail}", now)
                    self.store.alert(conn, kind="print_rejected", now=now, channel=PRINT, shipment_id=change.shipment_id, detail=change.detail)
                    continue
                self.store.update_delivery(conn, d.idempotency_key, status=Status.PRINTED, open=False, cost_ore=change.cost_ore)
                cost = f", kostnad {change.cost_ore / 100:.2f} kr" if change.cost_ore is not None else ""
                append_event(conn, change.shipment_id, Event(at=change.at, kind="printed", status=Status.PRINTED, channel=PRINT,
                                                             detail=f"{change.detail}{cost}"))
            for batch in overdue:
                text = f"utskriftsbunke {batch} har ingen kvittering"
                if text not in alerted:
                    self.store.alert(conn, kind="print_receipt_overdue", now=now, channel=PRINT, detail=text)
            self.store.retry_later(conn, job, now=now, error="", count_attempt=False,
                                   run_after=now + dt.timedelta(seconds=self.d.maintenance_interval_seconds))

        self.store.transaction(work)

    def _cancel_unwanted_prints(self, channel: Channel, now: dt.datetime) -> None:
        """Letters read or stopped after they were queued for print: take them back if still staged."""
        cancel = getattr(channel, "cancel", None)
        if cancel is None:
            return
        open_deliveries = self.store.deliveries(channel=PRINT, open_only=True)
        if not open_deliveries:
            return
        found = self.repository.statuses([d.shipment_id for d in open_deliveries])
        for d in open_deliveries:
            status = found.get(d.shipment_id, (None, None, None))[1]
            if status in (Status.READ, Status.MANUALLY_HANDLED) and cancel(d.shipment_id):
                def work(conn: Connection, d: Any = d, status: Status = status) -> None:
                    self.store.update_delivery(conn, d.idempotency_key, open=False)
                    append_event(conn, d.shipment_id, Event(at=now, kind="print_cancelled", channel=PRINT,
                                                            detail=f"utskrift stoppet fordi brevet er {'lest' if status is Status.READ else 'manuelt håndtert'}"))
                self.store.transaction(work)

    # --- shared moves ---

    def _fall_back(self, conn: Connection, job: Job, stored: StoredShipment, reason: str, now: dt.datetime,
                   *, alert: str | None = None) -> None:
        """The current channel cannot deliver: print if allowed, else the letter ends undelivered."""
        sid = stored.shipment.id
        if alert:
            self.store.alert(conn, kind=alert, now=now, channel=job.channel, shipment_id=sid, detail=reason)
        if job.channel != PRINT and stored.shipment.printable and PRINT in self.channels:
            append_event(conn, sid, Event(at=now, kind="fallback_print", channel=job.channel, detail=reason))
            enqueue(conn, kind="submit", channel=PRINT, shipment_id=sid, run_after=now)
        else:
            self._end(conn, sid, Status.NOT_DELIVERED, "not_delivered", reason, now)
        self.store.finish(conn, job, now=now)

    def _end(self, conn: Connection, shipment_id: str, status: Status, kind: str, detail: str, now: dt.datetime) -> None:
        append_event(conn, shipment_id, Event(at=now, kind=kind, status=status, detail=detail))
        self.store.cancel_jobs(conn, shipment_id, now=now)

    def _done(self, job: Job, now: dt.datetime) -> None:
        self.store.transaction(lambda conn: self.store.finish(conn, job, now=now))

    def _retry_or_bury(self, job: Job, now: dt.datetime, error: str) -> None:
        def work(conn: Connection) -> None:
            if job.kind in PERIODIC:  # never buried: it would stop for good
                self.store.retry_later(conn, job, now=now, error=error, count_attempt=False,
                                       run_after=now + dt.timedelta(seconds=self.d.maintenance_interval_seconds))
            elif job.attempts + 1 >= self.d.max_attempts:
                self.store.finish(conn, job, now=now, state=DEAD, error=error)
                self.store.alert(conn, kind="job_failed", now=now, channel=job.channel, shipment_id=job.shipment_id, detail=error[:2000])
            else:
                delay = backoff_seconds(job.attempts + 1, base=self.d.backoff_base_seconds, cap=self.d.backoff_max_seconds, rng=self.rng)
                self.store.retry_later(conn, job, now=now, run_after=now + dt.timedelta(seconds=delay), error=error)

        try:
            self.store.transaction(work)
        except LeaseLost as exc:
            logger.warning("%s", exc)

    # --- helpers ---

    def _shipment(self, job: Job) -> StoredShipment:
        stored = self.repository.get(job.shipment_id or "")
        if stored is None:
            raise LookupError(f"job {job.id} names an unknown shipment {job.shipment_id}")
        return stored

    def _calendar_for(self, stored: StoredShipment) -> WorkingCalendar:
        """Working days where the recipient lives: Danish holidays for CPR/CVR recipients."""
        if stored.shipment.recipient.kind in (PartyKind.DK_CPR, PartyKind.DK_CVR):
            return self._danish_calendar
        return self.calendar

    def _outage(self, health: ChannelHealth, now: dt.datetime) -> bool:
        limit = dt.timedelta(hours=self.d.outage_to_print_hours)
        return health.failing_since is not None and now - health.failing_since >= limit

    def _read_deadline_hours(self, stored: StoredShipment) -> float:
        if stored.shipment.delivery.read_deadline_hours:
            return stored.shipment.delivery.read_deadline_hours
        sender = self.settings.sender(stored.shipment.tenant)
        if sender is not None and sender.read_deadline_working_hours:
            return sender.read_deadline_working_hours
        return self.d.read_deadline_working_hours

    def _poll_interval(self, channel: str) -> float:
        if channel == "altinn3":
            return self.settings.channels.altinn3.poll_interval_seconds
        return self.d.maintenance_interval_seconds * 30


def _receipt(d: Any) -> Receipt:
    return Receipt(channel=d.channel, shipment_id=d.shipment_id, idempotency_key=d.idempotency_key, reference=d.reference,
                   status=d.status, detail=d.receipt.get("detail", ""), cost_ore=d.cost_estimate_ore, extra=d.receipt.get("extra", {}))


def _label(channel: str) -> str:
    return DIGITAL_CHANNEL_LABELS.get(channel, "utskrift" if channel == PRINT else channel)


def _outage_text(health: ChannelHealth, now: dt.datetime) -> str:
    hours = (now - health.failing_since).total_seconds() / 3600 if health.failing_since else 0
    return f"{_label(health.channel)} har feilet i {hours:.1f} timer ({health.last_error or 'ukjent feil'}); sendes til utskrift"
