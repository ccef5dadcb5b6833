"""noarkExchange intake: one ``PutMessage`` → its letters, stored durably, and the receipt.

Each step reads only what the one before vouched for: the payload is parsed by the hardened
parser (:mod:`gateway.domain.noark_payload`), checked against ``contentNamespace``, mapped by
its format's table, given its recipients by the envelope, and accepted through the same
:class:`~gateway.domain.shipments.ShipmentService` as every other letter.

Idempotency: ``conversationId`` per sender is the key. Each letter's id is a name-based UUID
of the sender, the conversation and the letter's place in it, so the same message again
answers the same ids (nothing stored twice), and other content under the same conversation
is a ``SHIPMENT_ID_CONFLICT``.

Which recipients: the ``avsmot`` entry the envelope's receiver names (its ``amOrgnr``), with
its name and address; all the table's recipients when the receiver is the gateway itself
(``[noark] own_organization_numbers``); the one recipient of an arkivmelding (which names no
organisation numbers) as the envelope's receiver; else the receiver as the envelope names it.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import unquote

from lxml import etree

from gateway.config import NoarkSettings, SenderSettings
from gateway.domain.identifiers import is_valid_norwegian_organization_number, is_valid_norwegian_person_id
from gateway.domain.noark_payload import (
    NoarkError,
    NoarkRule,
    PayloadKind,
    PayloadText,
    parse_payload,
    payload_kind,
)
from gateway.domain.shipments import ShipmentService
from gateway.domain.validation import shown
from gateway.errors import FaultCode, GatewayError, ValidationError
from gateway.frozen import frozen
from gateway.mapping.archive_letter import ArchiveLetter
from gateway.mapping.noark4 import journal_entry_id, letter_from_melding, party_kind
from gateway.model import DeliveryMode, DeliveryPolicy, ExchangeEnvelope, Party, PartyKind, Shipment
from gateway.spool import Content

logger = logging.getLogger(__name__)
OPERATION = "PutMessage"
#: The namespace of the letters' name-based ids (uuid5): fixed, so ids survive restarts.
_IDS = uuid.UUID("6f1c1f8e-3a43-5c8e-9a57-0e5b3c1d2a40")
_CONVERSATION_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")

#: arkivmelding → letter, given the request's files (wired in by the runtime when available).
ArkivmeldingMapper = Callable[..., ArchiveLetter]


class RequestFiles:
    """The files a request carried beside its message (MIME parts, by Content-ID), for an
    arkivmelding's ``referanseDokumentfil`` (``cid:`` URL or the bare Content-ID). Each part
    is a document of the letter: one nobody asked for is refused, not silently dropped."""

    def __init__(self, parts: Mapping[str, Content] | None = None) -> None:
        self._parts = dict(parts or {})
        self._used: set[str] = set()

    def __call__(self, reference: str) -> Content | None:
        reference = reference.strip()
        keys = [reference]
        if reference[:4].lower() == "cid:":
            value = reference[4:].strip()
            keys = [unquote(value), value] if "%" in value else [value]
        for key in keys:
            if key in self._parts:
                self._used.add(key)
                return self._parts[key]
        return None

    def unused(self) -> list[str]:
        return sorted(set(self._parts) - self._used)


@frozen
class ExchangeAddress:
    orgnr: str = ""
    name: str | None = None
    email: str | None = None
    ref: str | None = None


@frozen
class ExchangeRequest:
    """A ``PutMessageRequest`` as the SOAP layer read it (already checked against the contract)."""

    conversation_id: str
    content_namespace: str
    sender: ExchangeAddress
    receiver: ExchangeAddress
    payload: etree._Element | PayloadText


@frozen
class Receipt:
    """An ``AppReceipt``: its type and (code, text) messages."""

    type: str
    messages: tuple[tuple[str, str], ...] = ()

    @classmethod
    def refusal(cls, exc: GatewayError) -> "Receipt":
        """ERROR, with the code of the fault catalogue and a text an archive operator can act on."""
        text = exc.message if not exc.field else f"{exc.message} ({exc.field})"
        return cls(type="ERROR", messages=((str(exc.code), text),))


class NoarkIntake:
    def __init__(self, shipments: ShipmentService, settings: NoarkSettings, *,
                 arkivmelding: ArkivmeldingMapper | None = None) -> None:
        self.shipments = shipments
        self.settings = settings
        self.arkivmelding = arkivmelding

    def put_message(self, request: ExchangeRequest, *, sender: SenderSettings, files: RequestFiles | None = None) -> Receipt:
        """Accept the message's letters (``OK`` once they are durable) or answer why not
        (``ERROR``). ``files`` answers an arkivmelding's file references from the request."""
        try:
            envelope = self._envelope(request, sender)
            root = parse_payload(request.payload)
            kind = payload_kind(root, request.content_namespace)
            if kind is PayloadKind.APP_RECEIPT:
                # An archive's receipt for a message it got: there is nothing to deliver.
                logger.info("noarkExchange: AppReceipt %s from %s for conversation %s, nothing to deliver",
                            root.get("type", "?")[:20], sender.name, envelope.conversation_id)
                return Receipt(type="OK")
            files = files or RequestFiles()
            letter = self._letter(kind, root, sender, files)
            unused = files.unused()
            if unused:
                raise NoarkError(NoarkRule.ATTACHMENT_NOT_REFERENCED, f"the MIME part {shown(unused[0], 80)} is no document of the letter",
                                 field="payload")
            if kind is PayloadKind.MELDING:
                envelope = dataclasses.replace(envelope, journal_entry_id=journal_entry_id(root))
            letters = self._addressed(letter, envelope)
        except GatewayError as exc:
            self.shipments.audit_refusal(OPERATION, sender.name, exc, None)
            return Receipt.refusal(exc)
        try:
            accepted = self.shipments.accept_all(letters, operation=OPERATION, unique_filenames=False)
        except GatewayError as exc:  # audited by the service
            return Receipt.refusal(exc)
        # The ids, so the archive (or an operator) can follow each letter through the SvarUt
        # status operations; an OK receipt may carry messages.
        return Receipt(type="OK", messages=tuple(("FORSENDELSE_ID", a.shipment_id) for a in accepted))

    def _letter(self, kind: PayloadKind, root: etree._Element, sender: SenderSettings, files: RequestFiles) -> ArchiveLetter:
        if kind is PayloadKind.MELDING:
            return letter_from_melding(root, sender=sender)
        if self.arkivmelding is None:
            raise NoarkError(NoarkRule.CONTENT_NAMESPACE_UNSUPPORTED, "this gateway does not take arkivmelding payloads",
                             field="envelope.contentNamespace")
        return self.arkivmelding(root, sender=sender, files=files)

    def _envelope(self, request: ExchangeRequest, sender: SenderSettings) -> ExchangeEnvelope:
        if not _CONVERSATION_ID.match(request.conversation_id.strip()):
            raise NoarkError(NoarkRule.CONVERSATION_ID_INVALID, f"conversationId {shown(request.conversation_id, 40)} cannot key a message",
                             field="envelope.conversationId")
        configured = sender.organization_number
        sender_orgnr = request.sender.orgnr.strip()
        if sender_orgnr and configured and not sender.may_send_for(sender_orgnr):
            raise NoarkError(NoarkRule.SENDER_MISMATCH,
                             f"sender orgnr {shown(sender_orgnr, 20)} is not this sender's organisation", field="envelope.sender.orgnr")
        if sender_orgnr and not is_valid_norwegian_organization_number(sender_orgnr):
            raise ValidationError(f"not an organisation number: {shown(sender_orgnr, 20)}",
                                  code=FaultCode.INVALID_ORGANIZATION_NUMBER, field="envelope.sender.orgnr")
        receiver = request.receiver.orgnr.strip()
        _check_identifier(receiver, "envelope.receiver.orgnr")
        return ExchangeEnvelope(
            conversation_id=request.conversation_id.strip(),
            content_namespace=request.content_namespace.strip(),
            sender_orgnr=sender_orgnr or configured,
            receiver_orgnr=receiver,
            sender_ref=request.sender.ref or None,
            receiver_ref=request.receiver.ref or None,
            receiver_name=request.receiver.name or None,
        )

    def _addressed(self, letter: ArchiveLetter, envelope: ExchangeEnvelope) -> list[tuple[Shipment, Sequence[Content], str]]:
        """(shipment, contents, id) per recipient this message is for."""
        receiver = envelope.receiver_orgnr
        named = [party for party in letter.candidates if party.identifier == receiver]
        if named:
            recipients = named[:1]
        elif receiver in self.settings.own_organization_numbers:
            recipients = list(letter.candidates)
            for i, party in enumerate(recipients):
                if party.identifier:
                    _check_identifier(party.identifier, f"payload.recipients[{i}].identifier")
            if not recipients:
                raise NoarkError(NoarkRule.RECEIVER_NOT_IN_MESSAGE,
                                 "the message is addressed to the gateway, and names no recipient the table takes", field="payload")
        elif len(letter.candidates) == 1 and letter.candidates[0].identifier is None:
            # an arkivmelding names no organisation number for its recipient: the envelope's
            # receiver is that one recipient, with its name and address
            recipients = [dataclasses.replace(letter.candidates[0], identifier=receiver, kind=party_kind(receiver))]
        else:
            recipients = [Party(identifier=receiver, kind=party_kind(receiver), name=envelope.receiver_name)]
        base = letter.shipment
        letters: list[tuple[Shipment, Sequence[Content], str]] = []
        for index, party in enumerate(recipients):
            shipment = dataclasses.replace(
                base, recipient=party, exchange=envelope, external_ref=envelope.conversation_id,
                sender_party=dataclasses.replace(base.sender_party or Party(), identifier=envelope.sender_orgnr or None,
                                                 kind=PartyKind.NO_ORGANIZATION if envelope.sender_orgnr else PartyKind.UNKNOWN),
                # print needs the recipient's postal address; without one the letter is digital only
                delivery=base.delivery if party.address is not None else DeliveryPolicy(mode=DeliveryMode.DIGITAL_ONLY),
            )
            letters.append((shipment, letter.contents, letter_id(base.sender, envelope.conversation_id, index)))
        return letters


