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
import functools
from typing import Any

import pybase64
from lxml import etree

from gateway.config import SenderSettings
from gateway.errors import FaultCode, ValidationError
from gateway.mapping.archive_letter import ArchiveLetter
from gateway.mapping.noark_fields import archive_shipment, case_metadata, document, party, party_kind, sniffed
from gateway.mapping.noark_fields import filename as make_filename
from gateway.model import Document, Party
from gateway.resources import load_table

CONTRACT = "noarkexchange"
__all__ = ["CONTRACT", "journal_entry_id", "letter_from_melding", "party_kind", "table"]


@functools.cache
def table() -> dict[str, Any]:
    return load_table("noark4")


def letter_from_melding(root: etree._Element, *, sender: SenderSettings) -> ArchiveLetter:
    """A ``Melding`` (parsed by the hardened parser) → the letter, its candidates, its bytes."""
    t = table()
    fields = {key: _first_text(root, paths) for key, paths in t["fields"].items()}
    journpost = root.find("journpost")
    documents, contents = _documents(journpost)
    shipment = archive_shipment(sender=sender, title=fields["title"] or "", documents=documents,
                                case=case_metadata(fields, table=t, root="Melding", extra=_extra(root)),
                                non_pdf=t["delivery"]["non_pdf"], contract=CONTRACT)
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
    return party(identifier=identifier, name=_text(entry, names["name"]),
                 lines=(_text(entry, names["address.lines"]) or "").splitlines(),
                 postcode=_text(entry, names["address.postcode"]), city=_text(entry, names["address.city"]),
                 country=_text(entry, names["address.country"]), email=_text(entry, names["attention.email"]))


def _documents(journpost: etree._Element | None) -> tuple[tuple[Document, ...], list[bytes]]:
    t = table()
    documents: list[Document] = []
    contents: list[bytes] = []
    for index, entry in enumerate(journpost.iterfind("dokument") if journpost is not None else ()):
        where = f"Melding.journpost.dokument[{index}]"
        data = _decode(entry.find("fil/base64"), where)
        title = _text(entry, "dbTittel")
        fmt = (_text(entry, "veDokformat") or "").upper()
        extension, format_type = t["formats"].get(fmt, ("", None))
        media_type = (_text(entry, "veMimeType") or format_type or sniffed(data)).lower()
        filename = _text(entry, "veFilnavn") or make_filename(title, extension or _extension(media_type), index)
        role = t["document_roles"].get(_text(entry, "dlType") or "", "ATTACHMENT")
        documents.append(document(data, filename=filename, media_type=media_type, role=role, title=title,
                                  document_type=_text(entry, "dbKategori")))
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


def _extension(media_type: str) -> str:
    for extension, known in table()["formats"].values():
        if known == media_type:
            return str(extension)
    return "bin"
