"""arkivmelding ⇄ the canonical letter, as mappings/arkivmelding.toml says: the table, the way in
(with its refusals), the way out (valid against eFormidling's arkivmelding.xsd, read from
../shared/specs), and which korrespondansepart the envelope picks."""
from __future__ import annotations

import dataclasses
import functools

import pytest
from lxml import etree

from gateway.config import NoarkSettings, SenderSettings
from gateway.domain.noark_intake import ExchangeAddress, ExchangeRequest, NoarkIntake, RequestFiles
from gateway.domain.noark_payload import ARKIVMELDING_NS, NOARK4_NS
from gateway.errors import GatewayError, ValidationError
from gateway.mapping.arkivmelding import letter_from_arkivmelding, qualified, table
from gateway.mapping.arkivmelding_out import arkivmelding_from_shipment
from gateway.model import DeliveryMode, DocumentRole, Party, PartyKind
from tests.conftest import SPECS, make_pdf, require_spec
from tests.unit.test_noark4_mapping import _Shipments

SENDER = SenderSettings(name="arkiv", password_hash="x", organization_number="974720760", display_name="Kommune")
PDF = make_pdf("Vedtak")
ATTACHMENT = make_pdf("Vedlegg")
T = "2026-11-30T10:00:00+01:00"


@functools.cache
def schema() -> etree.XMLSchema:
    """eFormidling's arkivmelding.xsd (with metadatakatalog.xsd beside it), as published."""
    return etree.XMLSchema(etree.parse(str(require_spec(SPECS / "noark" / "arkivmelding" / "arkivmelding.xsd"))))


def assert_valid(data: bytes | etree._Element) -> None:
    root = etree.fromstring(data) if isinstance(data, bytes) else data
    assert schema().validate(root), schema().error_log


def part(kind: str, name: str, *, address: bool = True, officer: str = "") -> str:
    where = ("<postadresse>Storgata 1</postadresse><postadresse>Postboks 7</postadresse><postnummer>0155</postnummer>"
             "<poststed>OSLO</poststed><land>Norge</land><epostadresse>post@mottaker.no</epostadresse>" if address else "")
    return (f"<korrespondansepart><korrespondanseparttype>{kind}</korrespondanseparttype>"
            f"<korrespondansepartNavn>{name}</korrespondansepartNavn>{where}{officer}</korrespondansepart>")


def description(number: int, title: str, role: str, *objects: tuple[str, str], kind: str = "Vedtak") -> str:
    objs = "".join(f"<dokumentobjekt><versjonsnummer>1</versjonsnummer><variantformat>{variant}</variantformat>"
                   f"<opprettetDato>{T}</opprettetDato><opprettetAv>x</opprettetAv>"
                   f"<referanseDokumentfil>{reference}</referanseDokumentfil></dokumentobjekt>" for variant, reference in objects)
    return (f"<dokumentbeskrivelse><systemID>{number:08d}-0000-0000-0000-000000000000</systemID><dokumenttype>{kind}</dokumenttype>"
            f"<dokumentstatus>Dokumentet er ferdigstilt</dokumentstatus><tittel>{title}</tittel>"
            f"<opprettetDato>{T}</opprettetDato><opprettetAv>x</opprettetAv>"
            f"<tilknyttetRegistreringSom>{role}</tilknyttetRegistreringSom><dokumentnummer>{number}</dokumentnummer>"
            f"<tilknyttetDato>{T}</tilknyttetDato><tilknyttetAv>x</tilknyttetAv>{objs}</dokumentbeskrivelse>")


MAIN = description(1, "Vedtak", "Hoveddokument", ("Arkivformat", "vedtak.pdf"))
PARTS = (part("Avsender", "Kommune", address=False, officer="<saksbehandler>KN</saksbehandler>")
         + part("Mottaker", "Mottaker AS") + part("Kopimottaker", "Kopi AS", address=False)
         + part("Intern mottaker", "Intern", address=False))


