"""Requests are checked against the schema of the served WSDL: what the contract does not
allow is refused with the element's path, never dropped; the check is bounded and cheap."""
from __future__ import annotations

import base64
import time

import pytest
from lxml import etree

from gateway.errors import FaultCode, RequestError
from gateway.soap import svarut
from gateway.soap.contract import MAX_PATH_CHARS, MAX_REASON_CHARS, TREE_VALIDATION_MAX_ELEMENTS, PublishedWsdl
from gateway.xml.parser import INLINE_DOCUMENTS, parse_untrusted

NS = "http://www.ks.no/svarut/servicesV9"
PERSON = '<digitalAdresse xsi:type="v9:personDigitalAdresse"><fnr>15076500565</fnr></digitalAdresse>'


@pytest.fixture(scope="module")
def schema():
    return svarut.build_application(None).wsdl.schema


def payload(forsendelse_inner: str | None = None, *, mottaker: str = PERSON, dokument_extra: str = "", data: str = "JVBERi0=") -> etree._Element:
    inner = forsendelse_inner if forsendelse_inner is not None else (
        f"<dokumenter><data>{data}</data><ekskluderesFraPrint>false</ekskluderesFraPrint><filnavn>a.pdf</filnavn>"
        f"{dokument_extra}<mimetype>application/pdf</mimetype><skalSigneres>false</skalSigneres></dokumenter>"
        "<krevNiva4Innlogging>false</krevNiva4Innlogging><kryptert>false</kryptert><kunDigitalLevering>false</kunDigitalLevering>"
        f"<mottaker>{mottaker}<postAdresse><navn>Ola</navn></postAdresse></mottaker>"
        '<signaturtype xsi:nil="true"/><signeringUtloper xsi:nil="true"/><svarPaForsendelseLink>false</svarPaForsendelseLink>'
        "<tittel>Vedtak</tittel>"
    )
    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:v9="http://www.ks.no/svarut/servicesV9" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body><v9:sendForsendelse><forsendelse>'
        f"{inner}</forsendelse></v9:sendForsendelse></s:Body></s:Envelope>"
    )
    return parse_untrusted(envelope.encode(), policy=INLINE_DOCUMENTS)[0][0]


def refusal(schema, element) -> RequestError:
    with pytest.raises(RequestError) as info:
        schema.check(element)
    assert info.value.code is FaultCode.INVALID_REQUEST
    return info.value


def test_a_conformant_message_passes(schema):
    schema.check(payload())
    schema.check(payload(mottaker='<digitalAdresse xsi:type="v9:organisasjonDigitalAdresse"><orgnr>974720760</orgnr></digitalAdresse>'))


