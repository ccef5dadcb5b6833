"""The canonical letter → an ``arkivmelding`` (valid against eFormidling's arkivmelding.xsd),
by the same table as the way in (``mappings/arkivmelding.toml``).

Each canonical field is written where the table's first path for it says. What the schema
requires and the model does not hold (ids, who created and archived the record when, the
case's date and status) is the gateway's own record-keeping; a text the model leaves empty is
written empty, which reads back as empty. A value the schema's closed lists cannot say (the
Noark 4 journal status R, or none) is written as the list's default with the value itself
beside it in ``virksomhetsspesifikkeMetadata``, where the case's extra pairs travel too; so
reading the result back (:func:`~gateway.mapping.arkivmelding.letter_from_arkivmelding`)
gives every field both formats carry.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from lxml import etree

from gateway.mapping.arkivmelding import table
from gateway.model import CaseMetadata, Document, Party, Shipment, utcnow

XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: The namespace of the ids (uuid5) of the records written for a shipment: fixed, so the same
#: letter is written with the same ids.
_IDS = uuid.UUID("0b7c2f52-6a4e-5d1f-8f0e-3c9a7d21b6e4")


class _Writer:
    def __init__(self, shipment: Shipment, at: dt.datetime) -> None:
        self.ns = table()["namespace"]
        self.kept_ns = table()["kept"]["namespace"]
        self.shipment = shipment
        self.at = at
        self.system = shipment.source_system or table()["written"]["system"]

    def add(self, parent: etree._Element, name: str, text: Any = None, **attributes: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.ns}}}{name}", attributes)
        if text is not None:
            element.text = str(text)
        return element

    def maybe(self, parent: etree._Element, name: str, text: Any) -> None:
        if text is not None:
            self.add(parent, name, text)

    def record(self, parent: etree._Element, name: str, *, archived: bool = False, title: str | None = None) -> str:
        """systemID, (a folder's title,) and who created (and archived) the record when; the
        id it was given."""
        system_id = str(uuid.uuid5(_IDS, f"{self.shipment.id}\n{name}"))
        self.add(parent, "systemID", system_id)
        self.maybe(parent, "tittel", title)
        for what in ("opprettet", "arkivert") if archived else ("opprettet",):
            self.add(parent, f"{what}Dato", self.at.isoformat(timespec="seconds"))
            self.add(parent, f"{what}Av", self.system)
        return system_id


def arkivmelding_from_shipment(shipment: Shipment, *, at: dt.datetime | None = None) -> bytes:
    """The letter as an arkivmelding (UTF-8 bytes, with its XML declaration). Its documents are
    named by their file names (``referanseDokumentfil``): send each as the MIME part with that
    Content-ID."""
    w = _Writer(shipment, at or utcnow())
    cm = shipment.case_metadata
    root = etree.Element(f"{{{w.ns}}}arkivmelding", nsmap={None: w.ns, "xsi": XSI, "k": w.kept_ns})
    w.add(root, "system", w.system)
    w.add(root, "meldingId", shipment.id or str(uuid.uuid5(_IDS, shipment.title)))
    w.add(root, "tidspunkt", w.at.isoformat(timespec="seconds"))
    w.add(root, "antallFiler", len(shipment.documents))
    folder = w.add(root, "mappe", **{f"{{{XSI}}}type": "saksmappe"})
    folder_id = w.record(folder, "mappe", title=(cm.case_title if cm else None) or "")
    w.maybe(folder, "referanseArkivdel", cm.archive_part if cm else None)
    _journalpost(w, w.add(folder, "basisregistrering", **{f"{{{XSI}}}type": "journalpost"}), folder_id)
    if cm is not None:
        w.maybe(folder, "saksaar", cm.case_year)
        w.maybe(folder, "sakssekvensnummer", cm.case_sequence_number)
    day = (cm.journal_date or cm.document_date if cm else None) or w.at
    w.add(folder, "saksdato", day.date().isoformat())
    w.add(folder, "administrativEnhet", (cm.administrative_unit if cm else None) or "")
    w.add(folder, "saksansvarlig", (cm.case_officer if cm else None) or "")
    w.add(folder, "saksstatus", table()["written"]["saksstatus"])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _journalpost(w: _Writer, entry: etree._Element, folder_id: str) -> None:
    shipment, t = w.shipment, table()
    cm = shipment.case_metadata or CaseMetadata(case_year=0, case_sequence_number=0, journal_year=0,
                                                journal_sequence_number=0, journal_entry_number=0)
    w.record(entry, "journalpost", archived=True)
    w.add(entry, "referanseForelderMappe", folder_id)
    if cm.access_code is not None or cm.access_basis is not None:
        screening = w.add(entry, "skjerming")
        w.add(screening, "tilgangsrestriksjon", cm.access_code or "")
        w.add(screening, "skjermingshjemmel", cm.access_basis or "")
        w.add(screening, "skjermingMetadata", t["written"]["skjermingMetadata"])
    for index, document in enumerate(shipment.documents):
        _document(w, entry, document, index)
    title = cm.title or shipment.title
    kept: dict[str, str] = {}
    if cm.title is None and shipment.case_metadata is not None:
        kept["case_metadata.title"] = ""
    if shipment.title != title:
        kept["title"] = shipment.title
    w.add(entry, "tittel", title)
    w.maybe(entry, "offentligTittel", cm.public_title)
    words = {}
    for name, codes in t["codes"].items():
        value = getattr(cm, name)
        words[name] = codes["values"].get(value or "")
        if words[name] is None:
            words[name] = codes["default"]
            kept[f"case_metadata.{name}"] = value or ""
    if kept or cm.extra:
        metadata = w.add(entry, "virksomhetsspesifikkeMetadata")
        for key, value in kept.items():
            etree.SubElement(metadata, f"{{{w.kept_ns}}}kanonisk", felt=key).text = value
        for key, value in cm.extra:
            etree.SubElement(metadata, f"{{{w.kept_ns}}}felt", navn=key).text = value
    if shipment.case_metadata is not None:
        w.add(entry, "journalaar", cm.journal_year)
        w.add(entry, "journalsekvensnummer", cm.journal_sequence_number)
        w.add(entry, "journalpostnummer", cm.journal_entry_number)
    w.add(entry, "journalposttype", words["journal_entry_type"])
    w.add(entry, "journalstatus", words["journal_status"])
    w.add(entry, "journaldato", cm.journal_date.date().isoformat() if cm.journal_date else t["dates"]["none"][0])
    w.maybe(entry, "dokumentetsDato", cm.document_date.date().isoformat() if cm.document_date else None)
    w.maybe(entry, "journalenhet", cm.records_unit)
    _party(w, entry, t["recipients"]["types"][0], shipment.recipient)
    sender = shipment.sender_party or Party()
    if sender.name or cm.case_officer_id:
        _party(w, entry, t["recipients"]["sender_type"], Party(name=sender.name), officer=cm.case_officer_id)


def _party(w: _Writer, entry: etree._Element, kind: str, party: Party, *, officer: str | None = None) -> None:
    address = party.address
    if not (party.name or address or party.attention or officer):
        return
    element = w.add(entry, "korrespondansepart")
    w.add(element, "korrespondanseparttype", kind)
    w.add(element, "korrespondansepartNavn", party.name or (address.name if address else None) or "")
    if address is not None:
        for line in address.lines:
            w.add(element, "postadresse", line)
        w.maybe(element, "postnummer", address.postcode)
        w.maybe(element, "poststed", address.city)
        w.add(element, "land", address.country)
    w.maybe(element, "epostadresse", party.attention.email if party.attention else None)
    w.maybe(element, "saksbehandler", officer)


def _document(w: _Writer, entry: etree._Element, document: Document, index: int) -> None:
    t = table()
    description = w.add(entry, "dokumentbeskrivelse")
    w.add(description, "systemID", str(uuid.uuid5(_IDS, f"{w.shipment.id}\ndokument\n{index}")))
    w.add(description, "dokumenttype", document.document_type or "")
    w.add(description, "dokumentstatus", t["written"]["dokumentstatus"])
    w.add(description, "tittel", document.title or "")
    for what in ("opprettetDato", "opprettetAv"):
        w.add(description, what, w.at.isoformat(timespec="seconds") if what.endswith("Dato") else w.system)
    role = next(word for word, role in t["document_roles"].items() if role == document.role) \
        if document.role in t["document_roles"].values() else "Vedlegg"
    w.add(description, "tilknyttetRegistreringSom", role)
    w.add(description, "dokumentnummer", index + 1)
    w.add(description, "tilknyttetDato", w.at.isoformat(timespec="seconds"))
    w.add(description, "tilknyttetAv", w.system)
    obj = w.add(description, "dokumentobjekt")
    w.add(obj, "versjonsnummer", t["written"]["versjonsnummer"])
    w.add(obj, "variantformat", t["variants"]["deliver"][0])
    w.add(obj, "opprettetDato", w.at.isoformat(timespec="seconds"))
    w.add(obj, "opprettetAv", w.system)
    w.add(obj, "referanseDokumentfil", document.filename)


__all__ = ["arkivmelding_from_shipment"]
