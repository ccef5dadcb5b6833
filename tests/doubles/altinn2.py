"""A loopback Altinn 2 CorrespondenceAgencyExternal that speaks the real protocol.

It serves the official WSDL (its address rewritten in memory to point here), takes SOAP 1.2
posts, checks the WS-Security UsernameToken and Timestamp, validates the
InsertCorrespondenceV2 body against the XSD schemas embedded in that WSDL, refuses a reused
ExternalShipmentReference the way Altinn does (an AltinnFault), and answers a receipt that
is itself checked against the same schemas. What the double invents is marked: the exact
wording and ErrorID of the duplicate fault, and the receipt texts.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hmac
import io
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import xmlschema
from lxml import etree

from tests.conftest import SPECS, require_spec

WSDL = SPECS / "altinn" / "correspondence-altinn2" / "CorrespondenceAgencyExternal.wsdl"
PATH = "/CorrespondenceAgencyExternal.svc"

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
TNS = "http://www.altinn.no/services/ServiceEngine/Correspondence/2009/10"
RECEIPT_NS = "http://schemas.altinn.no/services/Intermediary/Receipt/2009/10"
FAULT_NS = "http://www.altinn.no/services/common/fault/2009/10"
SERIALIZATION_NS = "http://schemas.microsoft.com/2003/10/Serialization/"
WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"

ACTION = f"{TNS}/ICorrespondenceAgencyExternal/InsertCorrespondenceV2"
RESPONSE_ACTION = ACTION + "Response"
FAULT_ACTION = ACTION + "AltinnFaultFault"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
#: WCF's reason when a typed FaultException carries no reason; Altinn's faults look like this.
NO_REASON = "The creator of this fault did not specify a Reason."
#: Invented: the real Altinn wording and ErrorID for a reused reference are not published.
DUPLICATE_ERROR_ID = 30010
DUPLICATE_MESSAGE = "Duplicate ExternalShipmentReference: {ref!r} has already been used by system user code {code!r}."

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)


@dataclass(frozen=True, slots=True)
class RecordedAttachment:
    file_name: str
    name: str
    function_type: str
    senders_reference: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RecordedCorrespondence:
    """One accepted InsertCorrespondenceV2, as the double parsed it."""

    receipt_id: int
    username: str
    schema_valid: bool
    soap_action: str
    wsa_action: str
    system_user_code: str
    external_shipment_reference: str
    service_code: str
    service_edition: str
    reportee: str
    language_code: str
    message_title: str
    message_summary: str
    message_body: str
    message_sender: str
    visible_date_time: str
    allow_system_delete_date_time: str
    attachments: tuple[RecordedAttachment, ...]
    envelope: bytes = field(repr=False)


@functools.lru_cache(maxsize=2)
def wsdl_schema(path: Path = WSDL) -> xmlschema.XMLSchema:
    """All ``xs:schema`` elements of the WSDL's types compiled together.

    They import each other by namespace only (no schemaLocation); loading them as one
    source list puts every namespace in the same global maps, so those imports resolve.
    The Microsoft serialization schema is one of them, so it comes along.
    """
    root = etree.parse(str(require_spec(path)), _PARSER).getroot()
    schemas = root.findall(f"{{http://schemas.xmlsoap.org/wsdl/}}types/{{{XSD}}}schema")
    if not schemas or SERIALIZATION_NS not in {s.get("targetNamespace") for s in schemas}:
        raise RuntimeError(f"{path}: unexpected WSDL types section")
    return xmlschema.XMLSchema([io.BytesIO(etree.tostring(s)) for s in schemas])


class Altinn2Double:
    """An Altinn 2 correspondence endpoint on 127.0.0.1; use as a context manager."""

    def __init__(self, *, username: str = "altinn-agency", password: str = "altinn-pass", wsdl: Path = WSDL) -> None:
        self.username = username
        self.password = password
        self._wsdl_source = require_spec(wsdl).read_bytes()
        self.schema = wsdl_schema(wsdl)
        self.correspondences: list[RecordedCorrespondence] = []
        #: Bodies refused by schema validation, with xmlschema's reasons.
        self.invalid: list[str] = []
        #: Answers given for a reused ExternalShipmentReference.
        self.duplicates: list[str] = []
        self.auth_failures = 0
        #: Bugs in the double itself (a test fixture should assert this stays empty).
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._receipt_ids = itertools.count(7_000_001)
        self._failures: list[int] = []
        self._internal_faults = 0
        self._stall: tuple[int, float] = (0, 0.0)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wsdl_served = b""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Altinn2Double:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self._wsdl_served = self._rewritten_wsdl()
        self._thread = threading.Thread(target=server.serve_forever, name="altinn2-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Altinn2Double:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint_url(self) -> str:
        return self.base_url + PATH

    @property
    def wsdl_url(self) -> str:
        return self.endpoint_url + "?wsdl"

    # ------------------------------------------------------------------ knobs

    def fail_next(self, n: int, *, status: int = 503) -> None:
        """Answer the next ``n`` posts with a bare HTTP ``status`` (a load balancer's 503)."""
        with self._lock:
            self._failures.extend([status] * n)

    def fault_next(self, n: int) -> None:
        """Answer the next ``n`` posts with WCF's internal-error Receiver fault."""
        with self._lock:
            self._internal_faults += n

    def stall_next(self, n: int, seconds: float) -> None:
        """Sit on the next ``n`` posts for ``seconds`` before answering (for client timeouts)."""
        with self._lock:
            self._stall = (n, seconds)

    # ------------------------------------------------------------------ protocol

    def _rewritten_wsdl(self) -> bytes:
        root = etree.fromstring(self._wsdl_source, _PARSER)
        for address in root.iter(f"{{{WSDL_SOAP12}}}address"):
            address.set("location", self.endpoint_url)
        for address in root.iter(f"{{{WSA}}}Address"):
            address.text = self.endpoint_url
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")

    def handle_post(self, body: bytes, content_type: str) -> tuple[int, str, bytes]:
        """One SOAP call: (HTTP status, content type, body)."""
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            internal = self._internal_faults > 0
            self._internal_faults -= int(internal)
            stall_n, stall_s = self._stall
            self._stall = (max(stall_n - 1, 0), stall_s)
        if failure is not None:
            return failure, "text/html", b"<html><body><h1>Service Unavailable</h1></body></html>"
        if stall_n > 0:
            time.sleep(stall_s)
        media, _, params = content_type.partition(";")
        if media.strip().lower() != "application/soap+xml":
            return 415, "text/plain", b"Cannot process the message because the content type is not application/soap+xml."
        soap_action = _param(params, "action")
        try:
            envelope = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            return _fault("Sender", "a:DeserializationFailed", f"The message is not well-formed XML: {exc}", WCF_DISPATCHER)
        if envelope.tag != f"{{{SOAP12}}}Envelope":
            return _fault("VersionMismatch", None, "The envelope is not SOAP 1.2.", None)
        relates_to = envelope.findtext(f"{{{SOAP12}}}Header/{{{WSA}}}MessageID") or ""
        wsa_action = envelope.findtext(f"{{{SOAP12}}}Header/{{{WSA}}}Action") or ""
        username = self._authenticate(envelope)
        if username is None:
            with self._lock:
                self.auth_failures += 1
            return _fault("Sender", "a:InvalidSecurity", "An error occurred when verifying security for the message.", WSSE, relates_to)
        if internal:
            return _fault(
                "Receiver", "a:InternalServiceFault",
                "The server was unable to process the request due to an internal error.", WCF_DISPATCHER, relates_to,
            )
        request = envelope.find(f"{{{SOAP12}}}Body/{{{TNS}}}InsertCorrespondenceV2")
        if request is None or ACTION not in (wsa_action, soap_action):
            return _fault("Sender", "a:ActionNotSupported", f"The action {wsa_action or soap_action!r} is not supported here.", WSA, relates_to)
        problems = [str(e.reason or e) + f" (at {e.path})" for e in self.schema.iter_errors(request)]
        if problems:
            with self._lock:
                self.invalid.append("; ".join(problems))
            return _fault(
                "Sender", "a:DeserializationFailed",
                "The InsertCorrespondenceV2 body is not valid against the service schema: " + "; ".join(problems),
                WCF_DISPATCHER, relates_to,
            )
        record = _parse(request, username=username, soap_action=soap_action, wsa_action=wsa_action, envelope=body)
        with self._lock:
            seen = {(c.system_user_code, c.external_shipment_reference) for c in self.correspondences}
            duplicate = (record["system_user_code"], record["external_shipment_reference"]) in seen
            if duplicate:
                self.duplicates.append(record["external_shipment_reference"])
            else:
                accepted = RecordedCorrespondence(receipt_id=next(self._receipt_ids), **record)
                self.correspondences.append(accepted)
        if duplicate:
            message = DUPLICATE_MESSAGE.format(ref=record["external_shipment_reference"], code=record["system_user_code"])
            return self._altinn_fault(message, relates_to)
        return self._receipt(accepted, relates_to)

    def _authenticate(self, envelope: etree._Element) -> str | None:
        """The UsernameToken's user if it and its PasswordText match and a live Timestamp is there."""
        security = envelope.find(f"{{{SOAP12}}}Header/{{{WSSE}}}Security")
        if security is None:
            return None
        token = security.find(f"{{{WSSE}}}UsernameToken")
        stamp = security.find(f"{{{WSU}}}Timestamp")
        if token is None or stamp is None:
            return None
        username = token.findtext(f"{{{WSSE}}}Username") or ""
        password = token.find(f"{{{WSSE}}}Password")
        if password is None or password.get("Type", PASSWORD_TEXT) != PASSWORD_TEXT:
            return None
        try:
            expires = dt.datetime.fromisoformat((stamp.findtext(f"{{{WSU}}}Expires") or "").replace("Z", "+00:00"))
        except ValueError:
            return None
        if expires.tzinfo is None or expires <= dt.datetime.now(dt.timezone.utc):
            return None
        ok_user = hmac.compare_digest(username.encode(), self.username.encode())
        ok_password = hmac.compare_digest((password.text or "").encode(), self.password.encode())
        return username if ok_user and ok_password else None

    def _receipt(self, record: RecordedCorrespondence, relates_to: str) -> tuple[int, str, bytes]:
        r = f"{{{RECEIPT_NS}}}"
        response = etree.Element(f"{{{TNS}}}InsertCorrespondenceV2Response", nsmap={None: TNS})
        result = etree.SubElement(response, f"{{{TNS}}}InsertCorrespondenceV2Result", nsmap={"a": RECEIPT_NS, "i": XSI})
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        for name, value in (
            ("LastChanged", now), ("ParentReceiptId", "0"), ("ReceiptHistory", f"{now} - OK - Correspondence Saved Successfully\n"),
            ("ReceiptId", str(record.receipt_id)), ("ReceiptStatusCode", "OK"),
            ("ReceiptText", "Correspondence Saved Successfully"), ("ReceiptTypeName", "Correspondence"),
        ):
            etree.SubElement(result, r + name).text = value
        references = etree.SubElement(result, r + "References")
        for kind, value in (("ExternalShipmentReference", record.external_shipment_reference),):
            reference = etree.SubElement(references, r + "Reference")
            etree.SubElement(reference, r + "ReferenceTypeName").text = kind
            etree.SubElement(reference, r + "ReferenceValue").text = value
        etree.SubElement(result, r + "SubReceipts").set(f"{{{XSI}}}nil", "true")
        self.schema.validate(response)  # the double answers only what the contract allows
        return 200, "application/soap+xml; charset=utf-8", _envelope(response, RESPONSE_ACTION, relates_to)

    def _altinn_fault(self, message: str, relates_to: str) -> tuple[int, str, bytes]:
        detail = etree.Element(f"{{{FAULT_NS}}}AltinnFault", nsmap={None: FAULT_NS, "i": XSI})
        for name, value in (
            ("AltinnErrorMessage", message), ("AltinnExtendedErrorMessage", "No information available"),
            ("AltinnLocalizedErrorMessage", message), ("ErrorGuid", str(uuid.uuid4())),
            ("ErrorID", str(DUPLICATE_ERROR_ID)), ("UserGuid", "-no value-"), ("UserId", "0"),
        ):
            etree.SubElement(detail, f"{{{FAULT_NS}}}{name}").text = value
        self.schema.validate(detail)
        return _fault("Sender", None, NO_REASON, None, relates_to, detail=detail, action=FAULT_ACTION)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"

    @property
    def double(self) -> Altinn2Double:
        return self.server.double  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows failures, not access logs."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == PATH and url.query.lower() in ("wsdl", "singlewsdl"):
            self._answer(200, "text/xml; charset=UTF-8", self.double._wsdl_served)
        else:
            self._answer(404, "text/plain", b"not found")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None:
            self._answer(411, "text/plain", b"Content-Length required")
            return
        body = self.rfile.read(int(length))
        if urlsplit(self.path).path != PATH:
            self._answer(404, "text/plain", b"not found")
            return
        try:
            status, content_type, answer = self.double.handle_post(body, self.headers.get("Content-Type", ""))
        except Exception as exc:  # a bug in the double: fail loudly, not as a plausible answer
            self.double.errors.append(repr(exc))
            status, content_type, answer = 500, "text/plain", f"altinn2 double bug: {exc!r}".encode()
        self._answer(status, content_type, answer)

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(body)


def _param(params: str, name: str) -> str:
    for part in params.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == name:
            return value.strip().strip('"')
    return ""


def _envelope(body: etree._Element, action: str, relates_to: str) -> bytes:
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"s": SOAP12, "a": WSA})
    header = etree.SubElement(env, f"{{{SOAP12}}}Header")
    etree.SubElement(header, f"{{{WSA}}}Action", {f"{{{SOAP12}}}mustUnderstand": "1"}).text = action
    if relates_to:
        etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
    etree.SubElement(env, f"{{{SOAP12}}}Body").append(body)
    return etree.tostring(env, encoding="utf-8")


