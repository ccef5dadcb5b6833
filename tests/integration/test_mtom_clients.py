"""MTOM as foreign SOAP stacks put it on the wire, hand-built byte for byte.

* Apache CXF (what SvarUt's own Java clients use): ``uuid:`` boundary,
  ``start="<root.message@cxf.apache.org>"``, a root part that opens with an XML
  declaration, attachments after it, and the body sent chunked (CXF chunks every body over
  4 KB by default).
* .NET WCF (``MessageEncoding=Mtom``): ``start="<http://tempuri.org/0>"``, a byte order mark
  before the envelope, ``Content-Transfer-Encoding: 8bit``, Content-IDs that are URLs, and
  ``cid:`` references percent-encoded as RFC 2392 requires.
* Other prefixes, the root part after the attachments, a root part without a charset (UTF-8
  then, unless the declaration says otherwise) and one in ISO-8859-1.
Each letter must be stored with its documents byte for byte and its Norwegian text intact.
"""
from __future__ import annotations

import codecs
import hashlib
import re
import uuid

import pytest
import requests
from lxml import etree

from gateway.soap.memo import PATH as MEMO_PATH
from tests.conftest import SENDER_PASSWORD, fault_code, make_pdf

TITLE = "Vedtak om byggetillatelse – Ærlig talt, søknad på Øvre Åsen"
NAME = "Ørjan Bråthen"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def envelope(refs: list[str], *, soap: str = "s", xop: str = "xop", declaration: str = "") -> str:
    documents = "".join(
        f"<dokumenter><data><{xop}:Include xmlns:{xop}=\"http://www.w3.org/2004/08/xop/include\" href=\"{ref}\"/></data>"
        f"<ekskluderesFraPrint>false</ekskluderesFraPrint><filnavn>dokument-{i}.pdf</filnavn>"
        "<mimetype>application/pdf</mimetype><skalSigneres>false</skalSigneres></dokumenter>"
        for i, ref in enumerate(refs)
    )
    return (
        f'{declaration}<{soap}:Envelope xmlns:{soap}="http://www.w3.org/2003/05/soap-envelope">'
        f'<{soap}:Body><ns2:sendForsendelse xmlns:ns2="http://www.ks.no/svarut/servicesV9" xmlns:xsi="{XSI}"><forsendelse>'
        f"{documents}<krevNiva4Innlogging>false</krevNiva4Innlogging><kryptert>false</kryptert>"
        '<kunDigitalLevering>false</kunDigitalLevering><mottaker><digitalAdresse xsi:type="ns2:personDigitalAdresse">'
        f"<fnr>15076500565</fnr></digitalAdresse><postAdresse><navn>{NAME}</navn><postnr>0155</postnr>"
        "<poststed>Oslo</poststed></postAdresse></mottaker>"
        '<signaturtype xsi:nil="true"/><signeringUtloper xsi:nil="true"/><svarPaForsendelseLink>false</svarPaForsendelseLink>'
        f"<tittel>{TITLE}</tittel></forsendelse></ns2:sendForsendelse></{soap}:Body></{soap}:Envelope>"
    )


def mime(boundary: str, parts: list[tuple[list[tuple[str, str]], bytes]]) -> bytes:
    out = b""
    for headers, body in parts:
        out += f"--{boundary}\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n" + body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def chunks(body: bytes, size: int = 4096):
    for i in range(0, len(body), size):
        yield body[i:i + size]


def post(gw, body, content_type: str) -> requests.Response:
    return requests.post(gw.svarut_url, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                         headers={"Content-Type": content_type})


def stored(gw, r: requests.Response):
    assert r.status_code == 200, r.text
    sid = re.search(rb"<return>([^<]+)</return>", r.content).group(1).decode()
    return gw.runtime.repository.get(sid).shipment


def document_bytes(gw, shipment) -> list[bytes]:
    return [gw.runtime.documents.get(d.storage_ref) for d in shipment.documents]


