"""/noarkExchange end to end: a zeep client built from Arkivverket's official noarkExchange.wsdl
sends the real Public 360, ePhorte and integrasjonspunkt samples (fresh ids, nothing else
changed) and gets AppReceipt OK; the letters keep what the archive said, are idempotent per
conversationId, reach Altinn 3 or print like SvarUt letters, and can be followed through the
SvarUt status operations. The served WSDL is the official contract."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import uuid

import pytest
import requests
import zeep
from lxml import etree
from zeep import xsd
from zeep.plugins import Plugin
from zeep.transports import Transport

from gateway.domain.noark_intake import letter_id
from gateway.soap.noark import PATH
from tests.conftest import SENDER_PASSWORD, require_spec
from tests.integration.test_dispatch import rig  # noqa: F401  (the fixture)
from tests.noark_samples import NOARK, SAMPLE_SENDERS, official_wsdl, sample
from tests.wsdl_semantics import SOAP12, WSDL, XS, differences, meaning

EXCHANGE = "http://www.arkivverket.no/Noark/Exchange"
TYPES = "http://www.arkivverket.no/Noark/Exchange/types"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture
def settings_factory(settings_factory):
    """The test senders, allowed to send the ePhorte sample in its organisation's name."""
    def factory(*args, **kwargs):
        settings = settings_factory(*args, **kwargs)
        return dataclasses.replace(settings, senders=tuple(dataclasses.replace(s, sends_for=(SAMPLE_SENDERS["ephorte"],))
                                                           for s in settings.senders))
    return factory


class _ElementPayload(Plugin):
    """zeep renders an ``xs:anyType`` value from a type it knows, never from elements as they
    stand: a payload that is elements (the integrasjonspunkt's XStream dump) is put in place
    as the sample has it, attributes and all, on its way out."""

    def __init__(self) -> None:
        self.payload: etree._Element | None = None

    def egress(self, envelope, http_headers, operation, binding_options):
        if self.payload is not None:
            old = envelope.find(f".//{{{TYPES}}}PutMessageRequest/payload")
            old.getparent().replace(old, copy.deepcopy(self.payload))
            self.payload = None
        return envelope, http_headers


def _official_service(gw, user: str = "kommune-sak", password: str = SENDER_PASSWORD):
    session = requests.Session()
    session.auth = (user, password)
    session.trust_env = False
    client = zeep.Client(str(official_wsdl()), transport=Transport(session=session, timeout=30, operation_timeout=30),
                         plugins=[_ElementPayload()])
    return client, client.create_service(f"{{{EXCHANGE}}}noarkExchangeBinding", gw.base_url + PATH)


def _zeep_arguments(data: bytes) -> tuple[dict, object]:
    """The sample's envelope and payload as zeep arguments: the payload's text as the archive
    sent it (an xs:string), or its elements as they stand."""
    request = etree.fromstring(data).find(f".//{{{TYPES}}}PutMessageRequest")
    envelope = request.find("envelope")
    address = {side: {child.tag: child.text or "" for child in envelope.find(side) if isinstance(child.tag, str)}
               for side in ("sender", "receiver")}
    arguments = {"conversationId": envelope.get("conversationId"), "contentNamespace": envelope.get("contentNamespace"), **address}
    payload = request.find("payload")
    return arguments, payload if len(payload) else xsd.AnyObject(xsd.String(), payload.text)


def _put(service, data: bytes):
    envelope, payload = _zeep_arguments(data)
    if isinstance(payload, etree._Element):
        next(p for p in service._client.plugins if isinstance(p, _ElementPayload)).payload = payload
        payload = xsd.AnyObject(xsd.String(), "")
    return service.PutMessage(envelope=envelope, payload=payload)


def _ids(result) -> list[str]:
    return [m.text for m in result.message if m.code == "FORSENDELSE_ID"]


# ---------------------------------------------------------------- the contract


