"""Print: letters become PDF jobs, jobs become batches in the print provider's folder.

``submit`` renders the cover page, merges it with the printable documents and stages the
job (``<data_dir>/print/staging/<shipment id>.pdf`` and a JSON sidecar with its manifest
data). ``flush`` moves staged jobs into ``outbox/batch-<uuid>/`` with a ``manifest.xml``
(``xsd/print-manifest.xsd``) once enough have gathered or the oldest has waited long
enough; the folder appears by one rename, so the provider never sees half a batch. The
provider answers with ``receipts/<batchId>.xml`` (``xsd/print-receipt.xsd``), which ``poll``
reads. The job id is the shipment id, so one shipment is one job, ever.

Where a job is lives in files, written atomically: a staging sidecar while it waits, and an
entry in ``<data_dir>/print/jobs/`` (with its batch id, and later the provider's outcome)
once batched. A job in both places means a flush stopped half-way; the next flush finishes
it (the batch folder exists) or undoes it (it does not). Flushes and receipt intake hold a
file lock, so several threads or processes can share one data directory.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange
from gateway.config import PrintSettings, SenderSettings
from gateway.documents.cover import TEXTS, render_cover_page
from gateway.documents.printjob import build_print_pdf, count_sheets, estimate_cost_ore
from gateway.errors import DocumentError, GatewayError, StorageError
from gateway.fileio import fsync_dir, write_atomic
from gateway.model import PartyKind, Shipment, Status, utcnow
from gateway.resources import data_dir
from gateway.uuids import is_canonical_uuid
from gateway.xml.parser import parse_untrusted

logger = logging.getLogger(__name__)

NAME = "print"
MANIFEST_NS = "urn:gateway:print:manifest:1"
RECEIPT_NS = "urn:gateway:print:receipt:1"
MANIFEST_FILE = "manifest.xml"
BATCH_PREFIX = "batch-"
MAX_ADDRESS_LINES = 4

_ORGANIZATION_NUMBER = re.compile(r"^[0-9]{9}$")
_NOT_XML_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")

def xsd_dir() -> Path:
    return data_dir("xsd")


@functools.cache
def _schema(name: str) -> tuple[etree.XMLSchema, threading.Lock]:
    """Compiled once per process; validation keeps an error log on the schema, hence the lock."""
    return etree.XMLSchema(etree.parse(str(xsd_dir() / name))), threading.Lock()


def validate(root: etree._Element, xsd: str) -> None:
    """Raise ``ValueError`` naming the first problem when ``root`` does not fit ``xsd``."""
    schema, lock = _schema(xsd)
    with lock:
        if not schema.validate(root):
            raise ValueError(f"{xsd}: {schema.error_log.last_error}")


def manifest_xml(batch_id: str, created: dt.datetime, jobs: Sequence[Mapping[str, Any]]) -> bytes:
    """The batch manifest for ``jobs`` (sidecar job data), checked against its schema."""
    def q(tag: str) -> str:
        return f"{{{MANIFEST_NS}}}{tag}"

    root = etree.Element(q("PrintBatch"), nsmap={None: MANIFEST_NS}, batchId=batch_id, created=created.isoformat())
    senders = {job.get("senderOrganizationNumber") for job in jobs}
    if len(senders) == 1 and None not in senders:
        etree.SubElement(root, q("senderOrganizationNumber")).text = senders.pop()
    for job in jobs:
        el = etree.SubElement(root, q("Job"))
        for key in ("shipmentId", "file", "sha256", "pages", "sheets", "duplex", "color", "letterClass"):
            value = job[key]
            etree.SubElement(el, q(key)).text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        recipient, address = etree.SubElement(el, q("recipient")), job["recipient"]
        etree.SubElement(recipient, q("name")).text = address["name"]
        for line in address["addressLines"]:
            etree.SubElement(recipient, q("addressLine")).text = line
        if address.get("postcode"):
            etree.SubElement(recipient, q("postcode")).text = address["postcode"]
        etree.SubElement(recipient, q("city")).text = address["city"]
        etree.SubElement(recipient, q("country")).text = address["country"]
        etree.SubElement(el, q("costEstimateOre")).text = str(job["costEstimateOre"])
        for key in ("costCode", "senderOrganizationNumber"):
            if job.get(key):
                etree.SubElement(el, q(key)).text = job[key]
    validate(root, "print-manifest.xsd")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


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
    ) -> None:
        """``receipt_settle_seconds``: a receipt file changed more recently than this is
        left for the next poll, in case the provider is still writing it."""
        self.settings = settings
        self.senders = dict(senders or {})
        self.clock = clock
        self.receipt_settle_seconds = receipt_settle_seconds
        root = Path(data_dir) / "print"
        self.outbox = Path(settings.outbox_dir) if settings.outbox_dir else root / "outbox"
        self.receipts = Path(settings.receipts_dir) if settings.receipts_dir else root / "receipts"
        self.staging = root / "staging"
        self.jobs = root / "jobs"
        self._lock_file = root / ".lock"
        for folder in (self.outbox, self.receipts, self.receipts / "processed", self.receipts / "rejected", self.staging, self.jobs):
            folder.mkdir(parents=True, exist_ok=True)

    # --- submit ---

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        shipment = letter.shipment
        job_id = shipment.id.lower()
        if not is_canonical_uuid(job_id):
            raise ChannelRejected(f"the print job id must be a UUID, got shipment id {shipment.id!r}", channel=NAME)
        try:
            existing = self._find_job(job_id)
            if existing is not None:
                return _receipt(existing, shipment.id, idempotency_key)
            job, pdf = self._prepare(letter, job_id)
            with self._locked():
                existing = self._find_job(job_id)
                if existing is not None:
                    return _receipt(existing, shipment.id, idempotency_key)
                write_atomic(self.staging / job["file"], pdf)
                sidecar = {"job": job, "stagedAt": self.clock().isoformat()}
                write_atomic(self.staging / f"{job_id}.json", _json(sidecar))
        except (OSError, StorageError) as exc:
            raise ChannelUnavailable(f"print staging failed: {exc}", channel=NAME) from exc
        logger.info("staged print job %s: %d pages, %d sheets", job_id, job["pages"], job["sheets"])
        return _receipt(job, shipment.id, idempotency_key)

    def _prepare(self, letter: Letter, job_id: str) -> tuple[dict[str, Any], bytes]:
        shipment = letter.shipment
        if not shipment.printable:
            raise ChannelRejected("the shipment is digital-only", channel=NAME)
        address = shipment.recipient.address
        if address is None:
            raise ChannelRejected("the recipient has no postal address", channel=NAME)
        documents = shipment.printable_documents
        if not documents:
            raise ChannelRejected("every document is excluded from print", channel=NAME)
        sender = self.senders.get(shipment.tenant)
        return_address = (sender.return_address if sender else ()) or self.settings.return_address
        sender_name = (sender.display_name if sender else "") or (shipment.sender.name if shipment.sender else None)
        options = shipment.print_options
        try:
            cover = render_cover_page(shipment, return_address=return_address, language=_language(shipment), sender_name=sender_name)
            merged = build_print_pdf(cover, [letter.content(doc) for doc in documents], duplex=options.duplex)
        except DocumentError as exc:
            raise ChannelRejected(f"{exc.field}: {exc.message}", channel=NAME) from exc
        except ValueError as exc:
            raise ChannelRejected(f"the letter cannot be printed: {exc}", channel=NAME) from exc
        sheets = count_sheets(merged.pages, duplex=options.duplex)
        job = {
            "shipmentId": job_id,
            "file": f"{job_id}.pdf",
            "sha256": hashlib.sha256(merged.data).hexdigest(),
            "pages": merged.pages,
            "sheets": sheets,
            "duplex": options.duplex,
            "color": options.color,
            "letterClass": options.letter_class.value,
            "recipient": _recipient(shipment),
            "costEstimateOre": estimate_cost_ore(self.settings, sheets=sheets, color=options.color, letter_class=options.letter_class),
            "costCode": shipment.cost_code or None,
            "senderOrganizationNumber": _organization_number(shipment, sender),
        }
        try:  # refuse now what the batch manifest would refuse later
            manifest_xml(str(uuid.uuid4()), self.clock(), [job])
        except ValueError as exc:
            raise ChannelRejected(f"the job does not fit the print manifest: {exc}", channel=NAME) from exc
        return job, merged.data

    def _find_job(self, job_id: str) -> dict[str, Any] | None:
        for path in (self.staging / f"{job_id}.json", self.jobs / f"{job_id}.json"):
            entry = _read_json(path)
            if entry is not None:
                return entry["job"]
        return None

    def cancel(self, shipment_id: str) -> bool:
        """Take a job back while it is still staged (read meanwhile, or stopped).

        Answers False once the job is in a batch: the print house has it then.
        """
        job_id = shipment_id.lower()
        with self._locked():
            if not (self.staging / f"{job_id}.json").exists():
                return False
            self._unstage(job_id)
        return True

    # --- batches ---

    def flush(self, *, force: bool = False) -> list[str]:
        """Batch staged jobs that are due: ``batch_max_letters`` at a time, and the rest
        when the oldest has waited ``batch_max_age_seconds`` or ``force`` is set."""
        size = max(1, self.settings.batch_max_letters)
        max_age = dt.timedelta(seconds=self.settings.batch_max_age_seconds)
        try:
            with self._locked():
                self._recover()
                staged = self._staged()
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

    def _staged(self) -> list[dict[str, Any]]:
        entries = [e for p in self.staging.glob("*.json") if (e := _read_json(p)) is not None]
        return sorted(entries, key=lambda e: (dt.datetime.fromisoformat(e["stagedAt"]), e["job"]["shipmentId"]))

    def _write_batch(self, chunk: Sequence[dict[str, Any]], now: dt.datetime) -> str:
        batch_id = str(uuid.uuid4())
        jobs = [entry["job"] for entry in chunk]
        manifest = manifest_xml(batch_id, now, jobs)
        tmp = self.outbox / f".{BATCH_PREFIX}{batch_id}.tmp"
        tmp.mkdir()
        try:
            for job in jobs:
                _copy_verified(self.staging / job["file"], tmp / job["file"], sha256=job["sha256"])
            write_atomic(tmp / MANIFEST_FILE, manifest)
            for entry in chunk:  # the index first: a crash before the rename is undone by _recover
                write_atomic(self.jobs / entry["job"]["file"].replace(".pdf", ".json"), _json({**entry, "batchId": batch_id}))
            os.rename(tmp, self.outbox / f"{BATCH_PREFIX}{batch_id}")
            fsync_dir(self.outbox)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for job in jobs:
                with contextlib.suppress(OSError):
                    (self.jobs / f"{job['shipmentId']}.json").unlink()
            raise
        for job in jobs:
            self._unstage(job["shipmentId"])
        logger.info("print batch %s: %d jobs", batch_id, len(jobs))
        return batch_id

    def _unstage(self, job_id: str) -> None:
        (self.staging / f"{job_id}.pdf").unlink(missing_ok=True)
        (self.staging / f"{job_id}.json").unlink(missing_ok=True)
        fsync_dir(self.staging)

    def _recover(self) -> None:
        """Finish or undo a flush that stopped half-way; drop leftovers of a crashed submit."""
        for tmp in self.outbox.glob(f".{BATCH_PREFIX}*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        for sidecar in self.staging.glob("*.json"):
            job_id = sidecar.stem
            entry = _read_json(self.jobs / f"{job_id}.json")
            if entry is None:
                continue
            if self._batch_published(entry["batchId"]):
                self._unstage(job_id)
            else:
                (self.jobs / f"{job_id}.json").unlink()
        for pdf in self.staging.glob("*.pdf"):
            if not pdf.with_suffix(".json").exists():
                pdf.unlink()

    def _batch_published(self, batch_id: str) -> bool:
        name = f"{batch_id}.xml"
        return any(p.exists() for p in (
            self.outbox / f"{BATCH_PREFIX}{batch_id}", self.receipts / name, self.receipts / "processed" / name,
        ))

    def overdue_batches(self, now: dt.datetime) -> list[str]:
        """Batches in the outbox with no receipt ``receipt_timeout_hours`` after they were made."""
        timeout = dt.timedelta(hours=self.settings.receipt_timeout_hours)
        overdue = []
        for folder in sorted(self.outbox.glob(f"{BATCH_PREFIX}*")):
            batch_id = folder.name[len(BATCH_PREFIX):]
            if not folder.is_dir() or self._has_receipt(batch_id):
                continue
            try:
                created = dt.datetime.fromisoformat(parse_untrusted((folder / MANIFEST_FILE).read_bytes()).get("created", ""))
            except (OSError, GatewayError, ValueError) as exc:
                logger.warning("print batch %s: unreadable manifest: %s", batch_id, exc)
                continue
            if now - created > timeout:
                overdue.append(batch_id)
        return overdue

    def _has_receipt(self, batch_id: str) -> bool:
        name = f"{batch_id}.xml"
        return (self.receipts / name).exists() or (self.receipts / "processed" / name).exists()

    # --- receipts ---

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        """Read new receipt files, then report every given print job that has an outcome."""
        try:
            with self._locked():
                self._take_receipt_files()
        except OSError as exc:
            raise ChannelUnavailable(f"print receipts could not be read: {exc}", channel=NAME) from exc
        changes = []
        for receipt in receipts:
            if receipt.channel != NAME or not is_canonical_uuid(receipt.reference):
                continue
            entry = _read_json(self.jobs / f"{receipt.reference}.json")
            outcome = entry.get("outcome") if entry else None
            if outcome is None:
                continue
            at = dt.datetime.fromisoformat(outcome["produced"])
            if outcome["status"] == "REJECTED":
                detail = outcome.get("reason") or "avvist av trykkeriet"
                changes.append(StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=None, at=at, detail=detail, failed=True))
            else:
                changes.append(StatusChange(
                    shipment_id=receipt.shipment_id, reference=receipt.reference, status=Status.PRINTED, at=at,
                    detail=f"{outcome['pages']} sider, {outcome['sheets']} ark",
                    cost_ore=outcome["productionCostOre"] + outcome["postageOre"],
                ))
        return changes

    def _take_receipt_files(self) -> None:
        settled = time.time() - self.receipt_settle_seconds
        for path in sorted(self.receipts.glob("*.xml")):
            if path.name.startswith(".") or not path.is_file() or path.stat().st_mtime > settled:
                continue
            try:
                batch_id, produced, jobs = _read_receipt(path)
            except (ValueError, GatewayError) as exc:
                logger.error("print receipt %s is invalid, moved to rejected/: %s", path.name, exc)
                _move_aside(path, self.receipts / "rejected")
                continue
            for job in jobs:
                entry = _read_json(self.jobs / f"{job['shipmentId']}.json")
                if entry is None or entry.get("batchId") != batch_id:
                    logger.warning("print receipt %s names job %s, which is not in that batch", path.name, job["shipmentId"])
                    continue
                write_atomic(self.jobs / f"{job['shipmentId']}.json", _json({**entry, "outcome": {**job, "produced": produced, "batchId": batch_id}}))
            _move_aside(path, self.receipts / "processed")
            logger.info("print receipt for batch %s: %d jobs", batch_id, len(jobs))

    # --- locking ---

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock over this print folder for threads and processes alike
        (``flock`` locks belong to each open file, so every holder opens its own)."""
        with open(self._lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# --- helpers ---


def _receipt(job: Mapping[str, Any], shipment_id: str, idempotency_key: str) -> Receipt:
    return Receipt(
        channel=NAME,
        shipment_id=shipment_id,
        idempotency_key=idempotency_key,
        reference=job["shipmentId"],
        status=Status.SENT_TO_PRINT,
        detail=f"{job['pages']} sider, {job['sheets']} ark",
        cost_ore=job["costEstimateOre"],
        extra={"pages": str(job["pages"]), "sheets": str(job["sheets"])},
    )


def _read_receipt(path: Path) -> tuple[str, str, list[dict[str, Any]]]:
    root = parse_untrusted(path.read_bytes())
    validate(root, "print-receipt.xsd")
    batch_id = root.get("batchId", "").lower()
    if path.stem.lower() != batch_id:
        raise ValueError(f"the file is named {path.name} but is the receipt of batch {batch_id}")
    produced = dt.datetime.fromisoformat(root.get("produced", "")).isoformat()
    ns = {"r": RECEIPT_NS}
    jobs = []
    for el in root.iterfind("r:Job", ns):
        jobs.append({
            "shipmentId": el.findtext("r:shipmentId", namespaces=ns).lower(),
            "pages": int(el.findtext("r:pages", namespaces=ns)),
            "sheets": int(el.findtext("r:sheets", namespaces=ns)),
            "productionCostOre": int(el.findtext("r:productionCostOre", namespaces=ns)),
            "postageOre": int(el.findtext("r:postageOre", namespaces=ns)),
            "status": el.findtext("r:status", default="PRINTED", namespaces=ns),
            "reason": el.findtext("r:reason", namespaces=ns),
        })
    return batch_id, produced, jobs


def _recipient(shipment: Shipment) -> dict[str, Any]:
    address = shipment.recipient.address
    assert address is not None
    lines = [t for line in address.lines if (t := _text(line))]
    if len(lines) > MAX_ADDRESS_LINES:  # keep every word: the overflow joins the last line
        lines = lines[: MAX_ADDRESS_LINES - 1] + [", ".join(lines[MAX_ADDRESS_LINES - 1:])]
    country = _text(address.country) or "NO"
    return {
        "name": _text(address.name or shipment.recipient.name or ""),
        "addressLines": lines,
        "postcode": _text(address.postcode or "") or None,
        "city": _text(address.city or ""),
        "country": country.upper() if len(country) == 2 else country,
    }


def _organization_number(shipment: Shipment, sender: SenderSettings | None) -> str | None:
    candidates = [sender.organization_number if sender else ""]
    if shipment.sender is not None and shipment.sender.kind is PartyKind.NO_ORGANIZATION:
        candidates.append(shipment.sender.identifier or "")
    return next((c for c in candidates if _ORGANIZATION_NUMBER.match(c)), None)


def _language(shipment: Shipment) -> str:
    for doc in shipment.printable_documents:
        if doc.language and doc.language.lower() in TEXTS:
            return doc.language.lower()
    return "nb"


def _text(value: str) -> str:
    """One clean line for the manifest: no control characters, single spaces."""
    return " ".join(_NOT_XML_TEXT.sub(" ", value).split())


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def _copy_verified(source: Path, target: Path, *, sha256: str) -> None:
    """Copy in chunks (jobs can be hundreds of MB) and refuse a staged file that changed."""
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "xb") as out:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha256:
        raise OSError(f"staged job {source.name} does not match its recorded sha256")


def _move_aside(path: Path, folder: Path) -> None:
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}"
    os.replace(path, target)
    fsync_dir(folder)
