"""MeMo → canonical shipment, driven by ``mappings/memo.toml``.

Every routing field the table names is kept, in the model's words: subject keys (KLE, FORM),
case id and case system, P-number, the recipient's contact point and attention, the sender's
contact point, the persons and companies the letter is about (CPR/CVR data), forward and
reply data, AdditionalContentData and the header's handling flags; Actions become deep links
with their action codes. Documents are the ``File`` elements of MainDocument,
AdditionalDocument and TechnicalDocument, in order. A NemSMS (``messageType`` NEMSMS) has
none: its text is the header's ``notification`` (``routing.handling.notification``), and it is
digital only, since only Danish Digital Post can send it and a text message cannot be printed.
"""
from __future__ import annotations

import base64
import functools
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from lxml import etree

from gateway.config import SenderSettings
from gateway.errors import FaultCode, ValidationError
from gateway.resources import load_table
from gateway.memo_vocabulary import ADDITIONAL_CONTENT_DATA_FIELDS, NEMSMS, NSMAP, REPLY_DATA_FIELDS, xs_boolean
from gateway.model import (
    Attention,
    ContactInfo,
    ContentData,
    DeliveryMode,
    DeliveryPolicy,
    Document,
    DocumentRole,
    Forwarding,
    Link,
    MailboxHandling,
    Party,
    PartyKind,
    PostalAddress,
    ReplyReference,
    RoutingMetadata,
    Shipment,
)
from gateway.uuids import canonical_uuid

CONTRACT = "memo"


def _table() -> dict[str, Any]:
    return load_table("memo")


@functools.cache
def _clark(path: str) -> str:
    """``memo:A/memo:b`` → ``{ns}A/{ns}b`` once, so each lookup skips prefix handling."""
    steps = []
    for step in path.split("/"):
        prefix, sep, local = step.partition(":")
        steps.append(f"{{{NSMAP[prefix]}}}{local}" if sep else step)
    return "/".join(steps)


def _found_text(root: etree._Element, path: str) -> str | None:
    """The stripped text of the first element at ``path``."""
    return _stripped(root.find(_clark(path)))


def _stripped(found: etree._Element | None) -> str | None:
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


class _Header:
    """The first element at each path in ``MessageHeader``, from one walk of it.

    The table names some sixty header paths; one walk and dictionary lookups cost a fraction
    of sixty ElementPath searches. The first element in document order wins, as with ``find``.
    """

    __slots__ = ("_first", "_root")

    def __init__(self, root: etree._Element) -> None:
        self._root = root
        self._first: dict[str, etree._Element] = {}
        header = root.find(_clark(_HEADER))
        if header is not None:
            self._walk(header, _clark(_HEADER))

    def _walk(self, element: etree._Element, path: str) -> None:
        for child in element:
            tag = child.tag
            if isinstance(tag, str):
                child_path = f"{path}/{tag}"
                self._first.setdefault(child_path, child)
                if len(child):
                    self._walk(child, child_path)

    def text(self, path: str) -> str | None:
        """Like :func:`_found_text` on the message root (paths outside the header are searched)."""
        if not path.startswith(_HEADER + "/"):
            return _found_text(self._root, path)
        return _stripped(self._first.get(_clark(path)))


_HEADER = "memo:MessageHeader"


def _string(value: object) -> str | None:
    """A text field of ``[fields]`` (the flags there are booleans)."""
    return value if isinstance(value, str) else None


def shipment_from_memo(root: etree._Element, *, sender: SenderSettings) -> tuple[Shipment, list[bytes]]:
    """A verified, valid ``memo:Message`` → (shipment, document bytes in order)."""
    table = _table()
    header = _Header(root)
    message_uuid = header.text("memo:MessageHeader/memo:messageUUID") or ""
    fields = {key: _FIELD_VALUE.get(key, _unchanged)(header.text(path)) for key, path in table["fields"].items()}
    documents, contents = _documents(root)
    address = _recipient_address(root, header)
    recipient_kind = PartyKind(table["recipient_kinds"].get(header.text("memo:MessageHeader/memo:Recipient/memo:idType") or "", "UNKNOWN"))
    shipment = Shipment(
        id=normalize_uuid(message_uuid),
        sender=sender.name,
        title=_string(fields["title"]) or "",
        recipient=Party(
            identifier=header.text("memo:MessageHeader/memo:Recipient/memo:recipientID"),
            kind=recipient_kind,
            name=header.text("memo:MessageHeader/memo:Recipient/memo:label"),
            address=address,
        ),
        sender_party=Party(
            identifier=header.text("memo:MessageHeader/memo:Sender/memo:senderID"),
            kind=PartyKind.DK_CVR if header.text("memo:MessageHeader/memo:Sender/memo:idType") == "CVR" else PartyKind.UNKNOWN,
            name=header.text("memo:MessageHeader/memo:Sender/memo:label"),
        ),
        documents=documents,
        links=_links(root),
        routing=_routing(root, header, fields),
        # Print needs an address: with a structured one the letter may fall back to print,
        # without one it is digital only (the gateway has no CPR address register). A NemSMS
        # is never printed.
        delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK if address and not is_nemsms(root)
                                else DeliveryMode.DIGITAL_ONLY),
        external_ref=_string(fields["external_ref"]),
        source_contract=CONTRACT,
    )
    return shipment, contents


def is_nemsms(root: etree._Element) -> bool:
    """A NemSMS: a text message without documents (``messageType`` NEMSMS)."""
    return _found_text(root, "memo:MessageHeader/memo:messageType") == NEMSMS


def _unchanged(text: str | None) -> str | None:
    return text


