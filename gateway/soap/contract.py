"""An endpoint's published contract: its WSDL, built once, and the schema requests must fit.

* :class:`PublishedWsdl` holds the WSDL document an endpoint serves. It is built once at
  start-up and carries the configured address (``server.public_url``, or the listening
  address): never the request's ``Host`` header, which any unauthenticated caller chooses
  (a poisoned address would send every client's password elsewhere).
* :class:`MessageSchema` is the XML Schema of the WSDL's ``types``, compiled with lxml, that
  each request's SOAP Body payload is validated against before spyne decodes it. spyne
  silently drops what it does not know (an unknown element, a ``digitalAdresse`` without
  ``xsi:type``); the schema refuses it and names where, in the contract's terms.
* :class:`WsdlEndpoint` answers ``?wsdl`` with the published document and hands every other
  request to the SOAP application.
"""
from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

from gateway.errors import FaultCode, RequestError
from gateway.limits import LIMITS
from gateway.xml.parser import make_parser
from gateway.xml.schemas import compile_schema

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
_ADDRESSES = ("{http://schemas.xmlsoap.org/wsdl/soap/}address", "{http://schemas.xmlsoap.org/wsdl/soap12/}address")

#: Payloads with more elements than this are validated while re-parsing their serialisation
#: (libxml2's streaming validator, linear) instead of on the tree: lxml computes an XPath for
#: every error on a tree, which costs as much as the error's preceding siblings, so 40,000
#: bad siblings would take seconds. The streaming errors carry no path.
TREE_VALIDATION_MAX_ELEMENTS = 5_000
#: No letter needs more (200 documents with 100 giro pages each are 25,000): a million
#: giroarkSider cost spyne 10 s and 570 MiB to decode before any rule could count them.
MAX_PAYLOAD_ELEMENTS = LIMITS.max_payload_elements
MAX_PATH_CHARS = 200
MAX_REASON_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_POSITION = re.compile(r"\[(\d{1,9})\]$")
_ELEMENT = re.compile(r"^Element '([^']{1,1000})'")


class PublishedWsdl:
    """One endpoint's WSDL: built once, its port addresses set once the address is known."""

    def __init__(self, document: bytes, *, path: str) -> None:
        self._tree = etree.fromstring(document, parser=make_parser())
        self._path = path
        self._lock = threading.Lock()
        self._document = document
        self.schema = MessageSchema(self._tree)

    @property
    def document(self) -> bytes:
        return self._document

    def publish(self, base_url: str) -> None:
        """Serve the endpoint at ``base_url`` + its path from now on (start-up, not per request)."""
        location = base_url.rstrip("/") + self._path
        with self._lock:
            tree = copy.deepcopy(self._tree)
            for address in tree.iter(*_ADDRESSES):
                address.set("location", location)
            self._document = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


class WsdlEndpoint:
    """A WSGI application: ``GET …?wsdl`` (or ``….wsdl``) gets the published WSDL, the rest
    goes to ``app``. Nothing of the request goes into the answer."""

    def __init__(self, app: Callable[..., Iterable[bytes]], wsdl: PublishedWsdl) -> None:
        self.app = app
        self.wsdl = wsdl

    def publish(self, base_url: str) -> None:
        self.wsdl.publish(base_url)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if is_wsdl_request(environ):
            return serve_wsdl(self.wsdl, start_response)
        return self.app(environ, start_response)


def is_wsdl_request(environ: dict[str, Any]) -> bool:
    """A superset of what spyne takes for a WSDL request, so spyne's own handler (which
    builds the document from ``Host``) is never reached."""
    if str(environ.get("REQUEST_METHOD", "")).upper() != "GET":
        return False
    query = str(environ.get("QUERY_STRING", ""))
    first = query.split("&", 1)[0].split("=", 1)[0]
    return first.lower() == "wsdl" or str(environ.get("PATH_INFO", "")).endswith(".wsdl")


def serve_wsdl(wsdl: PublishedWsdl, start_response: Callable[..., Any]) -> list[bytes]:
    body = wsdl.document
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


