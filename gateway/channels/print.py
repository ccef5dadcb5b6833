"""Print: letters become PDF jobs, jobs become batches in the print house's folder.

``submit`` renders the cover page, merges it with the printable documents and stages the
job. ``flush`` moves staged jobs into a batch with a manifest (:mod:`print_manifest`) once
enough have gathered or the oldest has waited long enough. The print house answers with one
receipt per batch (:mod:`print_receipts`), which ``poll`` reads. Where each job is lives in
files (:mod:`print_folders`). The job id is the shipment id, so one shipment is one job, ever.

Besides the :class:`~gateway.channels.base.Channel` interface the channel implements
:class:`~gateway.channels.base.PrintOperations`: ``flush``, ``overdue_batches``, ``cancel``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange
from gateway.channels.print_folders import PrintFolders, StagedJob
from gateway.channels.print_manifest import ManifestJob, manifest_xml, organization_number, print_schemas, recipient_address
from gateway.channels.print_receipts import pages_and_sheets, read_receipt, status_change
from gateway.config import IntakePolicy, PrintSettings, SenderSettings
from gateway.documents.cover import TEXTS, render_cover_page
from gateway.documents.printjob import build_print_pdf, count_sheets, estimate_cost_ore
from gateway.errors import DocumentError, GatewayError, StorageError
from gateway.model import Shipment, Status, utcnow
from gateway.uuids import is_canonical_uuid
from gateway.xml.parser import parse_untrusted
from gateway.xml.schemas import SchemaRegistry

logger = logging.getLogger(__name__)

NAME = "print"



class PrintChannel:
    name = NAME

    def __init__(
        self,
        settings: PrintSettings,
        *,
        data_dir: Path,
        senders: Mapping[str, SenderSettings] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        receipt_settle_seconds: float = 5.0,
        policy: IntakePolicy | None = None,
        schemas: SchemaRegistry | None = None,
    ) -> None:
        """``receipt_settle_seconds``: a receipt file changed more recently than this is
        left for the next poll, in case the print house is still writing it. ``policy``
        bounds the opening of each PDF merged into a job (the intake's, by default).
        ``schemas`` must hold the print schemas (:func:`print_schemas`, by default)."""
        self.settings = settings
        self.senders = dict(senders or {})
        self.clock = clock
        self.receipt_settle_seconds = receipt_settle_seconds
        self.policy = policy or IntakePolicy()
        self.schemas = schemas or print_schemas()
        self.folders = PrintFolders(
            Path(data_dir) / "print",
            outbox=Path(settings.outbox_dir) if settings.outbox_dir else None,
            receipts=Path(settings.receipts_dir) if settings.receipts_dir else None,
        )

    # --- submit ---

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        shipment = letter.shipment
        job_id = shipment.id.lower()
        if not is_canonical_uuid(job_id):
            raise ChannelRejected(f"the print job id must be a UUID, got shipment id {shipment.id!r}", channel=NAME)
        try:
            existing = self.folders.find_job(job_id)
            if existing is not None:
                return _receipt(existing, shipment.id, idempotency_key)
            job, pdf = self._prepare(letter, job_id)
            with self.folders.locked():
                existing = self.folders.find_job(job_id)
                if existing is not None:
                    return _receipt(existing, shipment.id, idempotency_key)
                self.folders.stage(job, pdf, staged_at=self.clock())
        except (OSError, StorageError) as exc:
            raise ChannelUnavailable(f"print staging failed: {exc}", channel=NAME) from exc
        logger.info("staged print job %s: %d pages, %d sheets", job_id, job["pages"], job["sheets"])
        return _receipt(job, shipment.id, idempotency_key)

    def _prepare(self, letter: Letter, job_id: str) -> tuple[ManifestJob, bytes]:
        shipment = letter.shipment
        if not shipment.printable:
            raise ChannelRejected("the shipment is digital-only", channel=NAME)
        if shipment.recipient.address is None:
            raise ChannelRejected("the recipient has no postal address", channel=NAME)
        documents = shipment.printable_documents
        if not documents:
            raise ChannelRejected("every document is excluded from print", channel=NAME)
        sender = self.senders.get(shipment.sender)
        return_address = (sender.return_address if sender else ()) or self.settings.return_address
        sender_name = (sender.display_name if sender else "") or (shipment.sender_party.name if shipment.sender_party else None)
        options = shipment.print_options
        try:
            cover = render_cover_page(shipment, return_address=return_address, language=_language(shipment), sender_name=sender_name)
            merged = build_print_pdf(cover, [letter.content(doc) for doc in documents], duplex=options.duplex, policy=self.policy)
        except DocumentError as exc:
            raise ChannelRejected(f"{exc.field}: {exc.message}", channel=NAME) from exc
        except ValueError as exc:
            raise ChannelRejected(f"the letter cannot be printed: {exc}", channel=NAME) from exc
        sheets = count_sheets(merged.pages, duplex=options.duplex)
        job = ManifestJob(
            shipmentId=job_id,
            file=f"{job_id}.pdf",
            sha256=hashlib.sha256(merged.data).hexdigest(),
            pages=merged.pages,
            sheets=sheets,
            duplex=options.duplex,
            color=options.color,
            letterClass=options.letter_class.value,
            recipient=recipient_address(shipment),
            costEstimateOre=estimate_cost_ore(self.settings, sheets=sheets, color=options.color, letter_class=options.letter_class),
            costCode=shipment.cost_code or None,
            senderOrganizationNumber=organization_number(shipment, sender),
        )
        try:  # refuse now what the batch manifest would refuse later
            manifest_xml(str(uuid.uuid4()), self.clock(), [job], schemas=self.schemas)
        except ValueError as exc:
            raise ChannelRejected(f"the job does not fit the print manifest: {exc}", channel=NAME) from exc
        return job, merged.data

    def cancel(self, shipment_id: str) -> bool:
        """Take a job back while it is still staged (read meanwhile, or stopped).

        Answers False once the job is in a batch: the print house has it then.
        """
        job_id = shipment_id.lower()
        with self.folders.locked():
            if not self.folders.is_staged(job_id):
                return False
            self.folders.unstage(job_id)
        return True

    # --- batches ---

    def flush(self, *, force: bool = False) -> list[str]:
        """Batch staged jobs that are due: ``batch_max_letters`` at a time, and the rest
        when the oldest has waited ``batch_max_age_seconds`` or ``force`` is set."""
        size = max(1, self.settings.batch_max_letters)
        max_age = dt.timedelta(seconds=self.settings.batch_max_age_seconds)
        try:
            with self.folders.locked():
                self.folders.recover()
                staged = self.folders.staged()
                now = self.clock()
                created: list[str] = []
                while staged:
                    oldest = dt.datetime.fromisoformat(staged[0]["stagedAt"])
                    if not (force or len(staged) >= size or now - oldest >= max_age):
                        break
                    chunk, staged = staged[:size], staged[size:]
                    created.append(self._write_batch(chunk, now))
        except OSError as exc:
            raise ChannelUnavailable(f"print batch could not be written: {exc}", channel=NAME) from exc
        return created

    def _write_batch(self, chunk: Sequence[StagedJob], now: dt.datetime) -> str:
        batch_id = str(uuid.uuid4())
        manifest = manifest_xml(batch_id, now, [entry["job"] for entry in chunk], schemas=self.schemas)
        self.folders.publish_batch(batch_id, chunk, manifest)
        logger.info("print batch %s: %d jobs", batch_id, len(chunk))
        return batch_id

    def overdue_batches(self, now: dt.datetime) -> list[str]:
        """Batches in the outbox with no receipt ``receipt_timeout_hours`` after they were made."""
        timeout = dt.timedelta(hours=self.settings.receipt_timeout_hours)
        overdue = []
        for batch_id, manifest in self.folders.published_batches():
            if self.folders.has_receipt(batch_id):
                continue
            try:
                created = dt.datetime.fromisoformat(parse_untrusted(manifest.read_bytes()).get("created", ""))
            except (OSError, GatewayError, ValueError) as exc:
                logger.warning("print batch %s: unreadable manifest: %s", batch_id, exc)
                continue
            if now - created > timeout:
                overdue.append(batch_id)
        return overdue

    # --- receipts ---

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        """Read new receipt files, then report every given print job that has an outcome."""
        try:
            with self.folders.locked():
                self._take_receipt_files()
        except OSError as exc:
            raise ChannelUnavailable(f"print receipts could not be read: {exc}", channel=NAME) from exc
        changes = []
        for receipt in receipts:
            if receipt.channel != NAME or not is_canonical_uuid(receipt.reference):
                continue
            entry = self.folders.batched(receipt.reference)
            outcome = entry.get("outcome") if entry else None
            if outcome is not None:
                changes.append(status_change(receipt, outcome))
        return changes

    def _take_receipt_files(self) -> None:
        for path in self.folders.settled_receipts(self.receipt_settle_seconds):
            try:
                batch = read_receipt(path.read_bytes(), file_stem=path.stem, schemas=self.schemas)
            except (ValueError, GatewayError) as exc:
                logger.error("print receipt %s is invalid, moved to rejected/: %s", path.name, exc)
                self.folders.set_aside(path, processed=False)
                continue
            for job in batch.jobs:
                entry = self.folders.batched(job["shipmentId"])
                if entry is None or entry.get("batchId") != batch.batch_id:
                    logger.warning("print receipt %s names job %s, which is not in that batch", path.name, job["shipmentId"])
                    continue
                self.folders.record_outcome(entry, batch.recorded(job))
            self.folders.set_aside(path, processed=True)
            logger.info("print receipt for batch %s: %d jobs", batch.batch_id, len(batch.jobs))


def _receipt(job: ManifestJob, shipment_id: str, idempotency_key: str) -> Receipt:
    return Receipt(
        channel=NAME,
        shipment_id=shipment_id,
        idempotency_key=idempotency_key,
        reference=job["shipmentId"],
        status=Status.SENT_TO_PRINT,
        detail=pages_and_sheets(job["pages"], job["sheets"]),
        cost_ore=job["costEstimateOre"],
        extra={"pages": str(job["pages"]), "sheets": str(job["sheets"])},
    )


def _language(shipment: Shipment) -> str:
    for doc in shipment.printable_documents:
        if doc.language and doc.language.lower() in TEXTS:
            return doc.language.lower()
    return "nb"
