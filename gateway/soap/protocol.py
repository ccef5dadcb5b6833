"""spyne plumbing shared by every contract: hardened SOAP input, one error path.

* :class:`HardenedSoap12` / :class:`HardenedSoap11` parse the envelope once with the
  gateway's parser factory (:mod:`gateway.xml.parser`) instead of spyne's own, keep the
  parsed tree on the context, and never resolve SOAP-encoding ``href``s. Before anything is
  parsed or authenticated the transport is checked (:mod:`gateway.soap.transport`); MTOM
  bodies are read by :mod:`gateway.soap.multipart` and :mod:`gateway.soap.xop`; after the
  parse, the envelope (:mod:`gateway.soap.envelope`) and the payload against the served
  contract (:mod:`gateway.soap.contract`). A value that cannot be decoded is refused naming
  its field (:mod:`gateway.soap.values`), with no Python error text. Large calls are admitted
  against the memory budget (:mod:`gateway.admission`).
* :class:`GatewayService` turns domain errors into faults via :mod:`gateway.soap.faults`
  and hides unexpected exceptions.
* :class:`GatewayWsgiApplication` normalises every fault (including spyne's own) and sets
  the HTTP status from the fault table.
"""
from __future__ import annotations

import binascii
import itertools
import logging
import tempfile
import types
from dataclasses import dataclass
from typing import Any, ClassVar

import pybase64
from lxml import etree
from spyne import Fault, ServiceBase
from spyne.protocol.soap import Soap11, Soap12
from spyne.error import RequestNotAllowed
from spyne.server.http import HttpTransportContext
from spyne.server.wsgi import WsgiApplication

from gateway.admission import INLINE_COST_FACTOR, MemoryBudget, parse_cost
from gateway.auth import Authenticator
from gateway.config import SenderSettings
from gateway.errors import FaultCode, GatewayError, RequestError
from gateway.soap.contract import ContractValueError, MessageSchema
from gateway.soap.envelope import SOAP12_ENV, check_envelope
from gateway.soap.faults import (
    SOAP_CODE_VALUE, FieldNamer, GatewayFault, fault_header_blocks, http_status, normalize, to_fault,
)
from gateway.soap.multipart import DEFAULT_POLICY, MultipartPolicy, read_multipart
from gateway.soap.transport import check_request_media, parse_media_type
from gateway.soap.values import COLLAPSED, lexically_valid, undecodable, value_kind
from gateway.soap.xop import XopContents, refuse_includes, resolve_includes
from gateway.spool import Content, Spool
from gateway.xml.parser import STRICT, XmlParsePolicy, parse_untrusted

logger = logging.getLogger(__name__)

# spyne logs every fault with a traceback; the gateway logs what matters itself.
logging.getLogger("spyne").setLevel(logging.CRITICAL)


SENDER_KEY = "gateway.sender"
#: Set by twisted.web (gateway.server) when it refused the body. WSGI puts every client
#: header under an ``HTTP_`` prefix, so no client can set or forge this key.
REFUSAL_ENV = "gateway.refusal"
#: The size of a chunked body (which has no Content-Length), set by gateway.server.
BODY_BYTES_ENV = "gateway.body-bytes"
TOO_LARGE = "too-large"
#: The path the endpoint is mounted at (gateway.server): its label in the metrics.
ENDPOINT_ENV = "gateway.endpoint"
#: The request's spool (MTOM attachments on disk) and its resolved xop:Includes.
SPOOL_KEY = "gateway.spool"
XOP_KEY = "gateway.xop"
CLAIM_KEY = "gateway.memory-claim"


XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def claim_parse_memory(ctx: Any, data: bytes) -> None:
    """A service about to parse ``data`` (XML it received as base64Binary: a MeMo message, a
    payload to validate) claims what parsing it costs from the memory budget first; the
    envelope's own claim could not see the tags inside the base64."""
    protocol = ctx.app.in_protocol
    if isinstance(protocol, _HardenedInput) and isinstance(ctx.transport, HttpTransportContext):
        protocol._claim(ctx, parse_cost(data))