def _inlined(wsdl_path) -> etree._Element:
    """The official WSDL with its imported types schema in place of the import."""
    root = etree.parse(str(wsdl_path)).getroot()
    for schema in root.iterfind(f"{{{WSDL}}}types/{{{XS}}}schema"):
        imported = schema.find(f"{{{XS}}}import")
        if imported is not None and imported.get("schemaLocation"):
            types = etree.parse(str(wsdl_path.parent / imported.get("schemaLocation"))).getroot()
            schema.getparent().replace(schema, types)
    return root


def test_the_served_wsdl_is_the_official_contract_plus_a_soap12_binding(sqlite_gateway):
    served = etree.fromstring(requests.get(sqlite_gateway.base_url + PATH + "?wsdl", timeout=10).content)
    ours = meaning(served)
    # the SOAP 1.2 binding and port are ours alone (ePhorte and WebSak bind SOAP 1.2); they
    # offer the same operations and actions as the official SOAP 1.1 binding
    soap12 = ours["bindings"].pop("noarkExchangeBindingSoap12")
    soap11 = ours["bindings"]["noarkExchangeBinding"]
    assert soap12["type"] == soap11["type"] and set(soap12["operations"]) == set(soap11["operations"])
    assert soap12["extensions"][0][0] == f"{{{SOAP12}}}binding"
    assert ours["services"]["noarkExchange"].pop("NoarkExchangePortSoap12")[0] == f"{{{EXCHANGE}}}noarkExchangeBindingSoap12"
    official = meaning(_inlined(official_wsdl()))
    assert differences(official, ours) == []
    for address in served.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address", f"{{{SOAP12}}}address"):
        assert address.get("location") == sqlite_gateway.base_url + PATH


def test_a_client_generated_from_our_wsdl_and_one_from_the_official_agree(sqlite_gateway):
    session = requests.Session()
    session.auth = ("kommune-sak", SENDER_PASSWORD)
    session.trust_env = False
    ours = zeep.Client(sqlite_gateway.base_url + PATH + "?wsdl", transport=Transport(session=session, timeout=30, operation_timeout=30))
    official, _ = _official_service(sqlite_gateway)
    for name in ("PutMessageRequest", "PutMessageResponse", "GetCanReceiveMessageRequest", "GetCanReceiveMessageResponse"):
        assert ours.get_element(f"{{{TYPES}}}{name}").signature() == official.get_element(f"{{{TYPES}}}{name}").signature()
    data, _ = sample("p360")
    result = _put(ours.bind("noarkExchange", "NoarkExchangePort"), data)
    assert result.type == "OK"


# ---------------------------------------------------------------- the real samples


@pytest.mark.parametrize("name", ["p360", "ephorte", "example"])
def test_each_real_sample_gets_ok_from_a_client_of_the_official_wsdl(gateway, name):
    _, service = _official_service(gateway)
    data, conversation_id = sample(name)
    result = _put(service, data)
    assert result.type == "OK", result
    [shipment_id] = _ids(result)
    assert shipment_id == letter_id("kommune-sak", conversation_id, 0)
    stored = gateway.runtime.shipments.get("kommune-sak", shipment_id)
    shipment = stored.shipment
    assert shipment.exchange.conversation_id == conversation_id and shipment.external_ref == conversation_id
    assert shipment.source_contract == "noarkexchange" and shipment.documents and shipment.case_metadata is not None


@pytest.mark.parametrize("name", ["p360", "ephorte", "example"])
def test_each_real_sample_as_sent_gets_ok(sqlite_gateway, name):
    """The bytes as the archive wrote them (P360's escaped string, ePhorte's CDATA, the
    integrasjonspunkt's XStream dump), with the SOAPAction Public 360's WCF stack sends."""
    data, _ = sample(name)
    response = requests.post(sqlite_gateway.base_url + PATH, data=data, auth=("kommune-sak", SENDER_PASSWORD), timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8",
                                      "SOAPAction": '"http://www.arkivverket.no/Noark/Exchange/IEDUImport/PutMessage"'})
    assert response.status_code == 200
    result = etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result")
    assert result.get("type") == "OK"


