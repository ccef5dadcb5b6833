"""Noark 4 (BEST/EDU ``Melding``) → the canonical letter, driven by ``mappings/noark4.toml``.

The journal entry and its case become :class:`~gateway.model.CaseMetadata` (numbers, dates,
titles, access code and basis, units, officer); every other simple element of ``journpost``
and ``noarksak`` with a value is kept as an extra pair, so nothing the archive said is lost.
``avsmot`` entries the table makes recipients are the candidates (their ``amOrgnr``,
name, address and e-mail); ``dokument`` entries are the documents, in order, with their
titles. Which candidate this message is for is the envelope's business
(:mod:`gateway.domain.noark_intake`).
"""
from __future__ import annotations

import binascii
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import pybase64
from lxml import etree

from gateway.config import SenderSettings
from gateway.errors import FaultCode, ValidationError
from gateway.mapping.archive_letter import ArchiveLetter
from gateway.model import (
    Attention,
    CaseMetadata,
    DeliveryMode,
    DeliveryPolicy,
    Document,
    DocumentRole,
    Party,
    PartyKind,
    PostalAddress,
    Shipment,
    is_norway,
)
from gateway.resources import load_table
from gateway.spool import Content, content_sha256

CONTRACT = "noarkexchange"
#: CaseMetadata fields that are numbers (the table's values are text).
_NUMBERS = frozenset({"case_year", "case_sequence_number", "journal_year", "journal_sequence_number", "journal_entry_number"})
_DATES = frozenset({"journal_date", "document_date"})


@functools.cache
def table() -> dict[str, Any]:
    return load_table("noark4")


#: The content an MTOM request's ``xop:Include`` stood for, by the element it stood in (None:
#: no Include stood there); the element's text is the base64 otherwise.
Included = Callable[[etree._Element], Content | None]


def letter_from_melding(root: etree._Element, *, sender: SenderSettings, included: Included | None = None) -> ArchiveLetter:
    """A ``Melding`` (parsed by the hardened parser) → the letter, its candidates, its bytes.
    ``included``: a file sent as MTOM (an ``xop:Include`` in ``fil/base64``)."""
    t = table()
    fields = {key: _first_text(root, paths) for key, paths in t["fields"].items()}
    journpost = root.find("journpost")
    documents, contents = _documents(journpost, included)
    printable = any(not d.exclude_from_print for d in documents)
    shipment = Shipment(
        id="",
        sender=sender.name,
        title=fields["title"] or "",
        recipient=Party(),
        sender_party=Party(identifier=sender.organization_number or None,
                           kind=PartyKind.NO_ORGANIZATION if sender.organization_number else PartyKind.UNKNOWN,
                           name=sender.display_name or None),
        documents=documents,
        case_metadata=_case_metadata(root, fields),
        delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK if printable
                                else DeliveryMode(t["delivery"]["non_pdf"])),
        source_contract=CONTRACT,
    )
    candidates = tuple(_party(entry) for entry in (journpost.iterfind("avsmot") if journpost is not None else ())
                       if _is_recipient(entry))
    return ArchiveLetter(shipment=shipment, candidates=candidates, contents=tuple(contents))


def journal_entry_id(root: etree._Element) -> str | None:
    """``jpId``: the archive's key of the journal entry, echoed in receipts."""
    return _first_text(root, table()["fields"]["exchange.journal_entry_id"])


def _first_text(root: etree._Element, paths: list[str]) -> str | None:
    for path in paths:
        found = root.find(path)
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return None


def _case_metadata(root: etree._Element, fields: dict[str, str | None]) -> CaseMetadata:
    values: dict[str, Any] = {}
    for key, text in fields.items():
        if not key.startswith("case_metadata."):
            continue
        name = key.removeprefix("case_metadata.")
        values[name] = _number(text, key) if name in _NUMBERS else _date(text, key) if name in _DATES else text
    missing = sorted(name for name in _NUMBERS if values.get(name) is None)
    if missing:
        # The case and journal numbers are what the receipt back and any archive on the other
        # side file the letter under; every archive sends them.
        path = table()["fields"][f"case_metadata.{missing[0]}"][0]
        raise ValidationError(f"the Melding has no {path.rpartition('/')[2]}: the case and journal numbers are required",
                              code=FaultCode.INVALID_REQUEST, field="Melding." + path.replace("/", "."))
    return CaseMetadata(**values, extra=_extra(root))


def _extra(root: etree._Element) -> tuple[tuple[str, str], ...]:
    """Every simple element of the listed parents with a value that the table does not map."""
    t = table()
    mapped = {path for paths in t["fields"].values() for path in paths}
    pairs = []
    for parent_name in t["extra"]["parents"]:
        parent = root.find(parent_name)
        if parent is None:
            continue
        for child in parent:
            if not isinstance(child.tag, str) or len(child) or f"{parent_name}/{child.tag}" in mapped:
                continue
            text = (child.text or "").strip()
            if text:
                pairs.append((child.tag, text))
    return tuple(pairs)


