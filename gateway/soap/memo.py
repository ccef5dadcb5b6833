"""``/memo``: the gateway's own MeMo service, SOAP 1.1 and SOAP 1.2.

``sendMessage`` carries one enveloped-signed ``memo:Message`` as base64Binary: the exact
bytes the authority signed, so the signature verifies whatever canonicalisation was used
(embedded in a SOAP envelope, inclusive canonicalisation would pick up the envelope's
namespaces). ``getStatus`` and ``getHistory`` look a message up by its messageUUID; a
sender sees only its own messages.
"""
from __future__ import annotations

from spyne import Application, Array, ByteArray, ComplexModel, DateTime, Unicode, rpc
from spyne.interface.wsdl import Wsdl11

from gateway.config import ServerSettings
from gateway.runtime import Runtime
from gateway.soap.dual import DualSoapApplication
from gateway.soap.protocol import GatewayService, GatewayWsgiApplication, HardenedSoap11, HardenedSoap12, sender_of
from gateway.xml.parser import INLINE_DOCUMENTS

PATH = "/memo"
NS = "urn:gateway:memo:1"


class SendResult(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("messageUUID", Unicode(min_occurs=1, nillable=False)),
        ("status", Unicode(min_occurs=1, nillable=False)),
    ]


class MessageStatus(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("messageUUID", Unicode(min_occurs=1, nillable=False)),
        ("status", Unicode(min_occurs=1, nillable=False)),
        ("changed", DateTime(min_occurs=1, nillable=False)),
    ]


class HistoryEvent(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("time", DateTime(min_occurs=1, nillable=False)),
        ("kind", Unicode(min_occurs=1, nillable=False)),
        ("status", Unicode(min_occurs=0)),
        ("channel", Unicode(min_occurs=0)),
        ("detail", Unicode(min_occurs=0)),
    ]


class MemoService(GatewayService):
    @rpc(ByteArray(min_occurs=1, nillable=False), _returns=SendResult, _in_variable_names={"message": "message"},
         _operation_name="sendMessage")
    def sendMessage(ctx, message):
        runtime: Runtime = ctx.app.gateway
        data = b"".join(message) if isinstance(message, (list, tuple)) else bytes(message or b"")
        sid = runtime.memo.accept(data, sender=sender_of(ctx))
        [(_sid, status, _changed)] = runtime.shipments.statuses(sender_of(ctx).name, [sid], field="messageUUID")
        return SendResult(messageUUID=sid, status=str(status))

    @rpc(Unicode(min_occurs=1, nillable=False), _returns=MessageStatus, _in_variable_names={"message_uuid": "messageUUID"},
         _operation_name="getStatus")
    def getStatus(ctx, message_uuid):
        stored = ctx.app.gateway.shipments.get(sender_of(ctx).name, message_uuid, field="messageUUID")
        return MessageStatus(messageUUID=stored.shipment.id, status=str(stored.status), changed=stored.status_changed_at)

    @rpc(Unicode(min_occurs=1, nillable=False), _returns=Array(HistoryEvent), _in_variable_names={"message_uuid": "messageUUID"},
         _operation_name="getHistory")
    def getHistory(ctx, message_uuid):
        events = ctx.app.gateway.shipments.history(sender_of(ctx).name, message_uuid)
        return [HistoryEvent(time=e.at, kind=e.kind, status=str(e.status) if e.status else None, channel=e.channel, detail=e.detail)
                for e in events]


def _application(runtime: Runtime | None, protocol: type) -> GatewayWsgiApplication:
    app = Application(
        [MemoService],
        tns=NS,
        name="MemoService",
        in_protocol=protocol(validator=None, parse_policy=INLINE_DOCUMENTS,
                             authenticator=runtime.authenticator if runtime else None),
        out_protocol=protocol(),
    )
    app.gateway = runtime  # type: ignore[attr-defined]
    limit = runtime.settings.server.max_request_bytes if runtime else ServerSettings().max_request_bytes
    wsgi = GatewayWsgiApplication(app, max_content_length=limit)
    wsgi.doc.wsdl11 = Wsdl11(app.interface)
    return wsgi


def build_application(runtime: Runtime | None) -> DualSoapApplication:
    return DualSoapApplication(_application(runtime, HardenedSoap11), _application(runtime, HardenedSoap12))


def wsdl_document(url: str) -> bytes:
    return build_application(None).wsdl(url)