def sender_of(ctx: Any) -> SenderSettings:
    """The sender system that authenticated this call."""
    return ctx.transport.req_env[SENDER_KEY]


class _HardenedInput(Soap11):
    """spyne's SOAP input, hardened; mixed in before Soap12 for SOAP 1.2. Takes keyword-only
    knobs of its own."""

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
        try:
            self._create_in_document(ctx)
        except Fault:
            raise
        except GatewayError as exc:  # the one place a refusal of the request becomes its fault
            raise to_fault(exc) from None
        except Exception as exc:  # noqa: BLE001 - spyne would let it escape as a bare HTTP 500
            raise normalize(exc) from None

    def _create_in_document(self, ctx: Any) -> None:
        if isinstance(ctx.transport, HttpTransportContext):
            if ctx.transport.req_env.get(REFUSAL_ENV) == TOO_LARGE:
                raise RequestError("the request body is larger than the gateway accepts", code=FaultCode.REQUEST_TOO_LARGE)
            _check_transport(ctx.transport.req_env)
            if self.authenticator is not None:
                # Before the body is parsed: strangers get no XML parsing at all.
                sender = self.authenticator.authenticate(ctx.transport.req_env.get("HTTP_AUTHORIZATION"))
                ctx.transport.req_env[SENDER_KEY] = sender
            content_type = ctx.transport.get_request_content_type()
            if content_type is None or ctx.transport.get_request_method() != "POST":
                raise RequestNotAllowed("a SOAP call is a POST with a Content-Type")
            media_type, params = parse_media_type(content_type)
            if media_type == "multipart/related":
                root = self._read_mtom(ctx, params)
            else:
                env = ctx.transport.req_env
                length = env.get("CONTENT_LENGTH") or env.get(BODY_BYTES_ENV)
                if length:  # claim before the body is read into memory (a chunked one too)
                    self._claim(ctx, int(length) * INLINE_COST_FACTOR)
                body = self._body(ctx)
                self._claim(ctx, parse_cost(body) - (len(body) * INLINE_COST_FACTOR if length else 0))  # its tags
                root = self._parse(body, params.get("charset"))
                refuse_includes(root)  # checked in the tree: any encoding, any spelling
        else:
            root = self._parse(self._body(ctx), None)
        check_envelope(root, self.ns_soap_env, understood=self.understood_headers)
        self._check_contract(ctx, root)
        ctx.in_document = (root, {})

    def _claim(self, ctx: Any, nbytes: int) -> None:
        """Reserve memory for this call from the process's budget; released when it ends."""
        if self.memory_budget is not None:
            claim = self.memory_budget.claim(nbytes)
            if claim is not None:
                ctx.transport.req_env.setdefault(CLAIM_KEY, []).append(claim)

    def _parse(self, body: bytes, charset: str | None) -> Any:
        return parse_untrusted(body, policy=self.parse_policy, charset=charset)

    def _read_mtom(self, ctx: Any, params: dict[str, str]) -> Any:
        """MTOM/XOP: our own streaming reader, the hardened parser for the root part, and
        the xop:Includes resolved in the tree (see gateway.soap.multipart and .xop)."""
        env = ctx.transport.req_env
        spool = env[SPOOL_KEY] = Spool(self.spool_dir or tempfile.gettempdir())
        message = read_multipart(env["wsgi.input"], boundary=params.get("boundary"), start=params.get("start"),
                                 spool=spool, policy=self.multipart_policy)
        # the root part is parsed; an attachment costs its size at most: pypdf reads a whole
        # file to repair a broken xref, and /memo and /validation read theirs into memory
        # (and claim the parse of it themselves: claim_parse_memory)
        self._claim(ctx, parse_cost(message.root) + sum(len(a.content) for a in message.attachments.values()))
        root = self._parse(message.root, message.root_charset)
        env[XOP_KEY] = resolve_includes(root, message.attachments, soap_ns=self.ns_soap_env,
                                        keep_unreferenced=self.keep_unreferenced_attachments)
        return root

    #: The schema of the endpoint's served WSDL (gateway.soap.contract), set when it is built.
    contract: MessageSchema | None = None
    #: MIME parts no xop:Include names are the service's to use (see gateway.soap.xop).
    keep_unreferenced_attachments: bool = False
    #: Paths below the Body's element of ``xs:anyType`` content the contract leaves to the
    #: service (noarkExchange ``payload``; see MessageSchema.check).
    opaque_content: tuple[str, ...] = ()
    #: The service reads its message itself (an ``xs:anyType`` payload) and takes each
    #: Include's content where the message has a file (:func:`request_includes`); it refuses
    #: the Includes it did not take. Else an Include spyne did not decode is refused here.
    service_takes_includes: bool = False

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
                self.contract.check(payload[0], opaque=self.opaque_content)
        except ContractValueError as exc:
            ctx.udc = _Pending(exc)  # the decoder names the value first; else this refuses it

    #: Header blocks (Clark names) the gateway processes; none so far.
    understood_headers: ClassVar[frozenset[str]] = frozenset()

    def from_element(self, ctx: Any, cls: Any, element: etree._Element) -> Any:
        """spyne's decoding, with a lexical check it skips without a validator, and any failure
        refused naming the field (``forsendelse.printkonfigurasjon.brevtype``) and what it takes."""
        kind = value_kind(cls)
        if kind is not None and element.get(XSI_NIL) is None:
            if not lexically_valid(cls, element.text):
                raise to_fault(undecodable(cls, element, self.ns_soap_env))
            if element.text and kind is COLLAPSED:
                element.text = element.text.strip()  # XSD collapses; spyne reads " true " as False
        try:
            return super().from_element(ctx, cls, element)
        except GatewayFault:
            raise
        except Exception as exc:  # noqa: BLE001 - spyne's errors name neither field nor rule
            logger.debug("undecodable value", exc_info=exc)
            raise to_fault(undecodable(cls, element, self.ns_soap_env)) from None

    def serialize(self, ctx: Any, message: Any) -> None:
        super().serialize(ctx, message)
        if isinstance(ctx.out_error, GatewayFault):
            blocks = fault_header_blocks(ctx.out_error, soap12=self.ns_soap_env == SOAP12_ENV)
            if blocks:
                header = etree.Element(f"{{{self.ns_soap_env}}}Header")
                header.extend(blocks)
                ctx.out_document.insert(0, header)

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

    def byte_array_from_element(self, ctx: Any, cls: Any, element: Any) -> list[Content]:
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
            data = pybase64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            # line breaks and spaces (MIME style) are allowed; nothing else outside the alphabet
            data = pybase64.b64decode("".join(text.split()), validate=True)  # raises: see from_element
        element.text = None
        return [data]

    def decompose_incoming_envelope(self, ctx: Any, *args: Any, **kwargs: Any) -> None:
        try:
            super().decompose_incoming_envelope(ctx, *args, **kwargs)
        except Fault:
            raise
        except Exception as exc:  # noqa: BLE001 - client data that spyne could not take apart
            logger.debug("envelope not understood", exc_info=exc)
            raise to_fault(RequestError("not a SOAP envelope this endpoint understands", code=FaultCode.INVALID_REQUEST)) from None

    def deserialize(self, ctx: Any, message: Any) -> None:
        try:
            super().deserialize(ctx, message)
        except Fault:
            raise
        except Exception as exc:  # noqa: BLE001 - from_element names fields; this is the last resort
            logger.debug("undecodable message", exc_info=exc)
            raise to_fault(RequestError("a value in the message cannot be decoded", code=FaultCode.INVALID_REQUEST)) from None
        if isinstance(ctx.udc, _Pending):
            raise to_fault(ctx.udc.error)
        xop = _xop_contents(ctx)
        if xop is not None and not self.service_takes_includes:
            stray = xop.untaken()
            if stray:
                name = etree.QName(stray[0]).localname
                raise to_fault(RequestError(f"XOP: <{name}> is not a binary (base64Binary) value, an xop:Include cannot stand there",
                                            code=FaultCode.INVALID_REQUEST))