def _number(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValidationError(f"{field.rpartition('.')[2]} is not a whole number: {text[:20]!r}",
                              code=FaultCode.INVALID_REQUEST, field=field)
    return int(text)


def _date(text: str | None, field: str) -> dt.datetime | None:
    if text is None or text in table()["dates"]["none"]:
        return None
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValidationError(f"not a date (YYYY-MM-DD): {text[:30]!r}", code=FaultCode.INVALID_REQUEST, field=field) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _is_recipient(entry: etree._Element) -> bool:
    t = table()["recipients"]
    if (_text(entry, "amKopimot") or "0") == "1" and not t["copies"]:
        return False
    return (_text(entry, "amIhtype") or "") in t["ihtypes"]


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(name)
    return found.text.strip() or None if found is not None and found.text else None


def _party(entry: etree._Element) -> Party:
    names = table()["recipient_fields"]
    identifier = _text(entry, names["identifier"])
    name = _text(entry, names["name"])
    lines = _text(entry, names["address.lines"])
    postcode = _text(entry, names["address.postcode"])
    city = _text(entry, names["address.city"])
    country = _text(entry, names["address.country"])
    email = _text(entry, names["attention.email"])
    address = None
    if lines or postcode or city:
        address = PostalAddress(name=name, lines=tuple(line.strip() for line in (lines or "").splitlines() if line.strip()),
                                postcode=postcode, city=city, country="NO" if is_norway(country) else country or "NO")
    return Party(identifier=identifier, kind=party_kind(identifier), name=name, address=address,
                 attention=Attention(email=email) if email else None)


def party_kind(identifier: str | None) -> PartyKind:
    """An ``orgnr`` field holds an organisation number (9 digits), or at times a person's
    fødselsnummer (11): told apart by length; their check digits are checked with the letter."""
    if identifier is None:
        return PartyKind.UNKNOWN
    return PartyKind.NO_PERSON if len(identifier) == 11 else PartyKind.NO_ORGANIZATION


def _documents(journpost: etree._Element | None, included: Included | None) -> tuple[tuple[Document, ...], list[Content]]:
    t = table()
    documents: list[Document] = []
    contents: list[Content] = []
    for index, entry in enumerate(journpost.iterfind("dokument") if journpost is not None else ()):
        where = f"Melding.journpost.dokument[{index}]"
        file = entry.find("fil/base64")
        data = included(file) if included is not None and file is not None else None
        if data is None:
            data = _decode(file, where)
        title = _text(entry, "dbTittel")
        fmt = (_text(entry, "veDokformat") or "").upper()
        extension, format_type = t["formats"].get(fmt, ("", None))
        media_type = (_text(entry, "veMimeType") or format_type or _sniffed(data)).lower()
        filename = _text(entry, "veFilnavn") or _filename(title, extension or _extension(media_type), index)
        role = t["document_roles"].get(_text(entry, "dlType") or "", "ATTACHMENT")
        documents.append(Document(
            filename=filename,
            media_type=media_type,
            size=len(data),
            sha256=content_sha256(data),
            storage_ref="",
            role=DocumentRole(role),
            exclude_from_print=media_type != "application/pdf",
            document_type=_text(entry, "dbKategori"),
            title=title,
        ))
        contents.append(data)
    return tuple(documents), contents


def _decode(element: etree._Element | None, where: str) -> bytes:
    if element is None or not element.text:
        raise ValidationError("the dokument carries no file (fil/base64)", code=FaultCode.DOCUMENT_EMPTY, field=f"{where}.fil")
    try:
        return pybase64.b64decode(element.text, validate=True)
    except (binascii.Error, ValueError):
        try:
            return pybase64.b64decode("".join(element.text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("fil/base64 is not base64", code=FaultCode.INVALID_REQUEST, field=f"{where}.fil.base64") from None


def _sniffed(data: Content) -> str:
    if isinstance(data, bytes):
        head = data[:5]
    else:
        with data.open() as file:
            head = file.read(5)
    return "application/pdf" if head == b"%PDF-" else "application/octet-stream"


def _extension(media_type: str) -> str:
    for extension, known in table()["formats"].values():
        if known == media_type:
            return str(extension)
    return "bin"


def _filename(title: str | None, extension: str, index: int) -> str:
    """A file name for a dokument without one: its title (characters a file name cannot
    hold replaced), else its place."""
    stem = "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in (title or "")).strip(" .")[:200]
    return f"{stem or f'dokument-{index + 1}'}.{extension}"