def arkivmelding(*, documents: str = MAIN, parts: str = PARTS, journalposttype: str = "Utgående dokument",
                 saksaar: str = "2026", metadata: str = "<virksomhetsspesifikkeMetadata><forvaltningsnr>42</forvaltningsnr>"
                 "</virksomhetsspesifikkeMetadata>") -> etree._Element:
    return etree.fromstring(
        f'<arkivmelding xmlns="{ARKIVMELDING_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<system>P360</system><meldingId>m-1</meldingId><tidspunkt>{T}</tidspunkt><antallFiler>1</antallFiler>"
        f'<mappe xsi:type="saksmappe"><systemID>11111111-1111-1111-1111-111111111111</systemID><mappeID>26/400</mappeID>'
        f"<tittel>Tilskudd 2026</tittel><opprettetDato>{T}</opprettetDato><opprettetAv>x</opprettetAv>"
        f"<referanseArkivdel>SAK1</referanseArkivdel>"
        f'<basisregistrering xsi:type="journalpost"><systemID>22222222-2222-2222-2222-222222222222</systemID>'
        f"<opprettetDato>{T}</opprettetDato><opprettetAv>x</opprettetAv><arkivertDato>{T}</arkivertDato><arkivertAv>x</arkivertAv>"
        f"<referanseForelderMappe>11111111-1111-1111-1111-111111111111</referanseForelderMappe>"
        f"<skjerming><tilgangsrestriksjon>U</tilgangsrestriksjon><skjermingshjemmel>Offl. § 13</skjermingshjemmel>"
        f"<skjermingMetadata>tittel</skjermingMetadata></skjerming>{documents}"
        f"<tittel>Vedtak om tilskudd</tittel><offentligTittel>Vedtak om tilskudd til *****</offentligTittel>{metadata}"
        f"<journalaar>2026</journalaar><journalsekvensnummer>12</journalsekvensnummer><journalpostnummer>3</journalpostnummer>"
        f"<journalposttype>{journalposttype}</journalposttype><journalstatus>Journalført</journalstatus>"
        f"<journaldato>2026-11-30</journaldato><dokumentetsDato>2026-11-29</dokumentetsDato><forfallsdato>2026-12-24</forfallsdato>"
        f"<journalenhet>SENTRAL</journalenhet>{parts}</basisregistrering>"
        f"<saksaar>{saksaar}</saksaar><sakssekvensnummer>400</sakssekvensnummer><saksdato>2026-01-02</saksdato>"
        f"<administrativEnhet>OKO</administrativEnhet><saksansvarlig>Kari Nordmann</saksansvarlig>"
        f"<saksstatus>Under behandling</saksstatus></mappe></arkivmelding>")


def files(**parts: bytes) -> RequestFiles:
    return RequestFiles({name.replace("_", "."): data for name, data in parts.items()})


def test_the_test_messages_are_valid_arkivmeldinger():
    assert_valid(arkivmelding())
    assert_valid(arkivmelding(documents=MAIN + description(2, "Kart", "Vedlegg", ("Produksjonsformat", "kart.docx"),
                                                           ("Arkivformat", "cid:kart"))))


def test_the_case_and_journal_entry_become_case_metadata_and_the_rest_extra_pairs():
    letter = letter_from_arkivmelding(arkivmelding(), sender=SENDER, files=files(vedtak_pdf=PDF))
    shipment = letter.shipment
    cm = shipment.case_metadata
    assert (cm.case_year, cm.case_sequence_number, cm.journal_year, cm.journal_sequence_number, cm.journal_entry_number) == (2026, 400, 2026, 12, 3)
    assert (cm.journal_date.date().isoformat(), cm.document_date.date().isoformat()) == ("2026-11-30", "2026-11-29")
    assert (cm.journal_entry_type, cm.journal_status) == ("U", "J")  # the Noark 4 codes the model keeps
    assert (cm.title, cm.public_title, cm.case_title, shipment.title) == (
        "Vedtak om tilskudd", "Vedtak om tilskudd til *****", "Tilskudd 2026", "Vedtak om tilskudd")
    assert (cm.access_code, cm.access_basis, cm.case_officer, cm.case_officer_id) == ("U", "Offl. § 13", "Kari Nordmann", "KN")
    assert (cm.administrative_unit, cm.records_unit, cm.archive_part) == ("OKO", "SENTRAL", "SAK1")
    # not mapped, so kept; the sending archive's record-keeping (ids, saksdato, saksstatus) is not
    assert cm.extra == (("forfallsdato", "2026-12-24"), ("forvaltningsnr", "42"), ("mappeID", "26/400"))
    [document] = shipment.documents
    assert (document.filename, document.media_type, document.title, document.role, document.document_type) == (
        "vedtak.pdf", "application/pdf", "Vedtak", DocumentRole.MAIN, "Vedtak")
    assert letter.contents == (PDF,) and shipment.source_contract == "arkivmelding"
    assert shipment.delivery.mode is DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK


