"""/memo over SOAP 1.1 and 1.2 with a zeep client from the served WSDL: signed MeMo in,
metadata kept, status and history out; the signed attack corpus refused over the wire."""
from __future__ import annotations

import base64
import dataclasses
import re
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import zeep
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from zeep.transports import Transport

from gateway.model import DeliveryMode, Event, PartyKind, Status, utcnow
from gateway.soap.memo import NS, PATH
from gateway.store import tables
from gateway.xml.signing import sign_message
from tests.conftest import OTHER_PASSWORD, SENDER_PASSWORD, SPECS, make_pdf, require_spec

CORPUS = Path(__file__).resolve().parents[1] / "security" / "memo"
SIGNER_KEY, SIGNER_CERT = CORPUS / "corpus-signer.pem", CORPUS / "corpus-signer.crt"
EXAMPLES = SPECS / "memo" / "examples"
MEMO = "https://DigitalPost.dk/MeMo-1"


@pytest.fixture
def memo_gateway(start_gateway, settings_factory, database_url):
    settings = settings_factory(database_url)
    senders = tuple(
        dataclasses.replace(s, signing_certificate=str(SIGNER_CERT)) if s.name == "kommune-sak" else s
        for s in settings.senders
    )
    return start_gateway(dataclasses.replace(settings, senders=senders))


def _service(gw, binding: str, user: str = "kommune-sak", password: str = SENDER_PASSWORD):
    session = requests.Session()
    session.auth = (user, password)
    session.trust_env = False
    client = zeep.Client(gw.base_url + PATH + "?wsdl", transport=Transport(session=session, timeout=30, operation_timeout=30))
    return client.create_service(f"{{{NS}}}{binding}", gw.base_url + PATH)


def signed_message(example: str, *, pdf: bytes, https_links: bool = True, mutate=None, sign: bool = True) -> tuple[str, bytes]:
    """An official example with a fresh messageUUID and real PDFs, signed by the corpus signer
    (unless ``sign`` is false: then for another signer)."""
    root = etree.fromstring(require_spec(EXAMPLES / example).read_bytes())
    message_uuid = str(uuid.uuid4())
    root.find(f"{{{MEMO}}}MessageHeader/{{{MEMO}}}messageUUID").text = message_uuid
    for file in root.iter(f"{{{MEMO}}}File"):
        if file.findtext(f"{{{MEMO}}}encodingFormat") == "application/pdf":
            file.find(f"{{{MEMO}}}content").text = base64.b64encode(pdf).decode()
    if https_links:
        for url in root.iter(f"{{{MEMO}}}url"):
            url.text = re.sub(r"^http://", "https://", url.text)
    if mutate:
        mutate(root)
    if not sign:
        return message_uuid, etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    signed = sign_message(root, key=SIGNER_KEY.read_bytes(), cert=SIGNER_CERT.read_bytes())
    return message_uuid, etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _code(exc: zeep.exceptions.Fault) -> str:
    return exc.detail.find(".//{urn:gateway:faults}code").text


@pytest.mark.parametrize("binding", ["MemoService", "MemoServiceSoap12"])
def test_signed_memo_is_accepted_with_its_metadata(memo_gateway, binding):
    svc = _service(memo_gateway, binding)
    pdf = make_pdf("Pladsanvisning")
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=pdf)
    result = svc.sendMessage(message=data)
    assert (result.messageUUID, result.status) == (message_uuid, "ACCEPTED")
    assert svc.getStatus(messageUUID=message_uuid).status == "ACCEPTED"
    assert [e.kind for e in svc.getHistory(messageUUID=message_uuid)] == ["received", "accepted"]

    s = memo_gateway.runtime.repository.get(message_uuid).shipment
    assert (s.recipient.identifier, s.recipient.kind) == ("2211771212", PartyKind.DK_CPR)
    assert s.title == "Besked fra Børneforvaltningen" and s.source_contract == "memo"
    r = s.routing
    assert (r.kle, r.form, r.case_id, r.case_system, r.production_unit, r.contact_point, r.post_type) == (
        "00.00.00", "00.00.00.00", "SAG-12345", "Sagssystem 1234", "1234567890", "241d39f6-998e-4929-b198-ccacbbf4b330", "MYNDIGHEDSPOST")
    assert [(p.kind, p.identifier) for p in r.concerns][0] == (PartyKind.DK_CPR, "2512169996")
    assert r.content_data[1].value == "Værdi 2" and r.replies_to[0].case_id == "SAG-456"
    assert r.attention.person == "2211771212" and r.contact_group == "22.33.44.55" and r.extra == ()
    assert [(link.action, link.url) for link in s.links][0] == ("SELVBETJENING", "https://www.tusindfryd.dk/spørgeskema.html")
    pdfs = [d for d in s.documents if d.media_type == "application/pdf"]
    assert pdfs and all(memo_gateway.runtime.documents.get(d.storage_ref) == pdf for d in pdfs)
    assert s.delivery.mode is DeliveryMode.DIGITAL_ONLY  # no structured address for print

    again = svc.sendMessage(message=data)  # a repeat is answered, not stored twice
    assert again.messageUUID == message_uuid and memo_gateway.runtime.repository.count_shipments() == 1


