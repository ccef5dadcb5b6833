"""End to end: a signed MeMo sent by a zeep client (SOAP 1.1 and 1.2) reaches the NgDP double
over mutual TLS as the raw MeMo body of ``POST memos/?memo-message-uuid=``, with the memo:
prefix, in the configured MeMo version (1.2 by default, valid against the project's 1.2 schema;
1.1 valid against the official 1.1 XSD), every routing field kept, the contact point set by a
folder-routing rule, and the documents byte-identical. Its COMPLETED receipt, read by the feed
job, ends it DELIVERED; an INVALID one sends it to print (or ends it NOT_DELIVERED) with an
alert. A recipient without Digital Post goes to print with a Danish cover page."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from pypdf import PdfReader

from gateway.config import ChannelSettings, DigitalPostSettings, DispatchSettings, PrintSettings
from gateway.dispatch.worker import Worker
from gateway.model import utcnow
from tests.conftest import ROOT, SPECS, make_pdf, require_spec
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


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def memo_version() -> str:
    return "1.2"


@pytest.fixture
def rig(start_gateway, settings_factory, tmp_path, memo_version):
    pki = make_pki(tmp_path / "pki")
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    clock = Clock()
    with DigitalPostDouble(pki, system_id="gateway", system_password="s3cret") as double:
        channels = ChannelSettings(
            digitalpost=DigitalPostSettings(enabled=True, base_url=double.base_url, client_certificate=str(pki.client_cert),
                                            client_private_key=str(pki.client_key), ca_bundle=str(pki.ca_cert),
                                            system_id="gateway", system_password="s3cret", timeout_seconds=5.0,
                                            memo_version=memo_version),
            print=PrintSettings(batch_max_age_seconds=60),
        )
        settings = settings_factory(channels=channels, dispatch=DispatchSettings(folder_routing_file=str(rules)))
        senders = tuple(dataclasses.replace(s, signing_certificate=str(SIGNER_CERT)) if s.name == "kommune-sak" else s
                        for s in settings.senders)
        gw = start_gateway(dataclasses.replace(settings, senders=senders), clock=clock)
        gw.runtime.dispatcher.ensure_periodic_jobs()  # the feed job that reads NgDP's receipts
        gw.clock = clock
        yield gw, double


def _drain(gw) -> None:
    worker = Worker(gw.runtime.dispatcher, gw.runtime.dispatch_store, name="t")
    for _ in range(100):
        if not worker.run_once():
            return
    raise AssertionError("jobs keep coming")


def _advance(gw, seconds: float = 11) -> None:
    """Let the feed job's next round come (it reads the receipts every maintenance interval)."""
    gw.clock.now += dt.timedelta(seconds=seconds)
    _drain(gw)


def _official_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(require_spec(SPECS / "memo" / "xsd-1.1" / "MeMo_core.xsd"))))


def _schema(version: str) -> etree.XMLSchema:
    """1.1: the official XSD. 1.2 has none: the project's own (xsd/memo-1.2)."""
    return _official_schema() if version == "1.1" else etree.XMLSchema(etree.parse(str(ROOT / "xsd" / "memo-1.2" / "memo.xsd")))


def _status(gw, message_uuid: str) -> str:
    return str(gw.runtime.repository.get(message_uuid).status)


