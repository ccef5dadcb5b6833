"""Digipost API v8 documents (``http://api.digipost.no/schema/v8``): the print-only message we
send, the multipart body it travels in, and the answers we read (message-delivery,
document-status, batch, error).

A print-only message (the Java client's ``PrintOnlyMessage``) names no Digipost recipient: its
``recipient`` holds only ``print-details`` (the postal recipient and the return address, each a
name with a Norwegian or a foreign address, the colour and what to do with a letter the post
cannot deliver). Each value is cut to the length ``api_v8.xsd`` allows; a letter whose address
cannot be written in that schema is refused before it is staged.

The body is ``multipart/vnd.digipost-v8+xml`` as ``MessageDeliverer`` builds it: the message XML
first (``Content-Disposition: attachment; filename="message"``), then each document as a part
named by its uuid (``filename="<uuid>"``), ``application/pdf``.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from gateway.model import PostalAddress, Shipment, is_norway
from gateway.xml.parser import parse_untrusted

__all__ = [
    "MEDIA_TYPE", "MULTIPART_SUBTYPE", "NS", "BatchInfo", "DeliveryAnswer", "DocumentPart", "DocumentStatusAnswer",
    "PrintAddress", "batch_xml", "document_uuid", "message_xml", "multipart_body", "parse_batch", "parse_delivery",
    "parse_document_status", "parse_entrypoint", "parse_error", "print_address", "return_address",
]

NS = "http://api.digipost.no/schema/v8"
MEDIA_TYPE = "application/vnd.digipost-v8+xml"
MULTIPART_SUBTYPE = "vnd.digipost-v8+xml"
_Q = "{%s}" % NS
#: api_v8.xsd maxLength of ``name``, ``addressline``, ``city``, ``zip-code``, ``country``, ``subject``.
NAME_MAX, LINE_MAX, CITY_MAX, ZIP_MAX, COUNTRY_MAX, SUBJECT_MAX = 130, 100, 80, 10, 80, 255
_NORWEGIAN_POSTCODE_CITY = re.compile(r"^\s*(\d{4})\s+(\S.*)$")
_DOC_NAMESPACE = uuid.UUID("0c5a3b58-0d8e-4a8e-9a37-2d1f4b6c9e21")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrintAddress:
    """A ``print-recipient``: a name and a Norwegian (postcode, city) or foreign (country) address."""

    name: str
    lines: tuple[str, ...]
    postcode: str = ""
    city: str = ""
    country: str = ""  # empty: Norwegian

    def check(self, what: str) -> None:
        """Raise ``ValueError`` when api_v8.xsd cannot carry this address."""
        if not self.name:
            raise ValueError(f"{what} has no name")
        if self.country:
            if not self.lines:
                raise ValueError(f"{what} is abroad and needs at least one address line")
        elif not (self.postcode and self.city):
            raise ValueError(f"{what} is Norwegian and needs a postcode and a city")


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentPart:
    uuid: str
    subject: str
    content: bytes


def _text(value: str | None) -> str:
    """One line of XML text: characters XML cannot carry and runs of whitespace become one space."""
    cleaned = "".join(c if c in "\t\n\r" or (" " <= c and c not in "\ufffe\uffff" and not "\ud800" <= c <= "\udfff") else " "
                      for c in value or "")
    return " ".join(cleaned.split())


def _cut(value: str, limit: int) -> str:
    return value[:limit].rstrip()


def print_address(shipment: Shipment) -> PrintAddress:
    """The recipient's postal address as a ``print-recipient``."""
    address = shipment.recipient.address
    if address is None:
        raise ValueError("the recipient has no postal address")
    name = _text(address.name or shipment.recipient.name)
    return _address(name, address)


def _address(name: str, address: PostalAddress) -> PrintAddress:
    lines = [t for line in address.lines if (t := _text(line))]
    if is_norway(address.country):
        if len(lines) > 3:  # keep every word: the overflow joins the last line
            lines = lines[:2] + [", ".join(lines[2:])]
        return PrintAddress(name=_cut(name, NAME_MAX), lines=tuple(_cut(t, LINE_MAX) for t in lines),
                            postcode=_cut(_text(address.postcode), ZIP_MAX), city=_cut(_text(address.city), CITY_MAX))
    town = " ".join(t for t in (_text(address.postcode), _text(address.city)) if t)
    if town:
        lines.append(town)
    if len(lines) > 4:
        lines = lines[:3] + [", ".join(lines[3:])]
    return PrintAddress(name=_cut(name, NAME_MAX), lines=tuple(_cut(t, LINE_MAX) for t in lines),
                        country=_cut(_text(address.country), COUNTRY_MAX))


def return_address(lines: Sequence[str]) -> PrintAddress:
    """The configured return address (``"Name", "Street", "0101 Oslo"``): the first line is the
    name; a last line of a four-digit postcode and a city makes it Norwegian, otherwise the last
    line is the country."""
    texts = [t for line in lines if (t := _text(line))]
    if len(texts) < 2:
        raise ValueError("the return address needs a name and an address (sender return_address or [channels.print] return_address)")
    name, rest = texts[0], texts[1:]
    found = _NORWEGIAN_POSTCODE_CITY.match(rest[-1])
    if found:
        return _address(name, PostalAddress(lines=tuple(rest[:-1]), postcode=found.group(1), city=found.group(2), country="NO"))
    return _address(name, PostalAddress(lines=tuple(rest[:-1]), country=rest[-1]))


def document_uuid(job_id: str, index: int) -> str:
    """The same letter always gives its documents the same uuids (a resend is recognised)."""
    return str(uuid.uuid5(_DOC_NAMESPACE, f"{job_id}/{index}"))


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _Q + tag)
    if text is not None:
        child.text = text
    return child