def test_recipients_are_the_table_s_types_and_copies():
    candidates = letter_from_arkivmelding(arkivmelding(), sender=SENDER, files=files(vedtak_pdf=PDF)).candidates
    assert table()["recipients"]["types"] == ["Mottaker", "Gruppemottaker"] and table()["recipients"]["copies"]
    assert [p.name for p in candidates] == ["Mottaker AS", "Kopi AS"]
    first = candidates[0]
    assert first.identifier is None and first.kind is PartyKind.UNKNOWN  # an arkivmelding names no orgnr
    assert (first.address.lines, first.address.postcode, first.address.city, first.address.country) == (
        ("Storgata 1", "Postboks 7"), "0155", "OSLO", "NO")
    assert first.attention.email == "post@mottaker.no" and candidates[1].address is None


def test_documents_in_dokumentnummer_order_with_roles_and_the_delivered_variant():
    documents = (description(2, "Kart", "Vedlegg", ("Produksjonsformat", "kart.docx"), ("Arkivformat", "cid:kart"))
                 + description(1, "Vedtak", "Hoveddokument", ("Arkivformat", "cid:vedtak%40arkiv")))
    request = RequestFiles({"vedtak@arkiv": PDF, "kart": ATTACHMENT, "kart.docx": b"PK-docx"})
    assert "%40" in documents  # a cid: URL is percent-encoded (RFC 2392)
    letter = letter_from_arkivmelding(arkivmelding(documents=documents), sender=SENDER, files=request)
    main, attachment = letter.shipment.documents
    # a cid: reference names no file: the title does, with the extension of what the bytes are
    assert (main.filename, main.role, attachment.filename, attachment.role) == ("Vedtak.pdf", "MAIN", "Kart.pdf", "ATTACHMENT")
    assert letter.contents == (PDF, ATTACHMENT)
    assert request.unused() == []  # the production variant is referenced, not delivered


def test_a_reference_that_is_a_url_is_no_file_name():
    documents = description(1, "Vedtak 1/2", "Hoveddokument", ("Arkivformat", "http://tempuri.org/1"))
    letter = letter_from_arkivmelding(arkivmelding(documents=documents), sender=SENDER,
                                      files=RequestFiles({"http://tempuri.org/1": PDF}))
    assert letter.shipment.documents[0].filename == "Vedtak 1_2.pdf"


def test_a_referenced_file_the_request_does_not_carry_is_refused():
    with pytest.raises(GatewayError) as refused:
        letter_from_arkivmelding(arkivmelding(), sender=SENDER, files=files(other_pdf=PDF))
    assert refused.value.code == "NOARK_FILE_MISSING"
    assert refused.value.field == "arkivmelding.journalpost.dokumentbeskrivelse[0].dokumentobjekt.referanseDokumentfil"


@pytest.mark.parametrize("change, code, field", [
    (dict(journalposttype="Utgaaende"), "INVALID_REQUEST", "arkivmelding.journalpost.journalposttype"),
    (dict(saksaar="20x6"), "INVALID_REQUEST", "case_metadata.case_year"),
    (dict(saksaar=""), "INVALID_REQUEST", "arkivmelding.saksmappe.saksaar"),
    (dict(documents=description(1, "Vedtak", "Hoveddokument")), "DOCUMENT_EMPTY",
     "arkivmelding.journalpost.dokumentbeskrivelse[0].dokumentobjekt"),
])
def test_bad_values_are_refused_with_their_field(change, code, field):
    with pytest.raises(ValidationError) as refused:
        letter_from_arkivmelding(arkivmelding(**change), sender=SENDER, files=files(vedtak_pdf=PDF))
    assert (refused.value.code, refused.value.field) == (code, field)


def test_one_case_with_one_journal_entry_per_message():
    root = arkivmelding()
    root.append(etree.fromstring(etree.tostring(root.find(qualified("mappe"), {"a": ARKIVMELDING_NS}))))
    with pytest.raises(GatewayError) as refused:
        letter_from_arkivmelding(root, sender=SENDER, files=files(vedtak_pdf=PDF))
    assert refused.value.code == "NOARK_NOT_ONE_JOURNAL_ENTRY"


def test_a_docx_makes_the_letter_digital_only():
    documents = description(1, "Notat", "Hoveddokument", ("Produksjonsformat", "notat.docx"))
    shipment = letter_from_arkivmelding(arkivmelding(documents=documents), sender=SENDER, files=files(notat_docx=b"PK")).shipment
    assert shipment.delivery.mode is DeliveryMode.DIGITAL_ONLY
    assert shipment.documents[0].media_type == table()["media_types"]["docx"] and shipment.documents[0].exclude_from_print


