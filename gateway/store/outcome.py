"""What handling a job did, as a value: the dispatcher decides it, the store applies it.

The dispatcher never holds a database connection. It reads what it needs, talks to the
channel, and answers an :class:`Outcome`; :meth:`gateway.store.dispatch.DispatchStore.apply`
writes the whole outcome in one transaction and checks the job's lease once, last, so a
worker that lost its lease changes nothing (:class:`gateway.store.jobs.LeaseLost`).
"""
from __future__ import annotations

import datetime as dt

from gateway.delivery import PrintCost, Receipt
from gateway.frozen import frozen
from gateway.model import Event, Status



@frozen
class Finish:
    """The job is over: done, or dead with the error that killed it."""

    state: str = "done"
    error: str | None = None


@frozen
class Retry:
    """The job waits until ``run_after``; a ``kind`` turns it into that job (for ``channel``)
    as it waits (a routed letter whose first submit must be retried goes on as a ``submit``)."""

    run_after: dt.datetime
    error: str = ""
    count_attempt: bool = True
    kind: str | None = None
    channel: str | None = None


JobEnd = Finish | Retry


@frozen
class NewJob:
    kind: str
    run_after: dt.datetime
    shipment_id: str | None = None
    channel: str | None = None


@frozen
class CancelJobs:
    """Cancel the shipment's pending jobs (of ``kinds``, or all that move it: a status receipt to its
    archive is not cancelled, see :data:`gateway.store.jobs.OUTLIVE_THE_LETTER`)."""

    shipment_id: str
    kinds: tuple[str, ...] | None = None


@frozen
class NewDelivery:
    receipt: Receipt
    read_deadline: dt.datetime | None = None
    language: str = "nb"  # of the texts written about it later (printed, cancelled)


@frozen
class DeliveryChange:
    idempotency_key: str
    status: Status | None = None
    open: bool | None = None
    cost_ore: int | None = None
    print_cost: PrintCost | None = None  # the print house's split of cost_ore


@frozen
class Alert:
    kind: str
    detail: str
    channel: str | None = None
    shipment_id: str | None = None


@frozen
class AlertsMailed:
    """What became of the mail of the alerts ``ids``: ``state`` ``sent``, ``duplicate`` or
    ``nobody`` (see :mod:`gateway.store.alert_mail`); None: the mail failed, they wait until
    ``retry_after`` and are tried again (never dropped)."""

    ids: tuple[int, ...]
    state: str | None
    retry_after: dt.datetime | None = None
    error: str = ""


@frozen
class PurgeDocuments:
    """Delete the bytes of these letters' documents, keeping their rows (the retention rule,
    :mod:`gateway.store.retention`)."""

    shipment_ids: tuple[str, ...]


@frozen
class ChannelSucceeded:
    channel: str


@frozen
class ChannelFailed:
    """One more failure of ``channel``: the breaker opens after ``threshold`` in a row."""

    channel: str
    error: str
    threshold: int
    open_seconds: float


HealthChange = ChannelSucceeded | ChannelFailed


@frozen
class Outcome:
    """Everything one job changes, written in one transaction in this order: the channel's
    health, events, new deliveries, delivery changes, cancelled jobs, hastened jobs, new jobs,
    alerts, what became of alerts' mails, purged documents, and last the job's own end (where the
    lease is checked)."""

    at: dt.datetime
    job: JobEnd | None = None
    health: HealthChange | None = None
    events: tuple[tuple[str, Event], ...] = ()
    deliveries: tuple[NewDelivery, ...] = ()
    delivery_changes: tuple[DeliveryChange, ...] = ()
    cancel: tuple[CancelJobs, ...] = ()
    jobs: tuple[NewJob, ...] = ()
    alerts: tuple[Alert, ...] = ()
    #: Letters whose waiting jobs (those that move them) become due at ``at``: an operator's "retry now".
    hasten: tuple[str, ...] = ()
    mailed: tuple[AlertsMailed, ...] = ()
    purge: tuple[PurgeDocuments, ...] = ()

    def then(self, other: Outcome) -> Outcome:
        """This outcome followed by ``other`` (whose job end, if any, wins)."""
        return Outcome(
            at=self.at,
            job=other.job or self.job,
            health=other.health or self.health,
            events=self.events + other.events,
            deliveries=self.deliveries + other.deliveries,
            delivery_changes=self.delivery_changes + other.delivery_changes,
            cancel=self.cancel + other.cancel,
            jobs=self.jobs + other.jobs,
            alerts=self.alerts + other.alerts,
            hasten=self.hasten + other.hasten,
            mailed=self.mailed + other.mailed,
            purge=self.purge + other.purge,
        )


#: Events that say what became of a letter in a channel (``gateway_deliveries_total``'s outcomes).
DELIVERY_EVENTS = frozenset({"sent_digital", "sent_to_print", "notified", "read", "delivered", "printed",
                             "fallback_print", "print_cancelled", "not_delivered"})
#: A transient failure of the channel (the breaker counts it; the letter waits and retries).
UNAVAILABLE = "unavailable"


def delivery_outcomes(outcome: Outcome) -> list[tuple[str, str]]:
    """(channel, outcome) for each delivery event in ``outcome`` (``none``: a letter that ended
    without reaching a channel), and ``unavailable`` for a channel failure."""
    found = [(event.channel or "none", event.kind) for _sid, event in outcome.events if event.kind in DELIVERY_EVENTS]
    if isinstance(outcome.health, ChannelFailed):
        found.append((outcome.health.channel, UNAVAILABLE))
    return found