class MessageSchema:
    """The schema of an endpoint's messages, from its WSDL, compiled once (per thread).

    base64Binary members are checked as strings here: libxml2 checks base64 at about
    200 MB/s, a 100 MB inline document would spend 0.6 s on it, and the decoder checks the
    same text with pybase64 anyway (a bad value is refused as ``INVALID_REQUEST`` there).
    lxml validators keep their error log on the object, so each thread gets its own.
    """

    def __init__(self, wsdl: etree._Element) -> None:
        self._source = etree.tostring(_validation_schema(wsdl))
        self._local = threading.local()
        self._validators()  # a schema that does not compile fails at start-up, not on a call

    def _validators(self) -> tuple[etree.XMLSchema, etree.XMLParser, etree.XPath]:
        found = getattr(self._local, "validators", None)
        if found is None:
            schema = compile_schema(self._source)
            streaming = etree.XMLParser(
                schema=schema, resolve_entities=False, no_network=True, load_dtd=False,
                huge_tree=True, collect_ids=False,
            )
            count = etree.XPath("count(descendant-or-self::*)")
            found = self._local.validators = (schema, streaming, count)
        return found

    def check(self, payload: etree._Element, *, opaque: tuple[str, ...] = ()) -> None:
        """Raise :class:`RequestError` (``INVALID_REQUEST``) unless ``payload`` fits the contract.

        ``opaque``: paths (below ``payload``) of ``xs:anyType`` elements whose content is
        checked by its own rules, not by this schema. The contract says nothing about it, but
        libxml2 would still resolve every ``xsi:type`` in it against this schema, and refuse an
        arkivmelding's ``xsi:type="saksmappe"`` as unknown. Their children are counted with the
        rest, and left out of validation."""
        schema, streaming, count = self._validators()
        elements = count(payload)
        if elements > MAX_PAYLOAD_ELEMENTS:  # before anything decodes them one by one
            raise RequestError(f"the message has {int(elements)} elements; at most {MAX_PAYLOAD_ELEMENTS} are accepted",
                               code=FaultCode.TOO_MANY_ITEMS)
        held = [(element, list(element)) for path in opaque for element in payload.iterfind(path)]
        for element, children in held:
            for child in children:
                element.remove(child)  # keeps its tail with it
        try:
            self._validate(payload, schema, streaming, elements - sum(count(c) for _, children in held for c in children))
        finally:
            for element, children in held:
                element.extend(children)

    @staticmethod
    def _validate(payload: etree._Element, schema: etree.XMLSchema, streaming: etree.XMLParser, elements: float) -> None:
        if elements <= TREE_VALIDATION_MAX_ELEMENTS:
            if schema.validate(payload):
                return
            raise _refusal(list(schema.error_log), payload, streamed=False)
        try:
            etree.fromstring(etree.tostring(payload), parser=streaming)
        except etree.XMLSyntaxError as exc:
            raise _refusal(list(exc.error_log), payload, streamed=True) from None


#: libxml2's errors about a simple value (lexical form, enumeration, facets), not structure.
_VALUE_ERRORS = frozenset({
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1", "SCHEMAV_CVC_DATATYPE_VALID_1_2_2", "SCHEMAV_CVC_DATATYPE_VALID_1_2_3",
    "SCHEMAV_CVC_ENUMERATION_VALID", "SCHEMAV_CVC_PATTERN_VALID", "SCHEMAV_CVC_LENGTH_VALID",
    "SCHEMAV_CVC_MINLENGTH_VALID", "SCHEMAV_CVC_MAXLENGTH_VALID", "SCHEMAV_CVC_MININCLUSIVE_VALID",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID", "SCHEMAV_CVC_MINEXCLUSIVE_VALID", "SCHEMAV_CVC_MAXEXCLUSIVE_VALID",
    "SCHEMAV_CVC_TOTALDIGITS_VALID", "SCHEMAV_CVC_FRACTIONDIGITS_VALID",
})