def _is_text_message(message_type: str | None) -> bool | None:
    return None if message_type is None else message_type == NEMSMS


#: Fields of the table that are not text in the model.
_FIELD_VALUE = {
    "routing.handling.text_message": _is_text_message,
    "routing.handling.reply_allowed": xs_boolean,
    "routing.handling.mandatory": xs_boolean,
    "routing.handling.legal_notification": xs_boolean,
}


def _routing(root: etree._Element, header: _Header, fields: dict[str, Any]) -> RoutingMetadata:
    attention = _named(fields, "routing.attention.")
    forwarded = _named(fields, "routing.forwarded.")
    concerns = [Party(kind=PartyKind(kind), identifier=header.text(number), name=header.text(name))
                for kind, (number, name) in _table()["concerns"].items()]
    return RoutingMetadata(
        **_named(fields, "routing."),
        attention=Attention(**attention) if any(attention.values()) else None,
        forwarded=Forwarding(**forwarded) if any(forwarded.values()) else None,
        handling=MailboxHandling(**_named(fields, "routing.handling.")),
        concerns=tuple(party for party in concerns if party.identifier is not None or party.name is not None),
        contact_info=tuple(
            ContactInfo(label=_found_text(info, "memo:label") or "", value=_found_text(info, "memo:value") or "")
            for info in root.iterfind("memo:MessageHeader/memo:Recipient/memo:ContactPoint/memo:ContactInfo", NSMAP)),
        # one item per element, even one without text, so each keeps its position
        content_data=tuple(
            ContentData(**{attribute: _found_text(data, f"memo:{element}")
                           for element, attribute in ADDITIONAL_CONTENT_DATA_FIELDS.items()})
            for data in root.iterfind("memo:MessageHeader/memo:ContentData/memo:AdditionalContentData", NSMAP)),
        replies_to=tuple(_reply_reference(reply) for reply in root.iterfind("memo:MessageHeader/memo:ReplyData", NSMAP)),
    )


def _named(fields: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The fields directly under ``prefix`` (``routing.`` → ``kle``, not ``attention.person``), by name."""
    return {key[len(prefix):]: value for key, value in fields.items()
            if key.startswith(prefix) and "." not in key[len(prefix):]}


def _reply_reference(reply: etree._Element) -> ReplyReference:
    texts = {etree.QName(child).localname: child.text.strip() for child in reply
             if isinstance(child.tag, str) and child.text and child.text.strip()}
    return ReplyReference(**{attribute: texts.get(element) for element, attribute in REPLY_DATA_FIELDS.items()})




def _recipient_address(root: etree._Element, header: _Header) -> PostalAddress | None:
    address = root.find("memo:MessageHeader/memo:Recipient/memo:AttentionData/grd:Address", NSMAP)
    if address is None:
        return None
    street = " ".join(p for p in (_found_text(address, "grd:addressLabel"), _found_text(address, "grd:houseNumber")) if p)
    unit = " ".join(p for p in (_found_text(address, "grd:floor"), _found_text(address, "grd:door")) if p)
    co = _found_text(address, "grd:co")
    lines = tuple(line for line in (f"c/o {co}" if co else None, ", ".join(p for p in (street, unit) if p) or None) if line)
    return PostalAddress(
        name=header.text("memo:MessageHeader/memo:Recipient/memo:label"),
        lines=lines,
        postcode=_found_text(address, "grd:zipCode"),
        city=_found_text(address, "grd:city"),
        country=_found_text(address, "grd:country") or "DK",
    )


def normalize_uuid(value: str) -> str:
    canonical = canonical_uuid(value)
    if canonical is None:
        raise ValidationError(f"messageUUID is not a UUID: {value!r}", code=FaultCode.INVALID_SHIPMENT_ID,
                              field="/Message/MessageHeader/messageUUID")
    return canonical


def _documents(root: etree._Element) -> tuple[tuple[Document, ...], list[bytes]]:
    roles = _table()["document_roles"]
    documents: list[Document] = []
    contents: list[bytes] = []
    body = root.find("memo:MessageBody", NSMAP)
    if body is None:
        return (), []
    for container in body:
        if not isinstance(container.tag, str):
            continue
        role = roles.get(etree.QName(container).localname)
        if role is None:
            continue
        for file in container.iterfind("memo:File", NSMAP):
            data = _decode(_found_text(file, "memo:content") or "", file)
            contents.append(data)
            documents.append(Document(
                filename=_found_text(file, "memo:filename") or "",
                media_type=(_found_text(file, "memo:encodingFormat") or "application/octet-stream").lower(),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                storage_ref="",
                role=DocumentRole(role),
                exclude_from_print=role == "TECHNICAL" or (_found_text(file, "memo:encodingFormat") or "").lower() != "application/pdf",
                language=_found_text(file, "memo:language"),
                document_type=_found_text(container, "memo:label"),
            ))
    return tuple(documents), contents


def _decode(text: str, file: etree._Element) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("File/content is not base64", code=FaultCode.INVALID_REQUEST,
                              field=f"/Message/MessageBody/.../File[{file.getparent().index(file) + 1}]/content") from None


def _links(root: etree._Element) -> tuple[Link, ...]:
    links = []
    for action in root.iterfind("memo:MessageBody//memo:Action", NSMAP):
        url = _found_text(action, "memo:EntryPoint/memo:url")
        if url is None:
            continue  # a Reservation-only action has no link
        links.append(Link(url=url, text=_found_text(action, "memo:label") or url, action=_found_text(action, "memo:actionCode")))
    return tuple(links)


Renderer = Callable[..., bytes]
