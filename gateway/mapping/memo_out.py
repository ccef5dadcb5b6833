"""Canonical shipment → a MeMo 1.1 message for Danish Digital Post.

The message carries every routing field the shipment has (subject keys, case id, P-number,
contact point, post type, CPR/CVR content data, attention data, AdditionalContentData,
ReplyData, the header flags) in the XSD's order, with the literal ``memo:`` prefix Digital
Post requires, encoded as UTF-8. Deep links become Actions with their action codes.
"""
from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable

from lxml import etree

from gateway.model import Document, DocumentRole, PartyKind, Shipment

MEMO = "https://DigitalPost.dk/MeMo-1"
GRD = "https://data.gov.dk/model/core/"
KLE = "http://kle-online.dk/"
FORM = "http://www.form-online.dk/"
NSMAP = {"memo": MEMO, "grd": GRD, "kle": KLE, "form": FORM}
ID_TYPES = {PartyKind.DK_CPR: "CPR", PartyKind.DK_CVR: "CVR"}
REPLY_ORDER = ("messageID", "messageUUID", "replyUUID", "senderID", "recipientID", "caseID", "contactPointID",
               "generatingSystemID", "comment")


def shipment_to_memo(shipment: Shipment, *, content: Callable[[Document], bytes], now: dt.datetime) -> tuple[str, bytes]:
    """(messageUUID, MeMo XML bytes)."""
    extra = dict(shipment.routing.extra)
    r = shipment.routing
    message = etree.Element(_m("Message"), nsmap=NSMAP, memoVersion="1.1", memoSchVersion="1.1.0")
    header = _sub(message, "MessageHeader")
    _text(header, "messageType", extra.get("memo.messageType") or "DIGITALPOST")
    _text(header, "messageUUID", shipment.id)
    _text(header, "messageID", shipment.external_ref)
    _text(header, "messageCode", extra.get("memo.messageCode"))
    _text(header, "label", shipment.title[:256])
    for key in ("notification", "additionalNotification", "reply", "replyByDateTime", "doNotDeliverUntilDate"):
        _text(header, key, extra.get(f"memo.{key}"))
    _text(header, "mandatory", extra.get("memo.mandatory") or "false")
    _text(header, "legalNotification", extra.get("memo.legalNotification") or "false")
    _text(header, "postType", r.post_type)

    sender = _sub(header, "Sender")
    _text(sender, "senderID", shipment.sender.identifier if shipment.sender else None)
    _text(sender, "idType", "CVR")
    _text(sender, "label", (shipment.sender.name if shipment.sender else None) or "Afsender")
    if extra.get("memo.sender.contactPointID"):
        _text(_sub(sender, "ContactPoint"), "contactPointID", extra["memo.sender.contactPointID"])

    recipient = _sub(header, "Recipient")
    _text(recipient, "recipientID", shipment.recipient.identifier)
    _text(recipient, "idType", ID_TYPES.get(shipment.recipient.kind, "CPR"))
    _text(recipient, "label", shipment.recipient.name)
    _attention(recipient, extra)
    if r.contact_point:
        point = _sub(recipient, "ContactPoint")
        _text(point, "contactGroup", extra.get("memo.contactPoint.group"))
        _text(point, "contactPointID", r.contact_point)
        _text(point, "label", extra.get("memo.contactPoint.label"))
        for key in sorted(k for k in extra if k.startswith("memo.contactInfo["))[:2]:
            label, _, value = extra[key].partition("=")
            info = _sub(point, "ContactInfo")
            _text(info, "label", label)
            _text(info, "value", value)
    _content_data(header, shipment, extra)
    _reply_data(header, extra)

    if extra.get("memo.messageType") == "NEMSMS" and not shipment.documents:
        # a NemSMS: the header's notification is the text message; no MessageBody
        return shipment.id, etree.tostring(message, xml_declaration=True, encoding="UTF-8")
    body = _sub(message, "MessageBody")
    _text(body, "createdDateTime", now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    main = [d for d in shipment.documents if d.role is DocumentRole.MAIN] or list(shipment.documents[:1])
    main_doc = _sub(body, "MainDocument")
    for d in main:
        _file(main_doc, d, content(d))
    for link in shipment.links:
        action = _sub(main_doc, "Action")
        _text(action, "label", link.text[:256])
        _text(action, "actionCode", link.action or "INFORMATION")
        _text(_sub(action, "EntryPoint"), "url", link.url)
    for role, element in ((DocumentRole.ATTACHMENT, "AdditionalDocument"), (DocumentRole.TECHNICAL, "TechnicalDocument")):
        for d in shipment.documents:
            if d.role is role and d not in main:
                _file(_sub(body, element), d, content(d))
    data = etree.tostring(message, xml_declaration=True, encoding="UTF-8")
    return shipment.id, data


def _attention(recipient: etree._Element, extra: dict[str, str]) -> None:
    person, unit, email = (extra.get(k) for k in ("memo.attention.person", "memo.attention.productionUnit", "memo.attention.email"))
    if not (person or unit or email):
        return
    attention = _sub(recipient, "AttentionData")
    if person:
        _text(_sub(attention, "AttentionPerson"), "personID", person)
    if unit:
        _text(_sub(attention, "ProductionUnit", GRD), "productionUnitNumber", unit, GRD)
    if email:
        _text(_sub(attention, "EMail"), "emailAddress", email)


def _content_data(header: etree._Element, shipment: Shipment, extra: dict[str, str]) -> None:
    r = shipment.routing
    content = etree.Element(_m("ContentData"))
    if extra.get("memo.cpr"):
        cpr = _sub(content, "CPRdata", GRD)
        _text(cpr, "cprNumber", extra["memo.cpr"], GRD)
        _text(cpr, "name", extra.get("memo.cpr.name"), GRD)
    if extra.get("memo.cvr"):
        cvr = _sub(content, "CVRdata", GRD)
        _text(cvr, "cvrNumber", extra["memo.cvr"], GRD)
        _text(cvr, "companyName", extra.get("memo.cvr.name"), GRD)
    if r.case_id:
        case = _sub(content, "CaseID")
        _text(case, "caseID", r.case_id)
        _text(case, "caseSystem", r.case_system or "ukendt")
    for ns, element, key_name, routing_value, prefix in ((KLE, "KLEdata", "subjectKey", r.kle, "memo.kle"),
                                                         (FORM, "FORMdata", "taskKey", r.form, "memo.form")):
        version, label = extra.get(f"{prefix}.version"), extra.get(f"{prefix}.label")
        if routing_value and version and label:
            node = _sub(content, element, ns)
            _text(node, key_name, routing_value, ns)
            _text(node, "version", version, ns)
            _text(node, "label", label, ns)
    if r.production_unit:
        unit = _sub(content, "ProductionUnit", GRD)
        _text(unit, "productionUnitNumber", r.production_unit, GRD)
        _text(unit, "productionUnitName", extra.get("memo.productionUnit.name"), GRD)
    for i in range(10):
        name, value = extra.get(f"memo.additionalContentData[{i}].contentDataName"), extra.get(f"memo.additionalContentData[{i}].contentDataValue")
        if name is None or value is None:
            continue
        data = _sub(content, "AdditionalContentData")
        _text(data, "contentDataType", extra.get(f"memo.additionalContentData[{i}].contentDataType"))
        _text(data, "contentDataName", name)
        _text(data, "contentDataValue", value)
    if len(content):
        header.append(content)


def _reply_data(header: etree._Element, extra: dict[str, str]) -> None:
    indexes = sorted({int(m.group(1)) for k in extra if (m := re.match(r"memo\.replyData\[(\d+)\]\.", k))})
    for i in indexes:
        if f"memo.replyData[{i}].messageUUID" not in extra:
            continue  # messageUUID is required in ReplyData
        reply = _sub(header, "ReplyData")
        for key in REPLY_ORDER:
            _text(reply, key, extra.get(f"memo.replyData[{i}].{key}"))


def _file(parent: etree._Element, document: Document, data: bytes) -> None:
    file = _sub(parent, "File")
    _text(file, "encodingFormat", document.media_type)
    _text(file, "filename", document.filename)
    _text(file, "language", (document.language or "da")[:2])
    _text(file, "content", base64.b64encode(data).decode("ascii"))


def _m(local: str, ns: str = MEMO) -> str:
    return f"{{{ns}}}{local}"


def _sub(parent: etree._Element, local: str, ns: str = MEMO) -> etree._Element:
    return etree.SubElement(parent, _m(local, ns))


def _text(parent: etree._Element, local: str, value: str | None, ns: str = MEMO) -> None:
    if value is not None and value != "":
        etree.SubElement(parent, _m(local, ns)).text = value
