"""/noarkExchange from clients that are not zeep, each as its stack puts the call on the wire.

* suds, from the WSDL we serve (``?wsdl``): ``GetCanReceiveMessage`` and ``PutMessage`` with
  the Melding as a string (suds escapes it, as Public 360 sends it).
* WCF (Public 360 is .NET), hand-built: SOAP 1.2 with the action in the Content-Type, a UTF-8
  byte order mark, WCF's ``s:`` prefix and ``xsi:type="xsd:string"`` escaped payload; and a
  SOAP 1.1 one with ``SOAP-ENV:``/``ns1:`` prefixes and a prefixed Melding element.
* Apache CXF with MTOM, hand-built: ``uuid:`` boundary, ``start="<root.message@cxf.apache.org>"``,
  the body chunked, the Melding an element whose ``fil/base64`` is an ``xop:Include`` with a
  percent-encoded ``cid:``; and MTOM with no attachment at all (CXF sends every call as
  multipart/related once MTOM is on).
* ePhorte's own request as sent (CDATA payload).

Each must be answered ``OK`` and store its letter with its documents byte for byte.
"""
from __future__ import annotations

import base64
import codecs
import logging
import re
import uuid
from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree
from suds.client import Client
from suds.transport.http import HttpAuthenticated

from gateway.domain.noark_payload import EXCHANGE_TYPES_NS as TYPES, NOARK4_NS as NOARK4
from gateway.soap.noark import PATH
from tests.conftest import SENDER_PASSWORD, make_pdf
from tests.integration.test_mtom_clients import chunks, mime
from tests.integration.test_noark_exchange import settings_factory  # noqa: F401  (the senders may send as ePhorte)
from tests.noark_samples import sample
from tests.security.noark.make_corpus import melding

logging.getLogger("suds").setLevel(logging.CRITICAL)
ACTION = "http://www.arkivverket.no/Noark/Exchange/IEDUImport/PutMessage"
RECEIVER = "974763907"


