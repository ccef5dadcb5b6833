"""Status receipts to the archives: the project's dialect WSDLs against the vendors' files, the
dialect table against those WSDLs, the AppReceipt against Arkivverket's schema, the texts."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from gateway.channels.noark_archive import DIALECTS, EXCHANGE_NS, StatusReceipt, app_receipt_xml
from gateway.dispatch.archive_receipts import RECEIPT_STATUSES, receipt_for
from gateway.model import Event, ExchangeEnvelope, Party, PartyKind, Shipment, Status
from gateway.resources import data_dir, load_table
from tests.conftest import require_spec
from tests.doubles.noark_archive import DIALECT_FILES, VENDOR, app_receipt_schema, put_message_bindings
from tests.noark_samples import NOARK
from tests.wsdl_semantics import WSDL, differences, meaning

POLICY = "http://schemas.xmlsoap.org/ws/2004/09/policy"
_PARSER = etree.XMLParser(remove_blank_text=True, remove_comments=True)


def _parse(path: Path) -> etree._Element:
    return etree.parse(str(require_spec(path)), _PARSER).getroot()


def _with_types(wsdl: etree._Element, xsd: Path) -> dict:
    """What ``wsdl`` means with the vendor's types schema in place of the schema that imports it
    (wrapped as text: moved as a node, its QName values could lose their prefixes)."""
    wrapper = (f'<wsdl:definitions xmlns:wsdl="{WSDL}"><wsdl:types>'.encode() + etree.tostring(_parse(xsd))
               + b"</wsdl:types></wsdl:definitions>")
    return {**meaning(wsdl), "schemas": meaning(etree.fromstring(wrapper))["schemas"]}


def _local(meaning_: dict) -> dict:
    """Services with their bindings by local name: Public 360 puts binding and service in
    http://tempuri.org/, the one-file copy in Arkivverket's namespace (nothing on the wire)."""
    return {name: {port: (etree.QName(binding).localname, address) for port, (binding, address) in ports.items()}
            for name, ports in meaning_["services"].items()}


def _vendor(dialect: str) -> dict:
    """What the vendor's files mean together, as one WSDL would say it."""
    if dialect == "ephorte":
        vendor = meaning(_parse(VENDOR / "ephorte" / "ephorte.wsdl"))
        return {**vendor, "services": _local(vendor)}
    if dialect == "p360":
        contract = _with_types(_parse(VENDOR / "p360" / "EDUImport.wsdl"), VENDOR / "p360" / "EDUImport.xsd")
        service = meaning(_parse(VENDOR / "p360" / "eduImportService.wsdl"))
        # Left out on purpose: the binding's WS-Policy reference (NTLM; the gateway sends HTTP Basic)
        [binding] = service["bindings"].values()
        binding["extensions"] = tuple(e for e in binding["extensions"] if e[0] != f"{{{POLICY}}}PolicyReference")
        assert len(binding["extensions"]) == 1
        return {**contract, "bindings": service["bindings"], "services": _local(service)}
    contract = _with_types(_parse(VENDOR / "websak" / "Noark.Exchange.wsdl"), VENDOR / "websak" / "Noark.Exchange.types.xsd")
    wrapper = meaning(_parse(VENDOR / "websak" / "websak.BEST.wsdl"))  # the service, with WebSak's own Test ports besides
    ports = {port: value for port, value in _local(wrapper)["Service"].items() if port.startswith("noarkExchangeBinding")}
    return {**contract, "services": {"Service": ports}}


@pytest.mark.parametrize("dialect", ["p360", "ephorte", "websak"])
def test_each_dialect_wsdl_means_what_the_vendors_files_say(dialect):
    ours = meaning(_parse(data_dir("contracts") / DIALECTS[dialect].wsdl))
    vendor = _vendor(dialect)
    ours = {**ours, "services": _local(ours)}
    for key in ("name", "targetNamespace"):  # the one-file copy lives in Arkivverket's namespace
        ours.pop(key), vendor.pop(key)
    assert differences(vendor, ours) == []


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_the_binding_we_call_is_soap11_with_the_action_the_vendor_gives_putmessage(dialect):
    d = DIALECTS[dialect]
    ours = _parse(data_dir("contracts") / d.wsdl)
    local = etree.QName(d.binding).localname
    [binding] = [b for b in ours.iterfind(f"{{{WSDL}}}binding") if b.get("name") == local]
    assert etree.QName(d.binding).namespace == EXCHANGE_NS == ours.get("targetNamespace")
    [operation] = binding.iterfind(f"{{{WSDL}}}operation[@name='PutMessage']/{{http://schemas.xmlsoap.org/wsdl/soap/}}operation")
    assert operation.get("soapAction") == d.soap_action
    assert ("1.1", d.soap_action) in put_message_bindings(DIALECT_FILES[dialect][0])  # what the vendor's double takes


