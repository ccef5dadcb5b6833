"""How a gateway service becomes a spyne WSGI application: built one way for every endpoint.

Every endpoint (SvarUt on SOAP 1.2; /memo and /validation on SOAP 1.1 and 1.2) gets the
hardened input (:mod:`gateway.soap.protocol`) with the runtime's authenticator, spool folder
and memory budget, and the request limit from the settings. Without a runtime (``gateway
export-wsdl``) an application can only describe itself.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from spyne import Application, ComplexModel

from gateway.config import ServerSettings
from gateway.runtime import Runtime
from gateway.soap.contract import WsdlEndpoint
from gateway.soap.protocol import GatewayWsgiApplication, HardenedSoap11, HardenedSoap12
from gateway.xml.parser import INLINE_DOCUMENTS


def gateway_wsgi(
    service: type,
    *,
    tns: str,
    name: str,
    protocol: type[HardenedSoap11] | type[HardenedSoap12],
    runtime: Runtime | None,
    classes: Iterable[type] = (),
) -> GatewayWsgiApplication:
    """``service`` (a :class:`~gateway.soap.protocol.GatewayService`) as a WSGI application
    speaking ``protocol``; the runtime is ``ctx.app.gateway`` in its operations."""
    in_protocol = protocol(
        validator=None,
        parse_policy=INLINE_DOCUMENTS,
        authenticator=runtime.authenticator if runtime else None,
        spool_dir=str(runtime.spool_dir) if runtime else None,
        memory_budget=runtime.memory_budget if runtime else None,
    )
    app = Application([service], tns=tns, name=name, in_protocol=in_protocol, out_protocol=protocol(), classes=list(classes))
    app.gateway = runtime  # type: ignore[attr-defined]  # spyne's Application has no slot for it
    # twisted.web enforces the body limit (gateway.server); spyne's own 2 MiB cap must not undercut it
    return GatewayWsgiApplication(app, max_content_length=server_settings(runtime).max_request_bytes)


def server_settings(runtime: Runtime | None) -> ServerSettings:
    """The runtime's server settings, or the defaults when only the WSDL is wanted."""
    return runtime.settings.server if runtime else ServerSettings()


def wsdl_document(build: Callable[[Runtime | None], WsdlEndpoint], path: str, url: str) -> bytes:
    """The WSDL the endpoint ``build`` makes serves at ``path``, with ``url`` as its address."""
    endpoint = build(None)
    endpoint.publish(url.removesuffix(path))
    return endpoint.wsdl.document


def complex_type(ns: str, name: str, **members: Any) -> type[ComplexModel]:
    """A spyne complex type of the gateway's own contracts: ``members`` in the order given."""
    return ComplexModel.produce(ns, name, members)


def required(model: Any) -> Any:
    """A member that must be present and not nil."""
    return model(min_occurs=1, nillable=False)


def optional(model: Any) -> Any:
    return model(min_occurs=0)
