"""/noarkExchange with an arkivmelding (Noark 5) payload, end to end on a real server on loopback:
the PDF travels as a MIME part (SOAP with attachments, or MTOM) whose Content-ID the
arkivmelding's referanseDokumentfil names; the letter is stored with those bytes and the
document's title. A file the request does not carry, and an arkivmelding under the Noark 4
contentNamespace, are ERROR receipts with their codes."""
from __future__ import annotations

import uuid

import pytest
import requests
from lxml import etree

from gateway.domain.noark_intake import letter_id
from gateway.domain.noark_payload import ARKIVMELDING_NS, NOARK4_NS
from gateway.soap.noark import PATH
from tests.conftest import SENDER_PASSWORD, make_pdf
from tests.integration.test_mtom_clients import document_bytes, mime
from tests.unit.test_arkivmelding_mapping import arkivmelding, assert_valid, part

TYPES = "http://www.arkivverket.no/Noark/Exchange/types"
PDF = make_pdf("Vedtak om tilskudd", padding=5_000)
ROOT_TYPES = {
    "swa": ("text/xml; charset=utf-8", "text/xml"),
    "mtom": ('application/xop+xml; charset=UTF-8; type="text/xml"', "application/xop+xml"),
}


def _request(conversation_id: str, payload: etree._Element, *, namespace: str = ARKIVMELDING_NS) -> bytes:
    envelope = etree.fromstring(
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><t:PutMessageRequest xmlns:t="{TYPES}">'
        f'<envelope conversationId="{conversation_id}" contentNamespace="{namespace}"><sender><orgnr/></sender>'
        f"<receiver><orgnr>964338531</orgnr><name>Mottaker AS</name></receiver></envelope><payload/>"
        f"</t:PutMessageRequest></s:Body></s:Envelope>")
    envelope.find(f".//{{{TYPES}}}PutMessageRequest/payload").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _put(gw, body: bytes, files: dict[str, bytes], form: str = "swa") -> etree._Element:
    part_type, start_type = ROOT_TYPES[form]
    parts = [([("Content-Type", part_type), ("Content-ID", "<root.message>")], body)]
    parts += [([("Content-Type", "application/pdf"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", f"<{cid}>")], data)
              for cid, data in files.items()]
    boundary = f"uuid:{uuid.uuid4()}"
    content_type = f'multipart/related; type="{start_type}"; boundary="{boundary}"; start="<root.message>"'
    if form == "mtom":
        content_type += '; start-info="text/xml"'
    response = requests.post(gw.base_url + PATH, data=mime(boundary, parts), auth=("kommune-sak", SENDER_PASSWORD), timeout=30,
                             headers={"Content-Type": content_type, "SOAPAction": '""'})
    assert response.status_code == 200, response.text[:500]
    return etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result")


@pytest.mark.parametrize("form", sorted(ROOT_TYPES))
def test_an_arkivmelding_with_its_pdf_as_a_mime_part_is_stored_with_its_bytes_and_title(sqlite_gateway, form):
    payload = arkivmelding(parts=part("Avsender", "Kommune", address=False) + part("Mottaker", "Mottaker AS"))
    assert_valid(payload)
    conversation_id = str(uuid.uuid4())
    result = _put(sqlite_gateway, _request(conversation_id, payload), {"vedtak.pdf": PDF}, form)
    assert result.get("type") == "OK", etree.tostring(result)
    [shipment_id] = [m.findtext("text") for m in result.iterfind("message") if m.get("code") == "FORSENDELSE_ID"]
    assert shipment_id == letter_id("kommune-sak", conversation_id, 0)
    shipment = sqlite_gateway.runtime.shipments.get("kommune-sak", shipment_id).shipment
    [document] = shipment.documents
    assert (document.title, document.filename, document.media_type, document.role) == ("Vedtak", "vedtak.pdf", "application/pdf", "MAIN")
    assert document_bytes(sqlite_gateway, shipment) == [PDF]
    assert shipment.source_contract == "arkivmelding" and shipment.exchange.content_namespace == ARKIVMELDING_NS
    assert (shipment.case_metadata.case_year, shipment.case_metadata.case_sequence_number, shipment.case_metadata.journal_entry_type) == (
        2026, 400, "U")
    # the envelope's receiver is the arkivmelding's one recipient, with its postal address
    recipient = shipment.recipient
    assert (recipient.identifier, recipient.name, recipient.address.city) == ("964338531", "Mottaker AS", "OSLO")


def test_an_arkivmelding_naming_a_file_the_request_does_not_carry_is_an_error_receipt(sqlite_gateway):
    conversation_id = str(uuid.uuid4())
    result = _put(sqlite_gateway, _request(conversation_id, arkivmelding()), {"annet.pdf": PDF})
    assert result.get("type") == "ERROR"
    [(code, text)] = [(m.get("code"), m.findtext("text")) for m in result.iterfind("message")]
    assert code == "NOARK_FILE_MISSING" and "'vedtak.pdf'" in text and "referanseDokumentfil" in text
    assert sqlite_gateway.runtime.shipments.ids_by_external_ref("kommune-sak", conversation_id) == []


def test_an_arkivmelding_under_the_noark4_content_namespace_is_a_mismatch(sqlite_gateway):
    conversation_id = str(uuid.uuid4())
    result = _put(sqlite_gateway, _request(conversation_id, arkivmelding(), namespace=NOARK4_NS), {"vedtak.pdf": PDF})
    assert result.get("type") == "ERROR"
    assert [m.get("code") for m in result.iterfind("message")] == ["NOARK_CONTENT_NAMESPACE_MISMATCH"]
    assert sqlite_gateway.runtime.shipments.ids_by_external_ref("kommune-sak", conversation_id) == []