@pytest.mark.parametrize(
    ("mottaker", "path", "words"),
    [
        # what a client generated from the old WSDL sent: the fødselsnummer was dropped, 200
        ("<digitalAdresse><fnr>15076500565</fnr></digitalAdresse>", "forsendelse.mottaker.digitalAdresse", "abstract"),
        ('<digitalAdresse xsi:type="v9:forsendelse"><tittel>x</tittel></digitalAdresse>', "forsendelse.mottaker.digitalAdresse", "xsi:type"),
        ('<digitalAdresse xsi:type="v9:postAdresse"><navn>x</navn></digitalAdresse>', "forsendelse.mottaker.digitalAdresse", "xsi:type"),
        ('<digitalAdresse xsi:type="personDigitalAdresse"><fnr>15076500565</fnr></digitalAdresse>', "forsendelse.mottaker.digitalAdresse", "xsi:type"),
        ('<digitalAdresse xsi:type="v9:personDigitalAdresse"><fodselsnummer>15076500565</fodselsnummer></digitalAdresse>',
         "forsendelse.mottaker.digitalAdresse.fodselsnummer", "not expected"),
        ('<digitalAdresse xsi:type="v9:personDigitalAdresse"><fnr>15076500565</fnr><orgnr>974720760</orgnr></digitalAdresse>',
         "forsendelse.mottaker.digitalAdresse.orgnr", "not expected"),
        ('<digitalAdresse xsi:type="v9:personDigitalAdresse"><v9:fnr>15076500565</v9:fnr></digitalAdresse>',
         "forsendelse.mottaker.digitalAdresse.fnr", "not expected"),
    ],
)
def test_a_digital_address_the_contract_does_not_allow_is_refused(schema, mottaker, path, words):
    error = refusal(schema, payload(mottaker=mottaker))
    assert error.field == path
    assert words in error.message


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda s: s.replace("<tittel>", "<ukjent>x</ukjent><tittel>"), "forsendelse.ukjent"),
        (lambda s: s.replace("<tittel>Vedtak</tittel>", "").replace("<dokumenter>", "<tittel>Vedtak</tittel><dokumenter>"), "forsendelse.tittel"),
        (lambda s: s.replace("<kryptert>false</kryptert>", ""), "forsendelse.kunDigitalLevering"),
        (lambda s: s.replace("<tittel>Vedtak</tittel>", ""), "forsendelse"),
        (lambda s: s.replace("<tittel>Vedtak</tittel>", "<tittel>Vedtak</tittel><tittel>Annen</tittel>"), "forsendelse.tittel[1]"),
        (lambda s: s.replace("<kryptert>false</kryptert>", "<kryptert>ja</kryptert>"), "forsendelse.kryptert"),
        (lambda s: s.replace("<tittel>Vedtak</tittel>", '<tittel xsi:nil="true"/>'), "forsendelse.tittel"),
        (lambda s: s.replace("<tittel>", '<tittel lang="nb">'), "forsendelse.tittel"),
        (lambda s: s.replace("<tittel>Vedtak</tittel>", "<tittel>Vedtak<b>!</b></tittel>"), "forsendelse.tittel"),
        (lambda s: s.replace("<mottaker>", "<mottaker>tekst"), "forsendelse.mottaker"),
        (lambda s: s.replace("<tittel>", "<v9:tittel>").replace("</tittel>", "</v9:tittel>"), "forsendelse.tittel"),
        (lambda s: s.replace("<mimetype>", "<giroarkSider>en</giroarkSider><mimetype>"), "forsendelse.dokumenter.giroarkSider"),
        (lambda s: s.replace("</dokumenter>", "</dokumenter><dokumenter><data>QQ==</data></dokumenter>"), "forsendelse.dokumenter[1]"),
        (lambda s: s.replace("<svarPaForsendelseLink>false", "<svarPaForsendelseLink>"), "forsendelse.svarPaForsendelseLink"),
    ],
    ids=["unknown-element", "wrong-order", "missing-required", "missing-last-required", "repeated", "not-a-boolean",
         "nil-not-nillable", "unknown-attribute", "element-in-text", "text-in-complex", "qualified-member",
         "not-an-int", "incomplete-second-document", "empty-boolean"],
)
def test_what_the_contract_does_not_allow_is_refused_where_it_is(schema, edit, path):
    inner = etree.tostring(payload()[0], encoding="unicode")
    inner = inner[inner.index(">") + 1: inner.rindex("</forsendelse>")]
    error = refusal(schema, payload(edit(inner)))
    assert error.field == path, error.message


def test_an_unknown_payload_element_is_refused(schema):
    element = payload()
    element.tag = f"{{{NS}}}sendForsendelseV10"
    assert refusal(schema, element).field == "sendForsendelseV10"


def test_a_refusal_is_bounded_and_printable(schema):
    """Names and values come from the caller: the answer stays short and XML-safe."""
    long_name = "x" * 50_000
    error = refusal(schema, payload(mottaker=f"<{long_name}/>"))
    assert len(error.field) <= MAX_PATH_CHARS and len(error.message) <= MAX_REASON_CHARS + 100
    error = refusal(schema, payload(dokument_extra="<giroarkSider>" + "9\t\r\n" * 100_000 + "x</giroarkSider>"))
    assert len(error.message) <= MAX_REASON_CHARS + 100
    assert not any(ord(c) < 0x20 for c in error.message + error.field)