def _stored_documents(runtime) -> tuple[list, list]:
    """Document bytes kept anywhere: files and database rows."""
    files = sorted(p for p in runtime.documents.files.root.rglob("*") if p.is_file())
    with runtime.engine.connect() as conn:
        rows = sorted(conn.execute(sa.select(tables.document_blobs.c.sha256)).scalars())
    return files, rows


def test_messageuuid_reused_for_other_content_is_a_conflict(memo_gateway):
    """Same content is answered with the stored status, other content under the same
    messageUUID is refused, audited, and leaves nothing else behind."""
    svc = _service(memo_gateway, "MemoServiceSoap12")
    message_uuid, data = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf("first"))

    def same_uuid(root):
        root.find(f"{{{MEMO}}}MessageHeader/{{{MEMO}}}messageUUID").text = message_uuid

    _, other = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf("second"), mutate=same_uuid)
    assert svc.sendMessage(message=data).status == "ACCEPTED"
    blobs = _stored_documents(memo_gateway.runtime)
    assert blobs[1]  # the letter's small PDF is kept in the database
    memo_gateway.runtime.repository.record_event(message_uuid, Event(at=utcnow(), kind="test", status=Status.SENT_DIGITAL))
    repeat = svc.sendMessage(message=data)
    assert (repeat.messageUUID, repeat.status) == (message_uuid, "SENT_DIGITAL")  # the stored status, not a new one
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendMessage(message=other)
    assert _code(err.value) == "SHIPMENT_ID_CONFLICT"
    assert memo_gateway.runtime.repository.count_shipments() == 1
    # a refusal stores nothing but its audit record: the other content's documents are not kept
    assert _stored_documents(memo_gateway.runtime) == blobs
    audit = memo_gateway.runtime.repository.audit_records(sender="kommune-sak")
    assert [(a["outcome"], a["shipment_id"]) for a in audit] == [("SHIPMENT_ID_CONFLICT", message_uuid)]


def test_memo_1_2_minimum(memo_gateway):
    message_uuid, data = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf())
    assert _service(memo_gateway, "MemoServiceSoap12").sendMessage(message=data).messageUUID == message_uuid


def test_refusals_over_the_wire(memo_gateway):
    svc = _service(memo_gateway, "MemoServiceSoap12")
    pdf = make_pdf()
    _, data = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=pdf)
    tampered = data.replace(b"Pladsanvisning</memo:label>", b"Pladsanvisninx</memo:label>")
    unsigned = etree.tostring(etree.fromstring(require_spec(EXAMPLES / "MeMo_v1.2_Minimum_Example.xml").read_bytes()))

    def bad_version(root):
        root.set("memoVersion", "1.1")  # 1.1 requires memoSchVersion: schema-invalid

    _, schema_invalid = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=pdf, mutate=bad_version)
    _, http_link = signed_message("MeMo_v1.1_Full_Example.xml", pdf=pdf, https_links=False)
    cases = {"SIGNATURE_INVALID": tampered, "SIGNATURE_MISSING": unsigned, "SCHEMA_INVALID": schema_invalid,
             "MEMO_ACTION_URL_NOT_HTTPS": http_link}
    for code, body in cases.items():
        with pytest.raises(zeep.exceptions.Fault) as err:
            svc.sendMessage(message=body)
        assert _code(err.value) == code, code
    assert memo_gateway.runtime.repository.count_shipments() == 0


