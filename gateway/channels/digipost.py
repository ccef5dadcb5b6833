"""Print through Digipost's API v8: print-only messages, sent in batches (``[channels.print]
provider = "digipost"``).

``submit`` checks the letter as Digipost would (its printability rules, an address the schema
can carry, a return address) and stages it: a letter waits, and can be taken back (``cancel``),
until ``flush`` hands the due letters over. With ``batch_max_letters`` above 1 that is one
Digipost batch (5_batch.md: create, add each message with the batch's uuid, commit: CREATED →
NOT_COMMITTED → COMMITTED/DONE); with 1, each letter is sent alone. ``poll`` reads each sent
letter's document status back: DELIVERED on the PRINT channel is PRINTED; a message Digipost
refused is reported failed, which ends the letter visibly (``print_rejected``).

Digipost reports no price: PRINTED carries the gateway's own estimate (the ``price_*`` and
``postage_*`` settings). The message id is the shipment id and each document's uuid derives
from it, so a message sent again after a lost answer is recognised, never printed twice.

Besides the :class:`~gateway.channels.base.Channel` interface the channel implements
:class:`~gateway.channels.base.PrintOperations`: ``flush``, ``overdue_batches``, ``cancel``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange
from gateway.channels.digipost_client import DigipostClient, DigipostRefused
from gateway.channels.digipost_messages import DocumentPart, PrintAddress, document_uuid, message_xml, multipart_body
from gateway.channels.digipost_messages import print_address, return_address
from gateway.channels.digipost_store import DigipostStore, Entry
from gateway.config import IntakePolicy, PrintSettings, SenderSettings
from gateway.documents.pdf import inspect_pdf
from gateway.documents.printability import PrintRules
from gateway.documents.printjob import count_sheets, estimate_cost_ore
from gateway.errors import DocumentError
from gateway.model import Status, utcnow
from gateway.uuids import is_canonical_uuid

logger = logging.getLogger(__name__)

NAME = "print"
PRINTED, REJECTED = "PRINTED", "REJECTED"
#: Digipost's answer to a message id (or document uuid) it already has: the earlier send arrived.
_ALREADY_THERE = ("DUPLICATE",)


class DigipostPrintChannel:
    name = NAME

    def __init__(self, settings: PrintSettings, client: DigipostClient, *, data_dir: Path,
                 senders: Mapping[str, SenderSettings] | None = None, clock: Callable[[], dt.datetime] = utcnow,
                 policy: IntakePolicy | None = None, rules: PrintRules | None = None) -> None:
        self.settings = settings
        self.client = client
        self.senders = dict(senders or {})
        self.clock = clock
        self.policy = policy or IntakePolicy()
        self.rules = rules or PrintRules()
        self.store = DigipostStore(Path(data_dir) / "print-digipost")
        self.sender_id = settings.digipost.sender_id or settings.digipost.broker_id

    # --- submit ---

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        shipment = letter.shipment
        job_id = shipment.id.lower()
        if not is_canonical_uuid(job_id):
            raise ChannelRejected(f"the print job id must be a UUID, got shipment id {shipment.id!r}", channel=NAME)
        existing = self.store.find(job_id)
        if existing is not None:
            return _receipt(existing, shipment.id, idempotency_key)
        entry, documents = self._prepare(letter, job_id)
        try:
            with self.store.locked():
                existing = self.store.find(job_id)
                if existing is not None:
                    return _receipt(existing, shipment.id, idempotency_key)
                self.store.stage(entry, documents)
        except OSError as exc:
            raise ChannelUnavailable(f"print staging failed: {exc}", channel=NAME) from exc
        logger.info("staged Digipost print letter %s: %d pages", job_id, entry["pages"])
        return _receipt(entry, shipment.id, idempotency_key)

    def _prepare(self, letter: Letter, job_id: str) -> tuple[Entry, list[bytes]]:
        shipment = letter.shipment
        if not shipment.printable:
            raise ChannelRejected("the shipment is digital-only", channel=NAME)
        documents = shipment.printable_documents
        if not documents:
            raise ChannelRejected("every document is excluded from print", channel=NAME)
        sender = self.senders.get(shipment.sender)
        try:
            recipient = print_address(shipment)
            return_to = return_address((sender.return_address if sender else ()) or self.settings.return_address)
            recipient.check("the recipient's address")
            return_to.check("the return address")
        except ValueError as exc:
            raise ChannelRejected(f"Digipost cannot print it: {exc}", channel=NAME) from exc
        contents, pages, parts = [], 0, []
        for i, doc in enumerate(documents):
            data = letter.content(doc)
            try:
                info = inspect_pdf(data, field=f"documents[{i}].content", policy=self.policy, print_rules=self.rules)
            except DocumentError as exc:
                raise ChannelRejected(f"{exc.field}: {exc.message}", channel=NAME) from exc
            if info.print_problems:
                raise ChannelRejected(f"Digipost cannot print documents[{i}] ({doc.filename}): {'; '.join(info.print_problems)}",
                                      channel=NAME)
            contents.append(data)
            pages += info.page_count
            parts.append({"uuid": document_uuid(job_id, i), "subject": shipment.title if i == 0 else doc.filename})
        options = shipment.print_options
        sheets = count_sheets(pages, duplex=options.duplex)
        entry: Entry = {
            "jobId": job_id, "shipmentId": shipment.id, "stagedAt": self.clock().isoformat(), "documents": parts,
            "recipient": dataclasses.asdict(recipient), "returnAddress": dataclasses.asdict(return_to),
            "color": options.color, "pages": pages, "sheets": sheets,
            "costEstimateOre": estimate_cost_ore(self.settings, sheets=sheets, color=options.color, letter_class=options.letter_class),
        }
        try:  # refuse now what the message would refuse at the batch
            self._message(entry, contents, batch_uuid=None)
        except ValueError as exc:
            raise ChannelRejected(f"Digipost cannot print it: {exc}", channel=NAME) from exc
        return entry, contents

    def _message(self, entry: Entry, contents: Sequence[bytes], *, batch_uuid: str | None) -> tuple[bytes, str]:
        parts = [DocumentPart(uuid=d["uuid"], subject=d["subject"], content=data) for d, data in zip(entry["documents"], contents, strict=True)]
        message = message_xml(
            message_id=entry["jobId"], sender_id=self.settings.digipost.sender_id,
            recipient=_address(entry["recipient"]), return_to=_address(entry["returnAddress"]),
            color=entry["color"], nondeliverable=self.settings.digipost.nondeliverable_handling, documents=parts,
            batch_uuid=batch_uuid)
        return multipart_body(message, parts, boundary=uuid.uuid4().hex)

    def cancel(self, shipment_id: str) -> bool:
        """Take a letter back while it waits for a batch; False once Digipost may have it."""
        job_id = shipment_id.lower()
        with self.store.locked():
            if not self.store.is_staged(job_id):
                return False
            self.store.unstage(job_id)
        return True

    # --- batches ---

    def flush(self, *, force: bool = False) -> list[str]:
        """Hand over the letters that are due: ``batch_max_letters`` a batch (alone with 1),
        the rest when the oldest has waited ``batch_max_age_seconds`` or ``force`` is set.
        Answers the new batches' uuids (the letters' ids when sent alone). Every batch not yet
        committed and letter not yet sent is carried on with, this round's and earlier ones'
        alike: an outage stops the round, and the next one goes on where it stopped."""
        size = max(1, self.settings.batch_max_letters)
        max_age = dt.timedelta(seconds=self.settings.batch_max_age_seconds)
        done: list[str] = []
        try:
            with self.store.sending():
                with self.store.locked():  # take the due letters (a moment), then talk to Digipost
                    self.store.recover()
                    done = self._take_due(size=size, max_age=max_age, force=force)
                for batch in self.store.batches():
                    if batch["state"] != "committed":
                        self._finish_batch(batch)
                for job in self.store.unsent():
                    self._send(job, batch_uuid=None)
        except ChannelUnavailable as exc:
            logger.warning("Digipost print: handing over stopped, to go on next round: %s", exc)
        except DigipostRefused as exc:
            logger.error("Digipost print: a batch step was refused, to be tried again next round: %s", exc)
        except OSError as exc:
            logger.error("Digipost print: its folders cannot be written: %s", exc)
        return done

    def _take_due(self, *, size: int, max_age: dt.timedelta, force: bool) -> list[str]:
        """Move the due letters out of staging: into a new batch each ``size``, or to be sent
        alone with ``size`` 1. Answers the new batches' uuids (the letters' ids when alone)."""
        staged = self.store.staged()
        now = self.clock()
        taken: list[str] = []
        while staged:
            oldest = dt.datetime.fromisoformat(staged[0]["stagedAt"])
            if not (force or len(staged) >= size or now - oldest >= max_age):
                break
            chunk, staged = staged[:size], staged[size:]
            if size == 1:
                self.store.take(chunk[0], batch_uuid=None)
                taken.append(chunk[0]["jobId"])
                continue
            batch: Entry = {"uuid": str(uuid.uuid4()), "created": now.isoformat(), "state": "new",
                            "jobs": [entry["jobId"] for entry in chunk]}
            self.store.save_batch(batch)
            for entry in chunk:
                self.store.take(entry, batch_uuid=batch["uuid"])
            taken.append(batch["uuid"])
        return taken

    def _finish_batch(self, batch: Entry) -> None:
        """Create the batch at Digipost (unless done), add each letter not yet in it, commit."""
        if batch["state"] == "new":
            try:
                self.client.create_batch(batch["uuid"])
            except DigipostRefused as exc:
                if exc.status != 409 and not _already_there(exc):
                    raise ChannelUnavailable(f"Digipost refused to create batch {batch['uuid']}: {exc}", channel=NAME) from exc
            batch["state"] = "open"
            self.store.save_batch(batch)
        jobs = self.store.jobs(batch["uuid"])
        for job in jobs:
            if not job.get("sent") and not job.get("outcome"):
                self._send(job, batch_uuid=batch["uuid"])
        if any(job.get("sent") for job in self.store.jobs(batch["uuid"])):
            info = self.client.batch(batch["uuid"])
            if info.status not in ("COMMITTED", "DONE"):  # else committed before, its answer lost
                info = self.client.commit_batch(info)
            batch["status"] = info.status
        batch.update(state="committed", committed=self.clock().isoformat())
        self.store.save_batch(batch)
        logger.info("Digipost print batch %s committed: %d letters (%s)", batch["uuid"], len(jobs), batch.get("status", "empty"))

    def _send(self, job: Entry, *, batch_uuid: str | None) -> None:
        body, content_type = self._message(job, self.store.documents(job), batch_uuid=batch_uuid)
        try:
            answer = self.client.send_message(body, content_type)
        except DigipostRefused as exc:
            if _already_there(exc):
                job["sent"] = True
            else:
                logger.error("Digipost refused print letter %s: %s", job["jobId"], exc)
                job["outcome"] = {"status": REJECTED, "reason": exc.message or str(exc), "at": self.clock().isoformat()}
            self.store.update(job)
            return
        if answer.method and answer.method != "PRINT":
            logger.warning("Digipost print letter %s went by %s, not PRINT", job["jobId"], answer.method)
        job.update(sent=True, deliveryStatus=answer.status, deliveryMethod=answer.method)
        self.store.update(job)

    def overdue_batches(self, now: dt.datetime) -> list[str]:
        """Batches (and letters sent alone) with a letter Digipost has not reported printed
        ``receipt_timeout_hours`` after they were handed over."""
        timeout = dt.timedelta(hours=self.settings.receipt_timeout_hours)
        overdue = []
        for batch in self.store.batches():
            waiting = [j for j in self.store.jobs(batch["uuid"]) if not j.get("outcome")]
            if waiting and now - dt.datetime.fromisoformat(batch["created"]) > timeout:
                overdue.append(batch["uuid"])
        return overdue

    # --- status ---

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        """What became of each given letter: its recorded outcome, else its document status."""
        changes = []
        for receipt in receipts:
            if receipt.channel != NAME or not is_canonical_uuid(receipt.reference):
                continue
            job = self.store.job(receipt.reference)
            if job is None:
                continue
            if not job.get("outcome") and job.get("sent") and self._committed(job):
                try:
                    self._read_status(job)
                except ChannelUnavailable as exc:
                    logger.warning("Digipost print letter %s: status not read now: %s", job["jobId"], exc)
                    continue
                except DigipostRefused as exc:
                    logger.warning("Digipost print letter %s: status refused: %s", job["jobId"], exc)
                    continue
            if job.get("outcome"):
                changes.append(_change(receipt, job))
        return changes

    def _committed(self, job: Entry) -> bool:
        batch = self.store.batch(job["batchUuid"]) if job.get("batchUuid") else None
        return job.get("batchUuid") is None or (batch is not None and batch["state"] == "committed")

    def _read_status(self, job: Entry) -> None:
        status = self.client.document_status(self.sender_id, job["documents"][0]["uuid"])
        if status.status == "DELIVERED" and status.channel == "PRINT":
            job["outcome"] = {"status": PRINTED, "at": status.delivered or self.clock().isoformat()}
            with self.store.sending():
                self.store.update(job)


def _already_there(exc: DigipostRefused) -> bool:
    return any(word in exc.code.upper() for word in _ALREADY_THERE)


def _address(data: Mapping[str, Any]) -> PrintAddress:
    return PrintAddress(name=data["name"], lines=tuple(data.get("lines") or ()), postcode=data.get("postcode", ""),
                        city=data.get("city", ""), country=data.get("country", ""))


def _change(receipt: Receipt, job: Entry) -> StatusChange:
    outcome = job["outcome"]
    at = dt.datetime.fromisoformat(outcome["at"])
    if outcome["status"] == REJECTED:
        return StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=None, at=at,
                            detail=f"Digipost: {outcome['reason']}", failed=True)
    return StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=Status.PRINTED, at=at,
                        detail=_pages(job), cost_ore=job["costEstimateOre"])


def _pages(job: Entry) -> str:
    return f"{job['pages']} sider, {job['sheets']} ark"


def _receipt(entry: Entry, shipment_id: str, idempotency_key: str) -> Receipt:
    return Receipt(channel=NAME, shipment_id=shipment_id, idempotency_key=idempotency_key, reference=entry["jobId"],
                   status=Status.SENT_TO_PRINT, detail=f"Digipost: {_pages(entry)}", cost_ore=entry["costEstimateOre"],
                   extra={"pages": str(entry["pages"]), "sheets": str(entry["sheets"]), "provider": "digipost"})
