"""``/memo``: the gateway's own MeMo service, SOAP 1.1 and SOAP 1.2.

``sendMessage`` carries one enveloped-signed ``memo:Message`` as base64Binary: the exact
bytes the authority signed, so the signature verifies whatever canonicalisation was used
(embedded in a SOAP envelope, inclusive canonicalisation would pick up the envelope's
namespaces). ``getStatus`` and ``getHistory`` look a message up by its messageUUID; a
sender sees only its own messages.
"""
from __future__ import annotations

from spyne import Array, ByteArray, ComplexModel, DateTime, Unicode, rpc

from gateway.runtime import Runtime
from gateway.soap.dual import DualSoapApplication, build_dual
from gateway.soap.binary import binary_bytes
from gateway.soap.protocol import GatewayService, claim_parse_memory, sender_of

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
        data = binary_bytes(message)
        claim_parse_memory(ctx, data)
        accepted = runtime.memo.accept(data, sender=sender_of(ctx))
        return SendResult(messageUUID=accepted.shipment_id, status=str(accepted.status))

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


def build_application(runtime: Runtime | None) -> DualSoapApplication:
    return build_dual(MemoService, tns=NS, name="MemoService", path=PATH, runtime=runtime)


def wsdl_document(url: str) -> bytes:
    """The WSDL this endpoint serves, with ``url`` as its address."""
    app = build_application(None)
    app.publish(url.removesuffix(PATH))
    return app.wsdl.document