def test_the_ephorte_sample_keeps_what_the_archive_said(sqlite_gateway):
    _, service = _official_service(sqlite_gateway)
    data, conversation_id = sample("ephorte")
    [shipment_id] = _ids(_put(service, data))
    shipment = sqlite_gateway.runtime.shipments.get("kommune-sak", shipment_id).shipment
    cm = shipment.case_metadata
    assert (cm.case_year, cm.case_sequence_number, cm.journal_year, cm.journal_sequence_number, cm.journal_entry_number) == (2014, 2703, 2015, 11734, 2)
    assert (cm.journal_entry_type, cm.journal_status, cm.case_title, cm.case_officer, cm.case_officer_id) == (
        "U", "F", "Test Knutepunkt herokuapp", "John Petter Svedal", "JPS")
    assert (cm.administrative_unit, cm.records_unit, cm.archive_part, cm.public_title) == ("FM-ADMA", "SENTRAL", "EARKIV1", "Test1")
    assert cm.journal_date.date().isoformat() == "2015-10-08" and ("saId", "68286") in cm.extra
    recipient = shipment.recipient
    assert (recipient.identifier, recipient.name) == ("974763907", "Fylkesmannen i Sogn og Fjordane")
    assert (recipient.address.lines, recipient.address.postcode, recipient.address.city) == (("Njøsavegen 2",), "6863", "Leikanger")
    [document] = shipment.documents
    assert (document.title, document.filename, document.media_type, document.role) == ("Test1", "Test1.pdf", "application/pdf", "MAIN")
    exchange = shipment.exchange
    assert (exchange.sender_orgnr, exchange.receiver_orgnr, exchange.sender_ref, exchange.journal_entry_id) == (
        "974763907", "974763907", "2014/2703", "219816")
    assert shipment.title == "Test1" and shipment.sender_party.identifier == "974763907"


def test_the_p360_sample_takes_its_sender_from_authentication(sqlite_gateway):
    _, service = _official_service(sqlite_gateway)
    data, _ = sample("p360")  # <sender><orgnr/></sender>
    [shipment_id] = _ids(_put(service, data))
    shipment = sqlite_gateway.runtime.shipments.get("kommune-sak", shipment_id).shipment
    assert shipment.exchange.sender_orgnr == "974720760" == shipment.sender_party.identifier
    assert shipment.documents[0].filename == "Testdokument 7.DOCX"
    assert shipment.delivery.mode == "DIGITAL_ONLY"  # print takes PDF only, and this is a DOCX


# ---------------------------------------------------------------- idempotency


def test_the_same_conversation_again_is_the_same_letter_and_other_content_is_an_error(gateway):
    _, service = _official_service(gateway)
    data, conversation_id = sample("ephorte")
    first = _put(service, data)
    again = _put(service, data)
    assert first.type == again.type == "OK" and _ids(first) == _ids(again)
    count = len(gateway.runtime.shipments.ids_by_external_ref("kommune-sak", conversation_id))
    assert count == 1
    other, _ = sample("ephorte", conversation_id)
    other = other.replace(b"<jpInnhold>Test1</jpInnhold>", b"<jpInnhold>Noe annet</jpInnhold>")
    result = _put(service, other)
    assert result.type == "ERROR" and [m.code for m in result.message] == ["SHIPMENT_ID_CONFLICT"]
    assert len(gateway.runtime.shipments.ids_by_external_ref("kommune-sak", conversation_id)) == 1


def test_conversation_ids_are_per_sender(sqlite_gateway):
    from tests.conftest import OTHER_PASSWORD

    conversation_id = str(uuid.uuid4())
    data, _ = sample("p360", conversation_id)
    _, ours = _official_service(sqlite_gateway)
    _, theirs = _official_service(sqlite_gateway, "annen-kommune", OTHER_PASSWORD)
    assert _ids(_put(ours, data)) != _ids(_put(theirs, data))