@dataclass(frozen=True, slots=True)
class _Pending:
    """A contract refusal held back until the decoder has had its say (see _check_contract)."""

    error: GatewayError


def request_attachments(ctx: Any) -> dict[str, Content]:
    """The request's MIME parts that no xop:Include named, by Content-ID (see
    :attr:`_HardenedInput.keep_unreferenced_attachments`)."""
    xop = _xop_contents(ctx)
    return xop.attached if xop is not None else {}


def request_includes(ctx: Any) -> XopContents | None:
    """What the request's xop:Includes stood for (see :attr:`_HardenedInput.service_takes_includes`)."""
    return _xop_contents(ctx)


def _xop_contents(ctx: Any) -> XopContents | None:
    if isinstance(ctx.transport, HttpTransportContext):
        return ctx.transport.req_env.get(XOP_KEY)
    return None


def _check_transport(environ: dict[str, Any]) -> None:
    """A SOAP call is a POST of a SOAP media type; checked before authentication."""
    if environ.get("REQUEST_METHOD") != "POST":
        # an HTTP-level answer (405 with Allow), also for a monitoring probe's GET
        raise RequestError("a SOAP call is a POST (and ?wsdl a GET)", code=FaultCode.METHOD_NOT_ALLOWED)
    check_request_media(environ)


