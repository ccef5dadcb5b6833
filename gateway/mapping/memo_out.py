"""Canonical shipment → a MeMo message (1.2 or 1.1) for Danish Digital Post.

The message carries every routing field the shipment has (subject keys, case id, P-number,
contact point, post type, CPR/CVR content data, attention data, AdditionalContentData,
ReplyData, the header flags) in the XSD's order, with the literal ``memo:`` prefix Digital
Post requires, encoded as UTF-8. Deep links become Actions with their action codes.
"""
from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

from lxml import etree

from gateway.memo_vocabulary import (
    ADDITIONAL_CONTENT_DATA_FIELDS,
    ADDITIONAL_CONTENT_DATA_MAX,
    CONTACT_INFO_MAX,
    DIGITALPOST,
    FORM_NS,
    GRD_NS,
    KLE_NS,
    MEMO_NS,
    NEMSMS,
    NSMAP,
    REPLY_DATA_FIELDS,
    WRITTEN_VERSION,
    WRITTEN_VERSIONS,
    boolean_text,
    clark,
)
from gateway.model import Attention, Document, DocumentRole, Party, PartyKind, ReplyReference, RoutingMetadata, Shipment

ID_TYPES = {PartyKind.DK_CPR: "CPR", PartyKind.DK_CVR: "CVR"}