def _print_recipient(parent: etree._Element, tag: str, address: PrintAddress) -> None:
    node = _el(parent, tag)
    _el(node, "name", address.name)
    if address.country:
        foreign = _el(node, "foreign-address")
        for i, line in enumerate(address.lines[:4], 1):
            _el(foreign, f"addressline{i}", line)
        code = address.country.upper()
        if len(code) == 2 and code.isalpha():
            _el(foreign, "country-code", code)
        else:
            _el(foreign, "country", address.country)
    else:
        norwegian = _el(node, "norwegian-address")
        for i, line in enumerate(address.lines[:3], 1):
            _el(norwegian, f"addressline{i}", line)
        _el(norwegian, "zip-code", address.postcode)
        _el(norwegian, "city", address.city)


def message_xml(*, message_id: str, sender_id: str, recipient: PrintAddress, return_to: PrintAddress, color: bool,
                nondeliverable: str, documents: Sequence[DocumentPart], batch_uuid: str | None = None) -> bytes:
    """A print-only ``message``; the first document is the primary one, the rest attachments."""
    recipient.check("the recipient's address")
    return_to.check("the return address")
    root = etree.Element(_Q + "message", nsmap={None: NS})
    _el(root, "message-id", message_id)
    if sender_id:
        _el(root, "sender-id", sender_id)
    details = _el(_el(root, "recipient"), "print-details")
    _print_recipient(details, "recipient", recipient)
    _print_recipient(details, "return-address", return_to)
    _el(details, "color", "COLORS" if color else "MONOCHROME")
    _el(details, "nondeliverable-handling", nondeliverable)
    for i, doc in enumerate(documents):
        node = _el(root, "primary-document" if i == 0 else "attachment")
        _el(node, "uuid", doc.uuid)
        _el(node, "subject", _cut(_text(doc.subject), SUBJECT_MAX) or "Brev")
        _el(node, "file-type", "pdf")
    if batch_uuid:
        _el(_el(root, "batch"), "uuid", batch_uuid)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def batch_xml(batch_uuid: str) -> bytes:
    root = etree.Element(_Q + "batch", nsmap={None: NS})
    _el(root, "uuid", batch_uuid)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def multipart_body(message: bytes, documents: Sequence[DocumentPart], *, boundary: str) -> tuple[bytes, str]:
    """The body and its Content-Type: the message first, then each document named by its uuid."""
    crlf = b"\r\n"
    parts = [(MEDIA_TYPE + "; charset=UTF-8", "message", message)]
    parts += [("application/pdf", doc.uuid, doc.content) for doc in documents]
    body = b""
    for content_type, filename, data in parts:
        body += b"--" + boundary.encode() + crlf
        body += f'Content-Disposition: attachment; filename="{filename}"'.encode() + crlf
        body += f"Content-Type: {content_type}".encode() + crlf + crlf
        body += data + crlf
    body += b"--" + boundary.encode() + b"--" + crlf
    return body, f"multipart/{MULTIPART_SUBTYPE}; boundary={boundary}"


# --- answers ---


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryAnswer:
    message_id: str
    method: str  # delivery-method: PRINT, DIGIPOST, ...
    status: str  # NOT_COMPLETE, COMPLETE, DELIVERED, DELIVERED_TO_PRINT
    delivery_time: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentStatusAnswer:
    status: str  # DELIVERED or NOT_DELIVERED
    channel: str  # PRINT, DIGIPOST, PENDING, ...
    delivered: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchInfo:
    uuid: str
    status: str
    links: dict[str, str]


def _root(data: bytes, name: str) -> etree._Element:
    root = parse_untrusted(data)
    if root.tag != _Q + name:
        raise ValueError(f"expected a Digipost {name}, got {root.tag}")
    return root


def _find(root: etree._Element, tag: str) -> str:
    return (root.findtext(_Q + tag) or "").strip()


def links(root: etree._Element) -> dict[str, str]:
    """A representation's links by relation name (the last segment of ``rel``, lower case)."""
    return {(link.get("rel") or "").rstrip("/").rsplit("/", 1)[-1].lower(): link.get("uri") or ""
            for link in root.iterfind(_Q + "link")}


def parse_delivery(data: bytes) -> DeliveryAnswer:
    root = _root(data, "message-delivery")
    return DeliveryAnswer(message_id=_find(root, "message-id"), method=_find(root, "delivery-method"),
                          status=_find(root, "status"), delivery_time=_find(root, "delivery-time"))


def parse_document_status(data: bytes) -> DocumentStatusAnswer:
    root = _root(data, "document-status")
    return DocumentStatusAnswer(status=root.get("status", ""), channel=root.get("channel", ""), delivered=root.get("delivered", ""))


def parse_batch(data: bytes) -> BatchInfo:
    root = _root(data, "batch")
    return BatchInfo(uuid=_find(root, "uuid"), status=_find(root, "status"), links=links(root))


def parse_entrypoint(data: bytes) -> tuple[str, dict[str, str]]:
    """The entrypoint's certificate (PEM text, may be empty) and links."""
    root = _root(data, "entrypoint")
    return _find(root, "certificate"), links(root)


def parse_error(data: bytes) -> tuple[str, str]:
    """``(error-code, error-message)`` of an ``error`` answer; empty strings when it is none."""
    try:
        root = _root(data, "error")
    except Exception:  # noqa: BLE001 - an error page of any kind: the HTTP status says enough
        return "", ""
    return _find(root, "error-code"), _find(root, "error-message")
