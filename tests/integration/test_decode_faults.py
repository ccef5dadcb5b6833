"""A value spyne cannot decode is refused naming its field and what it takes (issue 9, item 9).

spyne runs without a validator here, so it used to leak Python error texts (``attribute name
must be string, not 'NoneType'``), read any text as boolean False and take an Integer32 of 14
digits. The refusal names the field in SvarUt's own terms and says what is allowed.
"""
from __future__ import annotations

import re

import pytest
import requests
from lxml import etree

from tests.conftest import ROOT, SENDER_PASSWORD

TEMPLATE = (ROOT / "tests" / "security" / "corpus" / "conformant-minimal-send.xml").read_text()
FAULTS = "{urn:gateway:faults}"
#: printkonfigurasjon where the contract has it: after mottaker, before signaturtype
PK = '<printkonfigurasjon>{}<fargePrint>false</fargePrint><tosidig>{}</tosidig></printkonfigurasjon><signaturtype xsi:nil="true"/>'
AT_PK = '<signaturtype xsi:nil="true"/>'


def _post(gw, body: str) -> requests.Response:
    return requests.post(gw.svarut_url, data=body.encode(), auth=("kommune-sak", SENDER_PASSWORD), timeout=30,
                         headers={"Content-Type": "application/soap+xml; charset=utf-8"})


@pytest.mark.parametrize("body, field, says", [
    (TEMPLATE.replace(AT_PK, PK.format("<brevtype/>", "false")), "forsendelse.printkonfigurasjon.brevtype",
     "one of APOST, BPOST is expected, got an empty value"),
    (TEMPLATE.replace(AT_PK, PK.format("<brevtype></brevtype>", "false")), "forsendelse.printkonfigurasjon.brevtype",
     "one of APOST, BPOST is expected, got an empty value"),
    (TEMPLATE.replace(AT_PK, PK.format("<brevtype>X</brevtype>", "false")), "forsendelse.printkonfigurasjon.brevtype",
     "one of APOST, BPOST is expected, got 'X'"),
    (TEMPLATE.replace('<signaturtype xsi:nil="true"/>', "<signaturtype></signaturtype>"), "forsendelse.signaturtype",
     "one of AUTENTISERT_SIGNATUR, AVANSERT_SIGNATUR is expected, got an empty value"),
    (TEMPLATE.replace("<kryptert>false</kryptert>", "<kryptert>ja</kryptert>"), "forsendelse.kryptert",
     "true or false is expected, got 'ja'"),
    (TEMPLATE.replace(AT_PK, PK.format("", "yes")), "forsendelse.printkonfigurasjon.tosidig",
     "true or false is expected, got 'yes'"),
    (TEMPLATE.replace("<mimetype>", "<giroarkSider>2147483648</giroarkSider><mimetype>"), "forsendelse.dokumenter.giroarkSider",
     "a whole number from -2147483648 to 2147483647 is expected, got '2147483648'"),
    (TEMPLATE.replace('<signeringUtloper xsi:nil="true"/>', "<signeringUtloper>31.12.2026</signeringUtloper>"),
     "forsendelse.signeringUtloper", "an xs:dateTime such as 2026-05-17T12:00:00+02:00 is expected, got '31.12.2026'"),
    (re.sub(r"<data>([^<]{20})", r"<data>\1$", TEMPLATE), "forsendelse.dokumenter.data",
     "base64Binary (the base64 alphabet; line breaks allowed) is expected, got characters outside it"),
])
def test_undecodable_values_name_their_field(sqlite_gateway, body, field, says):
    r = _post(sqlite_gateway, body)
    fault = etree.fromstring(r.content)
    assert r.status_code == 400 and fault.findtext(f".//{FAULTS}code") == "INVALID_REQUEST"
    assert fault.findtext(f".//{FAULTS}field") == field
    reason = fault.findtext(".//{http://www.w3.org/2003/05/soap-envelope}Text")
    assert reason == f"{field}: {says}"
    assert sqlite_gateway.runtime.repository.count_shipments() == 0


def test_values_with_surrounding_spaces_mean_what_they_say(sqlite_gateway):
    """XSD collapses whitespace in booleans and numbers; spyne read ' true ' as False."""
    body = (TEMPLATE.replace("<kunDigitalLevering>false</kunDigitalLevering>", "<kunDigitalLevering> true\n</kunDigitalLevering>")
            .replace(AT_PK, PK.format("<brevtype>APOST</brevtype>", " 1 ")))
    r = _post(sqlite_gateway, body)
    assert r.status_code == 200, r.text
    sid = re.search(rb"<return>([^<]+)</return>", r.content).group(1).decode()
    shipment = sqlite_gateway.runtime.repository.get(sid).shipment
    assert shipment.delivery.mode.name == "DIGITAL_ONLY" and shipment.print_options.duplex is True


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_read_time_without_a_utc_equivalent_is_refused_by_name(sqlite_gateway, when):
    """setForsendelseLestAvEksterntSystem with an extreme datoLest gave 500 (date out of range)."""
    r = _post(sqlite_gateway, TEMPLATE)
    sid = re.search(rb"<return>([^<]+)</return>", r.content).group(1).decode()
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:v9="http://www.ks.no/svarut/servicesV9">'
            f"<s:Body><v9:setForsendelseLestAvEksterntSystem><forsendelsesid>{sid}</forsendelsesid>"
            f"<datoLest>{when}</datoLest></v9:setForsendelseLestAvEksterntSystem></s:Body></s:Envelope>")
    r = _post(sqlite_gateway, body)
    fault = etree.fromstring(r.content)
    assert r.status_code == 400 and fault.findtext(f".//{FAULTS}code") == "INVALID_REQUEST", r.text[:300]
    assert fault.findtext(f".//{FAULTS}field") == "datoLest"


def test_a_million_giro_pages_are_refused_before_they_are_decoded(sqlite_gateway):
    """1,000,000 giroarkSider cost spyne 10 s and 570 MiB to decode: the element count is
    bounded before any decoding."""
    body = TEMPLATE.replace("<mimetype>", "<giroarkSider>1</giroarkSider>" * 150_000 + "<mimetype>")
    r = _post(sqlite_gateway, body)
    fault = etree.fromstring(r.content)
    assert r.status_code == 400 and fault.findtext(f".//{FAULTS}code") == "TOO_MANY_ITEMS"
    # refused by the element count before decoding, not by the list rule after it (which names the field)
    assert fault.findtext(f".//{FAULTS}field") is None and "elements" in r.text
    assert sqlite_gateway.runtime.repository.count_shipments() == 0
