"""Deliveries: what each channel took, under which idempotency key, and what became of it."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.delivery import Receipt
from gateway.model import Status
from gateway.store import tables
from gateway.store.outcome import DeliveryChange, NewDelivery
from gateway.store.tables import as_utc

_deliveries = tables.deliveries
_INSERT = _deliveries.insert()


@dataclass(frozen=True, slots=True)
class Delivery:
    shipment_id: str
    channel: str
    idempotency_key: str
    reference: str
    status: Status
    submitted_at: dt.datetime
    read_deadline: dt.datetime | None
    cost_estimate_ore: int | None
    cost_ore: int | None
    open: bool
    receipt: dict[str, Any]

    @property
    def language(self) -> str:
        """The language of the letter's history texts (chosen when it was submitted)."""
        return str(self.receipt.get("language", "nb"))

    def as_receipt(self) -> Receipt:
        """The receipt the channel gave, to ask the channel about it again."""
        return Receipt(channel=self.channel, shipment_id=self.shipment_id, idempotency_key=self.idempotency_key,
                       reference=self.reference, status=self.status, detail=self.receipt.get("detail", ""),
                       cost_ore=self.cost_estimate_ore, extra=self.receipt.get("extra", {}))


def insert(conn: Connection, new: Sequence[NewDelivery], *, now: dt.datetime) -> None:
    if new:
        conn.execute(_INSERT, [
            dict(shipment_id=d.receipt.shipment_id, channel=d.receipt.channel, idempotency_key=d.receipt.idempotency_key,
                 reference=d.receipt.reference, status=str(d.receipt.status), submitted_at=now, read_deadline=d.read_deadline,
                 cost_estimate_ore=d.receipt.cost_ore, cost_ore=None, open=True,
                 receipt={"detail": d.receipt.detail, "extra": dict(d.receipt.extra), "language": d.language})
            for d in new
        ])


def change(conn: Connection, what: DeliveryChange) -> None:
    values: dict[str, Any] = {}
    if what.status is not None:
        values["status"] = str(what.status)
    if what.open is not None:
        values["open"] = what.open
    if what.cost_ore is not None:
        values["cost_ore"] = what.cost_ore
    if what.print_cost is not None:
        values.update(production_cost_ore=what.print_cost.production_ore, postage_ore=what.print_cost.postage_ore,
                      sheets=what.print_cost.sheets)
    if values:
        conn.execute(_deliveries.update().where(_deliveries.c.idempotency_key == what.idempotency_key).values(**values))


def select(*, shipment_id: str | None = None, channel: str | None = None, open_only: bool = False,
           references: Sequence[str] | None = None) -> sa.Select[Any]:
    query = sa.select(_deliveries).order_by(_deliveries.c.id)
    if references is not None:
        query = query.where(_deliveries.c.reference.in_(list(references)))
    if shipment_id is not None:
        query = query.where(_deliveries.c.shipment_id == shipment_id)
    if channel is not None:
        query = query.where(_deliveries.c.channel == channel)
    if open_only:
        query = query.where(_deliveries.c.open.is_(True))
    return query


def from_row(r: Any) -> Delivery:
    return Delivery(shipment_id=r.shipment_id, channel=r.channel, idempotency_key=r.idempotency_key, reference=r.reference,
                    status=Status(r.status), submitted_at=as_utc(r.submitted_at),
                    read_deadline=as_utc(r.read_deadline) if r.read_deadline else None,
                    cost_estimate_ore=r.cost_estimate_ore, cost_ore=r.cost_ore, open=r.open, receipt=r.receipt)
