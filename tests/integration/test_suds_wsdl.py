"""suds (another SOAP stack) built from the WSDLs the gateway serves.

suds reads SOAP 1.2 bindings but always sends SOAP 1.1 envelopes, so it cannot call the
SvarUt endpoint (SOAP 1.2 only, as the contract says): there it must load the WSDL, see
the 12 operations, build the types and marshal a ``digitalAdresse`` with ``xsi:type``.
/memo and /validation speak SOAP 1.1 too, and suds calls them. (Fault codes over SOAP 1.1
with suds: tests/integration/test_suds_client.py.)
"""
from __future__ import annotations

import base64
import dataclasses

import pytest
from lxml import etree
from suds.client import Client

from gateway.model import PartyKind
from gateway.soap import memo, svarut, validation
from tests.conftest import SENDER_PASSWORD, SVARUT_NS, make_pdf
from tests.integration.test_memo_endpoint import SIGNER_CERT, signed_message

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _client(gw, path: str, **options) -> Client:
    return Client(gw.base_url + path + "?wsdl", cache=None, timeout=30,
                  username="kommune-sak", password=SENDER_PASSWORD, **options)


def _forsendelse(client: Client):
    f = client.factory.create(f"{{{SVARUT_NS}}}forsendelse")
    person = client.factory.create(f"{{{SVARUT_NS}}}personDigitalAdresse")
    person.fnr = "15076500565"
    post = client.factory.create(f"{{{SVARUT_NS}}}postAdresse")
    post.navn, post.postnr, post.poststed = "Ola Nordmann", "0155", "Oslo"
    f.mottaker = client.factory.create(f"{{{SVARUT_NS}}}adresse")
    f.mottaker.digitalAdresse, f.mottaker.postAdresse = person, post
    doc = client.factory.create(f"{{{SVARUT_NS}}}dokument")
    doc.data = base64.b64encode(make_pdf()).decode()
    doc.filnavn, doc.mimetype, doc.ekskluderesFraPrint, doc.skalSigneres = "vedtak.pdf", "application/pdf", False, False
    f.dokumenter = [doc]
    f.tittel = "Vedtak"
    f.krevNiva4Innlogging = f.kryptert = f.kunDigitalLevering = f.svarPaForsendelseLink = False
    return f


def test_suds_loads_the_svarut_wsdl_and_sends_the_subtype(sqlite_gateway):
    client = _client(sqlite_gateway, svarut.PATH, nosend=True)
    [port] = client.sd[0].ports
    assert len(port[1]) == 12 and "retreiveForsendelseTyper" in [m[0] for m in port[1]]
    request = client.service.sendForsendelse(_forsendelse(client))
    assert client.wsdl.services[0].ports[0].location == sqlite_gateway.base_url + svarut.PATH
    envelope = etree.fromstring(request.envelope)
    [address] = envelope.iter("digitalAdresse")
    prefix, _, local = address.get(XSI_TYPE).rpartition(":")
    assert (address.nsmap[prefix or None], local) == (SVARUT_NS, "personDigitalAdresse")
    assert address.findtext("fnr") == "15076500565"


def test_suds_cannot_call_the_soap12_only_svarut_endpoint_and_nothing_is_stored(sqlite_gateway):
    """suds posts a SOAP 1.1 envelope as text/xml: refused with a fault, never half-read."""
    client = _client(sqlite_gateway, svarut.PATH)
    with pytest.raises(Exception):  # noqa: B017 - suds reports a 4xx fault as WebFault or a transport error
        client.service.sendForsendelse(_forsendelse(client))
    assert sqlite_gateway.runtime.repository.count_shipments() == 0


def test_suds_calls_the_validation_service(sqlite_gateway):
    client = _client(sqlite_gateway, validation.PATH)
    assert {"memo-1.1", "memo-1.2"} <= set(client.service.listSchemas().string)
    result = client.service.validate("memo-1.2", base64.b64encode(b"<x/>").decode())
    assert (result.schemaName, result.valid) == ("memo-1.2", False)


def test_suds_sends_a_signed_memo(start_gateway, settings_factory):
    settings = settings_factory()
    senders = tuple(dataclasses.replace(s, signing_certificate=str(SIGNER_CERT)) if s.name == "kommune-sak" else s
                    for s in settings.senders)
    gw = start_gateway(dataclasses.replace(settings, senders=senders))
    client = _client(gw, memo.PATH)
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=make_pdf("Pladsanvisning"))
    result = client.service.sendMessage(base64.b64encode(data).decode())
    assert (result.messageUUID, result.status) == (message_uuid, "ACCEPTED")
    assert client.service.getStatus(message_uuid).status == "ACCEPTED"
    stored = gw.runtime.repository.get(message_uuid).shipment
    assert stored.recipient.kind == PartyKind.DK_CPR
