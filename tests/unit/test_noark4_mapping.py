"""Noark 4 Melding → the letter, as mappings/noark4.toml says; and which avsmot the envelope picks."""
from __future__ import annotations

import base64

import pytest
from lxml import etree

from gateway.config import NoarkSettings, SenderSettings
from gateway.domain.noark_intake import ExchangeAddress, ExchangeRequest, NoarkIntake, letter_id
from gateway.domain.noark_payload import NOARK4_NS
from gateway.errors import ValidationError
from gateway.mapping.noark4 import letter_from_melding
from gateway.model import DeliveryMode, PartyKind
from tests.conftest import make_pdf

SENDER = SenderSettings(name="arkiv", password_hash="x", organization_number="974720760", display_name="Kommune")
PDF = make_pdf("Vedtak")
CONVERSATION = "2f1d7c9e-5b8a-4c3e-9f0a-1b2c3d4e5f60"


def melding(*, avsmot: str = "", dokument: str | None = None, journpost: str = "", noarksak: str = "") -> etree._Element:
    if dokument is None:
        dokument = (f"<dokument><dlRnr>1</dlRnr><dlType>H</dlType><dbTittel>Vedtak</dbTittel><veDokformat>RA-PDF</veDokformat>"
                    f"<fil><base64>{base64.b64encode(PDF).decode()}</base64></fil><veFilnavn/><veMimeType/></dokument>")
    return etree.fromstring(
        f'<Melding xmlns="{NOARK4_NS}"><journpost xmlns=""><jpId>77</jpId><jpJaar>2026</jpJaar><jpSeknr>12</jpSeknr><jpJpostnr>3</jpJpostnr>'
        f"<jpJdato>0001-01-01</jpJdato><jpNdoktype>U</jpNdoktype><jpDokdato>2026-11-30</jpDokdato><jpStatus>J</jpStatus>"
        f"<jpInnhold>Vedtak om tilskudd</jpInnhold><jpTgkode>U</jpTgkode><jpUoff>Offl. § 13</jpUoff><jpForfdato>2026-12-24</jpForfdato>"
        f"{journpost}{avsmot}{dokument}</journpost>"
        f'<noarksak xmlns=""><saSaar>2026</saSaar><saSeknr>400</saSeknr><saTittel>Tilskudd 2026</saTittel><saAnsvnavn>Kari</saAnsvnavn>'
        f"{noarksak}</noarksak></Melding>")


def avsmot(orgnr: str, name: str, *, ihtype: str = "1", copy: str = "0", address: bool = True) -> str:
    where = "<amAdresse>Storgata 1</amAdresse><amPostnr>0155</amPostnr><amPoststed>OSLO</amPoststed><amUtland>Norge</amUtland>" if address else ""
    return f"<avsmot><amOrgnr>{orgnr}</amOrgnr><amIhtype>{ihtype}</amIhtype><amKopimot>{copy}</amKopimot><amNavn>{name}</amNavn>{where}</avsmot>"


def test_the_journal_entry_becomes_case_metadata_and_the_rest_extra_pairs():
    letter = letter_from_melding(melding(), sender=SENDER)
    cm = letter.shipment.case_metadata
    assert (cm.case_year, cm.case_sequence_number, cm.journal_year, cm.journal_sequence_number, cm.journal_entry_number) == (2026, 400, 2026, 12, 3)
    assert cm.journal_date is None  # 0001-01-01 is how .NET archives write "no date"
    assert cm.document_date.date().isoformat() == "2026-11-30"
    assert (cm.access_code, cm.access_basis, cm.case_title, cm.case_officer) == ("U", "Offl. § 13", "Tilskudd 2026", "Kari")
    assert ("jpForfdato", "2026-12-24") in cm.extra and not any(key == "jpInnhold" for key, _ in cm.extra)
    [document] = letter.shipment.documents
    assert (document.filename, document.media_type, document.title, document.role) == ("Vedtak.pdf", "application/pdf", "Vedtak", "MAIN")
    assert letter.contents == (PDF,)


def test_recipients_are_the_table_s_ihtypes_and_copies():
    root = melding(avsmot=avsmot("974720760", "Oss selv", ihtype="0") + avsmot("964338531", "Mottaker")
                   + avsmot("920058817", "Kopi", copy="1") + avsmot("", "Intern", ihtype="2"))
    candidates = letter_from_melding(root, sender=SENDER).candidates
    assert [(p.identifier, p.name) for p in candidates] == [("964338531", "Mottaker"), ("920058817", "Kopi")]
    assert candidates[0].kind is PartyKind.NO_ORGANIZATION and candidates[0].address.city == "OSLO"
    assert candidates[0].address.country == "NO"