@pytest.mark.parametrize("binding, memo_version", [("MemoService", "1.2"), ("MemoServiceSoap12", "1.2"), ("MemoService", "1.1")])
def test_signed_memo_is_delivered_to_digital_post(rig, binding, memo_version):
    gw, double = rig
    double.contacts[CPR] = "REGISTERED"
    pdf = make_pdf("Pladsanvisning", pages=2)
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=pdf)
    assert _service(gw, binding).sendMessage(message=data).messageUUID == message_uuid
    _drain(gw)

    delivered = double.messages[message_uuid]
    [upload] = [seen for seen in double.seen if seen.method == "POST"]
    url = urlsplit(upload.path)
    assert (url.path, parse_qs(url.query)) == ("/apis/v1/memos/", {"memo-message-uuid": [message_uuid]})
    assert upload.content_type == "application/xml"  # the MeMo itself is the body
    raw = delivered.data
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<memo:Message")
    root = etree.fromstring(raw)
    assert root.get("memoVersion") == memo_version
    assert root.get("memoSchVersion") == ("1.1.0" if memo_version == "1.1" else None)  # 1.2 drops it
    _schema(memo_version).assertValid(root)
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
    assert upload.client_subject == rig_pki_subject(gw) and upload.user == "gateway"  # mutual TLS + Basic
    assert _status(gw, message_uuid) in ("SENT_DIGITAL", "DELIVERED")  # the feed may have read the receipt already
    _advance(gw)
    assert _status(gw, message_uuid) == "DELIVERED"  # COMPLETED: in the mailbox, final (NgDP has no read status)
    assert double.receipts == {}  # RECEIVED and COMPLETED read and deleted
    assert len(double.letters) == 1


@pytest.mark.parametrize("with_address, ends", [(True, "SENT_TO_PRINT"), (False, "NOT_DELIVERED")])
def test_an_invalid_receipt_ends_the_letter_visibly(rig, with_address, ends):
    gw, double = rig
    double.contacts[CPR] = "REGISTERED"
    double.outcome_for[CPR] = ("INVALID", "DP-0042", "the main document is not a valid PDF")
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf(),
                                        mutate=_with_address if with_address else None)
    _service(gw, "MemoService").sendMessage(message=data)
    _drain(gw)
    _advance(gw)
    assert _status(gw, message_uuid) == ends
    [alert] = gw.runtime.dispatch_store.alerts(kind="mailbox_refused")
    assert alert["shipment_id"] == message_uuid
    history = " | ".join(str(getattr(e, "detail", "") or "") for e in _service(gw, "MemoService").getHistory(messageUUID=message_uuid))
    assert "DP-0042" in history and "INVALID" in history, history
    assert double.receipts == {} and len(double.letters) == 1


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
    double.contacts[CPR] = "EXEMPT"
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
    double.contacts[CPR] = "EXEMPT"
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
    (no MessageBody), its text in notification, valid against the MeMo 1.2 schema."""
    gw, double = rig
    double.contacts[CPR] = "REGISTERED"
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf(), mutate=_nemsms_with_address)
    assert _service(gw, binding).sendMessage(message=data).messageUUID == message_uuid
    _drain(gw)

    root = etree.fromstring(double.messages[message_uuid].data)
    _schema("1.2").assertValid(root)
    ns = {"memo": MEMO}
    assert root.find("memo:MessageBody", ns) is None
    assert root.findtext("memo:MessageHeader/memo:messageType", namespaces=ns) == "NEMSMS"
    assert root.findtext("memo:MessageHeader/memo:notification", namespaces=ns) == "Husk din tid hos tandlægen i morgen kl. 9.00. Mvh Kommunen"
    assert root.findtext("memo:MessageHeader/memo:label", namespaces=ns) == "Besked fra Børneforvaltningen"
    assert _status(gw, message_uuid) in ("SENT_DIGITAL", "DELIVERED")


def test_nemsms_is_never_printed(rig):
    """Only Danish Digital Post can send a NemSMS: without it the message is not delivered,
    even when the recipient has a postal address (a letter would go to print)."""
    gw, double = rig
    double.contacts[CPR] = "EXEMPT"
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf(), mutate=_nemsms_with_address)
    _service(gw, "MemoService").sendMessage(message=data)
    _drain(gw)
    assert str(gw.runtime.repository.get(message_uuid).status) == "NOT_DELIVERED"
    assert double.messages == {}
    assert not list((Path(gw.runtime.settings.storage.data_dir) / "print").rglob(f"{message_uuid}*"))