def letter_id(sender: str, conversation_id: str, index: int) -> str:
    """The id of the ``index``-th letter of a conversation: the same on every repeat."""
    return str(uuid.uuid5(_IDS, f"{sender}\n{conversation_id}\n{index}"))


def receiver_party(orgnr: str) -> Party | None:
    """The party an envelope's receiver ``orgnr`` names; None when it names none."""
    orgnr = orgnr.strip()
    try:
        _check_identifier(orgnr, "receiver.orgnr")
    except ValidationError:
        return None
    return Party(identifier=orgnr, kind=party_kind(orgnr))


def _check_identifier(value: str, field: str) -> None:
    """An orgnr field: an organisation number, or a fødselsnummer, with valid check digits."""
    if len(value) == 11 and value.isdigit():
        if not is_valid_norwegian_person_id(value):
            raise ValidationError(f"not a fødselsnummer: {shown(value[:6] + '*****', 20)}", code=FaultCode.INVALID_NATIONAL_ID, field=field)
        return
    if not is_valid_norwegian_organization_number(value):
        raise ValidationError(f"not an organisation number: {shown(value, 20)}", code=FaultCode.INVALID_ORGANIZATION_NUMBER, field=field)


__all__ = ["ExchangeAddress", "ExchangeRequest", "NoarkIntake", "Receipt", "RequestFiles", "letter_id", "receiver_party"]
