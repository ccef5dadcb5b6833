"""The one place where gateway errors become SOAP faults.

A fault's ``Code/Value`` is ``Sender`` or ``Receiver`` (from :data:`gateway.errors.FAULTS`),
its first ``Subcode`` is the stable gateway code, ``Reason/Text`` the operator message
prefixed with the field in the caller's own vocabulary, and ``Detail`` repeats code and
field as ``{urn:gateway:faults}error`` so programs need not parse text.
spyne's own faults (contract violations it finds while decoding) are normalised here too.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from spyne import Fault
from spyne.error import RequestNotAllowed, RequestTooLongError, ResourceNotFoundError

from gateway.errors import FAULTS, FaultCode, GatewayError, RequestError

FAULT_NS = "urn:gateway:faults"

logger = logging.getLogger(__name__)

FieldNamer = Callable[[str], str]


class GatewayFault(Fault):
    """A spyne fault that remembers the :class:`GatewayError` it was made from."""

    def __init__(self, error: GatewayError, *, wire_field: str | None) -> None:
        info = error.info
        message = f"{wire_field}: {error.message}" if wire_field else error.message
        detail = {f"{{{FAULT_NS}}}code": str(error.code)}
        if wire_field:
            detail[f"{{{FAULT_NS}}}field"] = wire_field
        super().__init__(
            faultcode=f"{info.side}.{error.code}",
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


def http_status(fault: GatewayFault) -> str:
    from http import HTTPStatus

    status = HTTPStatus(fault.http_status)
    return f"{status.value} {status.phrase}"


__all__ = ["FAULT_NS", "FAULTS", "GatewayFault", "normalize", "to_fault", "http_status"]
