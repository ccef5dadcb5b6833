"""``/tjenester/forsendelseservice/ForsendelsesServiceV9``: KS SvarUt ForsendelsesServiceV9.

SOAP 1.2, document/literal, the 12 operations of the official contract with its names
(including the contract's spelling ``retreiveForsendelseTyper``). Each operation reads the
authenticated sender, translates, calls the domain and translates back.
"""
from __future__ import annotations

from typing import Any

from spyne import rpc

from gateway.config import SenderSettings
from gateway.domain.identifiers import is_valid_norwegian_organization_number
from gateway.errors import FaultCode, ValidationError
from gateway.mapping.tables import FieldNamer, StatusMap
from gateway.runtime import Runtime
from gateway.soap import application
from gateway.soap import svarut_types as wire
from gateway.soap.application import gateway_wsgi, server_settings
from gateway.soap.contract import PublishedWsdl, WsdlEndpoint
from gateway.soap.protocol import GatewayService, HardenedSoap12, sender_of
from gateway.soap.svarut_translate import history_to_wire, shipment_from_wire
from gateway.soap.wsdl_writer import Contract, write_wsdl

PATH = "/tjenester/forsendelseservice/ForsendelsesServiceV9"
SERVICE_NAME = "ForsendelsesServiceV9"

_status = StatusMap("svarut")


def _runtime(ctx: Any) -> Runtime:
    return ctx.app.gateway


def _bare(request: type, response: type, name: str) -> Any:
    return rpc(request, _returns=response, _body_style="bare", _operation_name=name)


def _no_input(response_member: type, name: str) -> Any:
    """An operation whose request element is an empty sequence (spyne 'bare' refuses those)."""
    return rpc(
        _returns=response_member,
        _in_message_name=name,
        _out_message_name=f"{name}Response",
        _out_variable_name="return",
        _operation_name=name,
    )


def _response(cls: type, value: Any) -> Any:
    return cls(**{"return": value})


class ForsendelsesServiceV9(GatewayService):
    field_namer = FieldNamer("svarut_fields")

    @_bare(wire.SendForsendelse, wire.SendForsendelseResponse, "sendForsendelse")
    def sendForsendelse(ctx, req):
        return _response(wire.SendForsendelseResponse, _send(ctx, req.forsendelse, None, "sendForsendelse"))

    @_bare(wire.SendForsendelseMedId, wire.SendForsendelseMedIdResponse, "sendForsendelseMedId")
    def sendForsendelseMedId(ctx, req):
        if not req.forsendelsesid:
            raise ValidationError("forsendelsesid is required; get one from startNyForsendelse", code=FaultCode.INVALID_SHIPMENT_ID, field="shipment_id")
        shipment_id = _send(ctx, req.forsendelse, req.forsendelsesid, "sendForsendelseMedId")
        return _response(wire.SendForsendelseMedIdResponse, shipment_id)

    @_no_input(wire._opt(wire.Unicode), "startNyForsendelse")
    def startNyForsendelse(ctx):
        return _runtime(ctx).shipments.reserve_id(sender_of(ctx).name)

    @_bare(wire.RetrieveForsendelseStatus, wire.RetrieveForsendelseStatusResponse, "retrieveForsendelseStatus")
    def retrieveForsendelseStatus(ctx, req):
        stored = _runtime(ctx).shipments.get(sender_of(ctx).name, req.forsendelsesid)
        return _response(wire.RetrieveForsendelseStatusResponse, _status(stored.status))

    @_bare(wire.RetrieveForsendelseStatuser, wire.RetrieveForsendelseStatuserResponse, "retrieveForsendelseStatuser")
    def retrieveForsendelseStatuser(ctx, req):
        rows = _runtime(ctx).shipments.statuses(sender_of(ctx).name, req.forsendelseider or [], field="shipment_ids")
        results = [
            wire.StatusResult(forsendelseStatus=_status(status), forsendelsesid=sid, sisteStatusEndring=changed)
            for sid, status, changed in rows
        ]
        return _response(wire.RetrieveForsendelseStatuserResponse, results)

    @_bare(wire.RetrieveForsendelseHistorikk, wire.RetrieveForsendelseHistorikkResponse, "retrieveForsendelseHistorikk")
    def retrieveForsendelseHistorikk(ctx, req):
        events = _runtime(ctx).shipments.history(sender_of(ctx).name, req.forsendelsesid)
        return _response(wire.RetrieveForsendelseHistorikkResponse, history_to_wire(events))

    @_bare(wire.RetrieveForsendelseIdByEksternRef, wire.RetrieveForsendelseIdByEksternRefResponse, "retrieveForsendelseIdByEksternRef")
    def retrieveForsendelseIdByEksternRef(ctx, req):
        ids = _runtime(ctx).shipments.ids_by_external_ref(sender_of(ctx).name, req.eksternRef)
        return _response(wire.RetrieveForsendelseIdByEksternRefResponse, ids)

    @_bare(wire.SetForsendelseLestAvEksterntSystem, wire.SetForsendelseLestAvEksterntSystemResponse, "setForsendelseLestAvEksterntSystem")
    def setForsendelseLestAvEksterntSystem(ctx, req):
        _runtime(ctx).shipments.mark_read(
            sender_of(ctx).name,
            req.forsendelsesid,
            read_by=req.lestAvFodselsnummer,
            system=req.navnPaEksterntSystem,
            read_at=req.datoLest,
        )
        return wire.SetForsendelseLestAvEksterntSystemResponse()

    @_no_input(wire._many(wire.Unicode), "retreiveForsendelseTyper")
    def retreiveForsendelseTyper(ctx):
        return list(_runtime(ctx).settings.svarut.shipment_types)

    @_bare(wire.RetrieveMottakerSystemForOrgnr, wire.RetrieveMottakerSystemForOrgnrResponse, "retrieveMottakerSystemForOrgnr")
    def retrieveMottakerSystemForOrgnr(ctx, req):
        orgnr = (req.organisasjonsnr or "").strip()
        if not is_valid_norwegian_organization_number(orgnr):
            raise ValidationError("not a valid organisasjonsnummer", code=FaultCode.INVALID_ORGANIZATION_NUMBER, field="organization_number")
        systems = [
            wire.MottakerForsendelseTyper(
                forsendelseType=s.shipment_type or None,
                mottakerid=s.recipient_id or None,
                mottakersystem=s.system,
                niva=s.level,
                orgnr=s.organization_number,
            )
            for s in _runtime(ctx).settings.svarut.receiving_systems
            if s.organization_number == orgnr
        ]
        return _response(wire.RetrieveMottakerSystemForOrgnrResponse, systems)

    @_bare(wire.RetrieveSigneringshistorikk, wire.RetrieveSigneringshistorikkResponse, "retrieveSigneringshistorikk")
    def retrieveSigneringshistorikk(ctx, req):
        [sid] = _runtime(ctx).shipments.require_owned(sender_of(ctx).name, [req.forsendelseid], field="shipment_id")
        return _response(wire.RetrieveSigneringshistorikkResponse, _signing_history(sid))

    @_bare(
        wire.RetrieveSigneringshistorikkForFlereForsendelser,
        wire.RetrieveSigneringshistorikkForFlereForsendelserResponse,
        "retrieveSigneringshistorikkForFlereForsendelser",
    )
    def retrieveSigneringshistorikkForFlereForsendelser(ctx, req):
        runtime = _runtime(ctx)
        ids = req.forsendelseider or []
        limit = runtime.settings.intake.max_ids_per_signing_history
        if len(ids) > limit:
            raise ValidationError(f"at most {limit} ids per call, got {len(ids)}", code=FaultCode.TOO_MANY_IDS, field="shipment_ids")
        owned = runtime.shipments.require_owned(sender_of(ctx).name, ids, field="shipment_ids")
        return _response(wire.RetrieveSigneringshistorikkForFlereForsendelserResponse, [_signing_history(s) for s in owned])


