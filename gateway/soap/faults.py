"""The one place where gateway errors become SOAP faults.

A fault's ``Code/Value`` is ``Sender`` or ``Receiver`` (from :data:`gateway.errors.FAULTS`),
or SOAP's own ``VersionMismatch`` / ``MustUnderstand`` for those two codes; its first
``Subcode`` is the stable gateway code, ``Reason/Text`` the operator message
prefixed with the field in the caller's own vocabulary, and ``Detail`` repeats code and
field as ``{urn:gateway:faults}error`` so programs need not parse text.
spyne's own faults (contract violations it finds while decoding) are normalised here too.
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Protocol

from lxml import etree
from spyne import Fault
from spyne.error import RequestNotAllowed, RequestTooLongError, ResourceNotFoundError

from gateway.errors import FAULTS, FaultCode, GatewayError, RequestError
from gateway.limits import LIMITS

FAULT_NS = "urn:gateway:faults"

logger = logging.getLogger(__name__)

class FieldNamer(Protocol):
    """Canonical field path → the contract's (see :class:`gateway.mapping.tables.FieldNamer`)."""

    def __call__(self, path: str, /) -> str: ...

#: Codes whose SOAP ``Code/Value`` is one of SOAP's own rather than Sender/Receiver.
SOAP_CODE_VALUE: dict[str, str] = {FaultCode.VERSION_MISMATCH: "VersionMismatch", FaultCode.MUST_UNDERSTAND: "MustUnderstand"}
#: Refusals made at the HTTP level, before any SOAP processing: their status stands on SOAP 1.1 too.
HTTP_LEVEL_CODES = frozenset({FaultCode.AUTHENTICATION_FAILED, FaultCode.METHOD_NOT_ALLOWED, FaultCode.REQUEST_TOO_LARGE,
                              FaultCode.UNSUPPORTED_MEDIA_TYPE, FaultCode.SERVER_BUSY})
#: ``details`` key of a MUST_UNDERSTAND error: the Clark names of the header blocks, one per line.
NOT_UNDERSTOOD = "not_understood"
#: ``details`` key of a VERSION_MISMATCH error: the envelope namespace the endpoint speaks.
SUPPORTED_ENVELOPE = "supported_envelope"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


#: A fault never echoes more than this of what a caller sent (a 300,000-character schema or
#: header name came back whole): the text and the field are cut, whatever built them.
MAX_FAULT_TEXT = LIMITS.fault_text_characters
MAX_FAULT_FIELD = LIMITS.fault_field_characters


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class GatewayFault(Fault):
    """A spyne fault that remembers the :class:`GatewayError` it was made from."""

    def __init__(self, error: GatewayError, *, wire_field: str | None) -> None:
        info = error.info
        wire_field = _bounded(wire_field, MAX_FAULT_FIELD) if wire_field else wire_field
        message = _bounded(f"{wire_field}: {error.message}" if wire_field else error.message, MAX_FAULT_TEXT)
        detail = {f"{{{FAULT_NS}}}code": str(error.code)}
        if wire_field:
            detail[f"{{{FAULT_NS}}}field"] = wire_field
        super().__init__(
            faultcode=f"{SOAP_CODE_VALUE.get(error.code, info.side)}.{error.code}",
            faultstring=message,
            detail={f"{{{FAULT_NS}}}error": detail},
        )
        self.error = error
        self.http_status = info.http_status


def to_fault(error: GatewayError, field_namer: FieldNamer | None = None) -> GatewayFault:
    wire_field = None
    if error.field is not None:
        wire_field = field_namer(error.field) if field_namer else error.field
    return GatewayFault(error, wire_field=wire_field)


def normalize(error: BaseException) -> GatewayFault:
    """Any error that reaches the transport → a :class:`GatewayFault`."""
    if isinstance(error, GatewayFault):
        return error
    if isinstance(error, GatewayError):
        return to_fault(error)
    if isinstance(error, RequestTooLongError):
        return to_fault(RequestError("the request body is larger than the gateway accepts", code=FaultCode.REQUEST_TOO_LARGE))
    if isinstance(error, (RequestNotAllowed, ResourceNotFoundError)):
        return to_fault(RequestError(f"not a SOAP call this endpoint knows: {error.faultstring}", code=FaultCode.INVALID_REQUEST))
    if isinstance(error, Fault) and str(error.faultcode).startswith("Client"):
        return to_fault(RequestError(f"the message does not fit the contract: {error.faultstring}", code=FaultCode.INVALID_REQUEST))
    logger.error("internal error while handling a SOAP call", exc_info=error)
    return to_fault(GatewayError("internal error; the gateway's log has the details", code=FaultCode.INTERNAL_ERROR))


def http_status(fault: GatewayFault, *, soap11: bool = False) -> str:
    """The status line for ``fault``: the table's over SOAP 1.2; over SOAP 1.1, 500 for every
    fault (SOAP 1.1, WS-I Basic Profile R1126) except :data:`HTTP_LEVEL_CODES`."""
    code = fault.http_status
    if soap11 and fault.error.code not in HTTP_LEVEL_CODES:
        code = 500
    status = HTTPStatus(code)
    return f"{status.value} {status.phrase}"


def fault_header_blocks(fault: GatewayFault, *, soap12: bool) -> list[etree._Element]:
    """SOAP 1.2 header blocks that go with ``fault`` (part 1, 5.4.7, 5.4.8 and appendix A).

    ``Upgrade`` names the envelope a SOAP 1.2 endpoint speaks (also inside the SOAP 1.1 fault
    it answers a SOAP 1.1 message with); ``NotUnderstood`` each header block the gateway did
    not understand (SOAP 1.2 faults only; SOAP 1.1 has no such block).
    """
    blocks = []
    supported = fault.error.details.get(SUPPORTED_ENVELOPE)
    if fault.error.code is FaultCode.VERSION_MISMATCH and supported == SOAP12_ENV:
        upgrade = etree.Element(f"{{{SOAP12_ENV}}}Upgrade", nsmap={"env12": SOAP12_ENV})
        etree.SubElement(upgrade, f"{{{SOAP12_ENV}}}SupportedEnvelope", qname="env12:Envelope")
        blocks.append(upgrade)
    if fault.error.code is FaultCode.MUST_UNDERSTAND and soap12:
        for name in fault.error.details.get(NOT_UNDERSTOOD, "").splitlines():
            qname = etree.QName(name)
            if qname.namespace:
                blocks.append(etree.Element(f"{{{SOAP12_ENV}}}NotUnderstood", qname=f"h:{qname.localname}",
                                            nsmap={"h": qname.namespace}))
    return blocks


__all__ = ["FAULT_NS", "FAULTS", "GatewayFault", "normalize", "to_fault", "http_status", "fault_header_blocks"]
