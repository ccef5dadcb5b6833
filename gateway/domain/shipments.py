"""Intake and lookup of shipments: the promises "accepted means durable" and
"nothing half-accepted is stored" live here.

:meth:`ShipmentService.accept` checks every rule, opens the PDFs, writes large documents to
the blob files (fsynced), and only then commits the shipment with its documents, the bytes
of its small documents and its first events in one transaction. Its answer, the id and
status, is what an intake endpoint replies. A refusal leaves one audit record and nothing
else.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.config import IntakePolicy
from gateway.documents.pdf import PdfInfo
from gateway.documents.printability import PrintRules
from gateway.domain.identifiers import is_valid_norwegian_person_id
from gateway.domain.validation import check_giro_pages, check_length, check_printable, inspect_documents, shown, validate_shipment
from gateway.errors import ConflictError, FaultCode, GatewayError, NotFoundError, ValidationError
from gateway.limits import LIMITS
from gateway.metrics import Metrics
from gateway.mapping.routing_rules import RoutingRule, apply_rules
from gateway.resources import load_table
from gateway.model import FINAL_STATUSES, Clock, Event, Shipment, Status, new_shipment_id, utcnow
from gateway.stored_form import to_data
from gateway.spool import Content
from gateway.store.blobs import DocumentStore
from gateway.store.outcome import Alert
from gateway.store.repository import IdTaken, Repository, StoredShipment
from gateway.uuids import canonical_uuid

logger = logging.getLogger(__name__)

#: Characters of a refusal's message and field kept in the audit log: the messages quote
#: values (cut by :func:`shown`), and a message from elsewhere must not fill a row either.
AUDIT_DETAIL_CHARACTERS = LIMITS.audit_detail_characters
AUDIT_FIELD_CHARACTERS = LIMITS.audit_field_characters
#: Refusals for a missing or incomplete postal address: each raises an ``address_refused`` alert
#: too (issue #13: the operators hear of letters refused for their address).
ADDRESS_FAULTS = frozenset({FaultCode.RECIPIENT_REQUIRED, FaultCode.ADDRESS_REQUIRED, FaultCode.ADDRESS_NAME_REQUIRED,
                            FaultCode.ADDRESS_CITY_REQUIRED, FaultCode.INVALID_POSTCODE})


def _cut(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def _argument_limit(name: str) -> int:
    """Bound of a text argument of a lookup operation (``mappings/svarut_fields.toml``)."""
    return int(load_table("svarut_fields")["max_length_arguments"][name])


def parse_shipment_id(value: str | None, *, field: str = "shipment_id") -> str:
    """A shipment id is a UUID; answer its canonical lower-case form."""
    canonical = canonical_uuid((value or "").strip())
    if canonical is None:
        raise ValidationError(f"not a shipment id (UUID): {shown(value or '', 40)}", code=FaultCode.INVALID_SHIPMENT_ID, field=field)
    return canonical


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What an intake answers: the shipment's id, its current status, and whether this call
    was a repeat of one already stored (idempotent: nothing new was stored)."""

    shipment_id: str
    status: Status
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class _Checked:
    """A letter every rule has passed, ready to store."""

    shipment: Shipment
    contents: Sequence[Content]
    infos: Sequence[PdfInfo | None]
    operation: str
    shipment_id: str
    digest: str
    reserved: bool
    unprintable: str | None


