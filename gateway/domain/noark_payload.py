"""A noarkExchange ``PutMessage`` payload: what it is, and its document, parsed safely.

The contract types ``payload`` as ``xs:anyType``, and the archives fill it three ways: the
``Melding`` element itself; the same XML as an escaped string (Public 360 sends it with
``xsi:type="xsd:string"``); or inside CDATA (ePhorte). The integrasjonspunkt's own bundled
example (``putmessageExample.xml``) is a fourth: an XStream dump of a Xerces DOM, whose one
``CharacterDataImpl/default/data`` text holds the escaped ``Melding``. A payload given as text
is untrusted XML of its own: it is parsed by the same hardened parser as the envelope, with
the same limits (no DOCTYPE, depth, size), after its XML declaration is dropped (the text is
already characters; a declared encoding no longer describes it).

``contentNamespace`` names what the payload is. A namespace we know must match the payload's
root; a placeholder that names no namespace at all (a SoapUI ``?``, empty) leaves the
decision to the root; any other namespace is refused rather than guessed at.
"""
from __future__ import annotations

import enum
import itertools
import re
from dataclasses import dataclass

from lxml import etree

from gateway.errors import FamilyError, FaultCode, FaultFamily, RequestError
from gateway.domain.validation import shown
from gateway.limits import LIMITS
from gateway.xml.parser import INLINE_DOCUMENTS, parse_untrusted

NOARK4_NS = "http://www.arkivverket.no/Noark4-1-WS-WD/types"
ARKIVMELDING_NS = "http://www.arkivverket.no/standarder/noark5/arkivmelding"
EXCHANGE_TYPES_NS = "http://www.arkivverket.no/Noark/Exchange/types"
_XSTREAM_PACKAGE = "com.sun.org.apache.xerces.internal.dom."
_XSTREAM_DOM = _XSTREAM_PACKAGE + "ElementNSImpl"
_XSTREAM_DATA = "com.sun.org.apache.xerces.internal.dom.CharacterDataImpl"
#: An XML declaration at the start of a text payload, in UTF-8 (bounded: a declaration is short).
_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?[ \t\r\n]*<\?xml[^>]{0,200}\?>")
#: XInclude elements, in the namespace of XInclude 1.0 and of its 2001 drafts.
_XINCLUDE = ("{http://www.w3.org/2001/XInclude}*", "{http://www.w3.org/2003/XInclude}*")
#: Placeholders that name no namespace: a template's ``?``, nothing at all.
_NO_NAMESPACE = re.compile(r"^[?\s]*$")


class NoarkRule(FaultFamily, side="Client", http_status=400):
    """noarkExchange refusals, each answered as an ``AppReceipt`` of type ERROR with this code."""

    PAYLOAD_MISSING = "NOARK_PAYLOAD_MISSING", "`PutMessageRequest/payload` is empty: there is no `Melding` or `arkivmelding` to deliver."
    PAYLOAD_NOT_RECOGNISED = "NOARK_PAYLOAD_NOT_RECOGNISED", "The payload is neither a Noark 4 `Melding` (namespace `http://www.arkivverket.no/Noark4-1-WS-WD/types`), an `arkivmelding` (`http://www.arkivverket.no/standarder/noark5/arkivmelding`) nor an `AppReceipt`."
    CONTENT_NAMESPACE_MISMATCH = "NOARK_CONTENT_NAMESPACE_MISMATCH", "`envelope/@contentNamespace` names another kind of payload than the payload is (an `arkivmelding` namespace on a `Melding`, or the reverse)."
    CONTENT_NAMESPACE_UNSUPPORTED = "NOARK_CONTENT_NAMESPACE_UNSUPPORTED", "`envelope/@contentNamespace` names a namespace the gateway does not take: only `http://www.arkivverket.no/Noark4-1-WS-WD/types` and `http://www.arkivverket.no/standarder/noark5/arkivmelding`."
    CONVERSATION_ID_INVALID = "NOARK_CONVERSATION_ID_INVALID", "`envelope/@conversationId` is not a UUID in 8-4-4-4-12 form (any case); it is the key that makes a repeated `PutMessage` safe."
    SENDER_MISMATCH = "NOARK_SENDER_MISMATCH", "`envelope/sender/orgnr` names another organisation than the authenticated sender may send for (`[[senders]] organization_number` and `sends_for`). Leave it empty to use the configured one."
    ATTACHMENT_NOT_REFERENCED = "NOARK_ATTACHMENT_NOT_REFERENCED", "A MIME part of the request is named by no `dokumentobjekt/referanseDokumentfil` of the arkivmelding (a Noark 4 `Melding` carries its files inline, in `fil/base64`). Every part must be a document of the letter."
    RECEIVER_NOT_IN_MESSAGE = "NOARK_RECEIVER_NOT_IN_MESSAGE", "The payload names no recipient the gateway can deliver to: no `avsmot` (or `korrespondansepart`) the recipient table takes, and the envelope's receiver is not one either."


class NoarkError(FamilyError):
    def __init__(self, rule: NoarkRule, message: str, *, field: str | None = None) -> None:
        super().__init__(rule, message, field=field)
        self.rule = rule


class PayloadKind(enum.StrEnum):
    MELDING = "Melding"  # Noark 4 (BEST/EDU)
    ARKIVMELDING = "arkivmelding"  # Noark 5 (eFormidling 2)
    APP_RECEIPT = "AppReceipt"  # an archive's receipt: nothing to deliver


