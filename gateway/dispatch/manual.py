"""Operator actions on single letters."""
from __future__ import annotations

from typing import Protocol

from gateway.errors import ConflictError, FaultCode, NotFoundError
from gateway.model import FINAL_STATUSES, Event, Status, utcnow
from gateway.store.jobs import Job
from gateway.store.outcome import CancelJobs, Outcome
from gateway.store.repository import Repository


class Applies(Protocol):
    """Writes an outcome: :meth:`Dispatcher.apply <gateway.dispatch.dispatcher.Dispatcher.apply>`,
    so what follows from the letter's end (its status receipt to the archive) goes with it."""

    def apply(self, outcome: Outcome, job: Job | None = None) -> None: ...

GONE_TO_PRINT = frozenset({Status.SENT_TO_PRINT, Status.PRINTED})


def stop_shipment(repository: Repository, store: Applies, shipment_id: str, *, reason: str, operator: str = "") -> Status:
    """Stop a letter that has not gone to print (MANUELT_HANDTERT); answers the new status."""
    stored = repository.get(shipment_id)
    if stored is None:
        raise NotFoundError(f"no shipment {shipment_id}", code=FaultCode.SHIPMENT_NOT_FOUND)
    if stored.status in GONE_TO_PRINT:
        raise ConflictError(f"{shipment_id} has already gone to print ({stored.status})", code=FaultCode.SHIPMENT_ID_CONFLICT)
    if stored.status in FINAL_STATUSES:
        raise ConflictError(f"{shipment_id} is already finished ({stored.status})", code=FaultCode.SHIPMENT_ID_CONFLICT)
    now = utcnow()
    who = f" ({operator})" if operator else ""
    store.apply(Outcome(
        at=now,
        events=((shipment_id, Event(at=now, kind="manually_handled", status=Status.MANUALLY_HANDLED, detail=f"{reason}{who}")),),
        cancel=(CancelJobs(shipment_id=shipment_id),),
    ))
    return Status.MANUALLY_HANDLED
