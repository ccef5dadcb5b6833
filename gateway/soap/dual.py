"""One endpoint, SOAP 1.1 and SOAP 1.2: pick the spyne application by Content-Type.

SOAP 1.2 arrives as ``application/soap+xml`` (or MTOM with ``type="application/soap+xml"``),
SOAP 1.1 as ``text/xml``. ``?wsdl`` serves one WSDL with both bindings and two ports, so a
client generated from it chooses either. The WSDL is built once, when the application is
built, and published at the configured address (see :mod:`gateway.soap.contract`); both
protocols validate requests against its schema.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree
from spyne.interface.wsdl import Wsdl11

from gateway.runtime import Runtime
from gateway.soap.application import gateway_wsgi, server_settings
from gateway.soap.contract import PublishedWsdl, WsdlEndpoint
from gateway.soap.protocol import GatewayWsgiApplication, HardenedSoap11, HardenedSoap12

WSDL = "http://schemas.xmlsoap.org/wsdl/"


class DualSoapApplication(WsdlEndpoint):
    """The published WSDL at ``?wsdl``; calls to the SOAP 1.2 or 1.1 application by Content-Type."""

    def __init__(self, soap11: GatewayWsgiApplication, soap12: GatewayWsgiApplication, wsdl: PublishedWsdl) -> None:
        super().__init__(self._by_version, wsdl)
        self.soap11 = soap11
        self.soap12 = soap12

    def _by_version(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE", "").lower()
        app = self.soap12 if "application/soap+xml" in content_type else self.soap11
        return app(environ, start_response)


def _document(app: GatewayWsgiApplication, url: str) -> bytes:
    """spyne's WSDL of ``app``, built once; spyne's own ``?wsdl`` handler is switched off."""
    wsdl = Wsdl11(app.app.interface)
    wsdl.build_interface_document(url)
    app.doc.wsdl11 = None
    return wsdl.get_interface_document()


def merge_wsdls(soap11: bytes, soap12: bytes) -> bytes:
    """The SOAP 1.1 WSDL with the SOAP 1.2 binding and port added."""
    base = etree.fromstring(soap11)
    other = etree.fromstring(soap12)
    ns = {"wsdl": WSDL}
    service = base.find("wsdl:service", ns)
    for binding in other.findall("wsdl:binding", ns):
        b = copy.deepcopy(binding)
        b.set("name", binding.get("name") + "Soap12")
        service.addprevious(b)
    for port in other.findall("wsdl:service/wsdl:port", ns):
        p = copy.deepcopy(port)
        p.set("name", port.get("name") + "Soap12")
        prefix, _, local = port.get("binding").rpartition(":")
        p.set("binding", f"{prefix}:{local}Soap12" if prefix else f"{local}Soap12")
        service.append(p)
    return etree.tostring(base, xml_declaration=True, encoding="UTF-8")


def build_dual(service: type, *, tns: str, name: str, path: str, runtime: Runtime | None) -> DualSoapApplication:
    """A gateway service (the spyne service class) on SOAP 1.1 and 1.2 (see
    :func:`gateway.soap.application.gateway_wsgi`); ``runtime`` None builds it for its WSDL only."""
    soap11, soap12 = (gateway_wsgi(service, tns=tns, name=name, protocol=protocol, runtime=runtime)
                      for protocol in (HardenedSoap11, HardenedSoap12))
    url = server_settings(runtime).base_url() + path
    wsdl = PublishedWsdl(merge_wsdls(_document(soap11, url), _document(soap12, url)), path=path)
    soap11.app.in_protocol.contract = wsdl.schema
    soap12.app.in_protocol.contract = wsdl.schema
    return DualSoapApplication(soap11, soap12, wsdl)