def _fault(
    code: str, subcode: str | None, reason: str, subcode_ns: str | None, relates_to: str = "",
    *, detail: etree._Element | None = None, action: str = "http://www.w3.org/2005/08/addressing/soap/fault",
) -> tuple[int, str, bytes]:
    """A SOAP 1.2 fault the way WCF sends it: always HTTP 500."""
    fault = etree.Element(f"{{{SOAP12}}}Fault", nsmap={"s": SOAP12})
    code_el = etree.SubElement(fault, f"{{{SOAP12}}}Code")
    etree.SubElement(code_el, f"{{{SOAP12}}}Value").text = f"s:{code}"
    if subcode is not None:
        sub = etree.SubElement(code_el, f"{{{SOAP12}}}Subcode")
        etree.SubElement(sub, f"{{{SOAP12}}}Value", nsmap={"a": subcode_ns}).text = subcode
    reason_el = etree.SubElement(fault, f"{{{SOAP12}}}Reason")
    text = etree.SubElement(reason_el, f"{{{SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    text.text = reason
    if detail is not None:
        etree.SubElement(fault, f"{{{SOAP12}}}Detail").append(detail)
    return 500, "application/soap+xml; charset=utf-8", _envelope(fault, action, relates_to)


def _local(parent: etree._Element | None, *names: str) -> etree._Element | None:
    """Walk children by local name (namespaces were already checked by the schema)."""
    node = parent
    for name in names:
        if node is None:
            return None
        node = next((c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == name), None)
    return node


def _text(parent: etree._Element | None, *names: str) -> str:
    node = _local(parent, *names)
    return (node.text or "") if node is not None else ""


def _parse(request: etree._Element, *, username: str, soap_action: str, wsa_action: str, envelope: bytes) -> dict[str, object]:
    c = _local(request, "Correspondence")
    content = _local(c, "Content")
    binaries = _local(content, "Attachments", "BinaryAttachments")
    attachments = tuple(
        RecordedAttachment(
            file_name=_text(a, "FileName"), name=_text(a, "Name"), function_type=_text(a, "FunctionType"),
            senders_reference=_text(a, "SendersReference"),
            data=base64.b64decode("".join(_text(a, "Data").split()), validate=True),
        )
        for a in (binaries if binaries is not None else ())
        if isinstance(a.tag, str)
    )
    return dict(
        username=username, schema_valid=True, soap_action=soap_action, wsa_action=wsa_action,
        system_user_code=_text(request, "SystemUserCode"),
        external_shipment_reference=_text(request, "ExternalShipmentReference"),
        service_code=_text(c, "ServiceCode"), service_edition=_text(c, "ServiceEdition"), reportee=_text(c, "Reportee"),
        language_code=_text(content, "LanguageCode"), message_title=_text(content, "MessageTitle"),
        message_summary=_text(content, "MessageSummary"), message_body=_text(content, "MessageBody"),
        message_sender=_text(c, "MessageSender"), visible_date_time=_text(c, "VisibleDateTime"),
        allow_system_delete_date_time=_text(c, "AllowSystemDeleteDateTime"),
        attachments=attachments, envelope=envelope,
    )
