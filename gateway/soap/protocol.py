"""spyne plumbing shared by every contract: hardened SOAP input, one error path.

* :class:`HardenedSoap12` / :class:`HardenedSoap11` parse the envelope once with the
  gateway's parser factory (:mod:`gateway.xml.parser`) instead of spyne's own, keep the
  parsed tree on the context, and never resolve SOAP-encoding ``href``s.
* :class:`GatewayService` turns domain errors into faults via :mod:`gateway.soap.faults`
  and hides unexpected exceptions.
* :class:`GatewayWsgiApplication` normalises every fault (including spyne's own) and sets
  the HTTP status from the fault table.
"""
from __future__ import annotations

import binascii
import functools
import itertools
import logging
import tempfile
import types
from collections.abc import Callable
from email.message import Message
from typing import Any, ClassVar, TypeVar

from lxml import etree

import pybase64
from spyne import Fault, ServiceBase
from spyne.protocol.soap import Soap11, Soap12
from spyne.error import RequestNotAllowed
from spyne.server.http import HttpTransportContext
from spyne.server.wsgi import WsgiApplication

from gateway.admission import INLINE_COST_FACTOR, MemoryBudget
from gateway.auth import Authenticator
from gateway.config import SenderSettings
from gateway.errors import FaultCode, GatewayError, RequestError
from gateway.soap.contract import MessageSchema
from gateway.soap.faults import FieldNamer, GatewayFault, http_status, normalize, to_fault
from gateway.soap.multipart import DEFAULT_POLICY, MultipartPolicy, read_multipart
from gateway.soap.xop import XOP_NS, XopContents, refuse_includes, resolve_includes
from gateway.spool import Spool, content_bytes
from gateway.xml.parser import STRICT, XmlParsePolicy, parse_untrusted

logger = logging.getLogger(__name__)

# spyne logs every fault with a traceback; the gateway logs what matters itself.
logging.getLogger("spyne").setLevel(logging.CRITICAL)


_T = TypeVar("_T")

SENDER_KEY = "gateway.sender"
#: Set by the Twisted request (never by a client: see gateway.server) when the body was refused.
REJECTED_ENV = "HTTP_X_GATEWAY_REJECTED"
TOO_LARGE = "too-large"
#: The request's spool (MTOM attachments on disk) and its resolved xop:Includes.
SPOOL_KEY = "gateway.spool"
XOP_KEY = "gateway.xop"
CLAIM_KEY = "gateway.memory-claim"
_XOP_NS_BYTES = XOP_NS.encode()


def binary_bytes(value: Any) -> bytes:
    """A base64Binary argument as one ``bytes``: spyne hands over a list of chunks, and an
    MTOM attachment may be a :class:`~gateway.spool.SpooledContent` (read here: only for
    values that are handled in memory anyway, such as a MeMo message)."""
    if isinstance(value, (list, tuple)):
        return b"".join(content_bytes(c) for c in value)
    return bytes(value or b"")


def sender_of(ctx: Any) -> SenderSettings:
    """The sender system that authenticated this call."""
    return ctx.transport.req_env[SENDER_KEY]


