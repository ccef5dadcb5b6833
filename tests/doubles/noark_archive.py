"""A loopback archive (Public 360, ePhorte, WebSak, or Arkivverket's standard) taking noarkExchange
``PutMessage`` the way its vendor's files say, to receive the gateway's status receipts.

Everything it checks comes from the vendor files in ../shared/specs, not from the gateway's
own WSDLs: the SOAP versions and ``SOAPAction`` of each binding the vendor WSDL offers for
PutMessage (a request must match one of them), the request body against the vendor's types
schema, and, for a payload given as text (``xs:string`` in every vendor dialect), the text
parsed as XML and checked as an ``AppReceipt`` against Arkivverket's ``AppReceiptType``
(noarkExchange-types.xsd). What fails is refused with a SOAP fault and HTTP 500, as an ASMX
or WCF service does; a good request is answered with a ``PutMessageResponse`` that is itself
checked against the vendor's schema. ``unavailable`` answers that many requests with HTTP 503
(a load balancer's page) before taking any; ``answer`` is the type of the AppReceipt it answers.
What it invents: the texts of its faults and of an answer that is not OK.
"""
from __future__ import annotations

import base64
import functools
import io
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree

from tests.conftest import require_spec
from tests.doubles.http import LoopbackServer, quiet
from tests.noark_samples import NOARK

