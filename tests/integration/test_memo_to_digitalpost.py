"""End to end: a signed MeMo sent by a zeep client (SOAP 1.1 and 1.2) reaches the Digital Post
double over mutual TLS, with the memo: prefix, valid against the official 1.1 XSD, every
routing field kept, the contact point set by a folder-routing rule, and the documents
byte-identical. A recipient without Digital Post goes to print with a Danish cover page."""
from __future__ import annotations

import base64
import dataclasses
import io
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from gateway.config import ChannelSettings, DigitalPostSettings, DispatchSettings, PrintSettings
from gateway.dispatch.worker import Worker
from tests.conftest import SPECS, make_pdf, require_spec
from tests.doubles.digitalpost import DigitalPostDouble, make_pki
from tests.integration.test_memo_endpoint import MEMO, SIGNER_CERT, _service, as_nemsms, signed_message

GRD = "https://data.gov.dk/model/core/"
CPR = "2211771212"
RULES = """
[[rules]]
name = "Børnehaver"
match = { kle = "00.*", sender = "kommune-sak" }
set = { contact_point = "9f1c2b7a-0000-4000-8000-00000000b0b0", contact_label = "Pladsanvisningen", contact_group = "22.33.44.55" }
"""


@pytest.fixture
def rig(start_gateway, settings_factory, tmp_path):
    pki = make_pki(tmp_path / "pki")
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    with DigitalPostDouble(pki, system_id="gateway", system_password="s3cret") as double:
        channels = ChannelSettings(
            digitalpost=DigitalPostSettings(enabled=True, base_url=double.url, client_certificate=str(pki.client_cert),
                                            client_private_key=str(pki.client_key), ca_bundle=str(pki.ca_cert),
                                            system_id="gateway", system_password="s3cret", timeout_seconds=5.0),
            print=PrintSettings(batch_max_age_seconds=60),
        )
        settings = settings_factory(channels=channels, dispatch=DispatchSettings(folder_routing_file=str(rules)))
        senders = tuple(dataclasses.replace(s, signing_certificate=str(SIGNER_CERT)) if s.name == "kommune-sak" else s
                        for s in settings.senders)
        gw = start_gateway(dataclasses.replace(settings, senders=senders))
        yield gw, double


def _drain(gw) -> None:
    worker = Worker(gw.runtime.dispatcher, gw.runtime.dispatch_store, name="t")
    while worker.run_once():
        pass


def _official_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(require_spec(SPECS / "memo" / "xsd-1.1" / "MeMo_core.xsd"))))


@pytest.mark.parametrize("binding", ["MemoService", "MemoServiceSoap12"])
def test_signed_memo_is_delivered_to_digital_post(rig, binding):
    gw, double = rig
    double.registered[CPR] = True
    pdf = make_pdf("Pladsanvisning", pages=2)
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=pdf)
    assert _service(gw, binding).sendMessage(message=data).messageUUID == message_uuid
    _drain(gw)

    delivered = double.messages[message_uuid]
    assert delivered.filename == f"{message_uuid}.xml"
    raw = delivered.data
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<memo:Message")
    root = etree.fromstring(raw)
    _official_schema().assertValid(root)
    ns = {"memo": MEMO, "grd": GRD, "kle": "http://kle-online.dk/", "form": "http://www.form-online.dk/"}
    h = "memo:MessageHeader/"
    expected = {
        h + "memo:messageUUID": message_uuid,
        h + "memo:label": "Besked fra Børneforvaltningen",
        h + "memo:postType": "MYNDIGHEDSPOST",
        h + "memo:Recipient/memo:recipientID": CPR,
        h + "memo:Recipient/memo:ContactPoint/memo:contactPointID": "9f1c2b7a-0000-4000-8000-00000000b0b0",  # the rule
        h + "memo:Recipient/memo:ContactPoint/memo:label": "Pladsanvisningen",
        h + "memo:Recipient/memo:AttentionData/memo:AttentionPerson/memo:personID": CPR,
        h + "memo:ContentData/grd:CPRdata/grd:cprNumber": "2512169996",
        h + "memo:ContentData/memo:CaseID/memo:caseID": "SAG-12345",
        h + "memo:ContentData/memo:CaseID/memo:caseSystem": "Sagssystem 1234",
        h + "memo:ContentData/kle:KLEdata/kle:subjectKey": "00.00.00",
        h + "memo:ContentData/form:FORMdata/form:taskKey": "00.00.00.00",
        h + "memo:ContentData/grd:ProductionUnit/grd:productionUnitNumber": "1234567890",
        h + "memo:ReplyData/memo:caseID": "SAG-456",
    }
    for path, value in expected.items():
        assert root.findtext(path, namespaces=ns) == value, path
    assert len(root.findall(h + "memo:ContentData/memo:AdditionalContentData", ns)) == 2
    actions = root.findall(".//memo:Action", ns)
    assert [a.findtext("memo:actionCode", namespaces=ns) for a in actions][:2] == ["SELVBETJENING", "INFORMATION"]
    pdfs = [f for f in root.iter(f"{{{MEMO}}}File") if f.findtext(f"{{{MEMO}}}encodingFormat") == "application/pdf"]
    assert pdfs and all(base64.b64decode(f.findtext(f"{{{MEMO}}}content")) == pdf for f in pdfs)
    upload = [seen for seen in double.seen if seen.method == "POST"][-1]
    assert upload.client_subject == rig_pki_subject(gw) and upload.user == "gateway"  # mutual TLS + Basic
    status = gw.runtime.repository.get(message_uuid).status
    assert str(status) == "SENT_DIGITAL"


