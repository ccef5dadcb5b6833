"""``/noarkExchange``: the BEST/EDU ``noarkExchange`` contract, SOAP 1.1 and SOAP 1.2.

What case and archive systems (Public 360, ePhorte, WebSak, Elements) called the
integrasjonspunkt's ``/noarkExchange`` with until Digdir removed it. The served WSDL is the
official contract (``contracts/noarkExchange.wsdl``, compared with Arkivverket's files by a test)
and every request is validated against its schema before anything reads it. The operations
read the message element themselves: ``payload`` is ``xs:anyType``, and the archives fill it
as an element, an escaped string or CDATA (see :mod:`gateway.domain.noark_payload`).

A refusal of the letter is an ``AppReceipt`` of type ERROR with the code of the fault
catalogue, as the contract answers it; a SOAP fault is left for what is not a readable
request at all (authentication, size, a broken envelope).
"""
from __future__ import annotations

from typing import Any

from lxml import etree
from spyne import AnyXml, rpc

from gateway.domain.noark_intake import ExchangeAddress, ExchangeRequest, Receipt, RequestFiles
from gateway.domain.noark_payload import EXCHANGE_TYPES_NS, NoarkError, PayloadText, payload_source
from gateway.errors import GatewayError
from gateway.resources import data_dir
from gateway.runtime import Runtime
from gateway.soap import application
from gateway.soap.application import gateway_wsgi
from gateway.soap.contract import PublishedWsdl
from gateway.soap.dual import DualSoapApplication
from gateway.soap.protocol import (
    GatewayService,
    HardenedSoap11,
    HardenedSoap12,
    claim_parse_memory,
    count_refusal,
    request_attachments,
    request_includes,
    sender_of,
)

PATH = "/noarkExchange"
NS = EXCHANGE_TYPES_NS


def _bare(name: str) -> Any:
    """An operation whose request and response are the contract's elements, read and written
    here with lxml (spyne only routes by the request element's name)."""
    return rpc(AnyXml, _returns=AnyXml, _body_style="bare", _operation_name=name,
               _in_message_name=f"{name}Request", _out_message_name=f"{name}Response")


class NoarkExchange(GatewayService):
    @_bare("GetCanReceiveMessage")
    def GetCanReceiveMessage(ctx, _request):
        runtime: Runtime = ctx.app.gateway
        orgnr = (ctx.in_body_doc.findtext("receiver/orgnr") or "").strip()
        result = etree.Element("result")
        result.text = "true" if runtime.noark_can_receive(orgnr) else "false"
        return result

    @_bare("PutMessage")
    def PutMessage(ctx, _request):
        runtime: Runtime = ctx.app.gateway
        sender = sender_of(ctx)
        request = ctx.in_body_doc
        try:
            source = payload_source(request.find("payload"))
        except NoarkError as exc:
            runtime.shipments.audit_refusal("PutMessage", sender.name, exc, None)
            return _answer(ctx, Receipt.refusal(exc))
        if isinstance(source, PayloadText):
            claim_parse_memory(ctx, source.data)
        envelope = request.find("envelope")
        exchange = ExchangeRequest(
            conversation_id=envelope.get("conversationId", ""),
            content_namespace=envelope.get("contentNamespace", ""),
            sender=_address(envelope.find("sender")),
            receiver=_address(envelope.find("receiver")),
            payload=source,
        )
        try:
            receipt = runtime.noark.put_message(exchange, sender=sender, files=RequestFiles(request_attachments(ctx), included=request_includes(ctx)))
        except GatewayError as exc:  # a refusal the intake did not answer itself (storage down)
            receipt = Receipt.refusal(exc)
        return _answer(ctx, receipt)


def _answer(ctx: Any, receipt: Receipt) -> etree._Element:
    """The receipt as the answer; an ERROR one counts as a refusal with its code."""
    if receipt.type == "ERROR" and receipt.messages:
        count_refusal(ctx, receipt.messages[0][0])
    return receipt_element(receipt)


def _address(element: etree._Element) -> ExchangeAddress:
    def text(name: str) -> str | None:
        value = element.findtext(name)
        return value.strip() if value is not None and value.strip() else None
    return ExchangeAddress(orgnr=text("orgnr") or "", name=text("name"), email=text("email"), ref=text("ref"))


def receipt_element(receipt: Receipt) -> etree._Element:
    """``result`` of ``PutMessageResponse``: an ``AppReceiptType``."""
    result = etree.Element("result", type=receipt.type)
    for code, text in receipt.messages:
        message = etree.SubElement(result, "message", code=code)
        etree.SubElement(message, "text").text = text
    return result


def build_application(runtime: Runtime | None) -> DualSoapApplication:
    soap11, soap12 = (gateway_wsgi(NoarkExchange, tns=NS, name="noarkExchange", protocol=protocol, runtime=runtime)
                      for protocol in (HardenedSoap11, HardenedSoap12))
    wsdl = PublishedWsdl((data_dir("contracts") / "noarkExchange.wsdl").read_bytes(), path=PATH)
    wsdl.publish(application.server_settings(runtime).base_url())
    for app in (soap11, soap12):
        app.app.in_protocol.contract = wsdl.schema
        # an arkivmelding names its files by referanseDokumentfil, not by xop:Include
        app.app.in_protocol.keep_unreferenced_attachments = True
        # the payload (xs:anyType) is read by the intake: its xsi:types (an arkivmelding's
        # saksmappe, journalpost) are the payload schema's, not this contract's
        app.app.in_protocol.opaque_content = ("payload",)
        # a Melding's fil/base64 may be an xop:Include (CXF, WCF): the intake takes it there
        app.app.in_protocol.service_takes_includes = True
    return DualSoapApplication(soap11, soap12, wsdl)


def wsdl_document(url: str) -> bytes:
    """The WSDL this endpoint serves, with ``url`` as its address."""
    return application.wsdl_document(build_application, PATH, url)