class HardenedSoap12(_HardenedInput, Soap12):
    def gen_fault_codes(self, faultstring: str) -> tuple[str, list[str]]:
        value, _, rest = faultstring.partition(".")
        if value in SOAP_CODE_VALUE.values():
            return f"{self.soap_env}:{value}", rest.split(".") if rest else []
        return super().gen_fault_codes(faultstring)


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
            for claim in req_env.pop(CLAIM_KEY, ()):
                claim.release()

    _soap11_faults: HardenedSoap11 | None = None

    def handle_error(self, p_ctx: Any, others: Any, error: Any, start_response: Any) -> Any:
        fault = normalize(error)
        count_refusal(p_ctx, fault.error.code)
        p_ctx.in_error = p_ctx.in_error and fault
        p_ctx.out_error = fault
        if fault.error.code is FaultCode.VERSION_MISMATCH:
            self._answer_in_soap11(p_ctx)
        p_ctx.transport.resp_code = http_status(fault, soap11=not isinstance(p_ctx.out_protocol, Soap12))
        if fault.error.code is FaultCode.AUTHENTICATION_FAILED:
            p_ctx.transport.resp_headers["WWW-Authenticate"] = 'Basic realm="gateway", charset="UTF-8"'
        if fault.error.code is FaultCode.SERVER_BUSY:
            p_ctx.transport.resp_headers["Retry-After"] = "30"
        if fault.error.code is FaultCode.METHOD_NOT_ALLOWED:
            p_ctx.transport.resp_headers["Allow"] = "POST, GET"
        return super().handle_error(p_ctx, others, fault, start_response)

    def _answer_in_soap11(self, p_ctx: Any) -> None:
        """SOAP 1.2 part 1, appendix A: a SOAP 1.2 node answers a SOAP 1.1 message with a SOAP 1.1
        VersionMismatch fault (which the sender can read) carrying the 1.2 Upgrade header."""
        if self._soap11_faults is None:
            protocol = HardenedSoap11()
            protocol.set_app(self.app)
            self._soap11_faults = protocol
        p_ctx.out_protocol = self._soap11_faults
        p_ctx.transport.mime_type = "text/xml; charset=utf-8"


def count_refusal(ctx: Any, code: str) -> None:
    """One more refusal with ``code`` by this call's endpoint (``gateway_requests_refused_total``):
    every fault passes :meth:`GatewayWsgiApplication.handle_error`, every noarkExchange ERROR
    receipt ``PutMessage``."""
    runtime = getattr(ctx.app, "gateway", None)
    if runtime is not None:
        env = ctx.transport.req_env if isinstance(ctx.transport, HttpTransportContext) else {}
        runtime.metrics.requests_refused.labels(env.get(ENDPOINT_ENV, ctx.app.name), str(code)).inc()


def _close_spool(environ: dict[str, Any]) -> None:
    spool = environ.pop(SPOOL_KEY, None)
    if spool is not None:
        spool.close()