# ---------------------------------------------------------------- the way out


def test_the_way_out_is_valid_and_reads_back_what_the_closed_lists_cannot_say():
    letter = letter_from_arkivmelding(arkivmelding(), sender=SENDER, files=files(vedtak_pdf=PDF))
    cm = dataclasses.replace(letter.shipment.case_metadata, journal_status="R", journal_entry_type=None, journal_date=None, title=None)
    shipment = dataclasses.replace(letter.shipment, case_metadata=cm, recipient=letter.candidates[0], title="Brev til deg")
    data = arkivmelding_from_shipment(shipment)
    assert_valid(data)
    root = etree.fromstring(data)
    ns = {"a": ARKIVMELDING_NS}
    entry = root.find("a:mappe/a:basisregistrering", ns)
    assert entry.findtext("a:journalstatus", namespaces=ns) == table()["codes"]["journal_status"]["default"]
    assert entry.findtext("a:journaldato", namespaces=ns) == "0001-01-01"
    back = letter_from_arkivmelding(root, sender=SENDER, files=files(vedtak_pdf=PDF)).shipment
    assert back.case_metadata == cm and back.title == "Brev til deg"


def test_the_way_out_without_case_metadata_is_valid():
    letter = letter_from_arkivmelding(arkivmelding(), sender=SENDER, files=files(vedtak_pdf=PDF))
    assert_valid(arkivmelding_from_shipment(dataclasses.replace(letter.shipment, case_metadata=None, recipient=Party())))


# ---------------------------------------------------------------- which korrespondansepart the envelope picks


def _put(root, receiver: str, request_files: RequestFiles, *, namespace: str = ARKIVMELDING_NS):
    shipments = _Shipments()
    intake = NoarkIntake(shipments, NoarkSettings(), arkivmelding=letter_from_arkivmelding)
    request = ExchangeRequest(conversation_id="c-1", content_namespace=namespace, sender=ExchangeAddress(),
                              receiver=ExchangeAddress(orgnr=receiver), payload=root)
    return intake.put_message(request, sender=SENDER, files=request_files), shipments.letters


def test_the_envelope_s_receiver_is_the_one_recipient_with_its_address():
    parts = part("Avsender", "Kommune", address=False) + part("Mottaker", "Mottaker AS")
    receipt, [(shipment, contents, _)] = _put(arkivmelding(parts=parts), "964338531", files(vedtak_pdf=PDF))
    assert receipt.type == "OK" and contents == (PDF,)
    assert (shipment.recipient.identifier, shipment.recipient.kind, shipment.recipient.name) == (
        "964338531", PartyKind.NO_ORGANIZATION, "Mottaker AS")
    assert shipment.recipient.address.city == "OSLO" and shipment.delivery.mode is DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK


@pytest.mark.parametrize("request_files, namespace, code", [
    (files(other_pdf=PDF), ARKIVMELDING_NS, "NOARK_FILE_MISSING"),
    (files(vedtak_pdf=PDF, extra_pdf=PDF), ARKIVMELDING_NS, "NOARK_ATTACHMENT_NOT_REFERENCED"),
    (files(vedtak_pdf=PDF), NOARK4_NS, "NOARK_CONTENT_NAMESPACE_MISMATCH"),
])
def test_refusals_are_error_receipts(request_files, namespace, code):
    receipt, letters = _put(arkivmelding(), "964338531", request_files, namespace=namespace)
    assert receipt.type == "ERROR" and receipt.messages[0][0] == code and letters == []


def test_every_text_field_the_mapping_fills_has_a_bound():
    from gateway.mapping.noark_fields import DATES, NUMBERS
    from gateway.model import Shipment
    from tests.unit.test_validation import _text_paths

    limits = table()["max_length"]
    assert set(limits) <= set(_text_paths(Shipment))
    texts = {key for key in table()["fields"] if key.removeprefix("case_metadata.") not in NUMBERS | DATES}
    filled = texts | {"recipient.name", "recipient.address.lines[]", "recipient.address.postcode",
                                                    "recipient.address.city", "recipient.address.country", "recipient.attention.email",
                                                    "documents[].filename", "documents[].media_type", "documents[].title",
                                                    "documents[].document_type", "case_metadata.extra[].key", "case_metadata.extra[].value"}
    assert filled <= set(limits) and set(table()["max_items"]) == {"documents", "case_metadata.extra"}
