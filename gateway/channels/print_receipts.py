"""The print house's receipts: one file per batch (``xsd/print-receipt.xsd``), read and
turned into what became of each letter.

A receipt is untrusted input: it is parsed with the hardened parser, must fit its schema,
and must be named after the batch it speaks of. What it says of each job is kept with the
job (:class:`RecordedOutcome`, JSON on disk) until the dispatcher has asked for it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypedDict

from lxml import etree

from gateway.channels.print_manifest import RECEIPT_SCHEMA, check_schema
from gateway.delivery import PrintCost, Receipt, StatusChange
from gateway.model import Status
from gateway.xml.parser import parse_untrusted
from gateway.xml.schemas import SchemaRegistry

RECEIPT_NS = "urn:gateway:print:receipt:1"
REJECTED = "REJECTED"
#: The detail of a rejection the print house gave no reason for.
REJECTED_WITHOUT_REASON = "avvist av trykkeriet"


class JobOutcome(TypedDict):
    """What the receipt says of one job (keys are the receipt's element names)."""

    shipmentId: str
    pages: int
    sheets: int
    productionCostOre: int
    postageOre: int
    status: str  # PRINTED or REJECTED
    reason: str | None


class RecordedOutcome(JobOutcome):
    """An outcome as kept with its job: with the batch and when it was produced."""

    produced: str  # ISO 8601 with zone
    batchId: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchReceipt:
    batch_id: str
    produced: str  # ISO 8601 with zone
    jobs: tuple[JobOutcome, ...]

    def recorded(self, job: JobOutcome) -> RecordedOutcome:
        return {**job, "produced": self.produced, "batchId": self.batch_id}


def read_receipt(data: bytes, *, file_stem: str, schemas: SchemaRegistry) -> BatchReceipt:
    """The receipt in ``data``, from a file named ``<file_stem>.xml``.

    Raises :class:`~gateway.errors.GatewayError` for XML the hardened parser refuses, and
    ``ValueError`` for a receipt that does not fit its schema or names another batch.
    """
    root = parse_untrusted(data)
    check_schema(schemas, RECEIPT_SCHEMA, root)
    batch_id = root.get("batchId", "").lower()
    if file_stem.lower() != batch_id:
        raise ValueError(f"the file is named {file_stem}.xml but is the receipt of batch {batch_id}")
    produced = dt.datetime.fromisoformat(root.get("produced", "")).isoformat()
    ns = {"r": RECEIPT_NS}

    def text(el: etree._Element, tag: str) -> str:
        return el.findtext(f"r:{tag}", namespaces=ns) or ""

    jobs = tuple(JobOutcome(
        shipmentId=text(el, "shipmentId").lower(),
        pages=int(text(el, "pages")),
        sheets=int(text(el, "sheets")),
        productionCostOre=int(text(el, "productionCostOre")),
        postageOre=int(text(el, "postageOre")),
        status=el.findtext("r:status", default="PRINTED", namespaces=ns),
        reason=el.findtext("r:reason", namespaces=ns),
    ) for el in root.iterfind("r:Job", ns))
    return BatchReceipt(batch_id=batch_id, produced=produced, jobs=jobs)


def status_change(receipt: Receipt, outcome: RecordedOutcome) -> StatusChange:
    """What the print house's outcome means for the letter of ``receipt``."""
    at = dt.datetime.fromisoformat(outcome["produced"])
    if outcome["status"] == REJECTED:
        return StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=None, at=at,
                            detail=outcome.get("reason") or REJECTED_WITHOUT_REASON, failed=True)
    return StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=Status.PRINTED, at=at,
                        detail=pages_and_sheets(outcome["pages"], outcome["sheets"]),
                        cost_ore=outcome["productionCostOre"] + outcome["postageOre"],
                        print_cost=PrintCost(production_ore=outcome["productionCostOre"], postage_ore=outcome["postageOre"],
                                             sheets=outcome["sheets"]))


def pages_and_sheets(pages: int, sheets: int) -> str:
    """How a job's size reads in its events, estimated or printed."""
    return f"{pages} sider, {sheets} ark"
