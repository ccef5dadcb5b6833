"""zeep's HTTP transport for the SOAP channels (Altinn 2, the archives' noarkExchange)."""
from __future__ import annotations

import requests
import zeep.exceptions
from zeep.transports import Transport

_SOAP_MEDIA_TYPES = frozenset({"application/soap+xml", "text/xml", "multipart/related"})


class SoapTransport(Transport):
    """zeep's Transport, except that an HTTP error whose body is not SOAP (a proxy's or load
    balancer's page) becomes a TransportError with its status; zeep would parse a well-formed
    HTML page as XML and report an "Unknown fault" without the status."""

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        response = super().post(address, message, headers)
        media = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if response.status_code != 200 and media not in _SOAP_MEDIA_TYPES:
            raise zeep.exceptions.TransportError(
                f"HTTP {response.status_code} without a SOAP answer", status_code=response.status_code, content=response.content
            )
        return response
