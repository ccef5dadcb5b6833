"""``/memo``: the gateway's own MeMo service, SOAP 1.1 and SOAP 1.2.

``sendMessage`` carries one enveloped-signed ``memo:Message`` as base64Binary: the exact
bytes the authority signed, so the signature verifies whatever canonicalisation was used
(embedded in a SOAP envelope, inclusive canonicalisation would pick up the envelope's
namespaces). ``getStatus`` and ``getHistory`` look a message up by its messageUUID; a
sender sees only its own messages.
"""
from __future__ import annotations

from spyne import Array, ByteArray, DateTime, Unicode, rpc

from gateway.runtime import Runtime
from gateway.soap.dual import DualSoapApplication, build_dual
from gateway.soap import application
from gateway.soap.application import complex_type, optional, required
from gateway.soap.binary import binary_bytes
from gateway.soap.protocol import GatewayService, claim_parse_memory, sender_of

PATH = "/memo"
NS = "urn:gateway:memo:1"


SendResult = complex_type(NS, "SendResult", messageUUID=required(Unicode), status=required(Unicode))
MessageStatus = complex_type(NS, "MessageStatus", messageUUID=required(Unicode), status=required(Unicode), changed=required(DateTime))
HistoryEvent = complex_type(NS, "HistoryEvent", time=required(DateTime), kind=required(Unicode), status=optional(Unicode),
                            channel=optional(Unicode), detail=optional(Unicode))


class MemoService(GatewayService):
    @rpc(required(ByteArray), _returns=SendResult, _in_variable_names={"message": "message"},
         _operation_name="sendMessage")
    def sendMessage(ctx, message):
        runtime: Runtime = ctx.app.gateway
        data = binary_bytes(message)
        claim_parse_memory(ctx, data)
        accepted = runtime.memo.accept(data, sender=sender_of(ctx))
        return SendResult(messageUUID=accepted.shipment_id, status=str(accepted.status))

    @rpc(required(Unicode), _returns=MessageStatus, _in_variable_names={"message_uuid": "messageUUID"},
         _operation_name="getStatus")
    def getStatus(ctx, message_uuid):
        stored = ctx.app.gateway.shipments.get(sender_of(ctx).name, message_uuid, field="messageUUID")
        return MessageStatus(messageUUID=stored.shipment.id, status=str(stored.status), changed=stored.status_changed_at)

    @rpc(required(Unicode), _returns=Array(HistoryEvent), _in_variable_names={"message_uuid": "messageUUID"},
         _operation_name="getHistory")
    def getHistory(ctx, message_uuid):
        events = ctx.app.gateway.shipments.history(sender_of(ctx).name, message_uuid)
        return [HistoryEvent(time=e.at, kind=e.kind, status=str(e.status) if e.status else None, channel=e.channel, detail=e.detail)
                for e in events]


def build_application(runtime: Runtime | None) -> DualSoapApplication:
    return build_dual(MemoService, tns=NS, name="MemoService", path=PATH, runtime=runtime)


def wsdl_document(url: str) -> bytes:
    """The WSDL this endpoint serves, with ``url`` as its address."""
    return application.wsdl_document(build_application, PATH, url)