def _pdf_melding(pdf: bytes, *, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return melding(prolog=prolog, title="Vedtak", file=base64.b64encode(pdf).decode())


def _letter(gw, response: requests.Response):
    """The one letter an OK receipt names, with its documents' bytes."""
    assert response.status_code == 200, response.text[:500]
    result = etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result")
    assert result is not None and result.get("type") == "OK", response.text[:500]
    [shipment_id] = [m.findtext("text") for m in result.iterfind("message") if m.get("code") == "FORSENDELSE_ID"]
    return _stored(gw, shipment_id)


def _stored(gw, shipment_id: str):
    shipment = gw.runtime.shipments.get("kommune-sak", shipment_id).shipment
    return shipment, [gw.runtime.documents.get(d.storage_ref) for d in shipment.documents]


def _post(gw, body, content_type: str, **headers: str) -> requests.Response:
    return requests.post(gw.base_url + PATH, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                         headers={"Content-Type": content_type, **headers})


# ---------------------------------------------------------------- suds


def test_suds_from_the_served_wsdl(sqlite_gateway):
    client = Client(sqlite_gateway.base_url + PATH + "?wsdl", cache=None, timeout=60,
                    transport=HttpAuthenticated(username="kommune-sak", password=SENDER_PASSWORD))
    assert client.service.GetCanReceiveMessage(receiver={"orgnr": RECEIVER}) is True  # print takes it
    assert client.service.GetCanReceiveMessage(receiver={"orgnr": "974763908"}) is False  # bad check digit
    pdf = make_pdf("suds")
    conversation_id = str(uuid.uuid4())
    receipt = client.service.PutMessage(
        envelope={"_conversationId": conversation_id, "_contentNamespace": NOARK4,
                  "sender": {"orgnr": ""}, "receiver": {"orgnr": RECEIVER}},
        payload=_pdf_melding(pdf))
    assert receipt._type == "OK", receipt
    [shipment_id] = [m.text for m in receipt.message if m._code == "FORSENDELSE_ID"]
    shipment, documents = _stored(sqlite_gateway, shipment_id)
    assert documents == [pdf] and shipment.external_ref == conversation_id
    assert shipment.title == "Vedtak" and shipment.recipient.identifier == RECEIVER
    # the same call again is the same letter, other content under the same id is refused
    again = client.service.PutMessage(
        envelope={"_conversationId": conversation_id, "_contentNamespace": NOARK4, "sender": {"orgnr": ""}, "receiver": {"orgnr": RECEIVER}},
        payload=_pdf_melding(pdf))
    assert [m.text for m in again.message] == [shipment_id]
    other = client.service.PutMessage(
        envelope={"_conversationId": conversation_id, "_contentNamespace": NOARK4, "sender": {"orgnr": ""}, "receiver": {"orgnr": RECEIVER}},
        payload=_pdf_melding(make_pdf("annet")))
    assert other._type == "ERROR" and [m._code for m in other.message] == ["SHIPMENT_ID_CONFLICT"]


# ---------------------------------------------------------------- WCF (Public 360)


def _wcf_soap12(payload: str, conversation_id: str) -> bytes:
    return codecs.BOM_UTF8 + (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><PutMessageRequest xmlns="{TYPES}">'
        f'<envelope contentNamespace="{NOARK4}" conversationId="{conversation_id}" xmlns="">'
        f"<sender><orgnr/></sender><receiver><orgnr>{RECEIVER}</orgnr></receiver></envelope>"
        f'<payload xsi:type="xsd:string" xmlns="">{escape(payload)}</payload></PutMessageRequest></s:Body></s:Envelope>'
    ).encode("utf-8")


def test_wcf_soap12_with_the_action_in_the_content_type_and_a_bom(sqlite_gateway):
    pdf = make_pdf("WCF SOAP 1.2", padding=3_000)
    body = _wcf_soap12(_pdf_melding(pdf), str(uuid.uuid4()))
    shipment, documents = _letter(sqlite_gateway, _post(sqlite_gateway, body, f'application/soap+xml; charset=utf-8; action="{ACTION}"'))
    assert documents == [pdf] and shipment.recipient.address.lines == ("Njøsavegen 2",)


def test_soap11_with_other_prefixes_and_a_prefixed_melding_element(sqlite_gateway):
    pdf = make_pdf("Prefiks")
    payload = _pdf_melding(pdf, prolog="").replace(f'<Melding xmlns="{NOARK4}">', f'<n4:Melding xmlns:n4="{NOARK4}">') \
        .replace("</Melding>", "</n4:Melding>")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:ns1="{TYPES}"><SOAP-ENV:Header/><SOAP-ENV:Body><ns1:PutMessageRequest>'
        f'<envelope conversationId="{str(uuid.uuid4()).upper()}" contentNamespace="{NOARK4}"><sender><orgnr>974720760</orgnr></sender>'
        f"<receiver><orgnr>{RECEIVER}</orgnr></receiver></envelope><payload>{payload}</payload>"
        "</ns1:PutMessageRequest></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode("utf-8")
    _, documents = _letter(sqlite_gateway, _post(sqlite_gateway, body, "text/xml; charset=UTF-8", SOAPAction=f'"{ACTION}"'))
    assert documents == [pdf]


# ---------------------------------------------------------------- CXF with MTOM


def _cxf_root(payload: str, conversation_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><ns2:PutMessageRequest xmlns:ns2="{TYPES}"><envelope conversationId="{conversation_id}" '
        f'contentNamespace="{NOARK4}"><sender><orgnr>974720760</orgnr></sender><receiver><orgnr>{RECEIVER}</orgnr>'
        f"</receiver></envelope><payload>{payload}</payload></ns2:PutMessageRequest></soap:Body></soap:Envelope>"
    ).encode("utf-8")


def _cxf_mtom(root: bytes, attachments: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = f"uuid:{uuid.uuid4()}"
    parts = [([("Content-Type", 'application/xop+xml; charset=UTF-8; type="text/xml"'), ("Content-Transfer-Encoding", "binary"),
               ("Content-ID", "<root.message@cxf.apache.org>")], root)]
    parts += [([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", f"<{cid}>")], data)
              for cid, data in attachments]
    return mime(boundary, parts), (f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
                                   'start="<root.message@cxf.apache.org>"; start-info="text/xml"')


def test_cxf_chunked_mtom_with_the_file_as_an_xop_include(gateway):
    pdf = make_pdf("CXF MTOM", padding=20_000)
    cid = f"{uuid.uuid4()}-1@cxf.apache.org"
    include = f'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:{cid.replace("@", "%40")}"/>'
    body, content_type = _cxf_mtom(_cxf_root(melding(prolog="", title="Vedtak", file=include), str(uuid.uuid4())), [(cid, pdf)])
    shipment, documents = _letter(gateway, _post(gateway, chunks(body), content_type, SOAPAction='""'))
    assert documents == [pdf] and shipment.documents[0].media_type == "application/pdf"
    assert shipment.documents[0].size == len(pdf)


def test_cxf_mtom_without_attachments_and_an_escaped_payload(sqlite_gateway):
    pdf = make_pdf("CXF uten vedlegg")
    body, content_type = _cxf_mtom(_cxf_root(escape(_pdf_melding(pdf)), str(uuid.uuid4())), [])
    _, documents = _letter(sqlite_gateway, _post(sqlite_gateway, chunks(body), content_type, SOAPAction='""'))
    assert documents == [pdf]


def test_an_xop_include_where_no_file_stands_is_refused_and_nothing_stored(sqlite_gateway):
    cid = "tittel@cxf.apache.org"
    include = f'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:{cid}"/>'
    payload = melding(prolog="", title=include)  # jpInnhold: text, not a file
    body, content_type = _cxf_mtom(_cxf_root(payload, str(uuid.uuid4())), [(cid, b"Vedtak")])
    response = _post(sqlite_gateway, body, content_type)
    result = etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result")
    assert result.get("type") == "ERROR" and [m.get("code") for m in result] == ["INVALID_REQUEST"], response.text[:300]
    assert "jpInnhold" in response.text
    assert sqlite_gateway.runtime.repository.count_shipments() == 0


# ---------------------------------------------------------------- ePhorte


def test_ephorte_cdata_as_sent_stores_the_letter_with_its_document(sqlite_gateway):
    data, conversation_id = sample("ephorte")
    cdata = re.search(rb"<!\[CDATA\[(.*?)\]\]>", data, re.S).group(1)
    expected = base64.b64decode(etree.fromstring(re.sub(rb"^<\?xml[^>]*\?>", b"", cdata)).findtext("journpost/dokument/fil/base64"))
    shipment, documents = _letter(sqlite_gateway, _post(sqlite_gateway, data, "text/xml; charset=utf-8", SOAPAction='""'))
    assert documents == [expected] and expected.startswith(b"%PDF-")
    assert shipment.external_ref == conversation_id and shipment.documents[0].filename == "Test1.pdf"
