"""The noarkExchange payload in each form the archives send it, and what contentNamespace may say."""
from __future__ import annotations

import pytest
from lxml import etree

from gateway.domain.noark_payload import (
    ARKIVMELDING_NS,
    NOARK4_NS,
    NoarkError,
    PayloadKind,
    PayloadText,
    parse_payload,
    payload_kind,
    payload_source,
)
from gateway.errors import GatewayError

MELDING = f'<Melding xmlns="{NOARK4_NS}"><journpost xmlns=""><jpInnhold>Brev</jpInnhold></journpost></Melding>'


def _payload(inner: str) -> etree._Element:
    return etree.fromstring(f'<payload xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{inner}</payload>')


@pytest.mark.parametrize("inner", [
    MELDING,  # the element itself
    MELDING.replace("<", "&lt;").replace(">", "&gt;"),  # an escaped string (Public 360)
    f"<![CDATA[{MELDING}]]>",  # CDATA (ePhorte)
    "<![CDATA[<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + MELDING + "]]>",  # a declaration the text no longer fits
    "\n   " + MELDING + "\n",
])
def test_every_form_gives_the_same_melding(inner):
    root = parse_payload(payload_source(_payload(inner)))
    assert root.tag == f"{{{NOARK4_NS}}}Melding" and root.findtext("journpost/jpInnhold") == "Brev"


def test_an_xstream_dump_gives_its_one_character_data():
    escaped = MELDING.replace("<", "&lt;").replace(">", "&gt;")
    dump = ('<payload class="com.sun.org.apache.xerces.internal.dom.ElementNSImpl" serialization="custom">'
            "<com.sun.org.apache.xerces.internal.dom.NodeImpl><default><flags>24</flags></default></com.sun.org.apache.xerces.internal.dom.NodeImpl>"
            "<com.sun.org.apache.xerces.internal.dom.CharacterDataImpl><default><data>" + escaped + "</data></default>"
            "</com.sun.org.apache.xerces.internal.dom.CharacterDataImpl></payload>")
    source = payload_source(etree.fromstring(dump))
    assert isinstance(source, PayloadText) and parse_payload(source).findtext("journpost/jpInnhold") == "Brev"


@pytest.mark.parametrize("inner, code", [
    ("", "NOARK_PAYLOAD_MISSING"),
    ("   ", "NOARK_PAYLOAD_MISSING"),
    ('<![CDATA[<?xml version="1.0"?>  ]]>', "NOARK_PAYLOAD_MISSING"),
    (MELDING + MELDING, "NOARK_PAYLOAD_NOT_RECOGNISED"),
    ("tekst" + MELDING, "NOARK_PAYLOAD_NOT_RECOGNISED"),
])
def test_no_document_or_two_are_refused(inner, code):
    with pytest.raises(NoarkError) as refused:
        payload_source(_payload(inner))
    assert refused.value.code == code


@pytest.mark.parametrize("text, code", [
    ('<!DOCTYPE Melding [<!ENTITY x "y">]><Melding/>', "FORBIDDEN_DTD"),
    ('<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>', "FORBIDDEN_DTD"),
    ("<Melding><journpost>", "MALFORMED_XML"),
    ("<a>" * 300 + "</a>" * 300, "MALFORMED_XML"),  # deeper than the parser allows
])
def test_a_text_payload_is_untrusted_xml(text, code):
    with pytest.raises(GatewayError) as refused:
        parse_payload(PayloadText(text.encode()))
    assert refused.value.code == code


@pytest.mark.parametrize("namespace, kind", [
    (NOARK4_NS, PayloadKind.MELDING), ("?", PayloadKind.MELDING), ("", PayloadKind.MELDING), (f"  {NOARK4_NS} ", PayloadKind.MELDING),
])
def test_content_namespace_names_the_payload_or_leaves_it_to_the_root(namespace, kind):
    assert payload_kind(etree.fromstring(MELDING), namespace) is kind


@pytest.mark.parametrize("namespace, code", [
    (ARKIVMELDING_NS, "NOARK_CONTENT_NAMESPACE_MISMATCH"),
    ("urn:evil", "NOARK_CONTENT_NAMESPACE_UNSUPPORTED"),
    ("http://www.arkivverket.no/Noark4-1-WS-WD/types/", "NOARK_CONTENT_NAMESPACE_UNSUPPORTED"),
])
def test_a_content_namespace_that_names_something_else_is_refused(namespace, code):
    with pytest.raises(NoarkError) as refused:
        payload_kind(etree.fromstring(MELDING), namespace)
    assert refused.value.code == code


def test_an_app_receipt_is_recognised_and_an_unknown_root_is_not():
    assert payload_kind(etree.fromstring('<AppReceipt type="OK"/>'), NOARK4_NS) is PayloadKind.APP_RECEIPT
    with pytest.raises(NoarkError) as refused:
        payload_kind(etree.fromstring("<Melding/>"), "")  # no namespace: not a Noark 4 Melding
    assert refused.value.code == "NOARK_PAYLOAD_NOT_RECOGNISED"