@pytest.mark.parametrize("bad", ["<giroarkSider>x</giroarkSider>", "<giroarkSider><b/></giroarkSider>", '<giroarkSider xsi:type="v9:x">1</giroarkSider>'])
def test_many_bad_siblings_cost_little(schema, bad):
    """lxml computes an XPath for every error on a tree, as costly as the error's preceding
    siblings: 40,000 bad siblings took seconds. Large payloads are validated streaming."""
    element = payload(dokument_extra=bad * 40_000)
    started = time.perf_counter()
    error = refusal(schema, element)
    assert time.perf_counter() - started < 1.0
    assert "giroarkSider" in error.message and "more problem" in error.message
    assert error.field == "giroarkSider"  # streamed: no tree, so no position


def test_just_under_the_tree_limit_is_still_cheap(schema):
    count = TREE_VALIDATION_MAX_ELEMENTS - 40
    element = payload(dokument_extra="<giroarkSider>x</giroarkSider>" * count)
    started = time.perf_counter()
    error = refusal(schema, element)
    assert time.perf_counter() - started < 1.0
    assert error.field == "forsendelse.dokumenter.giroarkSider[0]"


def test_large_valid_payloads_pass(schema):
    schema.check(payload(dokument_extra="<giroarkSider>1</giroarkSider>" * (TREE_VALIDATION_MAX_ELEMENTS * 4)))


def test_a_large_inline_document_validates_fast(schema):
    """Inline base64 is checked by the decoder (pybase64), not by libxml2 at ~200 MB/s."""
    data = base64.b64encode(bytes(range(256)) * (40 * 1024 * 1024 // 256)).decode()  # 40 MiB
    element = payload(data=data)
    started = time.perf_counter()
    schema.check(element)
    assert time.perf_counter() - started < 0.1


def test_the_schema_is_compiled_from_the_served_wsdl_only():
    """No file is opened and nothing fetched: a schemaLocation in a WSDL is refused at build."""
    doc = svarut.wsdl_document("http://127.0.0.1:8080" + svarut.PATH).replace(
        b'<xs:import namespace="http://www.w3.org/2005/05/xmlmime"/>',
        b'<xs:import namespace="http://www.w3.org/2005/05/xmlmime" schemaLocation="/etc/passwd"/>',
    )
    assert b"/etc/passwd" in doc
    with pytest.raises(ValueError, match="loads other files"):
        PublishedWsdl(doc, path=svarut.PATH)


@pytest.mark.parametrize("elements", [10, TREE_VALIDATION_MAX_ELEMENTS + 10])
def test_schema_location_hints_in_a_request_open_nothing(schema, tmp_path, elements):
    """xsi:schemaLocation names a FIFO: opening it would block the SOAP thread."""
    import os
    import threading

    fifo = tmp_path / "hint.xsd"
    os.mkfifo(fifo)
    element = payload(dokument_extra="<giroarkSider>1</giroarkSider>" * elements)
    element.set("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", f"{NS} {fifo}")
    element.set("{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation", str(fifo))
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(schema.check(element)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # release the thread before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert outcome == [None]


def test_opaque_content_is_counted_and_left_to_the_service_and_kept(monkeypatch):
    """noarkExchange's payload is xs:anyType: an arkivmelding in it carries xsi:types of its own
    schema, which libxml2 would look up in the contract's and refuse."""
    from gateway.soap import noark

    schema = noark.build_application(None).wsdl.schema
    request = etree.fromstring(
        '<t:PutMessageRequest xmlns:t="http://www.arkivverket.no/Noark/Exchange/types" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><envelope conversationId="c" contentNamespace="n">'
        "<sender><orgnr/></sender><receiver><orgnr>974720760</orgnr></receiver></envelope>"
        '<payload><arkivmelding xmlns="urn:x"><mappe xsi:type="saksmappe"><tittel>T</tittel></mappe>tail</arkivmelding></payload>'
        "</t:PutMessageRequest>")
    before = etree.tostring(request)
    with pytest.raises(RequestError):
        schema.check(request)
    schema.check(request, opaque=("payload",))
    assert etree.tostring(request) == before
    monkeypatch.setattr("gateway.soap.contract.MAX_PAYLOAD_ELEMENTS", 8)  # 10 elements, 7 without the payload's: still counted
    with pytest.raises(RequestError) as refused:
        schema.check(request, opaque=("payload",))
    assert refused.value.code is FaultCode.TOO_MANY_ITEMS
