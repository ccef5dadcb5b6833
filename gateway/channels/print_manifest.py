"""The print manifest: what the gateway tells the print house about each job of a batch.

A job's manifest data (:class:`ManifestJob`) is made when the letter is staged and kept as
JSON beside its PDF until the batch is written; :func:`manifest_xml` turns a batch of them
into ``manifest.xml`` (``xsd/print-manifest.xsd``). Both print schemas, this one and the
print house's receipt (``xsd/print-receipt.xsd``), are compiled and checked by a
:class:`~gateway.xml.schemas.SchemaRegistry` like every other schema (:func:`print_schemas`).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TypedDict

from lxml import etree

from gateway.config import SenderSettings
from gateway.model import PartyKind, Shipment
from gateway.resources import data_dir
from gateway.xml.schemas import SchemaBundle, SchemaRegistry

MANIFEST_NS = "urn:gateway:print:manifest:1"
#: Registry names of the print schemas, and their files in ``xsd/``.
MANIFEST_SCHEMA = "print-manifest"
RECEIPT_SCHEMA = "print-receipt"
_SCHEMA_FILES = {MANIFEST_SCHEMA: "print-manifest.xsd", RECEIPT_SCHEMA: "print-receipt.xsd"}
#: What the schema allows; more lines are joined into the last one.
MAX_ADDRESS_LINES = 4

_ORGANIZATION_NUMBER = re.compile(r"^[0-9]{9}$")
_NOT_XML_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")


class RecipientAddress(TypedDict):
    name: str
    addressLines: list[str]
    postcode: str | None
    city: str
    country: str


class ManifestJob(TypedDict):
    """One job as the manifest names it (keys are the manifest's element names)."""

    shipmentId: str
    file: str
    sha256: str
    pages: int
    sheets: int
    duplex: bool
    color: bool
    letterClass: str
    recipient: RecipientAddress
    costEstimateOre: int
    costCode: str | None
    senderOrganizationNumber: str | None


# --- schemas ---


def print_schemas() -> SchemaRegistry:
    """A registry holding the two print schemas from ``xsd/`` (single files shipped with the
    gateway), compiled once per call through the one registry."""
    registry = SchemaRegistry()
    folder = data_dir("xsd")
    for name, entry in _SCHEMA_FILES.items():
        registry.register(SchemaBundle(name=name, folder=folder, entry=entry, builtin=True))
    return registry


def check_schema(schemas: SchemaRegistry, name: str, root: etree._Element) -> None:
    """Raise ``ValueError`` naming the first problem when ``root`` does not fit schema ``name``."""
    report = schemas.validate(name, root)
    if not report.valid:
        first = report.errors[0]
        where = f" at {first.path}" if first.path else ""
        raise ValueError(f"{name}{where}: {first.message}")


# --- the manifest ---


def manifest_xml(batch_id: str, created: dt.datetime, jobs: Sequence[ManifestJob], *, schemas: SchemaRegistry) -> bytes:
    """The batch manifest for ``jobs``, checked against its schema (``ValueError`` if it does not fit)."""
    def q(tag: str) -> str:
        return f"{{{MANIFEST_NS}}}{tag}"

    root = etree.Element(q("PrintBatch"), nsmap={None: MANIFEST_NS}, batchId=batch_id, created=created.isoformat())
    senders = {job.get("senderOrganizationNumber") for job in jobs}
    if len(senders) == 1 and None not in senders:
        etree.SubElement(root, q("senderOrganizationNumber")).text = senders.pop()
    for job in jobs:
        el = etree.SubElement(root, q("Job"))
        for key in ("shipmentId", "file", "sha256", "pages", "sheets", "duplex", "color", "letterClass"):
            value = job[key]  # type: ignore[literal-required]
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
                etree.SubElement(el, q(key)).text = job[key]  # type: ignore[literal-required]
    check_schema(schemas, MANIFEST_SCHEMA, root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- a job's fields ---


def recipient_address(shipment: Shipment) -> RecipientAddress:
    """The recipient's postal address as manifest lines (the shipment must have one)."""
    address = shipment.recipient.address
    if address is None:
        raise ValueError("the recipient has no postal address")
    lines = [t for line in address.lines if (t := manifest_line(line))]
    if len(lines) > MAX_ADDRESS_LINES:  # keep every word: the overflow joins the last line
        lines = lines[: MAX_ADDRESS_LINES - 1] + [", ".join(lines[MAX_ADDRESS_LINES - 1:])]
    country = manifest_line(address.country) or "NO"
    return {
        "name": manifest_line(address.name or shipment.recipient.name or ""),
        "addressLines": lines,
        "postcode": manifest_line(address.postcode or "") or None,
        "city": manifest_line(address.city or ""),
        "country": country.upper() if len(country) == 2 else country,
    }


def organization_number(shipment: Shipment, sender: SenderSettings | None) -> str | None:
    """The sender's organisation number: the configured one, else the shipment's own sender's."""
    candidates = [sender.organization_number if sender else ""]
    if shipment.sender_party is not None and shipment.sender_party.kind is PartyKind.NO_ORGANIZATION:
        candidates.append(shipment.sender_party.identifier or "")
    return next((c for c in candidates if _ORGANIZATION_NUMBER.match(c)), None)


def manifest_line(value: str) -> str:
    """``value`` as one line of manifest text: characters XML cannot carry and every run of
    whitespace become one space, trimmed at both ends."""
    return " ".join(_NOT_XML_TEXT.sub(" ", value).split())
