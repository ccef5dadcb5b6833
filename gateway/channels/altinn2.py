"""Legacy Altinn 2 Correspondence (``InsertCorrespondenceV2``) over SOAP 1.2 with zeep.

Altinn 2 takes one correspondence per call, authenticated by a WS-Security UsernameToken
(the agency's system user). ``ExternalShipmentReference`` carries the gateway's idempotency
key: Altinn refuses a reference it has seen before, so a retry after a lost answer comes
back as a duplicate fault, which here means "the first call already made the letter".
"""
from __future__ import annotations

import datetime as dt
import html
import re
import threading
from collections.abc import Sequence
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport
from zeep.wsse import utils as wsse_utils
from zeep.wsse.username import UsernameToken

from gateway.channels.soap_transport import SoapTransport
from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange, sent_digital
from gateway.config import Altinn2Settings
from gateway.model import Document, PartyKind, Shipment

NAME = "altinn2"
TNS = "http://www.altinn.no/services/ServiceEngine/Correspondence/2009/10"
BINDING = f"{{{TNS}}}CustomBinding_ICorrespondenceAgencyExternal"
SERVICE, PORT = "CorrespondenceAgencyExternalSF", "CustomBinding_ICorrespondenceAgencyExternal"
FAULT_NS = "http://www.altinn.no/services/common/fault/2009/10"