def rig_pki_subject(gw) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(gw.runtime.settings.channels.digitalpost.client_certificate).read_bytes())
    return cert.subject.rfc4514_string()


def _with_address(root: etree._Element) -> None:
    """Give the recipient a structured address (the example has an unstructured one)."""
    attention = root.find(f"{{{MEMO}}}MessageHeader/{{{MEMO}}}Recipient/{{{MEMO}}}AttentionData")
    unstructured = attention.find(f"{{{GRD}}}UnstructuredAddress")
    address = etree.Element(f"{{{GRD}}}Address")
    for tag, text in (("addressLabel", "Bakketoppen"), ("houseNumber", "6"), ("zipCode", "9000"), ("city", "Aalborg"), ("country", "DK")):
        etree.SubElement(address, f"{{{GRD}}}{tag}").text = text
    unstructured.addprevious(address)
    attention.remove(unstructured)


def test_recipient_without_digital_post_gets_a_danish_cover_page(rig):
    gw, double = rig
    double.registered[CPR] = False
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf("Pladsanvisning"), mutate=_with_address)
    _service(gw, "MemoServiceSoap12").sendMessage(message=data)
    _drain(gw)
    assert str(gw.runtime.repository.get(message_uuid).status) == "SENT_TO_PRINT"
    assert double.messages == {}
    [staged] = list((Path(gw.runtime.settings.storage.data_dir) / "print").rglob(f"{message_uuid}.pdf"))
    cover = PdfReader(io.BytesIO(staged.read_bytes())).pages[0].extract_text()
    for text in ("Mette Hansen", "Bakketoppen 6", "9000", "Aalborg", "borger.dk"):
        assert text in cover, text
    # the history the Danish sender reads back is in Danish (mappings/dispatch_texts.toml [da])
    history = _service(gw, "MemoService").getHistory(messageUUID=message_uuid)
    details = " | ".join(str(getattr(e, "detail", "") or "") for e in history)
    assert "ingen digital postkasse" in details and "fysisk post" in details, details
    assert "utskrift" not in details and "ikke i mottakerregisteret" not in details, details


def test_recipient_without_digital_post_or_address_is_not_delivered(rig):
    gw, double = rig
    double.registered[CPR] = False
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf())
    _service(gw, "MemoService").sendMessage(message=data)
    _drain(gw)
    assert str(gw.runtime.repository.get(message_uuid).status) == "NOT_DELIVERED"


def _nemsms_with_address(root: etree._Element) -> None:
    _with_address(root)
    as_nemsms(root)


@pytest.mark.parametrize("binding", ["MemoService", "MemoServiceSoap12"])
def test_nemsms_reaches_digital_post_as_a_text_message(rig, binding):
    """End to end: a NemSMS through /memo becomes a MeMo NEMSMS for Digital Post: header only
    (no MessageBody), its text in notification, valid against the official 1.1 XSD."""
    gw, double = rig
    double.registered[CPR] = True
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf(), mutate=_nemsms_with_address)
    assert _service(gw, binding).sendMessage(message=data).messageUUID == message_uuid
    _drain(gw)

    root = etree.fromstring(double.messages[message_uuid].data)
    _official_schema().assertValid(root)
    ns = {"memo": MEMO}
    assert root.find("memo:MessageBody", ns) is None
    assert root.findtext("memo:MessageHeader/memo:messageType", namespaces=ns) == "NEMSMS"
    assert root.findtext("memo:MessageHeader/memo:notification", namespaces=ns) == "Husk din tid hos tandlægen i morgen kl. 9.00. Mvh Kommunen"
    assert root.findtext("memo:MessageHeader/memo:label", namespaces=ns) == "Besked fra Børneforvaltningen"
    assert str(gw.runtime.repository.get(message_uuid).status) == "SENT_DIGITAL"


def test_nemsms_is_never_printed(rig):
    """Only Danish Digital Post can send a NemSMS: without it the message is not delivered,
    even when the recipient has a postal address (a letter would go to print)."""
    gw, double = rig
    double.registered[CPR] = False
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf(), mutate=_nemsms_with_address)
    _service(gw, "MemoService").sendMessage(message=data)
    _drain(gw)
    assert str(gw.runtime.repository.get(message_uuid).status) == "NOT_DELIVERED"
    assert double.messages == {}
    assert not list((Path(gw.runtime.settings.storage.data_dir) / "print").rglob(f"{message_uuid}*"))