class _HardenedInput:
    """Mixed in before spyne's Soap11/Soap12; takes two keyword-only knobs of its own."""

    def __init__(
        self,
        *args: Any,
        parse_policy: XmlParsePolicy = STRICT,
        authenticator: Authenticator | None = None,
        spool_dir: str | None = None,
        multipart_policy: MultipartPolicy = DEFAULT_POLICY,
        memory_budget: MemoryBudget | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.parse_policy = parse_policy
        self.authenticator = authenticator
        self.spool_dir = spool_dir
        self.multipart_policy = multipart_policy
        self.memory_budget = memory_budget

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        if isinstance(ctx.transport, HttpTransportContext):
            if ctx.transport.req_env.get(REJECTED_ENV) == TOO_LARGE:
                raise to_fault(RequestError("the request body is larger than the gateway accepts", code=FaultCode.REQUEST_TOO_LARGE))
            if self.authenticator is not None:
                # Before the body is parsed: strangers get no XML parsing at all.
                try:
                    sender = self.authenticator.authenticate(ctx.transport.req_env.get("HTTP_AUTHORIZATION"))
                except GatewayError as exc:
                    raise to_fault(exc) from None
                ctx.transport.req_env[SENDER_KEY] = sender
            content_type = ctx.transport.get_request_content_type()
            if content_type is None or ctx.transport.get_request_method() != "POST":
                raise RequestNotAllowed("a SOAP call is a POST with a Content-Type")
            media_type, params = _parse_content_type(content_type)
            if media_type == "multipart/related":
                root = self._read_mtom(ctx, params)
            else:
                length = ctx.transport.req_env.get("CONTENT_LENGTH")
                if length:  # claim before reading; a chunked body only once it is read
                    self._claim(ctx, int(length) * INLINE_COST_FACTOR)
                body = self._body(ctx)
                if not length:
                    self._claim(ctx, len(body) * INLINE_COST_FACTOR)
                root = self._parse(body, params.get("charset"))
                if _XOP_NS_BYTES in body:
                    _raise_as_fault(refuse_includes, root)
        else:
            root = self._parse(self._body(ctx), None)
        self._check_contract(ctx, root)
        ctx.in_document = (root, {})

    def _claim(self, ctx: Any, nbytes: int) -> None:
        """Reserve memory for this call from the process's budget; released when it ends."""
        if self.memory_budget is not None:
            claim = _raise_as_fault(self.memory_budget.claim, nbytes)
            if claim is not None:
                ctx.transport.req_env[CLAIM_KEY] = claim

    def _parse(self, body: bytes, charset: str | None) -> Any:
        return _raise_as_fault(parse_untrusted, body, policy=self.parse_policy, charset=charset)

    def _read_mtom(self, ctx: Any, params: dict[str, str]) -> Any:
        """MTOM/XOP: our own streaming reader, the hardened parser for the root part, and
        the xop:Includes resolved in the tree (see gateway.soap.multipart and .xop)."""
        env = ctx.transport.req_env
        spool = env[SPOOL_KEY] = Spool(self.spool_dir or tempfile.gettempdir())
        message = _raise_as_fault(read_multipart, env["wsgi.input"], boundary=params.get("boundary"),
                                  start=params.get("start"), spool=spool, policy=self.multipart_policy)
        # attachments on disk cost nothing; the root part and small attachments in memory do
        in_memory = sum(len(a.content) for a in message.attachments.values() if isinstance(a.content, bytes))
        self._claim(ctx, len(message.root) * INLINE_COST_FACTOR + in_memory)
        root = self._parse(message.root, message.root_charset)
        env[XOP_KEY] = _raise_as_fault(resolve_includes, root, message.attachments)
        return root

    #: The schema of the endpoint's served WSDL (gateway.soap.contract), set when it is built.
    contract: MessageSchema | None = None

    def _check_contract(self, ctx: Any, root: Any) -> None:
        """Refuse a Body payload the served WSDL does not allow, before spyne decodes it:
        spyne drops what it does not know (an unknown element, an abstract type without
        ``xsi:type``) and the letter would be stored without it."""
        if self.contract is None:
            return
        body = root.find(f"{{{self.ns_soap_env}}}Body")
        if body is None:
            return  # not an envelope of this SOAP version: spyne's own fault
        payload = list(itertools.islice((child for child in body if isinstance(child.tag, str)), 2))
        try:
            if len(payload) > 1:
                raise RequestError("the SOAP Body carries more than one element; a message has exactly one", code=FaultCode.INVALID_REQUEST)
            if payload:
                self.contract.check(payload[0])
        except GatewayError as exc:
            raise to_fault(exc) from None

    @staticmethod
    def _body(ctx: Any) -> bytes:
        """The request body as one bytes object, read once (no list of chunks to join)."""
        if isinstance(ctx.transport, HttpTransportContext) and isinstance(ctx.in_string, types.GeneratorType):
            env = ctx.transport.req_env
            # spyne's reader has not started: read the body in one go instead. Without a
            # Content-Length (chunked, as Java clients send large calls) read to the end;
            # twisted.web has already bounded the body by server.max_request_bytes.
            length = env.get("CONTENT_LENGTH")
            return env["wsgi.input"].read(int(length)) if length else env["wsgi.input"].read()
        return b"".join(c if isinstance(c, bytes) else c.encode("utf-8") for c in ctx.in_string)

    def byte_array_from_element(self, ctx: Any, cls: Any, element: Any) -> list[bytes]:
        """base64Binary → bytes with pybase64's SIMD decoder.

        spyne joins the text character by character and CPython's decoder manages about
        300 MB/s; for inline documents this is most of the decoding time. Canonical base64
        takes the validating fast path; text with line breaks (MIME style) the lenient one.
        Once decoded, the base64 text is dropped from the tree: for a 100 MB document that
        is 133 MB less to hold while the shipment is checked and stored.
        """
        xop = _xop_contents(ctx)
        if xop is not None:
            content = xop.take(element)
            if content is not None:
                return [content]
        text = element.text
        if not text:
            return [b""]
        try:
            try:
                data = pybase64.b64decode(text, validate=True)
            except binascii.Error:
                data = pybase64.b64decode(text)
        except (binascii.Error, ValueError) as exc:
            raise to_fault(RequestError(f"a base64Binary value cannot be decoded: {exc}", code=FaultCode.INVALID_REQUEST)) from None
        element.text = None
        return [data]

    def decompose_incoming_envelope(self, ctx: Any, *args: Any, **kwargs: Any) -> None:
        try:
            super().decompose_incoming_envelope(ctx, *args, **kwargs)
        except Fault:
            raise
        except Exception as exc:  # noqa: BLE001 - client data that spyne could not take apart
            raise to_fault(RequestError(f"not a SOAP envelope this endpoint understands: {exc}", code=FaultCode.INVALID_REQUEST)) from None

    def deserialize(self, ctx: Any, message: Any) -> None:
        try:
            super().deserialize(ctx, message)
        except Fault:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. bad base64, a number that is not one
            raise to_fault(RequestError(f"a value in the message cannot be decoded: {exc}", code=FaultCode.INVALID_REQUEST)) from None
        xop = _xop_contents(ctx)
        if xop is not None:
            stray = xop.untaken()
            if stray:
                name = etree.QName(stray[0]).localname
                raise to_fault(RequestError(f"XOP: <{name}> is not a binary (base64Binary) value, an xop:Include cannot stand there",
                                            code=FaultCode.INVALID_REQUEST))


def _xop_contents(ctx: Any) -> XopContents | None:
    if isinstance(ctx.transport, HttpTransportContext):
        return ctx.transport.req_env.get(XOP_KEY)
    return None


def _raise_as_fault(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Call ``function``; a :class:`GatewayError` it raises becomes the fault spyne answers."""
    try:
        return function(*args, **kwargs)
    except GatewayError as exc:
        raise to_fault(exc) from None


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; k=v`` → (type, params), the shape spyne's MTOM decoder expects."""
    content_type, params = _parsed_content_type(value)
    return content_type, dict(params)


@functools.lru_cache(maxsize=256)
def _parsed_content_type(value: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    # The email package parses headers correctly and slowly (~0.1 ms); a client sends the
    # same few Content-Type values again and again.
    message = Message()
    message["content-type"] = value
    params = tuple((k, str(v)) for k, v in message.get_params(failobj=[])[1:])
    return message.get_content_type(), params


class HardenedSoap12(_HardenedInput, Soap12):
    pass


class HardenedSoap11(_HardenedInput, Soap11):
    pass


class GatewayService(ServiceBase):
    """Base of the gateway's services: domain errors → faults, named in the contract's terms."""

    field_namer: ClassVar[FieldNamer | None] = None

    @classmethod
    def call_wrapper(cls, ctx: Any, args: Any = None) -> Any:
        try:
            return super().call_wrapper(ctx, args)
        except GatewayFault:
            raise
        except GatewayError as exc:
            raise to_fault(exc, cls.field_namer) from None
        except Exception as exc:  # noqa: BLE001 - nothing internal leaks to a caller
            raise normalize(exc) from None


class GatewayWsgiApplication(WsgiApplication):
    def handle_rpc(self, req_env: dict[str, Any], start_response: Any) -> Any:
        """The call runs to its end in here (the answer is serialised afterwards), so the
        request's spool files are removed before the first byte of the answer is sent."""
        try:
            return super().handle_rpc(req_env, start_response)
        finally:
            _close_spool(req_env)
            claim = req_env.pop(CLAIM_KEY, None)
            if claim is not None:
                claim.release()

    def handle_error(self, p_ctx: Any, others: Any, error: Any, start_response: Any) -> Any:
        fault = normalize(error)
        p_ctx.in_error = p_ctx.in_error and fault
        p_ctx.out_error = fault
        p_ctx.transport.resp_code = http_status(fault)
        if fault.error.code is FaultCode.AUTHENTICATION_FAILED:
            p_ctx.transport.resp_headers["WWW-Authenticate"] = 'Basic realm="gateway", charset="UTF-8"'
        if fault.error.code is FaultCode.SERVER_BUSY:
            p_ctx.transport.resp_headers["Retry-After"] = "30"
        return super().handle_error(p_ctx, others, fault, start_response)


def _close_spool(environ: dict[str, Any]) -> None:
    spool = environ.pop(SPOOL_KEY, None)
    if spool is not None:
        spool.close()