#: Altinn's language code for Norwegian bokmål (a Windows LCID, as the service expects).
NORWEGIAN_BOKMAAL = "1044"
#: A fault text saying the ExternalShipmentReference was used before: it must name the
#: reference *and* say duplicate/already, since a false match would mark an unsent letter sent.
#: Altinn's exact wording is not published; check it in TT02 and pass ``duplicate_fault``.
DUPLICATE_FAULT = re.compile(
    r"^(?=.*shipment\s*reference)(?=.*\b(duplicate|already\s+(exists|been\s+used|used|in\s+use|registered)))",
    re.IGNORECASE | re.DOTALL,
)
_REPORTEE_KINDS = frozenset({PartyKind.NO_PERSON, PartyKind.NO_ORGANIZATION})
#: A refusal of the request itself that no retry fixes (IIS: request entity too large).
_LETTER_HTTP_ERRORS = frozenset({413})
class _TimestampedUsernameToken:
    """The UsernameToken plus a fresh ``wsu:Timestamp`` (first in the header) on every message,
    since the service policy says IncludeTimestamp. One object: zeep cannot verify a list."""

    def __init__(self, token: UsernameToken, *, lifetime: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.token = token
        self.lifetime = lifetime

    def apply(self, envelope: etree._Element, headers: dict[str, str]) -> tuple[etree._Element, dict[str, str]]:
        envelope, headers = self.token.apply(envelope, headers)
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        stamp = wsse_utils.WSU.Timestamp(
            wsse_utils.WSU.Created(now.strftime("%Y-%m-%dT%H:%M:%SZ")),
            wsse_utils.WSU.Expires((now + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")),
        )
        wsse_utils.get_security_header(envelope).insert(0, stamp)
        return envelope, headers

    def verify(self, envelope: etree._Element) -> None:
        """Altinn does not sign its answers; nothing to check."""


class Altinn2Channel:
    """Sends letters as Altinn 2 correspondences; the zeep client is built on first use."""

    name = NAME

    def __init__(
        self,
        settings: Altinn2Settings,
        *,
        transport_session: requests.Session | None = None,
        language_code: str = NORWEGIAN_BOKMAAL,
        retention: dt.timedelta = dt.timedelta(days=3653),
        duplicate_fault: re.Pattern[str] = DUPLICATE_FAULT,
    ) -> None:
        self.settings = settings
        self.language_code = language_code
        self.retention = retention  # AllowSystemDeleteDateTime: when Altinn may purge the letter
        self.duplicate_fault = duplicate_fault
        self._session = transport_session
        self._client: zeep.Client | None = None
        self._service: Any = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ zeep client

    @property
    def client(self) -> zeep.Client:
        """The zeep client, loading the WSDL once (a failed load is retried on the next call)."""
        self._ensure_client()
        assert self._client is not None
        return self._client

    def _ensure_client(self) -> Any:
        with self._lock:
            if self._service is None:
                try:
                    client, service = self._build()
                except (OSError, requests.RequestException, zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
                    raise ChannelUnavailable(
                        f"cannot load the Altinn 2 WSDL from {self.settings.wsdl_url!r}: {exc}", channel=NAME
                    ) from exc
                self._client, self._service = client, service
            return self._service

    def _build(self) -> tuple[zeep.Client, Any]:
        s = self.settings
        transport = SoapTransport(
            session=self._session,  # None: zeep makes (and owns) one
            timeout=s.timeout_seconds,
            operation_timeout=s.timeout_seconds,
        )
        client = zeep.Client(s.wsdl_url, transport=transport, wsse=_TimestampedUsernameToken(UsernameToken(s.username, s.password)))
        if s.endpoint_url:
            service = client.create_service(BINDING, s.endpoint_url)
        else:
            service = client.bind(SERVICE, PORT)
        return client, service

    # ------------------------------------------------------------------ Channel

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        """InsertCorrespondenceV2 with ExternalShipmentReference = ``idempotency_key``."""
        service = self._ensure_client()
        correspondence = self._correspondence(letter)
        try:
            result = service.InsertCorrespondenceV2(
                SystemUserCode=self.settings.system_user_code,
                ExternalShipmentReference=idempotency_key,
                Correspondence=correspondence,
            )
        except zeep.exceptions.Fault as fault:
            text = _fault_text(fault)
            if self.duplicate_fault.search(text):
                return sent_digital(letter, channel=NAME, idempotency_key=idempotency_key, reference="duplicate:" + idempotency_key,
                                    detail=f"Altinn 2 already has ExternalShipmentReference {idempotency_key!r} "
                                           f"(an earlier attempt created the correspondence): {text}")
            if _is_server_trouble(fault):
                raise ChannelUnavailable(f"Altinn 2 server fault: {text}", channel=NAME) from fault
            raise ChannelRejected(f"Altinn 2 refused the correspondence: {text}", channel=NAME) from fault
        except zeep.exceptions.TransportError as exc:
            status = exc.status_code or 0
            if status in _LETTER_HTTP_ERRORS:
                raise ChannelRejected(f"Altinn 2 answered HTTP {status}: {exc.message}", channel=NAME) from exc
            # 5xx, 429, and also a proxy's 4xx page: Altinn itself has not judged the letter
            raise ChannelUnavailable(f"Altinn 2 answered HTTP {status}: {exc.message}", channel=NAME) from exc
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise ChannelUnavailable(f"Altinn 2 unreachable: {exc}", channel=NAME) from exc
        except zeep.exceptions.ValidationError as exc:
            raise ChannelRejected(f"the letter does not fit InsertCorrespondenceV2: {exc}", channel=NAME) from exc
        return self._receipt(letter, idempotency_key, result)

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        """Always ``[]``: Altinn 2 status polling (GetCorrespondenceStatusDetailsV3) is out of scope,
        so an Altinn 2 letter stays SENT_DIGITAL in the gateway."""
        return []

    # ------------------------------------------------------------------ mapping

    def _correspondence(self, letter: Letter) -> dict[str, Any]:
        shipment = letter.shipment
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        correspondence: dict[str, Any] = {
            "ServiceCode": self.settings.service_code,
            "ServiceEdition": self.settings.service_edition,
            "Reportee": _reportee(shipment),
            "Content": {
                "LanguageCode": self.language_code,
                "MessageTitle": shipment.title,
                "MessageSummary": _summary(shipment),
                "MessageBody": _body(shipment),
                "Attachments": {"BinaryAttachments": {"BinaryAttachmentV2": [_attachment(letter, d) for d in shipment.documents]}},
            },
            "VisibleDateTime": now,
            "AllowSystemDeleteDateTime": now + self.retention,
        }
        if shipment.sender_party is not None and (shipment.sender_party.name or "").strip():
            correspondence["MessageSender"] = shipment.sender_party.name
        return correspondence

    def _receipt(self, letter: Letter, idempotency_key: str, result: Any) -> Receipt:
        if result is None:
            raise ChannelUnavailable("Altinn 2 answered without a receipt", channel=NAME)
        code = str(result.ReceiptStatusCode or "")
        text = result.ReceiptText or ""
        if code == "UnExpectedError":
            raise ChannelUnavailable(f"Altinn 2 receipt {code}: {text}", channel=NAME)
        if code and code != "OK":
            raise ChannelRejected(f"Altinn 2 receipt {code}: {text}", channel=NAME)
        reference = str(result.ReceiptId) if result.ReceiptId is not None else code
        return sent_digital(letter, channel=NAME, idempotency_key=idempotency_key, reference=reference, detail=text,
                            extra={"receipt_status": code})


def _reportee(shipment: Shipment) -> str:
    recipient = shipment.recipient
    if recipient.kind not in _REPORTEE_KINDS or not recipient.identifier:
        raise ChannelRejected(
            f"Altinn 2 needs a Norwegian fødselsnummer or organisasjonsnummer, not {recipient.kind}", channel=NAME
        )
    return recipient.identifier


def _summary(shipment: Shipment) -> str:
    count = len(shipment.documents)
    return f"{shipment.title} ({count} {'dokument' if count == 1 else 'dokumenter'})"


def _body(shipment: Shipment) -> str:
    """Short HTML; the deep links become ``<a href>`` since Altinn shows the body as HTML."""
    parts = [f"<p>{html.escape(shipment.title)}</p>", "<p>Se vedlagte dokumenter.</p>"]
    if shipment.links:
        items = "".join(
            f'<li><a href="{html.escape(link.url, quote=True)}">{html.escape(link.text or link.url)}</a></li>'
            for link in shipment.links
        )
        parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


def _attachment(letter: Letter, document: Document) -> dict[str, Any]:
    return {
        "FunctionType": "Unspecified",
        "FileName": document.filename,
        "Name": document.filename.rsplit(".", 1)[0] or document.filename,
        "Data": letter.content(document),
        "SendersReference": document.sha256,
    }


def _fault_text(fault: zeep.exceptions.Fault) -> str:
    """The fault reason plus Altinn's own messages from the AltinnFault detail.

    Altinn often leaves the reason as WCF's "The creator of this fault did not specify a
    Reason." and puts the real message in ``AltinnFault/AltinnErrorMessage``.
    """
    texts = [fault.message or ""]
    altinn = _altinn_fault(fault)
    if altinn is not None:
        for name in ("ErrorID", "AltinnErrorMessage", "AltinnExtendedErrorMessage"):
            value = altinn.findtext(f"{{{FAULT_NS}}}{name}")
            if value and value.strip():
                texts.append(f"{name}={value.strip()}" if name == "ErrorID" else value.strip())
    return " | ".join(t for t in texts if t)


def _altinn_fault(fault: zeep.exceptions.Fault) -> etree._Element | None:
    detail = fault.detail
    if not isinstance(detail, etree._Element):  # zeep puts the raw document there for a non-fault answer
        return None
    return detail.find(f".//{{{FAULT_NS}}}AltinnFault")


def _is_server_trouble(fault: zeep.exceptions.Fault) -> bool:
    """The server failed, not the letter: a SOAP 1.2 Receiver fault without an AltinnFault
    (the SOAP 1.2 spec says such a message may succeed if resent later), or an error answer
    that was XML but no SOAP fault at all (zeep's "Unknown fault", code None)."""
    if fault.code is None:
        return True
    code = fault.code.rsplit(":", 1)[-1]
    return code == "Receiver" and _altinn_fault(fault) is None
