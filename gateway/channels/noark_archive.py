"""Status receipts to a sending archive: noarkExchange ``PutMessage`` with an ``AppReceipt`` payload.

An archive (Public 360, ePhorte, WebSak, or one speaking Arkivverket's contract) that sent a
letter through ``/noarkExchange`` hears back, on its own PutMessage, when the letter is
delivered, printed, read or fails, as the integrasjonspunkt did (``BestEduAppReceiptService``):
the envelope is the letter's turned round (sender = the letter's receiver, receiver = the
archive with its own ``ref``), the same ``conversationId``, ``contentNamespace`` the Noark 4
namespace (the integrasjonspunkt's ``PutMessageRequestFactory`` put it on every message; the
archives tell a receipt by its root), and the payload the ``AppReceipt`` XML as text: every
vendor dialect types the payload ``xs:string``, and for Arkivverket's ``xs:anyType`` it goes
as ``xsi:type="xs:string"`` as Public 360 sends it.

Each dialect is a WSDL of the project's own (``contracts/archive/``; the standard one is
``contracts/noarkExchange.wsdl``), loaded once per dialect; zeep sends the SOAP version and
``SOAPAction`` of the binding named in :data:`DIALECTS`. A zeep client per archive endpoint
carries its timeouts (zeep has none by default) and credentials.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests
import zeep
import zeep.exceptions
from zeep import xsd
from zeep.wsdl import Document

from gateway.channels.http import environment_session
from gateway.channels.soap_transport import SoapTransport
from gateway.frozen import frozen
from gateway.resources import data_dir

EXCHANGE_NS = "http://www.arkivverket.no/Noark/Exchange"
TYPES_NS = "http://www.arkivverket.no/Noark/Exchange/types"
#: What the integrasjonspunkt put in ``contentNamespace`` of every message it sent an archive.
NOARK4_NS = "http://www.arkivverket.no/Noark4-1-WS-WD/types"
RECEIPT_TYPES = frozenset({"OK", "NOTSUPPORTED", "WARNING", "ERROR"})


@frozen
class Dialect:
    """How one archive system speaks noarkExchange: its WSDL (under ``contracts/``), the
    binding we call (SOAP 1.1 in each), and the ``SOAPAction`` that binding gives PutMessage."""

    name: str
    wsdl: str
    binding: str
    soap_action: str


DIALECTS: dict[str, Dialect] = {
    "standard": Dialect(name="standard", wsdl="noarkExchange.wsdl", binding=f"{{{EXCHANGE_NS}}}noarkExchangeBinding", soap_action=""),
    "p360": Dialect(name="p360", wsdl="archive/p360.wsdl", binding=f"{{{EXCHANGE_NS}}}BasicHttpBinding_IEDUImport",
                    soap_action="http://www.arkivverket.no/Noark/Exchange/IEDUImport/PutMessage"),
    # The integrasjonspunkt's WebsakClient sent Public 360's action; WebSak's own WSDL says "".
    "websak": Dialect(name="websak", wsdl="archive/websak.wsdl", binding=f"{{{EXCHANGE_NS}}}noarkExchangeBinding", soap_action=""),
    "ephorte": Dialect(name="ephorte", wsdl="archive/ephorte.wsdl", binding=f"{{{EXCHANGE_NS}}}noarkExchangeBinding", soap_action=""),
}


@frozen
class ArchiveEndpoint:
    """Where and how to reach one sender's archive (from its ``[[senders]]`` entry)."""

    url: str
    dialect: str = "standard"
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    timeout_seconds: float = 30.0


@frozen
class StatusReceipt:
    """One ``AppReceipt`` for one letter: the envelope turned round, and what became of it."""

    conversation_id: str
    sender_orgnr: str  # the gateway's side: the letter's receiver
    receiver_orgnr: str  # the archive that sent the letter
    type: str  # OK, or ERROR for a letter that was not delivered
    code: str
    text: str
    sender_ref: str | None = None
    receiver_ref: str | None = None  # the archive's own reference, echoed


class ArchiveError(Exception):
    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint


class ArchiveUnavailable(ArchiveError):
    """The archive did not answer, or answered as a server in trouble: try again later."""


class ArchiveRefused(ArchiveError):
    """The archive answered and said no (a SOAP fault, or an AppReceipt that is not OK)."""


