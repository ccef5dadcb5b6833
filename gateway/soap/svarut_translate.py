"""SvarUt V9 wire objects ⇄ the canonical model. Translation only: no rules here."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.config import SenderSettings
from gateway.domain.validation import normalize_media_type
from gateway.resources import load_table
from gateway.model import (
    CaseMetadata,
    DeliveryMode,
    DeliveryPolicy,
    Document,
    DocumentRole,
    Event,
    ImportMetadata,
    LetterClass,
    Link,
    Party,
    PartyKind,
    PostalAddress,
    PrintOptions,
    RoutingMetadata,
    Shipment,
    SigningRequest,
    is_norway,
)
from gateway.soap import svarut_types as wire
from gateway.soap.binary import binary_content
from gateway.spool import Content, content_sha256

CONTRACT = "svarut-v9"


def shipment_from_wire(f: wire.Forsendelse, *, sender: SenderSettings) -> tuple[Shipment, list[Content]]:
    """A wire ``forsendelse`` → (shipment without id, document contents in order)."""
    documents: list[Document] = []
    contents: list[Content] = []
    for i, d in enumerate(x for x in (f.dokumenter or []) if x is not None):
        data = binary_content(d.data)
        contents.append(data)
        documents.append(
            Document(
                filename=d.filnavn or "",
                media_type=normalize_media_type(d.mimetype or ""),
                size=len(data),
                sha256=content_sha256(data),
                storage_ref="",
                role=DocumentRole.MAIN if i == 0 else DocumentRole.ATTACHMENT,
                exclude_from_print=bool(d.ekskluderesFraPrint),
                giro_pages=tuple(p for p in (d.giroarkSider or []) if p is not None),
                document_type=d.dokumentType,
                sign_requested=bool(d.skalSigneres),
            )
        )
    links = tuple(
        Link(url=(lenke.urlLenke or "").strip(), text=(lenke.urlTekst or "").strip(), label=lenke.ledetekst)
        for lenke in (f.lenker or [])
        if lenke is not None
    )
    pk = f.printkonfigurasjon
    shipment = Shipment(
        id="",
        sender=sender.name,
        title=f.tittel or "",
        recipient=party_from_wire(f.mottaker) or Party(),
        documents=tuple(documents),
        sender_party=Party(
            identifier=sender.organization_number or None,
            kind=PartyKind.NO_ORGANIZATION if sender.organization_number else PartyKind.UNKNOWN,
            name=sender.display_name or sender.name,
        ),
        source_system=f.avgivendeSystem,
        links=links,
        case_metadata=_case_metadata(f.metadataFraAvleverendeSystem),
        import_metadata=_import_metadata(f.metadataForImport),
        routing=RoutingMetadata(shipment_type=f.forsendelseType or None),
        delivery=DeliveryPolicy(
            mode=DeliveryMode.DIGITAL_ONLY if f.kunDigitalLevering else DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK,
            require_high_assurance_login=bool(f.krevNiva4Innlogging),
            encrypted=bool(f.kryptert),
        ),
        print_options=PrintOptions(
            letter_class=LetterClass.A if pk is not None and _enum_as_str(pk.brevtype) == "APOST" else LetterClass.B,
            color=bool(pk.fargePrint) if pk is not None else False,
            duplex=bool(pk.tosidig) if pk is not None else False,
        ),
        cost_code=f.konteringskode,
        external_ref=f.eksternref,
        reply_to=party_from_wire(f.svarSendesTil),
        reply_to_shipment_id=f.svarPaForsendelse,
        reply_link_requested=bool(f.svarPaForsendelseLink),
        signing=SigningRequest(signature_type=_enum_as_str(f.signaturtype), expires=f.signeringUtloper) if f.signaturtype else None,
        source_contract=CONTRACT,
    )
    return shipment, contents


def party_from_wire(adresse: wire.Adresse | None) -> Party | None:
    if adresse is None:
        return None
    identifier, kind = None, PartyKind.UNKNOWN
    digital = adresse.digitalAdresse
    if isinstance(digital, wire.PersonDigitalAdresse):
        identifier, kind = (digital.fnr or "").strip(), PartyKind.NO_PERSON
    elif isinstance(digital, wire.OrganisasjonDigitalAdresse):
        identifier, kind = (digital.orgnr or "").strip(), PartyKind.NO_ORGANIZATION
    post = adresse.postAdresse
    address = None
    if post is not None:
        country = (post.land or "").strip()
        address = PostalAddress(
            name=post.navn,
            lines=tuple(line for line in (post.adresse1, post.adresse2, post.adresse3) if line),
            postcode=post.postnr,
            city=post.poststed,
            country="NO" if is_norway(country) else country,
        )
    if identifier is None and address is None:
        return None
    return Party(identifier=identifier, kind=kind, name=address.name if address else None, address=address)


def _filing(m: wire.NoarkMetadataFraAvleverendeSakssystem | wire.NoarkMetadataForImport) -> dict[str, Any]:
    """The members both Noark blocks have, as :class:`~gateway.model.NoarkFiling` fields."""
    return {
        "case_year": m.saksaar or 0,
        "case_sequence_number": m.sakssekvensnummer or 0,
        "document_date": m.dokumentetsDato,
        "journal_entry_type": m.journalposttype,
        "journal_status": m.journalstatus,
        "title": m.tittel,
    }


def _case_metadata(m: wire.NoarkMetadataFraAvleverendeSakssystem | None) -> CaseMetadata | None:
    if m is None:
        return None
    return CaseMetadata(
        **_filing(m),
        journal_year=m.journalaar or 0,
        journal_sequence_number=m.journalsekvensnummer or 0,
        journal_entry_number=m.journalpostnummer or 0,
        journal_date=m.journaldato,
        case_officer=m.saksbehandler,
        extra=tuple((e.key or "", e.value or "") for e in (m.ekstraMetadata or []) if e is not None),
    )


def _import_metadata(m: wire.NoarkMetadataForImport | None) -> ImportMetadata | None:
    return None if m is None else ImportMetadata(**_filing(m))


def history_to_wire(events: Iterable[Event]) -> wire.ForsendelseHistorikk:
    texts: dict[str, str] = load_table("status")["svarut_event_text"]
    entries = []
    for e in events:
        template = texts.get(e.kind)
        text = template.format(detail=e.detail) if template else (f"{e.kind}: {e.detail}" if e.detail else e.kind)
        entries.append(wire.HendelsesLogg(hendelse=text, tidspunkt=e.at.isoformat(timespec="milliseconds")))
    return wire.ForsendelseHistorikk(hendelsesLogg=entries)


def _enum_as_str(value: object) -> str | None:
    """spyne hands enumeration values over as its own objects, not as ``str``."""
    return None if value is None else str(value)