_ROOTS = {
    f"{{{NOARK4_NS}}}Melding": PayloadKind.MELDING,
    f"{{{ARKIVMELDING_NS}}}arkivmelding": PayloadKind.ARKIVMELDING,
    f"{{{EXCHANGE_TYPES_NS}}}AppReceipt": PayloadKind.APP_RECEIPT,
    "AppReceipt": PayloadKind.APP_RECEIPT,
}
_NAMESPACE_KINDS = {NOARK4_NS: PayloadKind.MELDING, ARKIVMELDING_NS: PayloadKind.ARKIVMELDING}


@dataclass(frozen=True, slots=True)
class PayloadText:
    """A payload given as text: the UTF-8 bytes the hardened parser will read."""

    data: bytes


def payload_source(payload: etree._Element) -> etree._Element | PayloadText:
    """The payload's document: its one element child, or its text to parse
    (:class:`NoarkError` ``PAYLOAD_MISSING`` for neither). The caller claims the memory that
    parsing a text costs before it calls :func:`parse_payload`."""
    children = [child for child in payload if isinstance(child.tag, str)]
    if payload.get("class") == _XSTREAM_DOM or any(child.tag.startswith(_XSTREAM_PACKAGE) for child in children):
        return _text_source(_xstream_text(payload))
    if len(children) == 1 and not (payload.text or "").strip() and not (children[0].tail or "").strip():
        return children[0]
    if children:
        raise NoarkError(NoarkRule.PAYLOAD_NOT_RECOGNISED,
                         "the payload holds several elements, or elements and text; it must hold one document",
                         field="payload")
    return _text_source(_utf8_text(payload))


def _utf8_text(element: etree._Element) -> bytes:
    """The element's text as UTF-8, straight from libxml2: ``.text`` would make a Python
    string of it only to encode it again (40 µs for a 100 KB payload with one letter
    outside ASCII). The parser has dropped comments and PIs, so this is the text."""
    return etree.tostring(element, method="text", encoding="utf-8", with_tail=False)


def _xstream_text(payload: etree._Element) -> bytes:
    """The ``data`` of the dump's character-data nodes that holds markup (there is one)."""
    found = [_utf8_text(data) for data in payload.iter("data")
             if data.getparent() is not None and data.getparent().tag == "default"
             and data.getparent().getparent() is not None and data.getparent().getparent().tag == _XSTREAM_DATA
             and (data.text or "").lstrip().startswith("<")]
    if len(found) != 1:
        raise NoarkError(NoarkRule.PAYLOAD_NOT_RECOGNISED,
                         f"an XStream DOM dump with {len(found)} character-data nodes holding XML; one is expected",
                         field="payload")
    return found[0]


def _text_source(text: bytes) -> PayloadText:
    text = _DECLARATION.sub(b"", text, count=1).strip()
    if not text:
        raise NoarkError(NoarkRule.PAYLOAD_MISSING, "the payload is empty", field="payload")
    return PayloadText(text)


def parse_payload(source: etree._Element | PayloadText) -> etree._Element:
    """The payload's root element; a text is parsed with the hardened parser (its errors
    keep their codes: ``FORBIDDEN_DTD``, ``MALFORMED_XML``), named as the payload's. Either
    way it is bounded (:data:`~gateway.limits.Limits.noark_max_payload_elements`) and holds no
    XInclude: nothing follows one, and a letter must not be stored as if it had been followed."""
    root = parse_untrusted(source.data, policy=INLINE_DOCUMENTS, charset="utf-8") if isinstance(source, PayloadText) else source
    limit = LIMITS.noark_max_payload_elements
    count = sum(1 for _ in itertools.islice(root.iter(), limit + 1))
    if count > limit:
        raise RequestError(f"the payload has more than {limit} elements", code=FaultCode.TOO_MANY_ITEMS, field="payload")
    if next(root.iter(*_XINCLUDE), None) is not None:
        raise RequestError("the payload holds an XInclude, which is not followed", code=FaultCode.INVALID_REQUEST, field="payload")
    return root


def payload_kind(root: etree._Element, content_namespace: str) -> PayloadKind:
    """What the payload is, checked against ``contentNamespace`` (see the module's note)."""
    kind = _ROOTS.get(root.tag)
    if kind is None:
        raise NoarkError(NoarkRule.PAYLOAD_NOT_RECOGNISED,
                         f"the payload's root is {shown(root.tag)}, not a Noark 4 Melding, an arkivmelding or an AppReceipt",
                         field="payload")
    declared = content_namespace.strip()
    if kind is PayloadKind.APP_RECEIPT or _NO_NAMESPACE.match(declared):
        return kind
    named = _NAMESPACE_KINDS.get(declared)
    if named is None:
        raise NoarkError(NoarkRule.CONTENT_NAMESPACE_UNSUPPORTED,
                         f"contentNamespace {shown(declared)} is not a payload the gateway takes", field="envelope.contentNamespace")
    if named is not kind:
        raise NoarkError(NoarkRule.CONTENT_NAMESPACE_MISMATCH,
                         f"contentNamespace says {named.value}, the payload is {kind.value}", field="envelope.contentNamespace")
    return kind