def app_receipt_xml(receipt: StatusReceipt) -> str:
    """The ``AppReceipt`` element as text, as the integrasjonspunkt marshalled it: the types
    namespace as default, ``message`` and ``text`` unqualified (``elementFormDefault="unqualified"``)."""
    if receipt.type not in RECEIPT_TYPES:
        raise ValueError(f"AppReceipt type must be one of {sorted(RECEIPT_TYPES)}, not {receipt.type!r}")
    # Written out, not built with lxml: lxml leaves out the ``xmlns=""`` that takes ``message``
    # out of the default namespace again, and the receipt would say something else.
    return (f'<AppReceipt xmlns="{TYPES_NS}" type="{receipt.type}"><message xmlns="" code={quoteattr(receipt.code)}>'
            f"<text>{escape(receipt.text)}</text></message></AppReceipt>")


class NoarkArchiveClient:
    """Sends status receipts; thread-safe, one per process. WSDLs are parsed once per dialect
    (a failed load is tried again on the next call), zeep clients made once per endpoint."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self._services: dict[ArchiveEndpoint, Any] = {}
        self._lock = threading.Lock()

    def put_receipt(self, endpoint: ArchiveEndpoint, receipt: StatusReceipt) -> str:
        """Send ``receipt`` to ``endpoint``; answers the archive's own receipt type (``OK`` or
        ``WARNING``), or raises :class:`ArchiveUnavailable` / :class:`ArchiveRefused`."""
        service = self._service(endpoint)
        payload: Any = app_receipt_xml(receipt)
        if endpoint.dialect == "standard":  # xs:anyType: say that the text is a string
            payload = xsd.AnyObject(xsd.String(), payload)
        envelope = {
            "conversationId": receipt.conversation_id,
            "contentNamespace": NOARK4_NS,
            "sender": {"orgnr": receipt.sender_orgnr, "ref": receipt.sender_ref},
            "receiver": {"orgnr": receipt.receiver_orgnr, "ref": receipt.receiver_ref},
        }
        where = endpoint.url
        try:
            answer = service.PutMessage(envelope=envelope, payload=payload)
        except zeep.exceptions.Fault as fault:
            raise ArchiveRefused(f"the archive answered a SOAP fault: {fault.message}", endpoint=where) from fault
        except zeep.exceptions.TransportError as exc:
            raise ArchiveUnavailable(f"the archive answered HTTP {exc.status_code}: {str(exc.message)[:300]}", endpoint=where) from exc
        except (requests.RequestException, zeep.exceptions.XMLSyntaxError) as exc:
            raise ArchiveUnavailable(f"the archive could not be reached or answered no SOAP: {exc}", endpoint=where) from exc
        # zeep unwraps a response of one element: ``answer`` is the result (the AppReceipt) itself
        result = answer if hasattr(answer, "type") else getattr(answer, "result", None)
        kind = getattr(result, "type", None) or "OK"  # the integrasjonspunkt took no result as OK (P360Client)
        if kind not in ("OK", "WARNING"):
            texts = "; ".join(f"{m.code}: {m.text}" for m in (getattr(result, "message", None) or []))
            raise ArchiveRefused(f"the archive answered AppReceipt {kind}: {texts}"[:500], endpoint=where)
        return str(kind)

    def _service(self, endpoint: ArchiveEndpoint) -> Any:
        with self._lock:
            service = self._services.get(endpoint)
            if service is None:
                dialect = DIALECTS[endpoint.dialect]
                transport = self._transport(endpoint)
                document = self._documents.get(dialect.name)
                if document is None:
                    # zeep annotates ``transport`` as a class; it takes (and uses) an instance
                    document = Document(str(data_dir("contracts") / dialect.wsdl), transport)  # type: ignore[arg-type]
                    self._documents[dialect.name] = document
                client = zeep.Client(document, transport=transport)
                service = self._services[endpoint] = client.create_service(dialect.binding, endpoint.url)
            return service

    def _transport(self, endpoint: ArchiveEndpoint) -> SoapTransport:
        session = environment_session(endpoint.url)
        if endpoint.username:
            session.auth = (endpoint.username, endpoint.password)
        return SoapTransport(session=session, timeout=endpoint.timeout_seconds, operation_timeout=endpoint.timeout_seconds)