def test_journal_numbers_are_required_and_must_be_numbers():
    with pytest.raises(ValidationError) as refused:
        letter_from_melding(etree.fromstring(etree.tostring(melding()).replace(b"<jpSeknr>12</jpSeknr>", b"")), sender=SENDER)
    assert refused.value.field == "Melding.journpost.jpSeknr"
    with pytest.raises(ValidationError):
        letter_from_melding(etree.fromstring(etree.tostring(melding()).replace(b"<jpJaar>2026", b"<jpJaar>20x6")), sender=SENDER)


def test_a_docx_makes_the_letter_digital_only():
    docx = (f"<dokument><dlType>H</dlType><dbTittel>Notat</dbTittel><veDokformat>DOCX</veDokformat>"
            f"<fil><base64>{base64.b64encode(b'PK-docx').decode()}</base64></fil><veFilnavn>Notat.docx</veFilnavn><veMimeType/></dokument>")
    shipment = letter_from_melding(melding(dokument=docx), sender=SENDER).shipment
    assert shipment.delivery.mode is DeliveryMode.DIGITAL_ONLY and shipment.documents[0].exclude_from_print


class _Shipments:
    """Records what the intake would accept."""

    def __init__(self):
        self.letters = []

    def accept_all(self, letters, **kwargs):
        from gateway.domain.shipments import Acceptance
        from gateway.model import Status

        self.letters = letters
        return [Acceptance(shipment_id, Status.ACCEPTED) for _shipment, _contents, shipment_id in letters]

    def audit_refusal(self, *args):
        pass


def _put(root, receiver: str, *, own=()) -> tuple[object, list]:
    shipments = _Shipments()
    intake = NoarkIntake(shipments, NoarkSettings(own_organization_numbers=own))
    request = ExchangeRequest(conversation_id=CONVERSATION, content_namespace=NOARK4_NS, sender=ExchangeAddress(),
                              receiver=ExchangeAddress(orgnr=receiver), payload=root)
    return intake.put_message(request, sender=SENDER), shipments.letters


def test_the_envelope_s_receiver_picks_its_avsmot():
    root = melding(avsmot=avsmot("964338531", "Mottaker") + avsmot("920058817", "Kopi", copy="1"))
    receipt, [(shipment, _, shipment_id)] = _put(root, "920058817")
    assert receipt.type == "OK" and shipment.recipient.name == "Kopi" and shipment_id == letter_id("arkiv", CONVERSATION, 0)
    assert shipment.delivery.mode is DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK and shipment.exchange.journal_entry_id == "77"


def test_a_message_to_the_gateway_goes_to_every_recipient():
    root = melding(avsmot=avsmot("964338531", "Mottaker") + avsmot("920058817", "Kopi", copy="1"))
    receipt, letters = _put(root, "974720760", own=("974720760",))
    assert [s.recipient.name for s, _, _ in letters] == ["Mottaker", "Kopi"]
    assert [m[1] for m in receipt.messages] == [letter_id("arkiv", CONVERSATION, 0), letter_id("arkiv", CONVERSATION, 1)]


def test_a_receiver_the_message_does_not_list_gets_the_letter_digitally():
    receipt, [(shipment, _, _)] = _put(melding(avsmot=avsmot("964338531", "Mottaker")), "920058817")
    assert shipment.recipient.identifier == "920058817" and shipment.delivery.mode is DeliveryMode.DIGITAL_ONLY


@pytest.mark.parametrize("receiver, code", [("974720761", "INVALID_ORGANIZATION_NUMBER"), ("01010112345", "INVALID_NATIONAL_ID"),
                                            ("", "INVALID_ORGANIZATION_NUMBER")])
def test_a_bad_receiver_is_an_error_receipt(receiver, code):
    receipt, letters = _put(melding(), receiver)
    assert receipt.type == "ERROR" and receipt.messages[0][0] == code and letters == []


def test_an_app_receipt_payload_is_ok_and_delivers_nothing():
    receipt, letters = _put(etree.fromstring('<AppReceipt type="OK"><message code="x"><text>mottatt</text></message></AppReceipt>'), "964338531")
    assert receipt.type == "OK" and receipt.messages == () and letters == []