def test_public_360_is_called_with_its_wcf_action():
    assert DIALECTS["p360"].soap_action == "http://www.arkivverket.no/Noark/Exchange/IEDUImport/PutMessage"
    assert put_message_bindings(VENDOR / "p360" / "eduImportService.wsdl") == {("1.1", DIALECTS["p360"].soap_action)}


def test_the_standard_dialect_is_the_served_contract():
    assert DIALECTS["standard"].wsdl == "noarkExchange.wsdl"
    assert put_message_bindings(NOARK / "noarkExchange.wsdl") == {("1.1", "")}


@pytest.mark.parametrize("text", ["Lest av mottaker", 'tegn < > & " \' og æøå', ""])
def test_the_app_receipt_is_valid_against_arkivverkets_type(text):
    receipt = StatusReceipt(conversation_id="c", sender_orgnr="974720760", receiver_orgnr="974763907", type="ERROR",
                            code='IKKE_"LEVERT', text=text)
    xml = app_receipt_xml(receipt)
    app_receipt_schema().validate(xml)
    root = etree.fromstring(xml)
    assert root.tag == "{http://www.arkivverket.no/Noark/Exchange/types}AppReceipt" and root.get("type") == "ERROR"
    [message] = root
    assert message.tag == "message" and message.get("code") == 'IKKE_"LEVERT' and (message.findtext("text") or "") == text


def test_an_app_receipt_of_another_type_is_refused():
    with pytest.raises(ValueError, match="AppReceipt type"):
        app_receipt_xml(StatusReceipt(conversation_id="c", sender_orgnr="1", receiver_orgnr="2", type="FINE", code="x", text=""))


def test_the_receipts_table_has_the_final_statuses_and_ok_or_error():
    table = load_table("archive_receipts")["status"]
    assert set(table) == {s.value for s in RECEIPT_STATUSES}
    assert {k: v["type"] for k, v in table.items()} == {"DELIVERED": "OK", "READ": "OK", "PRINTED": "OK", "NOT_DELIVERED": "ERROR",
                                                           "MANUALLY_HANDLED": "ERROR"}
    svarut = load_table("status")["svarut"]
    assert all(row["code"] == svarut[status] for status, row in table.items() if status != "DELIVERED")


def make_shipment(**kw) -> Shipment:
    return Shipment(id="s-1", sender="arkiv", title="Vedtak", recipient=Party(identifier="974720760", kind=PartyKind.NO_ORGANIZATION),
                    documents=(), **kw)


def test_the_envelope_is_turned_round():
    exchange = ExchangeEnvelope(conversation_id="conv-1", content_namespace="http://www.arkivverket.no/Noark4-1-WS-WD/types",
                                sender_orgnr="974763907", receiver_orgnr="974720760", sender_ref="2020/12-4", receiver_ref="mottak")
    shipment = make_shipment(exchange=exchange)
    event = Event(at=dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc), kind="read", status=Status.READ, channel="altinn3",
                  detail="Altinn: Read")
    receipt = receipt_for(shipment, Status.READ, event)
    assert (receipt.conversation_id, receipt.sender_orgnr, receipt.sender_ref) == ("conv-1", "974720760", "mottak")
    assert (receipt.receiver_orgnr, receipt.receiver_ref) == ("974763907", "2020/12-4")
    assert (receipt.type, receipt.code, receipt.text) == ("OK", "LEST", "Brevet er lest av mottaker i Altinn: Altinn: Read")
    failed = receipt_for(shipment, Status.NOT_DELIVERED, Event(at=event.at, kind="not_delivered", status=Status.NOT_DELIVERED,
                                                                detail="ingen digital postkasse"))
    assert (failed.type, failed.code, failed.text) == ("ERROR", "IKKE_LEVERT", "Brevet kunne ikke leveres: ingen digital postkasse")
    with pytest.raises(ValueError, match="noarkExchange"):
        receipt_for(make_shipment(), Status.READ, event)