VENDOR = NOARK / "vendor-variants"
TYPES = "http://www.arkivverket.no/Noark/Exchange/types"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
_WSDL_SOAP = {"http://schemas.xmlsoap.org/wsdl/soap/": "1.1", "http://schemas.xmlsoap.org/wsdl/soap12/": "1.2"}
_MEDIA = {"1.1": "text/xml", "1.2": "application/soap+xml"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

#: Per dialect: the vendor WSDL whose bindings say how PutMessage is called, and the vendor's
#: types schema (a file, or the schema inside that WSDL).
DIALECT_FILES: dict[str, tuple[Path, Path | None]] = {
    "standard": (NOARK / "noarkExchange.wsdl", NOARK / "noarkExchange-types.xsd"),
    "p360": (VENDOR / "p360" / "eduImportService.wsdl", VENDOR / "p360" / "EDUImport.xsd"),
    "ephorte": (VENDOR / "ephorte" / "ephorte.wsdl", None),
    "websak": (VENDOR / "websak" / "Noark.Exchange.wsdl", VENDOR / "websak" / "Noark.Exchange.types.xsd"),
}


def put_message_bindings(wsdl: Path) -> set[tuple[str, str]]:
    """(SOAP version, soapAction) of PutMessage in every binding of ``wsdl``."""
    root = etree.parse(str(require_spec(wsdl)), _PARSER).getroot()
    found = set()
    for binding in root.iterfind(f"{{{WSDL}}}binding"):
        for operation in binding.iterfind(f"{{{WSDL}}}operation[@name='PutMessage']"):
            for ext in operation:
                namespace = etree.QName(ext).namespace if isinstance(ext.tag, str) else None
                if namespace in _WSDL_SOAP and etree.QName(ext).localname == "operation":
                    found.add((_WSDL_SOAP[namespace], ext.get("soapAction", "")))
    return found


@functools.cache
def types_schema(dialect: str) -> xmlschema.XMLSchema:
    wsdl, xsd = DIALECT_FILES[dialect]
    if xsd is not None:
        return xmlschema.XMLSchema(str(require_spec(xsd)))
    inline = etree.parse(str(require_spec(wsdl)), _PARSER).getroot().find(f"{{{WSDL}}}types/{{{XS}}}schema")
    return xmlschema.XMLSchema(io.BytesIO(etree.tostring(inline)))  # its namespace declarations come along


@functools.cache
def app_receipt_schema() -> xmlschema.XMLSchema:
    """Arkivverket's ``AppReceiptType`` as a document element (the contract declares the type only)."""
    text = (f'<xs:schema xmlns:xs="{XS}" xmlns:t="{TYPES}" targetNamespace="{TYPES}">'
            '<xs:include schemaLocation="noarkExchange-types.xsd"/>'
            '<xs:element name="AppReceipt" type="t:AppReceiptType"/></xs:schema>')
    return xmlschema.XMLSchema(io.StringIO(text), base_url=str(require_spec(NOARK / "noarkExchange-types.xsd").parent))


class Refused(Exception):
    """What the double answers with a SOAP fault."""


@dataclass
class Received:
    soap_version: str
    soap_action: str
    conversation_id: str
    content_namespace: str
    sender: dict[str, str | None]
    receiver: dict[str, str | None]
    receipt_type: str
    messages: list[tuple[str | None, str | None]]
    payload_as_text: bool
    authorization: tuple[str, str] | None


@dataclass
class ArchiveDouble:
    dialect: str
    credentials: tuple[str, str] | None = None
    unavailable: int = 0
    #: The AppReceipt type of its answers (an archive that cannot file a receipt answers ERROR).
    answer: str = "OK"
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        wsdl, _ = DIALECT_FILES[self.dialect]
        self.accepted = put_message_bindings(wsdl)
        self.schema = types_schema(self.dialect)
        self._lock = threading.Lock()
        self.server = LoopbackServer(_handler(self))

    @property
    def url(self) -> str:
        return self.server.url + "/archive/noarkExchange"

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> ArchiveDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the checks

    def take(self, headers: Any, body: bytes) -> Received:
        """Check one request as the vendor's service would; raises :class:`Refused`."""
        version, action = _version_and_action(headers)
        if (version, action) not in self.accepted:
            raise Refused(f"SOAP {version} with SOAPAction {action!r}: the service binds PutMessage as {sorted(self.accepted)}")
        try:
            envelope = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise Refused(f"not XML: {exc}") from exc
        if envelope.tag != f"{{{SOAP_ENVELOPES[version]}}}Envelope":
            raise Refused(f"{envelope.tag} is not a SOAP {version} envelope")
        soap_body = envelope.find(f"{{{SOAP_ENVELOPES[version]}}}Body")
        request = soap_body[0] if soap_body is not None and len(soap_body) else None
        if request is None or request.tag != f"{{{TYPES}}}PutMessageRequest":
            raise Refused("the body holds no PutMessageRequest")
        errors = list(self.schema.iter_errors(etree.tostring(request).decode()))
        if errors:
            raise Refused(f"PutMessageRequest is not valid: {errors[0].reason} at {errors[0].path}")
        receipt, as_text = _app_receipt(request.find("payload"))
        errors = list(app_receipt_schema().iter_errors(etree.tostring(receipt).decode()))
        if errors:
            raise Refused(f"the AppReceipt is not valid: {errors[0].reason} at {errors[0].path}")
        env = request.find("envelope")
        return Received(
            soap_version=version, soap_action=action, conversation_id=env.get("conversationId") or "",
            content_namespace=env.get("contentNamespace") or "",
            sender=_address(env.find("sender")), receiver=_address(env.find("receiver")),
            receipt_type=receipt.get("type") or "", messages=[(m.get("code"), m.findtext("text")) for m in receipt.findall("message")],
            payload_as_text=as_text, authorization=_basic(headers.get("Authorization")),
        )

    def response(self, version: str) -> bytes:
        answer = etree.Element(f"{{{TYPES}}}PutMessageResponse", nsmap={"t": TYPES})
        result = etree.SubElement(answer, "result", type=self.answer)
        if self.answer != "OK":
            message = etree.SubElement(result, "message", code="UKJENT_FORSENDELSE")
            etree.SubElement(message, "text").text = "Fant ingen journalpost for conversationId"
        self.schema.validate(etree.tostring(answer).decode())  # the double answers only what its vendor would
        return _envelope(version, answer)


def _version_and_action(headers: Any) -> tuple[str, str]:
    media, _, params = (headers.get("Content-Type") or "").partition(";")
    media = media.strip().lower()
    if media == "text/xml":
        action = headers.get("SOAPAction")
        if action is None:
            raise Refused("SOAP 1.1 without a SOAPAction header")
        return "1.1", action.strip().strip('"')
    if media == "application/soap+xml":
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "action":
                return "1.2", value.strip().strip('"')
        return "1.2", ""
    raise Refused(f"Content-Type {media!r} is no SOAP")


def _app_receipt(payload: etree._Element | None) -> tuple[etree._Element, bool]:
    """The AppReceipt a payload holds: its text parsed (the vendors' xs:string), or an element
    (only Arkivverket's xs:anyType allows one)."""
    if payload is None:
        raise Refused("no payload")
    children = [c for c in payload if isinstance(c.tag, str)]
    if children:
        return children[0], False
    text = (payload.text or "").strip()
    try:
        return etree.fromstring(text.encode(), _PARSER), True
    except etree.XMLSyntaxError as exc:
        raise Refused(f"the payload text is not XML: {exc}") from exc


def _address(node: etree._Element | None) -> dict[str, str | None]:
    return {} if node is None else {c.tag: c.text for c in node if isinstance(c.tag, str)}


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _envelope(version: str, content: etree._Element) -> bytes:
    ns = SOAP_ENVELOPES[version]
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"s": ns})
    etree.SubElement(envelope, f"{{{ns}}}Body").append(content)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _fault(version: str, text: str) -> bytes:
    ns = SOAP_ENVELOPES[version]
    if version == "1.1":
        fault = etree.Element(f"{{{ns}}}Fault", nsmap={"s": ns})
        etree.SubElement(fault, "faultcode").text = "s:Client"
        etree.SubElement(fault, "faultstring").text = text
        return _envelope(version, fault)
    fault = etree.Element(f"{{{ns}}}Fault", nsmap={"s": ns})
    etree.SubElement(etree.SubElement(fault, f"{{{ns}}}Code"), f"{{{ns}}}Value").text = "s:Sender"
    etree.SubElement(etree.SubElement(fault, f"{{{ns}}}Reason"), f"{{{ns}}}Text").text = text
    return _envelope(version, fault)


def _handler(double: ArchiveDouble) -> type[BaseHTTPRequestHandler]:
    @quiet
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with double._lock:
                if double.unavailable > 0:
                    double.unavailable -= 1
                    return self._send(503, b"<html><body>Service Unavailable</body></html>", "text/html")
            if double.credentials is not None and _basic(self.headers.get("Authorization")) != double.credentials:
                return self._send(401, b"", "text/plain")
            version = "1.2" if (self.headers.get("Content-Type") or "").lower().startswith("application/soap+xml") else "1.1"
            try:
                received = double.take(self.headers, body)
            except Refused as exc:
                with double._lock:
                    double.refused.append(str(exc))
                return self._send(500, _fault(version, str(exc)), _MEDIA[version])
            with double._lock:
                double.received.append(received)
            self._send(200, double.response(version), _MEDIA[version])

        def _send(self, status: int, content: bytes, media: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{media}; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    return Handler
