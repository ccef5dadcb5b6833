"""arkivmelding (Noark 5, eFormidling 2) → the canonical letter, driven by ``mappings/arkivmelding.toml``.

The one saksmappe and its one journalpost become :class:`~gateway.model.CaseMetadata` (numbers,
dates, titles, access code and basis, units, officer; the closed lists of journal entry type
and status read back to the Noark 4 codes the model keeps); every other simple element of the
two, and what their ``virksomhetsspesifikkeMetadata`` holds, is kept as an extra pair. The
``korrespondansepart`` entries the table makes recipients are the candidates (an arkivmelding
names no organisation number for them: the envelope's receiver does); each
``dokumentbeskrivelse`` is a document, in ``dokumentnummer`` order, with its title and role,
its bytes the MIME part its ``dokumentobjekt/referanseDokumentfil`` names.

The way back, :func:`arkivmelding_from_shipment` (:mod:`gateway.mapping.arkivmelding_out`),
writes the same table the other way; a round trip keeps every field both carry.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from gateway.config import SenderSettings
from gateway.errors import FaultCode, FaultFamily, FamilyError, ValidationError
from gateway.mapping.archive_letter import ArchiveLetter
from gateway.mapping.noark_fields import archive_shipment, case_metadata, document, filename, number, party, sniffed
from gateway.model import Document, Party
from gateway.resources import load_table
from gateway.spool import Content

CONTRACT = "arkivmelding"
#: A request's file for a ``referanseDokumentfil`` (``cid:`` URL or bare Content-ID), or None.
Files = Callable[[str], Content | None]
_QUALIFY = "a:"


class ArkivmeldingRule(FaultFamily, side="Client", http_status=400):
    """What makes an arkivmelding undeliverable beyond its values (those are ``INVALID_REQUEST``)."""

    FILE_MISSING = "NOARK_FILE_MISSING", "A `dokumentobjekt/referanseDokumentfil` of the arkivmelding names a file the request does not carry. Send each file as a MIME part (MTOM or SOAP with attachments) whose Content-ID is the reference (the bare Content-ID or a `cid:` URL)."
    NOT_ONE_JOURNAL_ENTRY = "NOARK_NOT_ONE_JOURNAL_ENTRY", "The arkivmelding must hold one `mappe` (a `saksmappe`) with one `basisregistrering` (a `journalpost`): one letter per message, filed in its case."


class ArkivmeldingError(FamilyError):
    def __init__(self, rule: ArkivmeldingRule, message: str, *, field: str | None = None) -> None:
        super().__init__(rule, message, field=field)


@functools.cache
def table() -> dict[str, Any]:
    return load_table("arkivmelding")


@functools.cache
def namespaces() -> dict[str, str]:
    return {"a": table()["namespace"], "k": table()["kept"]["namespace"]}


@functools.cache
def qualified(path: str) -> str:
    """A table path (``korrespondansepart[korrespondanseparttype='Avsender']/saksbehandler``)
    with every element name in the arkivmelding namespace; quoted values stay as they are."""
    parts = path.split("'")
    for i in range(0, len(parts), 2):
        out, name = [], ""
        for ch in parts[i] + "\0":
            if ch.isalnum() or ch == "_":
                name += ch
                continue
            if name:
                out.append(_QUALIFY + name)
                name = ""
            out.append(ch)
        parts[i] = "".join(out[:-1])
    return "'".join(parts)


def letter_from_arkivmelding(root: etree._Element, *, sender: SenderSettings, files: Files) -> ArchiveLetter:
    """An ``arkivmelding`` (parsed by the hardened parser) → the letter, its candidates, its
    bytes (the request's files, asked for by ``files``)."""
    t = table()
    parents = _parents(root)
    kept = _kept(parents["journalpost"])
    fields = {key: kept[key] or None if key in kept else _first_text(parents, paths) for key, paths in t["fields"].items()}
    for name, codes in t["codes"].items():
        key = f"case_metadata.{name}"
        if key not in kept:
            fields[key] = _code(fields[key], codes, t["fields"][key][0])
    documents, contents = _documents(parents["journalpost"], files)
    shipment = archive_shipment(sender=sender, title=kept.get("title", fields["title"] or ""), documents=documents,
                                case=case_metadata(fields, table=t, root="arkivmelding", extra=_extra(parents)),
                                non_pdf=t["delivery"]["non_pdf"], contract=CONTRACT)
    candidates = tuple(_party(entry) for entry in parents["journalpost"].iterfind("a:korrespondansepart", namespaces())
                       if _is_recipient(entry))
    return ArchiveLetter(shipment=shipment, candidates=candidates, contents=tuple(contents))


def _parents(root: etree._Element) -> dict[str, etree._Element]:
    """The saksmappe and its journalpost; anything else is not one letter."""
    ns = namespaces()
    folders = root.findall("a:mappe", ns)
    entries = folders[0].findall("a:basisregistrering", ns) if len(folders) == 1 else []
    if len(folders) != 1 or len(entries) != 1 or root.find("a:registrering", ns) is not None:
        raise ArkivmeldingError(ArkivmeldingRule.NOT_ONE_JOURNAL_ENTRY,
                                f"the arkivmelding holds {len(folders)} mappe and {len(entries)} basisregistrering in it;"
                                " one of each is one letter", field="arkivmelding.mappe")
    return {"saksmappe": folders[0], "journalpost": entries[0]}


def _first_text(parents: dict[str, etree._Element], paths: list[str]) -> str | None:
    for path in paths:
        start, _, rest = path.partition("/")
        found = parents[start].find(qualified(rest), namespaces())
        if found is not None and found.text and found.text.strip():
            return str(found.text).strip()
    return None


def _code(text: str | None, codes: dict[str, Any], path: str) -> str | None:
    """A closed-list word (``Utgående dokument``) → its Noark 4 code (``U``)."""
    if text is None:
        return None
    for code, word in codes["values"].items():
        if word == text:
            return str(code)
    raise ValidationError(f"{path.rpartition('/')[2]} {text[:60]!r} is not a value of the Noark 5 list: "
                          + ", ".join(repr(w) for w in codes["values"].values()),
                          code=FaultCode.INVALID_REQUEST, field="arkivmelding." + path.replace("/", "."))


def _metadata(parent: etree._Element) -> Iterator[etree._Element]:
    """The leaves of a parent's ``virksomhetsspesifikkeMetadata``."""
    block = parent.find("a:virksomhetsspesifikkeMetadata", namespaces())
    for element in block.iter() if block is not None else ():
        if isinstance(element.tag, str) and element is not block and not len(element):
            yield element


def _kept(journalpost: etree._Element) -> dict[str, str]:
    """Canonical values the closed lists or required elements could not say, as the way out
    wrote them beside (``<kanonisk felt="case_metadata.journal_status">R</kanonisk>``)."""
    tag = f"{{{namespaces()['k']}}}kanonisk"
    known = set(table()["fields"])
    return {e.get("felt", ""): (e.text or "").strip() for e in _metadata(journalpost) if e.tag == tag and e.get("felt") in known}


def _extra(parents: dict[str, etree._Element]) -> tuple[tuple[str, str], ...]:
    """Every simple element of the listed parents with a value that the table neither maps
    nor skips, then what their virksomhetsspesifikkeMetadata holds."""
    t = table()
    felt, kanonisk = (f"{{{namespaces()['k']}}}{name}" for name in ("felt", "kanonisk"))
    mapped = {tuple(path.split("/")) for paths in t["fields"].values() for path in paths if path.count("/") == 1}
    skip = set(t["extra"]["skip"])
    pairs = []
    for parent_name in t["extra"]["parents"]:
        parent = parents[parent_name]
        for child in parent:
            if not isinstance(child.tag, str) or len(child):
                continue
            name = etree.QName(child).localname
            text = (child.text or "").strip()
            if text and name not in skip and (parent_name, name) not in mapped:
                pairs.append((name, text))
        for leaf in _metadata(parent):
            text = (leaf.text or "").strip()
            if leaf.tag == felt:
                pairs.append((leaf.get("navn", ""), text))
            elif leaf.tag != kanonisk and text:
                pairs.append((etree.QName(leaf).localname, text))
    return tuple(pairs)


def _texts(element: etree._Element, name: str) -> list[str]:
    return [str(e.text).strip() for e in element.iterfind(qualified(name), namespaces()) if e.text and e.text.strip()]


def _text(element: etree._Element, name: str) -> str | None:
    found = _texts(element, name)
    return found[0] if found else None


def _is_recipient(entry: etree._Element) -> bool:
    t = table()["recipients"]
    kind = _text(entry, "korrespondanseparttype") or ""
    return kind in t["types"] or (t["copies"] and kind in t["copy_types"])


def _party(entry: etree._Element) -> Party:
    return party(identifier=None, name=_text(entry, "korrespondansepartNavn"), lines=_texts(entry, "postadresse"),
                 postcode=_text(entry, "postnummer"), city=_text(entry, "poststed"), country=_text(entry, "land"),
                 email=_text(entry, "epostadresse"))


def _documents(journalpost: etree._Element, files: Files) -> tuple[tuple[Document, ...], list[Content]]:
    t = table()
    entries = list(enumerate(journalpost.iterfind("a:dokumentbeskrivelse", namespaces())))
    where = {id(entry): f"arkivmelding.journalpost.dokumentbeskrivelse[{index}]" for index, entry in entries}
    entries.sort(key=lambda pair: number(_text(pair[1], "dokumentnummer"), where[id(pair[1])] + ".dokumentnummer") or 0)
    documents: list[Document] = []
    contents: list[Content] = []
    for index, (_, entry) in enumerate(entries):
        reference, data = _file(entry, files, where[id(entry)])
        title = _text(entry, "tittel")
        # eFormidling names a file by its file name; a cid: URL or any other URL names none
        name = reference if not any(ch in reference for ch in ':/\\') and "." in reference.strip(".") else None
        media_type = t["media_types"].get((name or "").rpartition(".")[2].lower()) or sniffed(data)
        if name is None:
            name = filename(title, next((ext for ext, known in t["media_types"].items() if known == media_type), "bin"), index)
        role = t["document_roles"].get(_text(entry, "tilknyttetRegistreringSom") or "", "ATTACHMENT")
        documents.append(document(data, filename=name, media_type=media_type, role=role, title=title,
                                  document_type=_text(entry, "dokumenttype")))
        contents.append(data)
    return tuple(documents), contents


def _file(entry: etree._Element, files: Files, where: str) -> tuple[str, Content]:
    """The reference and bytes of the variant the table delivers; the other variants' files
    are asked for too, so their parts count as the letter's (referenced, not delivered)."""
    variants: dict[str, str | None] = {}
    for obj in entry.iterfind("a:dokumentobjekt", namespaces()):
        variants.setdefault(_text(obj, "variantformat") or "", _text(obj, "referanseDokumentfil"))
    chosen = next((v for v in table()["variants"]["deliver"] if variants.get(v)), None)
    if chosen is None:
        raise ValidationError("the dokumentbeskrivelse has no dokumentobjekt with a referanseDokumentfil in a variant the gateway delivers",
                              code=FaultCode.DOCUMENT_EMPTY, field=f"{where}.dokumentobjekt")
    for variant, reference in variants.items():
        if variant != chosen and reference:
            files(reference)
    reference = str(variants[chosen])
    data = files(reference)
    if data is None:
        raise ArkivmeldingError(ArkivmeldingRule.FILE_MISSING, f"no MIME part of the request is {reference[:100]!r}",
                                field=f"{where}.dokumentobjekt.referanseDokumentfil")
    if not len(data):
        raise ValidationError(f"the file {reference[:100]!r} is empty", code=FaultCode.DOCUMENT_EMPTY,
                              field=f"{where}.dokumentobjekt.referanseDokumentfil")
    return reference, data


__all__ = ["ArkivmeldingError", "ArkivmeldingRule", "CONTRACT", "Files", "letter_from_arkivmelding", "namespaces",
           "qualified", "table"]
