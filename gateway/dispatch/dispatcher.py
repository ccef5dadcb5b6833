"""The dispatcher: what each job kind does, and how a letter moves to its final state.

Job kinds:

* ``route`` — choose the channel (register + policy) and go on as the ``submit`` at once; or
  end the letter as NOT_DELIVERED when digital-only and unreachable.
* ``submit`` — hand the letter to a channel with the idempotency key ``<shipment>:<channel>``.
  Transient failures retry with backoff and feed the channel's circuit breaker; past
  ``max_attempts``, after a refusal, or when the channel has been failing longer than
  ``outage_to_print_hours``, the letter falls back to print (or NOT_DELIVERED if digital-only).
* ``poll`` — ask a digital channel for news: NOTIFIED, READ, or failed (→ fallback).
* ``deadline`` — unread when the read deadline passes: print (or DELIVERED if digital-only).
* ``print_cycle``, ``retention`` — periodic (:mod:`gateway.dispatch.print_cycle`, :mod:`gateway.dispatch.retention`).
* ``feed`` — periodic, one per channel with a status feed (:mod:`gateway.dispatch.feed`);
  such a channel's letters get no ``poll`` jobs.
* ``alert_mail`` — periodic: mail the alerts (:mod:`gateway.dispatch.alert_mail`); ``key_expiry``
  — periodic, daily: alert on certificates that expire soon (:mod:`gateway.dispatch.expiry`).
* ``archive_receipt`` — tell the archive a noarkExchange letter came from what became of it
  (:mod:`gateway.dispatch.archive_receipts`); queued by :meth:`Dispatcher.apply` for every
  outcome that ends such a letter.

The dispatcher decides; it holds no database connection. Each handler reads what it needs,
talks to the channel and answers an :class:`~gateway.store.outcome.Outcome`, which
:meth:`DispatchStore.apply <gateway.store.dispatch.DispatchStore.apply>` writes in one
transaction, checking the job's lease once. Texts for people come from
``mappings/dispatch_texts.toml`` in the recipient's language.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping

from gateway.channels.base import (
    Channel, ChannelRejected, ChannelUnavailable, Letter, Polled, PrintOperations, Receipt, StatusChange, StatusFeed,
)
from gateway.config import Settings
from gateway.dispatch import alerting, archive_receipts, expiry, feed, print_cycle, retention
from gateway.dispatch.alert_mail import AlertMail, Mailer
from gateway.dispatch.archive_receipts import ArchiveReceipts, ArchiveSender
from gateway.dispatch.backoff import backoff_seconds
from gateway.dispatch.calendar import WorkingCalendar
from gateway.dispatch.routing import PRINT, RecipientRegister, Route, choose_route
from gateway.dispatch.texts import for_recipient, outage_text, route_text
from gateway.model import FINAL_STATUSES, Clock, Event, PartyKind, Shipment, Status
from gateway.store.blobs import DocumentStore
from gateway.store.dispatch import ChannelHealth, DispatchStore, Job, LeaseLost
from gateway.store.jobs import DEAD, MAX_ERROR
from gateway.store.outcome import (
    Alert, CancelJobs, ChannelFailed, ChannelSucceeded, DeliveryChange, Finish, NewDelivery, NewJob, Outcome, Retry,
)
from gateway.store.repository import Repository, StoredShipment

logger = logging.getLogger(__name__)

PERIODIC = frozenset({"print_cycle", "feed", "alert_mail", expiry.KIND, retention.KIND})
__all__ = ["Dispatcher", "done", "route_text"]


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        repository: Repository,
        store: DispatchStore,
        documents: DocumentStore,
        channels: Mapping[str, Channel],
        register: RecipientRegister,
        clock: Clock,
        rng: random.Random | None = None,
        archive: ArchiveSender | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.settings = settings
        self.policy = settings.dispatch
        self.repository = repository
        self.store = store
        self.documents = documents
        self.channels = dict(channels)
        printer = self.channels.get(PRINT)
        #: The print channel's own operations (batches, receipts, taking letters back).
        self.printer: PrintOperations | None = printer if isinstance(printer, PrintOperations) else None
        self.register = register
        self.clock = clock
        self.rng = rng or random.Random()
        hours = dict(day_start_hour=self.policy.working_day_start_hour, day_end_hour=self.policy.working_day_end_hour)
        self.calendar = WorkingCalendar(country=self.policy.holiday_country, timezone=self.policy.timezone, **hours)
        self._danish_calendar = WorkingCalendar(country="DK", timezone="Europe/Copenhagen", **hours)
        if archive is None:
            from gateway.channels.noark_archive import NoarkArchiveClient
            archive = NoarkArchiveClient()
        self.receipts = ArchiveReceipts(settings=settings, repository=repository, archive=archive, rng=self.rng)
        self.alert_mail = AlertMail(settings=settings, store=store, repository=repository, mailer=mailer, rng=self.rng)
        self._handlers: dict[str, Callable[[Job, dt.datetime], Outcome]] = {
            "route": self._route,
            "submit": self._submit,
            "poll": self._poll,
            "deadline": self._deadline,
            "print_cycle": self._print_cycle,
            archive_receipts.KIND: self.receipts.handle,
            "alert_mail": self.alert_mail.handle,
            expiry.KIND: lambda job, now: expiry.handle(job, now, settings=settings, store=store),
            retention.KIND: lambda job, now: retention.run(now, store=self.store, settings=settings.retention),
        }

    def digital_channels(self, kind: PartyKind) -> list[str]:
        """Digital channels for a recipient of this kind, in order of preference."""
        names = ("digitalpost",) if kind.danish else ("altinn3", "altinn2")
        return [name for name in names if name in self.channels]

    # --- entry point ---

    def handle(self, job: Job) -> None:
        now = self.clock()
        try:
            if job.kind == "feed":  # acknowledges its entries after the commit: it applies its own outcome
                self._feed(job, now)
                return
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise ValueError(f"unknown job kind {job.kind!r}")
            if job.kind not in PERIODIC and job.attempts >= self.policy.max_attempts:
                raise RuntimeError(f"{job.attempts} attempts (workers died or the job kept failing)")
            self.apply(handler(job, now), job)
        except LeaseLost as exc:
            logger.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - a bug or an outage must not kill the worker
            logger.exception("job %s (%s) failed", job.id, job.kind)
            try:
                self.apply(self._retry_or_bury(job, now, f"{type(exc).__name__}: {exc}"), job)
            except LeaseLost as lost:
                logger.warning("%s", lost)

    def apply(self, outcome: Outcome, job: Job | None = None) -> None:
        """Write ``outcome``: the one way the dispatcher's outcomes reach the store, so the
        archive receipts of the letters it ends are queued with them, whoever ended them."""
        self.store.apply(self.receipts.added_to(outcome), job)

    def ensure_periodic_jobs(self) -> None:
        self.store.ensure_job(NewJob(kind=expiry.KIND, run_after=self.clock()))
        if self.settings.alerts.enabled:
            self.store.ensure_job(NewJob(kind="alert_mail", run_after=self.clock()))
        if self.printer is not None:
            self.store.ensure_job(NewJob(kind="print_cycle", channel=PRINT, run_after=self.clock()))
        self.store.ensure_job(NewJob(kind=retention.KIND, run_after=self.clock()))  # idle while [retention] is off
        for name, channel in self.channels.items():
            if isinstance(channel, StatusFeed):
                self.store.ensure_job(NewJob(kind="feed", channel=name, run_after=self.clock()))

    def route_for(self, shipment: Shipment) -> Route:
        """Where ``shipment`` would go now: the register and the channels, nothing recorded."""
        return choose_route(shipment, register=self.register, digital_channels=self.digital_channels(shipment.recipient.kind),
                            print_available=PRINT in self.channels)

    # --- handlers ---

    def _route(self, job: Job, now: dt.datetime) -> Outcome:
        stored = self._shipment(job)
        if stored.status in FINAL_STATUSES:
            return done(now)
        texts = for_recipient(stored.shipment.recipient.kind)
        route = self.route_for(stored.shipment)
        if route.channel is None:
            ended = self._end(stored, Status.NOT_DELIVERED, "not_delivered", route_text(texts, route), now)
            return ended.then(Outcome(at=now, job=Finish(), alerts=(alerting.not_deliverable(stored.shipment.id, route_text(texts, route)),)))
        # The same leased job goes on as the submit at once; the routing is recorded with the
        # submit's outcome (one commit per letter, not two). A crash before that commit
        # repeats routing and submit with the same idempotency key.
        routed = Event(at=now, kind="routed", channel=route.channel,
                       detail=texts("routed", channel=texts.channel(route.channel), reason=route_text(texts, route)))
        submit = Job(id=job.id, shipment_id=job.shipment_id, kind="submit", channel=route.channel, attempts=job.attempts, owner=job.owner)
        return self._submit(submit, now, stored=stored, routed=routed).then(Outcome(at=now, alerts=alerting.address_print(stored.shipment, route)))

    def _submit(self, job: Job, now: dt.datetime, *, stored: StoredShipment | None = None, routed: Event | None = None) -> Outcome:
        stored = stored or self._shipment(job)
        if stored.status in FINAL_STATUSES or stored.status is Status.READ:
            return done(now)  # read meanwhile, or stopped: nothing to send
        if job.channel == PRINT and stored.status is Status.SENT_TO_PRINT:
            return done(now)  # two fallbacks raced (poll failure and deadline): one print
        # a routed job that must wait is a submit from now on
        first = Outcome(at=now, events=((stored.shipment.id, routed),)) if routed else Outcome(at=now)
        becomes = "submit" if routed else None
        texts = for_recipient(stored.shipment.recipient.kind)
        name = job.channel or PRINT
        channel = self.channels.get(name)
        if channel is None:
            return first.then(self._fall_back(job.channel, stored, texts("channel_not_configured", channel=name), now))
        health = self.store.health(name)
        if name != PRINT and self._outage(health, now):
            return first.then(self._fall_back(job.channel, stored, outage_text(texts, health, now), now, alert="channel_outage"))
        if health.open_until and health.open_until > now:
            return first.then(Outcome(at=now, job=Retry(run_after=health.open_until, error=f"{name} circuit open",
                                                        count_attempt=False, kind=becomes, channel=job.channel)))
        letter = Letter(shipment=stored.shipment, content=retention.content_of(self.documents, name))
        try:
            receipt = channel.submit(letter, idempotency_key=f"{stored.shipment.id}:{name}")
        except ChannelUnavailable as exc:
            return first.then(self._unavailable(job, stored, name, exc, now, becomes))
        except ChannelRejected as exc:
            return first.then(self._fall_back(job.channel, stored, texts("refused", channel=texts.channel(name), error=exc), now,
                                              alert="letter_refused"))
        return first.then(self._submitted(stored, receipt, now, health=health))

    def _unavailable(self, job: Job, stored: StoredShipment, name: str, exc: ChannelUnavailable, now: dt.datetime,
                     becomes: str | None) -> Outcome:
        failure = ChannelFailed(channel=name, error=str(exc), threshold=self.policy.breaker_threshold,
                                open_seconds=self.policy.breaker_open_seconds)
        before = self.store.health(name, fresh=True)
        health = before.failed(failure, now=now)
        failed = Outcome(at=now, health=failure, alerts=alerting.channel_down(before, health, threshold=failure.threshold))
        texts = for_recipient(stored.shipment.recipient.kind)
        attempts = job.attempts + 1
        if name != PRINT and self._outage(health, now):
            return failed.then(self._fall_back(job.channel, stored, outage_text(texts, health, now), now, alert="channel_outage"))
        if attempts >= self.policy.max_attempts:
            reason = texts("failed_times", channel=texts.channel(name), attempts=attempts, error=exc)
            return failed.then(self._fall_back(job.channel, stored, reason, now, alert="delivery_failed"))
        delay = backoff_seconds(attempts, base=self.policy.backoff_base_seconds, cap=self.policy.backoff_max_seconds,
                                rng=self.rng, retry_after=exc.retry_after)
        run_after = now + dt.timedelta(seconds=delay)
        if health.open_until and health.open_until > run_after:
            run_after = health.open_until
        return failed.then(Outcome(at=now, job=Retry(run_after=run_after, error=str(exc), kind=becomes, channel=job.channel)))

    def _submitted(self, stored: StoredShipment, receipt: Receipt, now: dt.datetime, *, health: ChannelHealth) -> Outcome:
        sid = stored.shipment.id
        texts = for_recipient(stored.shipment.recipient.kind)
        succeeded = None if health.clean else ChannelSucceeded(channel=receipt.channel)
        if receipt.status is Status.SENT_TO_PRINT:  # our print channel, or a mailbox's own remote print (SF1601)
            detail = f"{receipt.detail or texts('queued_for_print')}{texts.kroner('estimated_cost', receipt.cost_ore)}"
            return Outcome(
                at=now, job=Finish(), health=succeeded,
                deliveries=(NewDelivery(receipt=receipt, language=texts.language),),
                events=((sid, Event(at=now, kind="sent_to_print", status=Status.SENT_TO_PRINT, channel=receipt.channel,
                                    detail=detail)),),
            )
        deadline = self._calendar_for(stored).add_working_hours(now, self._read_deadline_hours(stored))
        detail = texts("sent_digital", channel=texts.channel(receipt.channel), reference=receipt.reference,
                       deadline=deadline.isoformat(timespec="minutes"))
        return Outcome(
            at=now, job=Finish(), health=succeeded,
            deliveries=(NewDelivery(receipt=receipt, read_deadline=deadline, language=texts.language),),
            events=((sid, Event(at=now, kind="sent_digital", status=Status.SENT_DIGITAL, channel=receipt.channel, detail=detail)),),
            jobs=(
                *self._poll_job(receipt.channel, sid, now),
                NewJob(kind="deadline", channel=receipt.channel, shipment_id=sid, run_after=deadline),
            ),
        )

    def _poll_job(self, channel: str, shipment_id: str, now: dt.datetime) -> tuple[NewJob, ...]:
        """The letter's own poll job, unless its channel reports through its feed."""
        if isinstance(self.channels.get(channel), StatusFeed):
            return ()
        return (NewJob(kind="poll", channel=channel, shipment_id=shipment_id,
                       run_after=now + dt.timedelta(seconds=self._poll_interval(channel))),)

    def _poll(self, job: Job, now: dt.datetime) -> Outcome:
        stored = self._shipment(job)
        name = job.channel or ""
        channel = self.channels.get(name)
        if stored.status in FINAL_STATUSES or stored.status in (Status.READ, Status.SENT_TO_PRINT) or channel is None:
            return done(now)
        if isinstance(channel, StatusFeed) or not isinstance(channel, Polled):
            return done(now)  # queued before its channel reported through a feed: the feed tells now
        receipts = [d.as_receipt() for d in self.store.deliveries(shipment_id=stored.shipment.id, channel=name, open_only=True)]
        if not receipts:
            return done(now)
        try:
            changes = channel.poll(receipts)
        except (ChannelUnavailable, ChannelRejected) as exc:
            delay = backoff_seconds(job.attempts + 1, base=self.policy.backoff_base_seconds, cap=self._poll_interval(name), rng=self.rng)
            return Outcome(at=now, job=Retry(run_after=now + dt.timedelta(seconds=delay), error=str(exc)))
        return self._polled(job, stored, changes, receipts, now)

    def _polled(self, job: Job, stored: StoredShipment, changes: list[StatusChange], receipts: list[Receipt],
                now: dt.datetime) -> Outcome:
        news = self.news(stored, changes, {r.reference: r.idempotency_key for r in receipts}, job.channel or "", now)
        if news.job is not None:
            return news  # nothing more to learn about this letter
        again = now + dt.timedelta(seconds=self._poll_interval(job.channel or ""))
        return news.then(Outcome(at=now, job=Retry(run_after=again, count_attempt=False)))

    def news(self, stored: StoredShipment, changes: list[StatusChange], keys: Mapping[str, str], channel: str,
             now: dt.datetime) -> Outcome:
        """What a channel's news about one letter changes (``keys``: the channel's references →
        the deliveries' idempotency keys). The outcome ends the job (``Finish``) when there is
        nothing more to learn about the letter: read, delivered for good, printed, or failed."""
        sid, status = stored.shipment.id, stored.status
        texts = for_recipient(stored.shipment.recipient.kind)
        outcome = Outcome(at=now)
        for change in changes:
            key = keys.get(change.reference)
            if change.failed:
                closed = (DeliveryChange(idempotency_key=key, open=False),) if key else ()
                outcome = outcome.then(Outcome(at=now, delivery_changes=closed, cancel=(CancelJobs(shipment_id=sid, kinds=("deadline",)),)))
                return outcome.then(self._fall_back(channel, stored, change.detail or texts("mailbox_failed"), now, alert="mailbox_refused"))
            if change.status in (Status.DELIVERED, Status.PRINTED):  # the channel has it for good; no read status follows
                ended = (DeliveryChange(idempotency_key=key, status=change.status, open=False),) if key else ()
                kind = "delivered" if change.status is Status.DELIVERED else "printed"
                return outcome.then(Outcome(
                    at=now, job=Finish(), delivery_changes=ended, cancel=(CancelJobs(shipment_id=sid),),
                    events=((sid, Event(at=change.at, kind=kind, status=change.status, channel=channel, detail=change.detail)),),
                ))
            if change.status is Status.READ:
                read = (DeliveryChange(idempotency_key=key, status=Status.READ, open=False),) if key else ()
                return outcome.then(Outcome(
                    at=now, job=Finish(), delivery_changes=read, cancel=(CancelJobs(shipment_id=sid, kinds=("deadline",)),),
                    events=((sid, Event(at=change.at, kind="read", status=Status.READ, channel=channel, detail=change.detail)),),
                ))
            if change.status is Status.NOTIFIED and status is Status.SENT_DIGITAL:
                notified = (DeliveryChange(idempotency_key=key, status=Status.NOTIFIED),) if key else ()
                outcome = outcome.then(Outcome(at=now, delivery_changes=notified, events=(
                    (sid, Event(at=change.at, kind="notified", status=Status.NOTIFIED, channel=channel, detail=change.detail)),)))
                status = Status.NOTIFIED
        return outcome

    def _deadline(self, job: Job, now: dt.datetime) -> Outcome:
        stored = self._shipment(job)
        if stored.status in FINAL_STATUSES or stored.status in (Status.READ, Status.SENT_TO_PRINT):
            return done(now)
        sid = stored.shipment.id
        texts = for_recipient(stored.shipment.recipient.kind)
        closed = tuple(DeliveryChange(idempotency_key=d.idempotency_key, open=False)
                       for d in self.store.deliveries(shipment_id=sid, open_only=True) if d.channel != PRINT)
        expired = Outcome(at=now, delivery_changes=closed, cancel=(CancelJobs(shipment_id=sid, kinds=("poll",)),))
        if stored.shipment.printable:
            return expired.then(self._fall_back(job.channel, stored, texts("deadline_print"), now))
        return expired.then(Outcome(at=now, job=Finish(), events=(
            (sid, Event(at=now, kind="delivered", status=Status.DELIVERED, channel=job.channel, detail=texts("deadline_digital_only"))),)))

    def _feed(self, job: Job, now: dt.datetime) -> None:
        """Read the channel's feed, commit what it says, and only then acknowledge the entries
        (a crash in between reads them again; reading twice changes nothing). A full batch
        means more are waiting: the next round starts at once."""
        channel = self.channels.get(job.channel or "")
        if not isinstance(channel, StatusFeed):
            self.store.apply(done(now), job)  # the channel is no longer configured
            return
        interval = dt.timedelta(seconds=self.policy.maintenance_interval_seconds)
        try:
            entries = channel.fetch(limit=self.policy.feed_batch)
        except ChannelUnavailable as exc:
            self.store.apply(Outcome(at=now, job=Retry(run_after=now + interval, error=str(exc), count_attempt=False)), job)
            return
        round_ = feed.read(job.channel or "", entries, store=self.store, repository=self.repository, news=self.news, now=now,
                           next_round=now if len(entries) >= self.policy.feed_batch else now + interval)
        try:
            self.apply(round_.outcome, job)
        except BaseException:
            channel.release(entries)
            raise
        try:
            channel.acknowledge(round_.recorded)
            channel.release(round_.later)
        except Exception:  # noqa: BLE001 - recorded already; the feed answers them again and that is harmless
            logger.warning("%s: could not acknowledge %d feed entries; they will be read again", job.channel,
                           len(round_.recorded), exc_info=True)

    def _print_cycle(self, job: Job, now: dt.datetime) -> Outcome:
        channel = self.channels.get(PRINT)
        if not isinstance(channel, Polled) or self.printer is None:
            return done(now)
        return print_cycle.run(now, channel=channel, printer=self.printer, store=self.store, repository=self.repository,
                               interval_seconds=self.policy.maintenance_interval_seconds)

    # --- shared moves ---

    def _fall_back(self, channel: str | None, stored: StoredShipment, reason: str, now: dt.datetime, *,
                   alert: str | None = None) -> Outcome:
        """``channel`` cannot deliver: print if allowed, else the letter ends undelivered."""
        sid = stored.shipment.id
        alerts = (Alert(kind=alert, channel=channel, shipment_id=sid, detail=reason),) if alert else ()
        if channel != PRINT and stored.shipment.printable and PRINT in self.channels:
            return Outcome(at=now, job=Finish(), alerts=alerts,
                           events=((sid, Event(at=now, kind="fallback_print", channel=channel, detail=reason)),),
                           jobs=(NewJob(kind="submit", channel=PRINT, shipment_id=sid, run_after=now),))
        alerts = alerts or (alerting.not_deliverable(sid, reason, channel),)
        return Outcome(at=now, job=Finish(), alerts=alerts).then(self._end(stored, Status.NOT_DELIVERED, "not_delivered", reason, now))

    def _end(self, stored: StoredShipment, status: Status, kind: str, detail: str, now: dt.datetime) -> Outcome:
        """The letter is over: its status, and none of its jobs waits any more."""
        sid = stored.shipment.id
        return Outcome(at=now, events=((sid, Event(at=now, kind=kind, status=status, detail=detail)),),
                       cancel=(CancelJobs(shipment_id=sid),))

    def _retry_or_bury(self, job: Job, now: dt.datetime, error: str) -> Outcome:
        if job.kind in PERIODIC:  # never buried: it would stop for good
            return Outcome(at=now, job=Retry(run_after=now + dt.timedelta(seconds=self.policy.maintenance_interval_seconds),
                                             error=error, count_attempt=False))
        if job.attempts + 1 >= self.policy.max_attempts:
            if job.kind == archive_receipts.KIND:  # the letter is over already; only the receipt failed
                return self.receipts.given_up(job, error, now)
            buried = Outcome(at=now, job=Finish(state=DEAD, error=error),
                             alerts=(Alert(kind="job_failed", channel=job.channel, shipment_id=job.shipment_id, detail=error[:MAX_ERROR]),))
            return self._given_up(job, now, error).then(buried)
        delay = backoff_seconds(job.attempts + 1, base=self.policy.backoff_base_seconds, cap=self.policy.backoff_max_seconds, rng=self.rng)
        return Outcome(at=now, job=Retry(run_after=now + dt.timedelta(seconds=delay), error=error))

    def _given_up(self, job: Job, now: dt.datetime, error: str) -> Outcome:
        """A job that will not be tried again must not leave its letter waiting for nothing: the
        letter falls back (print) or ends NOT_DELIVERED. A poll is the exception: its letter's
        deadline job still decides. Answers nothing when the letter cannot be read (the store
        is what failed) or has ended meanwhile."""
        if job.shipment_id is None or job.kind == "poll":
            return Outcome(at=now)
        try:
            stored = self._shipment(job)
        except Exception:  # noqa: BLE001 - the alert still goes out; the letter stays visible as it is
            logger.exception("job %s: its letter could not be read to end it", job.id)
            return Outcome(at=now)
        if stored.status in FINAL_STATUSES or stored.status is Status.READ:
            return Outcome(at=now)
        texts = for_recipient(stored.shipment.recipient.kind)
        reason = texts("gave_up", attempts=job.attempts + 1, error=error[:300])
        return self._fall_back(job.channel, stored, reason, now)

    # --- helpers ---

    def _shipment(self, job: Job) -> StoredShipment:
        stored = self.repository.get(job.shipment_id or "")
        if stored is None:
            raise LookupError(f"job {job.id} names an unknown shipment {job.shipment_id}")
        return stored

    def _calendar_for(self, stored: StoredShipment) -> WorkingCalendar:
        """Working days where the recipient lives: Danish holidays for CPR/CVR recipients."""
        return self._danish_calendar if stored.shipment.recipient.kind.danish else self.calendar

    def _outage(self, health: ChannelHealth, now: dt.datetime) -> bool:
        return health.failing_since is not None and health.failing_for(now) >= dt.timedelta(hours=self.policy.outage_to_print_hours)

    def _read_deadline_hours(self, stored: StoredShipment) -> float:
        if stored.shipment.delivery.read_deadline_hours:
            return stored.shipment.delivery.read_deadline_hours
        sender = self.settings.sender(stored.shipment.sender)
        if sender is not None and sender.read_deadline_working_hours:
            return sender.read_deadline_working_hours
        return self.policy.read_deadline_working_hours

    def _poll_interval(self, channel: str) -> float:
        if channel == "altinn3":
            return self.settings.channels.altinn3.poll_interval_seconds
        return self.policy.maintenance_interval_seconds * 30


def done(now: dt.datetime) -> Outcome:
    """Nothing to do: the job is finished."""
    return Outcome(at=now, job=Finish())