def test_apache_cxf_chunked_mtom(gateway):
    pdfs = [make_pdf("CXF 1", padding=20_000), make_pdf("CXF 2")]
    boundary = f"uuid:{uuid.uuid4()}"
    ids = [f"{uuid.uuid4()}-{i}@cxf.apache.org" for i in (1, 2)]
    root = envelope([f"cid:{ids[0]}", f"cid:{ids[1].replace('@', '%40')}"], soap="soap",
                    declaration='<?xml version="1.0" encoding="UTF-8"?>').encode()
    body = mime(boundary, [
        ([("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'),
          ("Content-Transfer-Encoding", "binary"), ("Content-ID", "<root.message@cxf.apache.org>")], root),
        ([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", f"<{ids[0]}>")], pdfs[0]),
        ([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", f"<{ids[1]}>")], pdfs[1]),
    ])
    content_type = (f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
                    'start="<root.message@cxf.apache.org>"; start-info="application/soap+xml"; action=""')
    shipment = stored(gateway, post(gateway, chunks(body), content_type))
    assert shipment.title == TITLE and shipment.recipient.address.name == NAME
    assert shipment.recipient.identifier == "15076500565"
    assert document_bytes(gateway, shipment) == pdfs


def test_wcf_mtom_with_bom_and_percent_encoded_cids(gateway):
    pdf = make_pdf("WCF", padding=5_000)
    boundary = f"uuid:{uuid.uuid4()}+id=3"
    content_id = f"http://tempuri.org/1/{uuid.uuid4().int % 10**18}"
    href = "cid:" + content_id.replace(":", "%3A").replace("/", "%2F")
    root = codecs.BOM_UTF8 + envelope([href], soap="s", xop="xop").encode("utf-8")
    body = mime(boundary, [
        ([("Content-ID", "<http://tempuri.org/0>"), ("Content-Transfer-Encoding", "8bit"),
          ("Content-Type", 'application/xop+xml;charset=utf-8;type="application/soap+xml"')], root),
        ([("Content-ID", f"<{content_id}>"), ("Content-Transfer-Encoding", "binary"),
          ("Content-Type", "application/octet-stream")], pdf),
    ])
    content_type = (f'multipart/related;type="application/xop+xml";start="<http://tempuri.org/0>";'
                    f'boundary="{boundary}";start-info="application/soap+xml"')
    shipment = stored(gateway, post(gateway, body, content_type))
    assert shipment.title == TITLE
    assert document_bytes(gateway, shipment) == [pdf]


@pytest.mark.parametrize("root_type, encode", [
    ('application/xop+xml; type="application/soap+xml"', lambda text: text.encode("utf-8")),
    ('application/xop+xml; charset=ISO-8859-1; type="application/soap+xml"',
     lambda text: text.replace("–", "-").encode("iso-8859-1")),
    ('application/xop+xml; type="application/soap+xml"',
     lambda text: ('<?xml version="1.0" encoding="ISO-8859-1"?>' + text.replace("–", "-")).encode("iso-8859-1")),
], ids=["no-charset-is-utf8", "charset-iso-8859-1", "declaration-iso-8859-1"])
def test_root_part_charset(sqlite_gateway, root_type, encode):
    """Defect 2: without a charset parameter the root is UTF-8 unless its declaration says otherwise."""
    pdf = make_pdf("Tegnsett")
    body = mime("b1", [
        ([("Content-Type", root_type), ("Content-ID", "<root>")], encode(envelope(["cid:d"], soap="env", xop="inc"))),
        ([("Content-Type", "application/pdf"), ("Content-ID", "<d>")], pdf),
    ])
    shipment = stored(sqlite_gateway, post(sqlite_gateway, body, 'multipart/related; type="application/xop+xml"; '
                                           'boundary=b1; start="<root>"; start-info="application/soap+xml"'))
    assert shipment.title.replace("-", "–") == TITLE
    assert shipment.recipient.address.name == NAME


def test_plain_soap_body_charset_is_honoured(sqlite_gateway):
    pdf_ref = make_pdf("Tegnsett")
    import base64

    text = envelope(["X"]).replace('<data><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="X"/></data>',
                                   f"<data>{base64.b64encode(pdf_ref).decode()}</data>").replace("–", "-")
    r = requests.post(sqlite_gateway.svarut_url, data=text.encode("iso-8859-1"), auth=("kommune-sak", SENDER_PASSWORD),
                      timeout=60, headers={"Content-Type": "application/soap+xml; charset=ISO-8859-1"})
    assert stored(sqlite_gateway, r).recipient.address.name == NAME


def test_large_attachment_goes_through_the_spool_into_the_blob_store(sqlite_gateway):
    """A document over the in-memory threshold is streamed to disk, adopted by the blob store
    (not copied through memory) and nothing is left in the spool."""
    pdf = make_pdf("Stor", padding=3 * 1024 * 1024)
    body = mime("big", [
        ([("Content-Type", 'application/xop+xml; type="application/soap+xml"'), ("Content-ID", "<root>")],
         envelope(["cid:big"]).encode()),
        ([("Content-Type", "application/pdf"), ("Content-ID", "<big>")], pdf),
    ])
    shipment = stored(sqlite_gateway, post(sqlite_gateway, chunks(body, 64 * 1024),
                                           'multipart/related; type="application/xop+xml"; boundary=big; start="<root>"'))
    [doc] = shipment.documents
    assert doc.sha256 == hashlib.sha256(pdf).hexdigest() and doc.size == len(pdf)
    assert not doc.storage_ref.startswith("db:")
    assert sqlite_gateway.runtime.documents.get(doc.storage_ref) == pdf
    spool = sqlite_gateway.runtime.spool_dir
    assert not spool.exists() or list(spool.iterdir()) == []


def test_refused_large_attachment_leaves_nothing_in_the_spool(sqlite_gateway):
    big = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)  # no pages: refused after it was spooled
    body = mime("big", [
        ([("Content-Type", 'application/xop+xml; type="application/soap+xml"'), ("Content-ID", "<root>")],
         envelope(["cid:big"]).encode()),
        ([("Content-Type", "application/pdf"), ("Content-ID", "<big>")], big),
    ])
    r = post(sqlite_gateway, body, 'multipart/related; type="application/xop+xml"; boundary=big; start="<root>"')
    assert r.status_code == 400 and fault_code(r.content) == "PDF_UNREADABLE", r.text[:300]
    spool = sqlite_gateway.runtime.spool_dir
    assert not spool.exists() or list(spool.iterdir()) == []
    assert sqlite_gateway.runtime.repository.count_shipments() == 0


def _memo_mtom(root: bytes, message: bytes) -> tuple[bytes, str]:
    body = mime("memo", [
        ([("Content-Type", 'application/xop+xml; charset=UTF-8; type="text/xml"'), ("Content-ID", "<root@memo>")], root),
        ([("Content-Type", "application/octet-stream"), ("Content-ID", "<memo@memo>")], message),
    ])
    return body, 'multipart/related; type="application/xop+xml"; boundary=memo; start="<root@memo>"; start-info="text/xml"'


MEMO_ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:gateway:memo:1">'
    "<soapenv:Body><m:sendMessage><m:message>{title}"
    '<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:memo%40memo"/>'
    "</m:message></m:sendMessage></soapenv:Body></soapenv:Envelope>"
)


def test_memo_over_mtom_refuses_a_doctype_in_the_root_part(sqlite_gateway):
    # the entity stands where the message's text would be: a default parser would expand it
    root = ('<!DOCTYPE soapenv:Envelope [<!ENTITY t "PE1lc3NhZ2UvPg==">]>'
            + MEMO_ENVELOPE.format(title="").replace('<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:memo%40memo"/>', "&t;")).encode()
    body, content_type = _memo_mtom(root, b"<Message/>")
    body = body.replace(b"\r\n--memo\r\nContent-Type: application/octet-stream\r\nContent-ID: <memo@memo>\r\n\r\n<Message/>", b"")
    r = requests.post(sqlite_gateway.base_url + MEMO_PATH, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                      headers={"Content-Type": content_type, "SOAPAction": '"sendMessage"'})
    assert r.status_code in (400, 500)
    code = etree.fromstring(r.content).find(".//{urn:gateway:faults}code")
    assert code is not None and code.text == "FORBIDDEN_DTD"


def test_memo_over_mtom_reaches_the_memo_intake(sqlite_gateway):
    """The attachment is the MeMo message itself: it reaches the MeMo checks (this sender
    must sign, so an unsigned message is refused by the signature rule, not by MTOM)."""
    body, content_type = _memo_mtom(MEMO_ENVELOPE.format(title="").encode(),
                                    b'<Message xmlns="https://DigitalPost.dk/MeMo-1" memoVersion="1.1"/>')
    r = requests.post(sqlite_gateway.base_url + MEMO_PATH, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                      headers={"Content-Type": content_type, "SOAPAction": '"sendMessage"'})
    code = etree.fromstring(r.content).find(".//{urn:gateway:faults}code")
    assert code is not None and code.text.startswith("SIGNATURE_"), r.text


def test_a_large_inline_letter_waits_for_the_memory_budget(start_gateway, settings_factory):
    """Defect 18: concurrent large uploads are admitted against the memory budget; one that
    finds no room in time gets 503 SERVER_BUSY with Retry-After, and is taken once there is."""
    import base64
    import threading

    gw = start_gateway(settings_factory(memory_budget_bytes=64 * 1024 * 1024, memory_wait_seconds=0.5))
    pdf = make_pdf("Budsjett", padding=2 * 1024 * 1024)
    data = base64.b64encode(pdf).decode()
    body = envelope(["X"]).replace('<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="X"/>', data).encode()
    soap12 = "application/soap+xml; charset=utf-8"
    held = gw.runtime.memory_budget.claim(64 * 1024 * 1024)  # another call holds it all
    r = post(gw, body, soap12)
    assert r.status_code == 503 and r.headers.get("Retry-After") == "30"
    assert etree.fromstring(r.content).find(".//{urn:gateway:faults}code").text == "SERVER_BUSY"
    assert gw.runtime.repository.count_shipments() == 0
    threading.Timer(0.2, held.release).start()  # room comes free while the next call waits
    gw_waiting = post(gw, body, soap12)
    assert stored(gw, gw_waiting).title == TITLE
    assert gw.runtime.memory_budget.used == 0


def test_validation_service_takes_a_large_payload_as_mtom(sqlite_gateway):
    """An attachment over the in-memory threshold reaches /validation too (no 500)."""
    from gateway.soap.validation import NS as VNS, PATH as VPATH

    payload = b'<Message xmlns="https://DigitalPost.dk/MeMo-1"><x>' + b"a" * 1_500_000 + b"</x></Message>"
    root = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v="{VNS}">'
            "<soapenv:Body><v:validate><v:schemaName>memo-1.1</v:schemaName><v:payload>"
            '<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:payload"/>'
            "</v:payload></v:validate></soapenv:Body></soapenv:Envelope>").encode()
    body = mime("v", [
        ([("Content-Type", 'application/xop+xml; type="text/xml"'), ("Content-ID", "<root>")], root),
        ([("Content-Type", "application/xml"), ("Content-ID", "<payload>")], payload),
    ])
    r = requests.post(sqlite_gateway.base_url + VPATH, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                      headers={"Content-Type": 'multipart/related; type="application/xop+xml"; boundary=v; start="<root>"; '
                                               'start-info="text/xml"', "SOAPAction": '"validate"'})
    assert r.status_code == 200, r.text[:500]
    assert b"<tns:valid>false</tns:valid>" in r.content or b"valid>false<" in r.content


def test_the_root_part_is_parsed_once_whatever_the_number_of_parts(sqlite_gateway, monkeypatch):
    """spyne re-parsed the root once per attachment (cost: parts x root size)."""
    from lxml import etree as lxml_etree

    # every parse in the process, whoever asks for it (spyne's decoder called lxml directly)
    calls: list[int] = []
    for name in ("fromstring", "XML", "XMLID"):
        real = getattr(lxml_etree, name)
        monkeypatch.setattr(lxml_etree, name, lambda data, *a, _real=real, **kw: (
            calls.append(len(data)) if b"<forsendelse>" in bytes(data[:100_000] if isinstance(data, bytes) else b"") else None
        ) or _real(data, *a, **kw))  # parses of this message (not, say, a schema compiled once per thread)
    pdfs = [make_pdf(f"Del {i}") for i in range(40)]
    root = envelope([f"cid:d{i}" for i in range(40)]).encode()
    body = mime("many", [([("Content-Type", 'application/xop+xml; type="application/soap+xml"'), ("Content-ID", "<root>")], root)]
                + [([("Content-Type", "application/pdf"), ("Content-ID", f"<d{i}>")], pdf) for i, pdf in enumerate(pdfs)])
    shipment = stored(sqlite_gateway, post(sqlite_gateway, body, 'multipart/related; type="application/xop+xml"; boundary=many'))
    assert len(shipment.documents) == 40
    assert calls == [len(root)]


def test_validation_claims_the_memory_its_spooled_payload_costs(start_gateway, settings_factory):
    """/validation parses its payload in memory: an MTOM attachment on disk still counts
    against the budget there (a 2 MB payload of small elements costs lxml ~130 MB)."""
    from gateway.soap.validation import NS as VNS, PATH as VPATH

    gw = start_gateway(settings_factory(memory_budget_bytes=64 * 1024 * 1024, memory_wait_seconds=0.3))
    payload = b"<Message>" + b"<x/>" * 500_000 + b"</Message>"
    root = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v="{VNS}">'
            "<soapenv:Body><v:validate><v:schemaName>memo-1.1</v:schemaName><v:payload>"
            '<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:payload"/>'
            "</v:payload></v:validate></soapenv:Body></soapenv:Envelope>").encode()
    body = mime("v", [([("Content-Type", 'application/xop+xml; type="text/xml"'), ("Content-ID", "<root>")], root),
                      ([("Content-Type", "application/xml"), ("Content-ID", "<payload>")], payload)])
    held = gw.runtime.memory_budget.claim(8 * 1024 * 1024)  # a little is in use: not enough room left
    try:
        r = requests.post(gw.base_url + VPATH, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                          headers={"Content-Type": 'multipart/related; type="application/xop+xml"; boundary=v; start="<root>"',
                                   "SOAPAction": '"validate"'})
    finally:
        held.release()
    assert r.status_code == 503 and fault_code(r.content) == "SERVER_BUSY", r.text[:300]
    assert gw.runtime.memory_budget.used == 0


def test_a_chunked_inline_letter_claims_memory_before_its_body_is_read(start_gateway, settings_factory, monkeypatch):
    """Apache CXF chunks every body: its size comes from twisted.web's copy, and a call that
    finds no room is refused before the body is read into memory."""
    import base64

    from gateway.soap import protocol

    gw = start_gateway(settings_factory(memory_budget_bytes=64 * 1024 * 1024, memory_wait_seconds=0.2))
    reads: list[int] = []
    real = protocol._HardenedInput._body
    monkeypatch.setattr(protocol._HardenedInput, "_body", staticmethod(lambda ctx: reads.append(1) or real(ctx)))
    pdf = make_pdf("Chunket", padding=2 * 1024 * 1024)
    body = envelope(["X"]).replace('<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="X"/>',
                                   base64.b64encode(pdf).decode()).encode()
    held = gw.runtime.memory_budget.claim(64 * 1024 * 1024)
    try:
        r = post(gw, chunks(body, 64 * 1024), "application/soap+xml; charset=utf-8")
    finally:
        held.release()
    assert r.status_code == 503 and fault_code(r.content) == "SERVER_BUSY"
    assert reads == []  # refused before the body was read
    r = post(gw, chunks(body, 64 * 1024), "application/soap+xml; charset=utf-8")
    assert stored(gw, r).title == TITLE and reads == [1]


def test_validation_claims_what_an_inline_payload_costs_to_parse(start_gateway, settings_factory):
    """The tags of a payload sent as base64 are invisible to the envelope's claim: the service
    claims the parse itself (3,000,000 <y/> cost lxml 1.7 GB against a claim of 61 MB)."""
    import base64

    from gateway.soap.validation import NS as VNS, PATH as VPATH

    gw = start_gateway(settings_factory(memory_budget_bytes=64 * 1024 * 1024, memory_wait_seconds=0.3))
    payload = base64.b64encode(b"<Message>" + b"<y/>" * 300_000 + b"</Message>").decode()
    body = (f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v="{VNS}"><e:Body><v:validate>'
            f"<v:schemaName>memo-1.1</v:schemaName><v:payload>{payload}</v:payload></v:validate></e:Body></e:Envelope>")
    held = gw.runtime.memory_budget.claim(8 * 1024 * 1024)
    try:
        r = requests.post(gw.base_url + VPATH, data=body.encode(), auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"validate"'})
    finally:
        held.release()
    assert r.status_code == 503 and fault_code(r.content) == "SERVER_BUSY", r.text[:300]
    assert gw.runtime.memory_budget.used == 0