class ContractValueError(RequestError):
    """The message's structure fits the contract, only simple values do not. The decoder
    names such a value and what it takes better than libxml2 does, so the SOAP layer lets
    it try first, and refuses with this error if it does not (gateway.soap.protocol)."""


def _refusal(log: list[Any], payload: etree._Element, *, streamed: bool) -> RequestError:
    errors = [e for e in log if e.level_name in ("ERROR", "FATAL")] or log
    kind = ContractValueError if all(e.type_name in _VALUE_ERRORS for e in errors) else RequestError
    first = errors[0]
    reason = _clean(first.message, MAX_REASON_CHARS)
    if "abstract" in reason:
        reason += " (name one of its subtypes with xsi:type)"
    if streamed:
        # no tree, no path: the element the message names
        element = _ELEMENT.search(first.message)
        path = _contract_path(element.group(1).rpartition("}")[2] if element else etree.QName(payload).localname)
        more = " (more problems not shown)" if len(errors) > 1 else ""
    else:
        path = _contract_path(first.path or etree.QName(payload).localname)
        more = f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} not shown)" if len(errors) > 1 else ""
    return kind(f"not allowed by the contract: {reason}{more}", code=FaultCode.INVALID_REQUEST, field=path)


def _contract_path(xpath: str) -> str:
    """The field as the gateway's other faults name fields, in the caller's terms:
    ``/v9:sendForsendelse/forsendelse/dokumenter[2]/data`` → ``forsendelse.dokumenter[1].data``
    (the operation's own element left out unless it is the place; XPath's positions, which
    count from 1, counted from 0). The end of a long path is kept: it says where."""
    steps = [step.rpartition(":")[2] for step in xpath.split("/") if step]
    if len(steps) > 1:
        steps = steps[1:]
    path = _clean(".".join(_POSITION.sub(lambda m: f"[{int(m.group(1)) - 1}]", step) for step in steps), 10 * MAX_PATH_CHARS)
    if len(path) > MAX_PATH_CHARS:
        path = "…" + path[-(MAX_PATH_CHARS - 1):]
    return path


def _clean(text: str, limit: int) -> str:
    """Bounded, and printable in a fault (XML 1.0 cannot carry most control characters)."""
    text = _CONTROL.sub("?", text.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_schema(wsdl: etree._Element) -> etree._Element:
    """The one ``xs:schema`` of ``wsdl:types`` as a standalone document, ready for lxml.

    Namespace prefixes used in QName values (``type="tns:…"``) may be declared on the WSDL's
    root, so the copy declares every prefix in scope. Imports without a location only name
    a namespace (``xmime``) and are dropped; anything that would load a file is refused.
    """
    schemas = wsdl.findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    if len(schemas) != 1:
        raise ValueError(f"a WSDL with {len(schemas)} schemas; the gateway validates against exactly one")
    source = schemas[0]
    nsmap = dict(source.nsmap)
    xs_prefix = next((p for p, ns in nsmap.items() if ns == XS and p), None)
    if xs_prefix is None:
        xs_prefix = "xs"
        nsmap["xs"] = XS
    schema = etree.Element(source.tag, attrib=dict(source.attrib), nsmap=nsmap)
    for child in source:
        if not isinstance(child.tag, str):
            continue
        if child.tag in (f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine"):
            if child.get("schemaLocation") or child.tag != f"{{{XS}}}import":
                raise ValueError("a WSDL schema that loads other files cannot be validated against")
            continue
        schema.append(copy.deepcopy(child))
    for node in schema.iter(f"{{{XS}}}element", f"{{{XS}}}attribute", f"{{{XS}}}restriction", f"{{{XS}}}extension"):
        for attr in ("type", "base"):
            value = node.get(attr)
            if value and _resolve(node, value) == f"{{{XS}}}base64Binary":
                node.set(attr, f"{xs_prefix}:string")
    return schema


def _resolve(node: etree._Element, qname: str) -> str:
    prefix, _, local = qname.rpartition(":")
    return f"{{{node.nsmap.get(prefix or None, '')}}}{local}"
