"""MeMo → canonical shipment, driven by ``mappings/memo.toml``.

Every routing field the table names is kept: subject keys (KLE, FORM), case id and case
system, P-number, contact point, post type, CPR/CVR content data, attention data, forward and
reply data, AdditionalContentData; Actions become deep links with their action codes.
Documents are the ``File`` elements of MainDocument, AdditionalDocument and
TechnicalDocument, in order. A NemSMS (``messageType`` NEMSMS) has none: its text is the
header's ``notification`` (kept as ``memo.notification``), and it is digital only, since
only Danish Digital Post can send it and a text message cannot be printed.
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
from gateway.mapping.tables import load
from gateway.model import (
    DeliveryMode,
    DeliveryPolicy,
    Document,
    DocumentRole,
    Link,
    Party,
    PartyKind,
    PostalAddress,
    RoutingMetadata,
    Shipment,
)
from gateway.uuids import canonical_uuid

CONTRACT = "memo"


def _table() -> dict[str, Any]:
    return load("memo")


def _ns() -> dict[str, str]:
    return _table()["namespaces"]


@functools.cache
def _clark(path: str) -> str:
    """``memo:A/memo:b`` → ``{ns}A/{ns}b`` once, so each lookup skips prefix handling."""
    ns = _ns()
    steps = []
    for step in path.split("/"):
        prefix, sep, local = step.partition(":")
        steps.append(f"{{{ns[prefix]}}}{local}" if sep else step)
    return "/".join(steps)


def _text(root: etree._Element, path: str) -> str | None:
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
        """Like :func:`_text` on the message root (paths outside the header are searched)."""
        if not path.startswith(_HEADER + "/"):
            return _text(self._root, path)
        return _stripped(self._first.get(_clark(path)))


_HEADER = "memo:MessageHeader"


def shipment_from_memo(root: etree._Element, *, sender: SenderSettings) -> tuple[Shipment, list[bytes]]:
    """A verified, valid ``memo:Message`` → (shipment, document bytes in order)."""
    table, ns = _table(), _ns()
    header = _Header(root)
    message_uuid = header.text("memo:MessageHeader/memo:messageUUID") or ""
    fields = {key: header.text(path) for key, path in table["fields"].items()}
    extra = [(key, value) for key, path in table["extra"].items() if (value := header.text(path)) is not None]
    for i, data in enumerate(root.iterfind("memo:MessageHeader/memo:ContentData/memo:AdditionalContentData", ns)):
        for part in ("contentDataType", "contentDataName", "contentDataValue"):
            if (value := _text(data, f"memo:{part}")) is not None:
                extra.append((f"memo.additionalContentData[{i}].{part}", value))
    for i, reply in enumerate(root.iterfind("memo:MessageHeader/memo:ReplyData", ns)):
        for child in reply:
            if isinstance(child.tag, str) and child.text and child.text.strip():
                extra.append((f"memo.replyData[{i}].{etree.QName(child).localname}", child.text.strip()))
    for i, info in enumerate(root.iterfind("memo:MessageHeader/memo:Recipient/memo:ContactPoint/memo:ContactInfo", ns)):
        extra.append((f"memo.contactInfo[{i}]", f"{_text(info, 'memo:label') or ''}={_text(info, 'memo:value') or ''}"))

    documents, contents = _documents(root)
    address = _recipient_address(root, header)
    recipient_kind = PartyKind(table["recipient_kinds"].get(header.text("memo:MessageHeader/memo:Recipient/memo:idType") or "", "UNKNOWN"))
    shipment = Shipment(
        id=normalize_uuid(message_uuid),
        tenant=sender.name,
        title=fields["title"] or "",
        recipient=Party(
            identifier=header.text("memo:MessageHeader/memo:Recipient/memo:recipientID"),
            kind=recipient_kind,
            name=header.text("memo:MessageHeader/memo:Recipient/memo:label"),
            address=address,
        ),
        sender=Party(
            identifier=header.text("memo:MessageHeader/memo:Sender/memo:senderID"),
            kind=PartyKind.DK_CVR if header.text("memo:MessageHeader/memo:Sender/memo:idType") == "CVR" else PartyKind.UNKNOWN,
            name=header.text("memo:MessageHeader/memo:Sender/memo:label"),
        ),
        documents=documents,
        links=_links(root),
        routing=RoutingMetadata(
            kle=fields["routing.kle"],
            form=fields["routing.form"],
            case_id=fields["routing.case_id"],
            case_system=fields["routing.case_system"],
            production_unit=fields["routing.production_unit"],
            contact_point=fields["routing.contact_point"],
            post_type=fields["routing.post_type"],
            extra=tuple(extra),
        ),
        # Print needs an address: with a structured one the letter may fall back to print,
        # without one it is digital only (the gateway has no CPR address register). A NemSMS
        # is never printed.
        delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK if address and not is_nemsms(root)
                                else DeliveryMode.DIGITAL_ONLY),
        external_ref=fields["external_ref"],
        source_contract=CONTRACT,
    )
    return shipment, contents


def is_nemsms(root: etree._Element) -> bool:
    """A NemSMS: a text message without documents (``messageType`` NEMSMS)."""
    return (_text(root, "memo:MessageHeader/memo:messageType") or "") == "NEMSMS"


def _recipient_address(root: etree._Element, header: _Header) -> PostalAddress | None:
    address = root.find("memo:MessageHeader/memo:Recipient/memo:AttentionData/grd:Address", _ns())
    if address is None:
        return None
    street = " ".join(p for p in (_text(address, "grd:addressLabel"), _text(address, "grd:houseNumber")) if p)
    unit = " ".join(p for p in (_text(address, "grd:floor"), _text(address, "grd:door")) if p)
    co = _text(address, "grd:co")
    lines = tuple(line for line in (f"c/o {co}" if co else None, ", ".join(p for p in (street, unit) if p) or None) if line)
    return PostalAddress(
        name=header.text("memo:MessageHeader/memo:Recipient/memo:label"),
        lines=lines,
        postcode=_text(address, "grd:zipCode"),
        city=_text(address, "grd:city"),
        country=_text(address, "grd:country") or "DK",
    )


def normalize_uuid(value: str) -> str:
    canonical = canonical_uuid(value)
    if canonical is None:
        raise ValidationError(f"messageUUID is not a UUID: {value!r}", code=FaultCode.INVALID_SHIPMENT_ID,
                              field="/Message/MessageHeader/messageUUID")
    return canonical


def _documents(root: etree._Element) -> tuple[tuple[Document, ...], list[bytes]]:
    ns, roles = _ns(), _table()["document_roles"]
    documents: list[Document] = []
    contents: list[bytes] = []
    body = root.find("memo:MessageBody", ns)
    if body is None:
        return (), []
    for container in body:
        if not isinstance(container.tag, str):
            continue
        role = roles.get(etree.QName(container).localname)
        if role is None:
            continue
        for file in container.iterfind("memo:File", ns):
            data = _decode(_text(file, "memo:content") or "", file)
            contents.append(data)
            documents.append(Document(
                filename=_text(file, "memo:filename") or "",
                media_type=(_text(file, "memo:encodingFormat") or "application/octet-stream").lower(),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                storage_ref="",
                role=DocumentRole(role),
                exclude_from_print=role == "TECHNICAL" or (_text(file, "memo:encodingFormat") or "").lower() != "application/pdf",
                language=_text(file, "memo:language"),
                document_type=_text(container, "memo:label"),
            ))
    return tuple(documents), contents


def _decode(text: str, file: etree._Element) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("File/content is not base64", code=FaultCode.INVALID_REQUEST,
                              field=f"/Message/MessageBody/.../File[{file.getparent().index(file) + 1}]/content") from None


def _links(root: etree._Element) -> tuple[Link, ...]:
    ns = _ns()
    links = []
    for action in root.iterfind("memo:MessageBody//memo:Action", ns):
        url = _text(action, "memo:EntryPoint/memo:url")
        if url is None:
            continue  # a Reservation-only action has no link
        links.append(Link(url=url, text=_text(action, "memo:label") or url, action=_text(action, "memo:actionCode")))
    return tuple(links)


Renderer = Callable[..., bytes]