def test_other_senders_cannot_see_the_message(memo_gateway):
    message_uuid, data = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf())
    _service(memo_gateway, "MemoService").sendMessage(message=data)
    other = _service(memo_gateway, "MemoService", "annen-kommune", OTHER_PASSWORD)
    with pytest.raises(zeep.exceptions.Fault) as err:
        other.getStatus(messageUUID=message_uuid)
    assert _code(err.value) == "SHIPMENT_NOT_FOUND"
    with pytest.raises(zeep.exceptions.Fault) as err:  # and it has no certificate configured
        other.sendMessage(message=data)
    assert _code(err.value) == "SIGNATURE_CERTIFICATE_UNTRUSTED"


def test_signed_attack_corpus_over_soap(memo_gateway):
    """Every nonconformant corpus file is refused over SOAP with the code in its name."""
    svc = _service(memo_gateway, "MemoServiceSoap12")
    problems = []
    for path in sorted(CORPUS.glob("*.xml")):
        try:
            svc.sendMessage(message=path.read_bytes())
            got = None
        except zeep.exceptions.Fault as exc:
            got = _code(exc)
        if path.name.startswith("nonconformant-"):
            expected = re.match(r"nonconformant-([A-Z0-9_]+?)-[a-z0-9]", path.name).group(1)
            if got != expected:
                problems.append(f"{path.name}: expected {expected}, got {got}")
        elif got is not None:  # conformant files carry real PDFs and messageUUIDs of their own
            problems.append(f"{path.name}: refused with {got}")
    assert not problems, "\n".join(problems)
    audit = memo_gateway.runtime.repository.audit_records(sender="kommune-sak")
    assert len(audit) == len(list(CORPUS.glob("nonconformant-*.xml")))  # every refusal audited, no 500


@pytest.mark.parametrize("binding", ["MemoService", "MemoServiceSoap12"])
@pytest.mark.parametrize("c14n, prefix, reference_c14n", [
    ("inclusive", None, False),  # .NET SignedXml's default: the reference has the enveloped transform alone
    ("inclusive", None, True), ("inclusive", "ds", True), ("exclusive", None, True), ("c14n-1.1", None, True),
])
def test_xmlsec1_signed_memo_over_soap(memo_gateway, binding, c14n, prefix, reference_c14n):
    """Signed by xmlsec1 as .NET SignedXml signs by default (inclusive C14N 1.0, ``Signature``
    in the default namespace): refused as SIGNATURE_INVALID before (signxml issue 275)."""
    from tests.xmldsig import C14N, Signer, sign_with_xmlsec1

    message_uuid, data = signed_message("MeMo_v1.2_Full_Example.xml", pdf=make_pdf("Afgørelse"), sign=False)
    key = serialization.load_pem_private_key(SIGNER_KEY.read_bytes(), password=None)
    signer = Signer(key, x509.load_pem_x509_certificate(SIGNER_CERT.read_bytes()))
    signed = sign_with_xmlsec1(data, signer, c14n=C14N[c14n], prefix=prefix, reference_c14n=reference_c14n)
    svc = _service(memo_gateway, binding)
    assert svc.sendMessage(message=signed).messageUUID == message_uuid
    assert memo_gateway.runtime.repository.get(message_uuid).shipment.title == "Besked fra Børneforvaltningen"
    tampered = signed.replace(b"Besked fra B", b"Besked fra b", 1)
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendMessage(message=tampered)
    assert _code(err.value) == "SIGNATURE_INVALID"


