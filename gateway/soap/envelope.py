"""The SOAP envelope around a message: its version, its shape and its header blocks.

Checked right after the parse, before anything reads the message: a SOAP 1.1 envelope on a
SOAP 1.2 port (or one in no SOAP namespace) is a VersionMismatch; the envelope must be an
optional Header and one Body, since a second Body or Header would otherwise be ignored; a
header block addressed to the gateway with ``mustUnderstand`` that it does not process is
a MustUnderstand fault (SOAP 1.2 part 1, 5.2.3).
"""
from __future__ import annotations

from collections.abc import Set

from lxml import etree

from gateway.errors import FaultCode, RequestError
from gateway.soap.faults import MAX_FAULT_FIELD, NOT_UNDERSTOOD, SOAP12_ENV, SUPPORTED_ENVELOPE

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
#: Header blocks addressed to us by default, or by these role (1.2) / actor (1.1) URIs.
_OUR_ROLES = frozenset({
    SOAP12_ENV.replace("soap-envelope", "soap-envelope/role/next"),
    SOAP12_ENV.replace("soap-envelope", "soap-envelope/role/ultimateReceiver"),
    "http://schemas.xmlsoap.org/soap/actor/next",
})


def check_envelope(root: etree._Element, ns: str, *, understood: Set[str] = frozenset()) -> None:
    """Raise :class:`RequestError` (VERSION_MISMATCH, INVALID_REQUEST, MUST_UNDERSTAND) for an
    envelope of namespace ``ns`` the gateway must not read on."""
    other = SOAP11_ENV if ns == SOAP12_ENV else SOAP12_ENV
    if root.tag == f"{{{other}}}Envelope":
        raise version_mismatch(ns)
    if etree.QName(root).localname == "Envelope" and root.tag != f"{{{ns}}}Envelope":
        # an Envelope in no SOAP namespace (SOAP 1.2 part 1, 5.4.7): VersionMismatch too
        raise version_mismatch(ns, unknown=True)
    if root.tag != f"{{{ns}}}Envelope":
        return  # not an envelope at all: spyne's own refusal
    header = envelope_header(root, ns)
    if header is None:
        return
    soap12 = ns == SOAP12_ENV
    role_attribute = f"{{{ns}}}{'role' if soap12 else 'actor'}"
    refused = []
    for block in header.iterchildren(etree.Element):
        must = (block.get(f"{{{ns}}}mustUnderstand") or "").strip()
        role = (block.get(role_attribute) or "").strip()
        if must in ("1", "true") and (not role or role in _OUR_ROLES) and block.tag not in understood:
            refused.append(block.tag)
    if refused:
        names = ", ".join(etree.QName(tag).localname for tag in refused[:5])
        raise RequestError(
            f"the gateway does not process the header block(s) {names} marked mustUnderstand",
            code=FaultCode.MUST_UNDERSTAND,
            details={NOT_UNDERSTOOD: "\n".join(tag for tag in refused[:20] if len(tag) <= MAX_FAULT_FIELD)})


def envelope_header(envelope: etree._Element, ns: str) -> etree._Element | None:
    """The envelope's Header, after checking its shape: an optional Header, then exactly one
    Body, nothing else and no text (SOAP 1.2 part 1, 5.1; WS-I BP R1011 for SOAP 1.1). A
    second Body or Header would otherwise be ignored: a letter or a mustUnderstand block
    dropped without a word."""
    children = [child for child in envelope if isinstance(child.tag, str)]
    shape = [child.tag for child in children]
    if shape not in ([f"{{{ns}}}Body"], [f"{{{ns}}}Header", f"{{{ns}}}Body"]):
        raise RequestError("a SOAP envelope holds an optional Header and then exactly one Body, and nothing else",
                           code=FaultCode.INVALID_REQUEST)
    body = children[-1]
    texts = [envelope.text, body.text, *(child.tail for child in children), *(child.tail for child in body)]
    if any(text and text.strip() for text in texts):
        raise RequestError("text stands in the SOAP envelope or Body, outside the message",
                           code=FaultCode.INVALID_REQUEST)
    return children[0] if len(children) == 2 else None


def version_mismatch(supported: str, *, unknown: bool = False) -> RequestError:
    if unknown:
        version = "1.2" if supported == SOAP12_ENV else "1.1"
        message = f"the Envelope is in no SOAP namespace; a SOAP {version} envelope ({supported}) is expected here"
    elif supported == SOAP12_ENV:
        message = "a SOAP 1.2 envelope (Content-Type application/soap+xml) is expected here; this one is SOAP 1.1"
    else:
        message = ("a SOAP 1.1 envelope is expected with Content-Type text/xml; this one is SOAP 1.2 "
                   "(send SOAP 1.2 as application/soap+xml where the endpoint offers it)")
    return RequestError(message, code=FaultCode.VERSION_MISMATCH, details={SUPPORTED_ENVELOPE: supported})