def shipment_to_memo(
    shipment: Shipment, *, content: Callable[[Document], bytes], now: dt.datetime, version: str = WRITTEN_VERSION,
) -> tuple[str, bytes]:
    """(messageUUID, MeMo XML bytes) in MeMo ``version`` ("1.2" or "1.1"). What the gateway
    writes fits both schemas: 1.2 only loosens 1.1 and adds elements the model does not have."""
    try:
        attributes = WRITTEN_VERSIONS[version]
    except KeyError:
        raise ValueError(f"MeMo version {version!r} is not written; known: {', '.join(WRITTEN_VERSIONS)}") from None
    r = shipment.routing
    handling = r.handling
    message = etree.Element(clark("Message"), attributes, nsmap=NSMAP)
    header = _sub(message, "MessageHeader")
    _add_text(header, "messageType", NEMSMS if handling.text_message else DIGITALPOST)
    _add_text(header, "messageUUID", shipment.id)
    _add_text(header, "messageID", shipment.external_ref)
    _add_text(header, "messageCode", handling.message_code)
    _add_text(header, "label", shipment.title[:256])
    _add_text(header, "notification", handling.notification)
    _add_text(header, "additionalNotification", handling.additional_notification)
    if handling.reply_allowed is not None:
        _add_text(header, "reply", boolean_text(handling.reply_allowed))
    _add_text(header, "replyByDateTime", handling.reply_by)
    _add_text(header, "doNotDeliverUntilDate", handling.hold_until)
    _add_text(header, "mandatory", boolean_text(bool(handling.mandatory)))
    _add_text(header, "legalNotification", boolean_text(bool(handling.legal_notification)))
    _add_text(header, "postType", r.post_type)

    sender = _sub(header, "Sender")
    _add_text(sender, "senderID", shipment.sender_party.identifier if shipment.sender_party else None)
    _add_text(sender, "idType", "CVR")
    _add_text(sender, "label", (shipment.sender_party.name if shipment.sender_party else None) or "Afsender")
    if r.sender_contact_point:
        _add_text(_sub(sender, "ContactPoint"), "contactPointID", r.sender_contact_point)

    recipient = _sub(header, "Recipient")
    _add_text(recipient, "recipientID", shipment.recipient.identifier)
    _add_text(recipient, "idType", ID_TYPES.get(shipment.recipient.kind, "CPR"))
    _add_text(recipient, "label", shipment.recipient.name)
    _attention(recipient, r.attention)
    if r.contact_point:
        point = _sub(recipient, "ContactPoint")
        _add_text(point, "contactGroup", r.contact_group)
        _add_text(point, "contactPointID", r.contact_point)
        _add_text(point, "label", r.contact_label)
        for contact in r.contact_info[:CONTACT_INFO_MAX]:
            info = _sub(point, "ContactInfo")
            _add_text(info, "label", contact.label)
            _add_text(info, "value", contact.value)
    _content_data(header, r)
    for reference in r.replies_to:
        _reply_data(header, reference)

    if handling.text_message and not shipment.documents:
        # a NemSMS: the header's notification is the text message; no MessageBody
        return shipment.id, etree.tostring(message, xml_declaration=True, encoding="UTF-8")
    body = _sub(message, "MessageBody")
    _add_text(body, "createdDateTime", now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    main = [d for d in shipment.documents if d.role is DocumentRole.MAIN] or list(shipment.documents[:1])
    main_doc = _sub(body, "MainDocument")
    for d in main:
        _file(main_doc, d, content(d))
    for link in shipment.links:
        action = _sub(main_doc, "Action")
        _add_text(action, "label", link.text[:256])
        _add_text(action, "actionCode", link.action or "INFORMATION")
        _add_text(_sub(action, "EntryPoint"), "url", link.url)
    for role, element in ((DocumentRole.ATTACHMENT, "AdditionalDocument"), (DocumentRole.TECHNICAL, "TechnicalDocument")):
        for d in shipment.documents:
            if d.role is role and d not in main:
                _file(_sub(body, element), d, content(d))
    data = etree.tostring(message, xml_declaration=True, encoding="UTF-8")
    return shipment.id, data


def _attention(recipient: etree._Element, attention: Attention | None) -> None:
    if attention is None or not (attention.person or attention.production_unit or attention.email):
        return
    data = _sub(recipient, "AttentionData")
    if attention.person:
        _add_text(_sub(data, "AttentionPerson"), "personID", attention.person)
    if attention.production_unit:
        _add_text(_sub(data, "ProductionUnit", GRD_NS), "productionUnitNumber", attention.production_unit, GRD_NS)
    if attention.email:
        _add_text(_sub(data, "EMail"), "emailAddress", attention.email)


def _content_data(header: etree._Element, r: RoutingMetadata) -> None:
    content = etree.Element(clark("ContentData"))
    for kind, element, number, name in ((PartyKind.DK_CPR, "CPRdata", "cprNumber", "name"),
                                        (PartyKind.DK_CVR, "CVRdata", "cvrNumber", "companyName")):
        party = _first_concerned(r.concerns, kind)
        if party is not None and party.identifier:
            data = _sub(content, element, GRD_NS)
            _add_text(data, number, party.identifier, GRD_NS)
            _add_text(data, name, party.name, GRD_NS)
    if r.case_id:
        case = _sub(content, "CaseID")
        _add_text(case, "caseID", r.case_id)
        _add_text(case, "caseSystem", r.case_system or "ukendt")
    for ns, element, key_name, key, version, label in ((KLE_NS, "KLEdata", "subjectKey", r.kle, r.kle_version, r.kle_label),
                                                       (FORM_NS, "FORMdata", "taskKey", r.form, r.form_version, r.form_label)):
        if key and version and label:
            node = _sub(content, element, ns)
            _add_text(node, key_name, key, ns)
            _add_text(node, "version", version, ns)
            _add_text(node, "label", label, ns)
    if r.production_unit:
        unit = _sub(content, "ProductionUnit", GRD_NS)
        _add_text(unit, "productionUnitNumber", r.production_unit, GRD_NS)
        _add_text(unit, "productionUnitName", r.production_unit_name, GRD_NS)
    for item in r.content_data[:ADDITIONAL_CONTENT_DATA_MAX]:
        if item.name is None or item.value is None:
            continue
        data = _sub(content, "AdditionalContentData")
        for element, attribute in ADDITIONAL_CONTENT_DATA_FIELDS.items():
            _add_text(data, element, getattr(item, attribute))
    if len(content):
        header.append(content)


def _first_concerned(concerns: tuple[Party, ...], kind: PartyKind) -> Party | None:
    return next((party for party in concerns if party.kind is kind), None)


def _reply_data(header: etree._Element, reference: ReplyReference) -> None:
    if reference.message_uuid is None:
        return  # messageUUID is required in ReplyData
    reply = _sub(header, "ReplyData")
    for element, attribute in REPLY_DATA_FIELDS.items():
        _add_text(reply, element, getattr(reference, attribute))


def _file(parent: etree._Element, document: Document, data: bytes) -> None:
    file = _sub(parent, "File")
    _add_text(file, "encodingFormat", document.media_type)
    _add_text(file, "filename", document.filename)
    _add_text(file, "language", (document.language or "da")[:2])
    _add_text(file, "content", base64.b64encode(data).decode("ascii"))


def _sub(parent: etree._Element, local: str, ns: str = MEMO_NS) -> etree._Element:
    return etree.SubElement(parent, clark(local, ns))


def _add_text(parent: etree._Element, local: str, value: str | None, ns: str = MEMO_NS) -> None:
    """A child element with ``value`` as its text; none for an empty value."""
    if value is not None and value != "":
        etree.SubElement(parent, clark(local, ns)).text = value