@pytest.mark.parametrize("version", ["1.10", "01.1", " 1.1", "1.1 ", "1.2.0"])
def test_other_spellings_of_memo_version_are_refused_and_audited(memo_gateway, version):
    """They passed the MeMo rules and crashed the schema lookup: HTTP 500 and no audit record."""
    def set_version(root):
        root.set("memoVersion", version)

    _, data = signed_message("MeMo_v1.1_Minimum_Example.xml", pdf=make_pdf(), mutate=set_version)
    with pytest.raises(zeep.exceptions.Fault) as err:
        _service(memo_gateway, "MemoService").sendMessage(message=data)
    assert _code(err.value) == "MEMO_VERSION_UNSUPPORTED"
    audit = memo_gateway.runtime.repository.audit_records(sender="kommune-sak")
    assert [(a["outcome"], a["field"]) for a in audit] == [("MEMO_VERSION_UNSUPPORTED", "/Message/@memoVersion")]
    assert memo_gateway.runtime.repository.count_shipments() == 0



def as_nemsms(root, text: str | None = "Husk din tid hos tandlægen i morgen kl. 9.00. Mvh Kommunen") -> None:
    """Make an official example a NemSMS: messageType NEMSMS, no MessageBody, the SMS text as
    the header's notification (what a NemSMS is in the MeMo 1.1 XSD)."""
    header = root.find(f"{{{MEMO}}}MessageHeader")
    header.find(f"{{{MEMO}}}messageType").text = "NEMSMS"
    root.remove(root.find(f"{{{MEMO}}}MessageBody"))
    notification = header.find(f"{{{MEMO}}}notification")
    if notification is None and text is not None:
        notification = etree.Element(f"{{{MEMO}}}notification")
        header.find(f"{{{MEMO}}}label").addnext(notification)
    if text is not None:
        notification.text = text


@pytest.mark.parametrize("example", ["MeMo_v1.1_Minimum_Example.xml", "MeMo_v1.2_Minimum_Example.xml", "MeMo_v1.1_Full_Example.xml"])
@pytest.mark.parametrize("binding", ["MemoService", "MemoServiceSoap12"])
def test_nemsms_is_accepted_without_documents(memo_gateway, binding, example):
    """A NemSMS could never be accepted: the MeMo rule forbids a body, the shipment needed a
    document. It is stored as a digital-only shipment without documents, its text kept."""
    svc = _service(memo_gateway, binding)
    message_uuid, data = signed_message(example, pdf=make_pdf(), mutate=as_nemsms)
    result = svc.sendMessage(message=data)
    assert (result.messageUUID, result.status) == (message_uuid, "ACCEPTED")
    assert [e.kind for e in svc.getHistory(messageUUID=message_uuid)] == ["received", "accepted"]
    s = memo_gateway.runtime.repository.get(message_uuid).shipment
    assert s.documents == () and s.delivery.mode is DeliveryMode.DIGITAL_ONLY and s.links == ()
    assert s.routing.handling.text_message is True
    assert s.routing.handling.notification == "Husk din tid hos tandlægen i morgen kl. 9.00. Mvh Kommunen"
    assert svc.sendMessage(message=data).messageUUID == message_uuid  # a repeat is answered
    assert memo_gateway.runtime.repository.count_shipments() == 1


def test_nemsms_refusals(memo_gateway):
    svc = _service(memo_gateway, "MemoServiceSoap12")
    _, without_text = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf(), mutate=lambda r: as_nemsms(r, None))
    _, with_body = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf(),
                                  mutate=lambda r: r.find(f"{{{MEMO}}}MessageHeader/{{{MEMO}}}messageType").__setattr__("text", "NEMSMS"))

    def letter_without_body(root):
        root.remove(root.find(f"{{{MEMO}}}MessageBody"))

    _, no_documents = signed_message("MeMo_v1.2_Minimum_Example.xml", pdf=make_pdf(), mutate=letter_without_body)
    cases = {"MEMO_NEMSMS_WITHOUT_NOTIFICATION": without_text, "MEMO_NEMSMS_WITH_BODY": with_body, "DOCUMENTS_REQUIRED": no_documents}
    for code, body in cases.items():
        with pytest.raises(zeep.exceptions.Fault) as err:
            svc.sendMessage(message=body)
        assert _code(err.value) == code, code
    assert memo_gateway.runtime.repository.count_shipments() == 0
    audit = memo_gateway.runtime.repository.audit_records(sender="kommune-sak")
    assert [a["outcome"] for a in audit] == list(cases)