def content_digest(shipment: Shipment) -> str:
    """SHA-256 over everything the sender said, independent of id and storage."""
    data = to_data(shipment)
    data["id"] = ""
    for document in data["documents"]:
        document["storage_ref"] = ""
        document["page_count"] = None
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ShipmentService:
    def __init__(self, repository: Repository, documents: DocumentStore, *, policy: IntakePolicy, clock: Clock = utcnow,
                 routing_rules: Sequence[RoutingRule] = (), print_rules: PrintRules | None = None,
                 metrics: Metrics | None = None) -> None:
        """``print_rules``: the print provider's printability rules, checked on every PDF
        that may go to print (None: the provider takes any PDF it can open)."""
        self.metrics = metrics or Metrics()
        self.print_rules = print_rules
        self.repository = repository
        self.documents = documents
        self.policy = policy
        self.clock = clock
        self.routing_rules = tuple(routing_rules)

    # --- intake ---

    def reserve_id(self, sender: str) -> str:
        shipment_id = new_shipment_id()
        self.repository.reserve_id(shipment_id, sender)
        return shipment_id

    def accept(
        self,
        shipment: Shipment,
        contents: Sequence[Content],
        *,
        operation: str,
        shipment_id: str | None = None,
        reservation_required: bool = True,
        unique_filenames: bool = True,
        documents_required: bool = True,
    ) -> Acceptance:
        """Store ``shipment`` durably and answer its id and status, or raise a :class:`GatewayError`.

        ``shipment_id`` with ``reservation_required`` (SvarUt ``sendForsendelseMedId``) must
        come from :meth:`reserve_id`; without it the caller names the id (MeMo's messageUUID).
        Either way the id is looked up before anything is written: a repeat with the same
        content answers the same id and stored status (and stores nothing, even if the rules
        have changed since), other content under it is refused with nothing but an audit record.
        """
        checked = self._checked(shipment, contents, operation=operation, shipment_id=shipment_id,
                                reservation_required=reservation_required, unique_filenames=unique_filenames,
                                documents_required=documents_required)
        return checked if isinstance(checked, Acceptance) else self._stored(checked)

    def accept_all(
        self,
        letters: Sequence[tuple[Shipment, Sequence[Content], str]],
        *,
        operation: str,
        unique_filenames: bool = True,
        documents_required: bool = True,
    ) -> list[Acceptance]:
        """Several letters of one message, each ``(shipment, contents, its id)``: every rule is
        checked for all of them before the first is stored, so a refusal stores none. Each is
        then committed on its own; should storage fail between two, the message's repeat
        (same ids, same content) answers the stored ones and stores the rest."""
        checked = [self._checked(shipment, contents, operation=operation, shipment_id=shipment_id,
                                 reservation_required=False, unique_filenames=unique_filenames,
                                 documents_required=documents_required)
                   for shipment, contents, shipment_id in letters]
        return [item if isinstance(item, Acceptance) else self._stored(item) for item in checked]

    def _checked(self, shipment: Shipment, contents: Sequence[Content], *, operation: str, shipment_id: str | None,
                 reservation_required: bool, unique_filenames: bool, documents_required: bool) -> _Checked | Acceptance:
        """Every rule checked (nothing written but a refusal's audit record); a repeat's answer."""
        sender = shipment.sender
        try:
            digest = content_digest(shipment)
            reserved = shipment_id is not None and reservation_required
            if shipment_id is not None:
                shipment_id = parse_shipment_id(shipment_id)
                existing = self._idempotent_answer(shipment_id, sender, digest, reservation_required=reservation_required)
                if existing is not None:
                    return existing
            else:
                shipment_id = new_shipment_id()
            validate_shipment(shipment, policy=self.policy, unique_filenames=unique_filenames, documents_required=documents_required)
            infos = inspect_documents(shipment.documents, contents, policy=self.policy,
                                      print_rules=self.print_rules if shipment.printable else None)
            check_giro_pages(shipment.documents, infos)
            unprintable = check_printable(shipment, infos)
        except GatewayError as exc:
            self.audit_refusal(operation, sender, exc, shipment_id)
            raise
        return _Checked(shipment, contents, infos, operation, shipment_id, digest, reserved, unprintable)

    def _stored(self, checked: _Checked) -> Acceptance:
        shipment, shipment_id, sender, operation = checked.shipment, checked.shipment_id, checked.shipment.sender, checked.operation
        documents, inline = [], []
        for doc, data, info in zip(shipment.documents, checked.contents, checked.infos, strict=True):
            ref, staged = self.documents.stage(data, sha256=doc.sha256)
            if staged is not None:
                inline.append(staged)
            documents.append(dataclasses.replace(doc, storage_ref=ref, page_count=info.page_count if info else None))
        stored = dataclasses.replace(shipment, id=shipment_id, documents=tuple(documents))
        stored, rule = apply_rules(stored, self.routing_rules)  # after the digest: a repeat still matches

        now = self.clock()
        pages = sum(d.page_count or 0 for d in documents)
        events = [
            Event(at=now, kind="received", status=Status.RECEIVED, detail=f"via {operation}"),
            Event(at=now, kind="accepted", status=Status.ACCEPTED, detail=f"{len(documents)} document(s), {pages} page(s)"),
        ]
        if checked.unprintable is not None:
            events.append(Event(at=now, kind="not_printable", detail=checked.unprintable))
        if rule is not None:
            events.append(Event(at=now, kind="routing_rule", detail=f"{rule.name}: kontaktpunkt {stored.routing.contact_point}"))
        try:
            self.repository.insert_shipment(stored, content_sha256=checked.digest, events=events, reserved=checked.reserved,
                                            documents=inline)
        except IdTaken:
            # A concurrent call with the same id won the race: same rules as a repeat.
            try:
                answer = self._idempotent_answer(shipment_id, sender, checked.digest, reservation_required=False)
            except GatewayError as exc:
                self.audit_refusal(operation, sender, exc, shipment_id)
                raise
            if answer is None:  # pragma: no cover - IdTaken means the row exists
                raise
            return answer
        logger.info("accepted shipment %s from %s (%d documents)", shipment_id, sender, len(documents))
        self.metrics.letters_accepted.labels(operation).inc()
        return Acceptance(shipment_id, Status.ACCEPTED)

    def _idempotent_answer(self, shipment_id: str, sender: str, digest: str, *,
                           reservation_required: bool = True) -> Acceptance | None:
        """None: the id is free (and reserved, where that is required), go ahead. Else the
        answer for a repeat."""
        stored = self.repository.identity(shipment_id)
        if stored is None:
            if not reservation_required or self.repository.reservation_sender(shipment_id) == sender:
                return None
            # A concurrent call may have stored the shipment (consuming the reservation)
            # between our two reads: look once more before calling the id unknown.
            stored = self.repository.identity(shipment_id)
        if stored is None or stored.sender != sender:
            raise ValidationError(
                f"{shipment_id} was not reserved by startNyForsendelse for this sender",
                code=FaultCode.UNKNOWN_SHIPMENT_ID,
                field="shipment_id",
            )
        if stored.content_sha256 != digest:
            raise ConflictError(
                f"{shipment_id} was already used for a shipment with different content",
                code=FaultCode.SHIPMENT_ID_CONFLICT,
                field="shipment_id",
            )
        return Acceptance(shipment_id, stored.status, repeat=True)

    def audit_refusal(self, operation: str, sender: str, exc: GatewayError, shipment_id: str | None) -> None:
        """A refusal leaves one audit record (and, for an address problem, an alert), nothing else."""
        alert = None
        if exc.code in ADDRESS_FAULTS:
            detail = load_table("alert_mail")["detail"]["address_refused"].format(
                sender=sender, operation=operation, code=exc.code, field=exc.field or "-", message=exc.message)
            alert = Alert(kind="address_refused", detail=_cut(detail, AUDIT_DETAIL_CHARACTERS) or "")
        try:
            self.repository.audit(
                alert=alert, at=self.clock(),
                operation=operation,
                outcome=str(exc.code),
                sender=sender,
                field=_cut(exc.field, AUDIT_FIELD_CHARACTERS),
                shipment_id=_cut(shipment_id, 36),  # a refused id may be anything the caller sent
                detail=_cut(exc.message, AUDIT_DETAIL_CHARACTERS) or "",
            )
        except Exception:  # noqa: BLE001 - the refusal itself must still reach the caller
            logger.exception("could not write the audit record for a refused shipment")

    # --- lookups, all scoped to the calling sender ---

    def get(self, sender: str, shipment_id: str | None, *, field: str = "shipment_id") -> StoredShipment:
        sid = parse_shipment_id(shipment_id, field=field)
        stored = self.repository.get(sid)
        if stored is None or stored.shipment.sender != sender:
            raise NotFoundError(f"no shipment {sid} for this sender", code=FaultCode.SHIPMENT_NOT_FOUND, field=field)
        return stored

    def require_owned(self, sender: str, shipment_ids: Sequence[str | None], *, field: str) -> list[str]:
        return [sid for sid, _status, _at in self.statuses(sender, shipment_ids, field=field)]

    def statuses(self, sender: str, shipment_ids: Sequence[str | None], *, field: str) -> list[tuple[str, Status, dt.datetime]]:
        limit = self.policy.max_ids_per_call
        if len(shipment_ids) > limit:
            raise ValidationError(f"at most {limit} ids per call, got {len(shipment_ids)}", code=FaultCode.TOO_MANY_IDS, field=field)
        ids = [parse_shipment_id(i, field=field) for i in shipment_ids]
        found = self.repository.statuses(ids)  # one query: ownership and status together
        for sid in ids:
            if sid not in found or found[sid][0] != sender:
                raise NotFoundError(f"no shipment {sid} for this sender", code=FaultCode.SHIPMENT_NOT_FOUND, field=field)
        return [(sid, found[sid][1], found[sid][2]) for sid in ids]

    def history(self, sender: str, shipment_id: str | None) -> list[Event]:
        stored = self.get(sender, shipment_id)
        return self.repository.events(stored.shipment.id)

    def ids_by_external_ref(self, sender: str, external_ref: str | None) -> list[str]:
        if not external_ref:
            return []
        check_length(external_ref, "external_ref_query", _argument_limit("external_ref_query"))
        return self.repository.ids_by_external_ref(sender, external_ref)

    def mark_read(
        self,
        sender: str,
        shipment_id: str | None,
        *,
        read_by: str | None,
        system: str | None,
        read_at: dt.datetime | None,
    ) -> None:
        """The case system says the recipient read the letter elsewhere (SvarUt "lest av eksternt system")."""
        stored = self.get(sender, shipment_id)
        check_length(system, "read_by_system", _argument_limit("read_by_system"))
        if read_by and not is_valid_norwegian_person_id(read_by.strip()):
            raise ValidationError("not a valid fødselsnummer", code=FaultCode.INVALID_NATIONAL_ID, field="read_by")
        if stored.status is Status.READ:
            return
        who = f"{read_by.strip()[:6]}*****" if read_by else "ukjent"
        if read_at is not None and not 1970 <= read_at.year <= 9998:  # 0001-01-01T00:00+14:00 has no UTC time
            raise ValidationError(f"not a time a letter can have been read at: {read_at.isoformat()[:40]}",
                                  code=FaultCode.INVALID_REQUEST, field="read_at")
        when = (read_at or self.clock()).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        detail = f"{system or 'eksternt system'}, lest av {who} {when}"
        status = None if stored.status in FINAL_STATUSES else Status.READ
        self.repository.record_event(stored.shipment.id, Event(at=self.clock(), kind="marked_read", status=status, detail=detail))
