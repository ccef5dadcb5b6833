"""The periodic print cycle: take back staged letters nobody needs on paper any more, close
the batches that are due, read the print house's receipts (PRINTED with the real cost, or
refused), and alert on batches whose receipt is overdue.

Like every handler it answers an :class:`~gateway.store.outcome.Outcome`; the job never
ends, it waits ``maintenance_interval_seconds`` for its next turn.
"""
from __future__ import annotations

import datetime as dt

from gateway.channels.base import Polled, PrintOperations
from gateway.dispatch.routing import PRINT
from gateway.dispatch.texts import OPERATOR_LANGUAGE, texts
from gateway.model import Event, Status
from gateway.store.deliveries import Delivery
from gateway.store.dispatch import DispatchStore
from gateway.store.outcome import Alert, CancelJobs, DeliveryChange, Outcome, Retry
from gateway.store.repository import Repository

#: Letters in these states are not to be printed any more (the text key says why).
NOT_WANTED_ON_PAPER = {Status.READ: "print_stopped_read", Status.MANUALLY_HANDLED: "print_stopped_manual"}


def run(now: dt.datetime, *, channel: Polled, printer: PrintOperations, store: DispatchStore, repository: Repository,
        interval_seconds: float) -> Outcome:
    events: list[tuple[str, Event]] = []
    changes: list[DeliveryChange] = []
    cancels: list[CancelJobs] = []
    alerts: list[Alert] = []
    open_deliveries = store.deliveries(channel=PRINT, open_only=True)
    taken_back = _take_back(printer, repository, open_deliveries, now, events=events, changes=changes)
    printer.flush()
    waiting = [d for d in open_deliveries if d.idempotency_key not in taken_back]
    by_shipment = {d.shipment_id: d for d in waiting}
    for change in channel.poll([d.as_receipt() for d in waiting]) if waiting else []:
        delivery = by_shipment.get(change.shipment_id)
        if delivery is None:
            continue
        words, sid = texts(delivery.language), change.shipment_id
        if change.failed:
            changes.append(DeliveryChange(idempotency_key=delivery.idempotency_key, open=False))
            events.append((sid, Event(at=now, kind="not_delivered", status=Status.NOT_DELIVERED,
                                      detail=words("print_rejected", detail=change.detail))))
            cancels.append(CancelJobs(shipment_id=sid))
            alerts.append(Alert(kind="print_rejected", channel=PRINT, shipment_id=sid, detail=change.detail))
            continue
        changes.append(DeliveryChange(idempotency_key=delivery.idempotency_key, status=Status.PRINTED, open=False,
                                      cost_ore=change.cost_ore, print_cost=change.print_cost))
        events.append((sid, Event(at=change.at, kind="printed", status=Status.PRINTED, channel=PRINT,
                                  detail=f"{change.detail}{words.kroner('cost', change.cost_ore)}")))
    alerted = {a["detail"] for a in store.alerts(kind="print_receipt_overdue")}
    operator = texts(OPERATOR_LANGUAGE)
    for batch in printer.overdue_batches(now):
        text = operator("print_overdue", batch=batch)
        if text not in alerted:
            alerts.append(Alert(kind="print_receipt_overdue", channel=PRINT, detail=text))
    return Outcome(at=now, events=tuple(events), delivery_changes=tuple(changes), cancel=tuple(cancels), alerts=tuple(alerts),
                   job=Retry(run_after=now + dt.timedelta(seconds=interval_seconds), count_attempt=False))


def _take_back(printer: PrintOperations, repository: Repository, open_deliveries: list[Delivery], now: dt.datetime, *,
               events: list[tuple[str, Event]], changes: list[DeliveryChange]) -> set[str]:
    """Letters read or stopped after they were queued for print: take them back if still
    staged. Answers the idempotency keys taken back."""
    if not open_deliveries:
        return set()
    found = repository.statuses([d.shipment_id for d in open_deliveries])
    taken: set[str] = set()
    for d in open_deliveries:
        current = found.get(d.shipment_id)
        key = NOT_WANTED_ON_PAPER.get(current[1]) if current is not None else None
        if key is not None and printer.cancel(d.shipment_id):
            taken.add(d.idempotency_key)
            changes.append(DeliveryChange(idempotency_key=d.idempotency_key, open=False))
            events.append((d.shipment_id, Event(at=now, kind="print_cancelled", channel=PRINT, detail=texts(d.language)(key))))
    return taken