def _signing_history(shipment_id: str) -> wire.Signeringshistorikk:
    # The gateway refuses signing orders at intake, so no shipment has signing events.
    return wire.Signeringshistorikk(forsendelseid=shipment_id, logg=[])


def _send(ctx: Any, forsendelse: wire.Forsendelse | None, shipment_id: str | None, operation: str) -> str:
    if forsendelse is None:
        raise ValidationError("the forsendelse element is missing", code=FaultCode.SHIPMENT_REQUIRED, field="shipment")
    sender: SenderSettings = sender_of(ctx)
    shipment, contents = shipment_from_wire(forsendelse, sender=sender)
    return _runtime(ctx).shipments.accept(shipment, contents, operation=operation, shipment_id=shipment_id).shipment_id


#: What the official contract says beyond our models (see gateway.soap.wsdl_writer).
CONTRACT = Contract(
    name=SERVICE_NAME,
    tns=wire.NS,
    binding="ForsendelsesServiceV9SoapBinding",
    subtypes=wire.POLYMORPHIC_TYPES,
    abstract=wire.ABSTRACT_TYPES,
    expected_content_types=wire.EXPECTED_CONTENT_TYPES,
)


def build_application(runtime: Runtime | None) -> WsdlEndpoint:
    """The WSGI application of the endpoint, serving its WSDL at ``?wsdl``.

    The WSDL is our own (:mod:`gateway.soap.wsdl_writer`), built once here with the
    configured address; requests are validated against its schema before spyne decodes
    them. Without a runtime (``gateway export-wsdl``) it can only describe itself.
    """
    wsgi = gateway_wsgi(ForsendelsesServiceV9, tns=wire.NS, name=SERVICE_NAME, protocol=HardenedSoap12, runtime=runtime,
                        classes=wire.POLYMORPHIC_TYPES)
    wsgi.doc.wsdl11 = None  # spyne's WSDL is not the contract, and it would be built from Host
    location = server_settings(runtime).base_url() + PATH
    wsdl = PublishedWsdl(write_wsdl(CONTRACT, ForsendelsesServiceV9.public_methods.values(), location=location), path=PATH)
    wsgi.app.in_protocol.contract = wsdl.schema
    return WsdlEndpoint(wsgi, wsdl)


def wsdl_document(url: str) -> bytes:
    """The WSDL this endpoint serves, with ``url`` as its address."""
    return application.wsdl_document(build_application, PATH, url)
