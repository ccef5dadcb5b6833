"""A rich shipment round-trips: status, history, every piece of metadata, identical bytes."""
from __future__ import annotations

import datetime as dt
import hashlib

from gateway.model import DeliveryMode, DocumentRole, LetterClass, PartyKind, Status
from tests.conftest import make_pdf
from tests.svarut_builders import ORGNR, PERSON_FNR, full_forsendelse


def test_two_pdfs_with_metadata_links_and_print_options(gateway, svarut_client):
    client, svc = svarut_client(gateway)
    first, second = make_pdf("Vedtak", pages=2), make_pdf("Situasjonsplan", pages=3)

    sid = svc.sendForsendelse(forsendelse=full_forsendelse(client, first, second))

    assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "AKSEPTERT"
    history = [h.hendelse for h in svc.retrieveForsendelseHistorikk(forsendelsesid=sid)]
    assert history == ["Forsendelse mottatt", "Forsendelse akseptert og lagret"]

    stored = gateway.runtime.repository.get(sid)
    assert stored.status is Status.ACCEPTED
    s = stored.shipment
    assert s.id == sid and s.sender == "kommune-sak" and s.title == "Vedtak om byggetillatelse"
    assert (s.recipient.identifier, s.recipient.kind) == (PERSON_FNR, PartyKind.NO_PERSON)
    assert s.recipient.address.name == "Ola Nordmann" and s.recipient.address.postcode == "0155"
    assert s.recipient.address.lines == ("Storgata 1",) and s.recipient.address.country == "NO"
    assert (s.sender_party.identifier, s.sender_party.name) == (ORGNR, "Kommune")
    assert s.source_system == "Public 360" and s.external_ref == "P360-2026/1234-5"
    assert s.cost_code == "BYGG-2026.1" and s.routing.shipment_type == "Vedtak"
    assert s.delivery.mode is DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK
    assert (s.print_options.letter_class, s.print_options.color, s.print_options.duplex) == (LetterClass.A, True, True)
    assert [(link.url, link.text, link.label) for link in s.links] == [
        ("https://minside.kommune.no/byggesak/2026-1234", "Se saken din", "Byggesak"),
        ("https://minside.kommune.no/klage?sak=2026-1234", "Klag på vedtaket", None),
    ]
    cm = s.case_metadata
    assert (cm.case_year, cm.case_sequence_number, cm.journal_year, cm.journal_sequence_number, cm.journal_entry_number) == (2026, 1234, 2026, 4711, 5)
    assert (cm.journal_entry_type, cm.journal_status, cm.case_officer, cm.title) == ("U", "F", "Kari Saksbehandler", "Byggetillatelse Storgata 1")
    assert cm.extra == (("arkivdel", "BYGG"), ("klasse", "GBNR 12/34"))
    assert cm.journal_date == dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone.utc)
    im = s.import_metadata
    assert (im.case_year, im.case_sequence_number, im.journal_entry_type, im.journal_status, im.title) == (2026, 99, "I", "M", "Søknad om byggetillatelse")
    assert (s.reply_to.identifier, s.reply_to.kind, s.reply_to.address.name) == (ORGNR, PartyKind.NO_ORGANIZATION, "Kommune, byggesak")

    assert [(d.filename, d.role, d.page_count, d.giro_pages) for d in s.documents] == [
        ("Vedtak.pdf", DocumentRole.MAIN, 2, ()),
        ("Vedlegg situasjonsplan.pdf", DocumentRole.ATTACHMENT, 3, (1,)),
    ]
    for doc, original in zip(s.documents, (first, second)):
        assert doc.sha256 == hashlib.sha256(original).hexdigest() and doc.size == len(original)
        assert gateway.runtime.documents.get(doc.storage_ref) == original