# ---------------------------------------------------------------- GetCanReceiveMessage and SOAP 1.2


def _row_counts(runtime) -> dict[str, int]:
    import sqlalchemy as sa

    from gateway.store import tables

    with runtime.engine.connect() as connection:
        return {t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in tables.metadata.sorted_tables}


def test_get_can_receive_message_is_the_routing_decision_and_stores_nothing(rig):
    _, service = _official_service(rig.gw)
    before = _row_counts(rig.gw.runtime)
    assert service.GetCanReceiveMessage(receiver={"orgnr": "974720760"}) is True  # print takes it
    assert service.GetCanReceiveMessage(receiver={"orgnr": "974720761"}) is False  # bad check digit
    assert service.GetCanReceiveMessage(receiver={"orgnr": ""}) is False
    assert _row_counts(rig.gw.runtime) == before


def test_without_print_only_a_registered_mailbox_can_receive(start_gateway, settings_factory):
    from gateway.config import ChannelSettings, PrintSettings

    gw = start_gateway(settings_factory(channels=ChannelSettings(print=PrintSettings(enabled=False))))
    _, service = _official_service(gw)
    assert service.GetCanReceiveMessage(receiver={"orgnr": "974720760"}) is False  # no channel would take it
    gw.runtime.dispatch_store.register_set([("974720760", "organization", "digital")], now=dt.datetime.now(dt.timezone.utc))
    # registered, but no digital channel is enabled either
    assert service.GetCanReceiveMessage(receiver={"orgnr": "974720760"}) is False


def test_soap12_is_served_on_the_same_address(sqlite_gateway):
    data, _ = sample("ephorte")
    request = etree.fromstring(data).find(f".//{{{TYPES}}}PutMessageRequest")
    envelope = etree.Element("{http://www.w3.org/2003/05/soap-envelope}Envelope", nsmap={"s": "http://www.w3.org/2003/05/soap-envelope"})
    etree.SubElement(envelope, "{http://www.w3.org/2003/05/soap-envelope}Body").append(request)
    response = requests.post(sqlite_gateway.base_url + PATH, data=etree.tostring(envelope), auth=("kommune-sak", SENDER_PASSWORD),
                             headers={"Content-Type": 'application/soap+xml; charset=utf-8; action=""'}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result").get("type") == "OK"


# ---------------------------------------------------------------- on to the channels


def test_the_letters_reach_altinn3_and_print_and_are_followed_through_svarut(rig):
    _, service = _official_service(rig.gw)
    rig.register("974720760", "digital")
    [digital] = _ids(_put(service, sample("p360")[0]))  # a DOCX to a registered organisation: Altinn 3
    [printed] = _ids(_put(service, sample("ephorte")[0]))  # a PDF with an address, not registered: print
    rig.drain()
    [upload] = rig.double.uploads
    assert upload["errors"] == [] and upload["json"]["Recipients"] == ["urn:altinn:organization:identifier-no:974720760"]
    assert upload["json"]["Correspondence.SendersReference"] == digital
    assert rig.status(digital) == "SENDT_DIGITALT"
    assert rig.status(printed) == "SENDT_PRINT"
    assert list(rig.print_dir.rglob(f"{printed}.pdf"))  # in the print batch, on its way


def test_gateway_shipment_show_shows_the_conversation(sqlite_gateway, tmp_path):
    from tests.integration.test_cli import gateway as cli

    _, service = _official_service(sqlite_gateway)
    data, conversation_id = sample("ephorte")
    [shipment_id] = _ids(_put(service, data))
    config = tmp_path / "show.toml"
    config.write_text(f'[storage]\ndata_dir = "{sqlite_gateway.runtime.settings.storage.data_dir}"\n', encoding="utf-8")
    out = cli("shipment", "show", shipment_id, "--config", str(config)).stdout
    assert shipment_id in out and f"conversation {conversation_id}" in out and "jpId=219816" in out
