"""Operator actions on single letters: stop it, send it to print now, retry it now. Each
writes an :class:`Outcome` through the applier (:meth:`Dispatcher.apply`) with an event that
names the operator and the reason."""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Protocol

from gateway.errors import ConflictError, FaultCode, NotFoundError
from gateway.model import FINAL_STATUSES, Event, Status, utcnow
from gateway.store.jobs import Job
from gateway.store.outcome import CancelJobs, DeliveryChange, NewJob, Outcome
from gateway.store.repository import Repository, StoredShipment

PRINT = "print"


class Applies(Protocol):
    """Writes an outcome: :meth:`Dispatcher.apply <gateway.dispatch.dispatcher.Dispatcher.apply>`,
    so what follows from the letter's end (its status receipt to the archive) goes with it."""

    def apply(self, outcome: Outcome, job: Job | None = None) -> None: ...

GONE_TO_PRINT = frozenset({Status.SENT_TO_PRINT, Status.PRINTED})


def stop_shipment(repository: Repository, store: Applies, shipment_id: str, *, reason: str, operator: str = "",
                  now: dt.datetime | None = None) -> Status:
    """Stop a letter that has not gone to print (MANUELT_HANDTERT); answers the new status.
    ``now``: the dispatcher's time (its clock), else the wall clock's."""
    _still_moving(repository, shipment_id)
    now = now or utcnow()
    store.apply(Outcome(
        at=now,
        events=((shipment_id, Event(at=now, kind="manually_handled", status=Status.MANUALLY_HANDLED,
                                    detail=_said(reason, operator))),),
        cancel=(CancelJobs(shipment_id=shipment_id),),
    ))
    return Status.MANUALLY_HANDLED


def print_now(repository: Repository, store: Applies, shipment_id: str, *, reason: str, operator: str = "",
              open_deliveries: Collection[str] = (), print_available: bool = True, now: dt.datetime | None = None) -> None:
    """Send a letter to print now, without waiting for its read deadline: its open digital
    deliveries (idempotency keys) close, its waiting jobs are cancelled, and a print submit is due."""
    stored = _still_moving(repository, shipment_id)
    if not print_available:
        raise ConflictError("the print channel is not configured", code=FaultCode.SHIPMENT_ID_CONFLICT)
    if not stored.shipment.printable:
        raise ConflictError(f"{shipment_id} is digital only: its sender does not allow print", code=FaultCode.SHIPMENT_ID_CONFLICT)
    now = now or utcnow()
    store.apply(Outcome(
        at=now,
        events=((shipment_id, Event(at=now, kind="manual_print", channel=PRINT, detail=_said(reason, operator))),),
        delivery_changes=tuple(DeliveryChange(idempotency_key=key, open=False) for key in open_deliveries),
        cancel=(CancelJobs(shipment_id=shipment_id),),
        jobs=(NewJob(kind="submit", channel=PRINT, shipment_id=shipment_id, run_after=now),),
    ))


def retry_now(repository: Repository, store: Applies, shipment_id: str, *, reason: str, operator: str = "",
              waiting_jobs: int, now: dt.datetime | None = None) -> None:
    """The letter's waiting jobs (a submit in back-off, a poll) run now instead of later;
    ``waiting_jobs``: how many wait (none: nothing to retry)."""
    _still_moving(repository, shipment_id)
    if waiting_jobs <= 0:
        raise ConflictError(f"{shipment_id} has no job waiting to be retried", code=FaultCode.SHIPMENT_ID_CONFLICT)
    now = now or utcnow()
    store.apply(Outcome(at=now, events=((shipment_id, Event(at=now, kind="manual_retry", detail=_said(reason, operator))),),
                        hasten=(shipment_id,)))


def _still_moving(repository: Repository, shipment_id: str) -> StoredShipment:
    """The letter, if it exists and has neither gone to print nor ended."""
    stored = repository.get(shipment_id)
    if stored is None:
        raise NotFoundError(f"no shipment {shipment_id}", code=FaultCode.SHIPMENT_NOT_FOUND)
    if stored.status in GONE_TO_PRINT:
        raise ConflictError(f"{shipment_id} has already gone to print ({stored.status})", code=FaultCode.SHIPMENT_ID_CONFLICT)
    if stored.status in FINAL_STATUSES:
        raise ConflictError(f"{shipment_id} is already finished ({stored.status})", code=FaultCode.SHIPMENT_ID_CONFLICT)
    return stored


def _said(reason: str, operator: str) -> str:
    return f"{reason} ({operator})" if operator else reason
