"""The one hardened lxml parser factory for untrusted XML.

Entities are never resolved, DTDs never loaded, the network never touched, and any
document that carries a DOCTYPE at all is refused, so entity bombs and external entities
have nowhere to go. libxml2 still *opens* the file named in a DOCTYPE's SYSTEM id even with
``load_dtd=False`` (a file-existence oracle, and a FIFO would pin the thread), so no file is
ever opened: a DOCTYPE in the prolog is refused before libxml2 sees the bytes, and every
parser carries a resolver that refuses each URL libxml2 asks for (the guarantee, whatever
the encoding). ``allow_large_text`` lifts libxml2's 10 MB limit on a single text node,
which inline base64 documents (SvarUt ``dokument/data``) need; it also raises the nesting
limit from 256 to libxml2's hard 2048, so :data:`XmlParsePolicy.max_depth` is checked here.
Comments and processing instructions are dropped while parsing (they are not data), except
that ``keep_processing_instructions`` keeps PIs for signature verification only: canonical XML
keeps them, so a signer's digest covers them (see :data:`SIGNED_INLINE_DOCUMENTS`).
Parse once and hand the same tree to every later step.
"""
from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass

from lxml import etree

from gateway.errors import FaultCode, HostileXmlError, RequestError
from gateway.limits import LIMITS


@dataclass(frozen=True, slots=True, kw_only=True)
class XmlParsePolicy:
    allow_large_text: bool = False
    max_depth: int = LIMITS.xml_max_depth
    #: Only where a signature is verified: C14N keeps PIs, so dropping them changes the digest.
    #: The verifier strips them from the tree it vouches for; no later step ever sees one.
    keep_processing_instructions: bool = False


STRICT = XmlParsePolicy()
INLINE_DOCUMENTS = XmlParsePolicy(allow_large_text=True)
#: :data:`INLINE_DOCUMENTS` for a message whose signature is verified (MeMo): the tree as sent.
SIGNED_INLINE_DOCUMENTS = XmlParsePolicy(allow_large_text=True, keep_processing_instructions=True)

_local = threading.local()

_DOCTYPE_REFUSED = "a DOCTYPE is not allowed (entities and DTDs are refused)"


class ExternalReferenceRefused(Exception):
    """libxml2 asked to open a URL or file on behalf of the document."""


class _RefuseEverything(etree.Resolver):
    """Answers every request to load a DTD, entity or file with a refusal."""

    def resolve(self, url: str | None, pubid: str | None, context: object) -> None:
        raise ExternalReferenceRefused("an external reference is not followed")


def make_parser(policy: XmlParsePolicy = STRICT, *, allow_local_files: bool = False,
                schema: etree.XMLSchema | None = None, encoding: str | None = None) -> etree.XMLParser:
    """A fresh parser for ``policy``; lxml parsers must not be shared across threads.

    ``allow_local_files`` is for the operator's own schema files only (their references
    are checked by :mod:`gateway.xml.bundles` first); never for anything a caller sent.
    ``schema`` validates while parsing (streaming; for documents already parsed once).
    ``encoding`` overrides what the document declares (the transport said so).
    """
    parser = etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=policy.allow_large_text,
        remove_comments=True,
        remove_pis=not policy.keep_processing_instructions,
        collect_ids=False,
        schema=schema,
    )
    if not allow_local_files:
        parser.resolvers.add(_RefuseEverything())
    return parser


def _parser(policy: XmlParsePolicy, encoding: str | None = None) -> etree.XMLParser:
    cache = getattr(_local, "parsers", None)
    if cache is None:
        cache = _local.parsers = {}
    parser = cache.get((policy, encoding))
    if parser is None:
        parser = cache[(policy, encoding)] = make_parser(policy, encoding=encoding)
    return parser


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
#: Text encodings a transport may name (Python's codec names). Others (base64, rot13, zlib
#: and the like are codecs too; UTF-7, EBCDIC) are refused rather than guessed at.
_CHARSETS = frozenset({"utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "ascii"}
                      | {f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)}
                      | {f"cp125{n}" for n in range(9)})
#: Without a byte order mark, UTF-16 and UTF-32 are big-endian (RFC 2781).
_UNMARKED = {"utf-16": "utf-16-be", "utf-32": "utf-32-be"}
_DECLARED = re.compile(rb"""^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*["'][^"']{1,10}["'][ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z0-9._:-]{1,40})["']""")


def transport_charset(charset: str) -> str:
    """The codec for a Content-Type ``charset`` parameter, or a :class:`RequestError`."""
    try:
        name = codecs.lookup(charset.strip()).name
    except (LookupError, ValueError):
        name = ""
    name = _UNMARKED.get(name, name)
    if name not in _CHARSETS:
        raise RequestError(f"the charset {charset[:40]!r} is not a text encoding the gateway reads "
                           "(UTF-8, UTF-16, ISO-8859-x, windows-125x)", code=FaultCode.MALFORMED_XML)
    return name


def _as_utf8(data: bytes, charset: str | None) -> tuple[bytes, str | None]:
    """Apply the transport's ``charset``: RFC 7303 lets it outrank the XML declaration (a
    byte order mark outranks both), but a declaration that names another encoding means one
    of the two is wrong, and guessing would store mojibake: refused. Without a charset the
    declaration decides, and UTF-8 is the default. Answers the bytes to parse and the
    encoding to impose on the parser."""
    if not charset or data.startswith(_BOMS):
        return data, None
    name = transport_charset(charset)
    ascii_compatible = not name.startswith(("utf-16", "utf-32"))
    declared = _DECLARED.match(data) if ascii_compatible else None
    if declared is not None and transport_charset_or_none(declared.group(1).decode()) != name:
        raise RequestError(f"the Content-Type says charset={charset[:40]} but the XML declaration says "
                           f"encoding={declared.group(1).decode()!r}; send one encoding", code=FaultCode.MALFORMED_XML)
    if name != "utf-8":
        try:
            data = data.decode(name).encode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError) as exc:
            raise RequestError(f"the body is not valid {charset[:40]}: {exc.reason}", code=FaultCode.MALFORMED_XML) from None
    return data, "utf-8"  # imposed: a UTF-16 document's own declaration no longer fits its bytes


def transport_charset_or_none(charset: str) -> str | None:
    try:
        return transport_charset(charset)
    except RequestError:
        return None


def parse_untrusted(data: bytes, *, policy: XmlParsePolicy = STRICT, charset: str | None = None) -> etree._Element:
    """Parse ``data`` or raise a :class:`RequestError` with a stable code.

    ``charset``: the ``charset`` parameter of the Content-Type the bytes came with, if any."""
    if not data or not data.strip():
        raise RequestError("the request body is empty", code=FaultCode.MALFORMED_XML)
    data, encoding = _as_utf8(data, charset)
    if has_doctype(data):
        raise HostileXmlError(_DOCTYPE_REFUSED, code=FaultCode.FORBIDDEN_DTD)
    try:
        root = etree.fromstring(data, parser=_parser(policy, encoding))
    except ExternalReferenceRefused:
        # the same words whether or not the named file exists: no oracle
        raise HostileXmlError(_DOCTYPE_REFUSED, code=FaultCode.FORBIDDEN_DTD) from None
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data or "DTD" in str(exc) or "entity" in str(exc).lower() and "load" in str(exc):
            raise HostileXmlError(_DOCTYPE_REFUSED, code=FaultCode.FORBIDDEN_DTD) from None
        raise RequestError(f"not well-formed XML: {exc}", code=FaultCode.MALFORMED_XML) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise HostileXmlError(_DOCTYPE_REFUSED, code=FaultCode.FORBIDDEN_DTD)
    _check_depth(root, policy.max_depth)
    return root


_SPACE = re.compile(rb"[ \t\r\n]*")
#: (how the document starts, its encoding, bytes to skip): BOMs first, then BOM-less '<'
_WIDE = ((b"\x00\x00\xfe\xff", "utf-32-be", 4), (b"\xff\xfe\x00\x00", "utf-32-le", 4),
         (b"\xfe\xff", "utf-16-be", 2), (b"\xff\xfe", "utf-16-le", 2),
         (b"\x00\x00\x00<", "utf-32-be", 0), (b"<\x00\x00\x00", "utf-32-le", 0),
         (b"\x00<", "utf-16-be", 0), (b"<\x00", "utf-16-le", 0))


def has_doctype(data: bytes) -> bool:
    """Does a DOCTYPE follow the prolog's declarations, comments and PIs? Linear in its length.

    An early refusal, before libxml2 reads a byte; the resolver in :func:`make_parser` is
    the guarantee for encodings this scan does not read (EBCDIC, say).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    else:
        for start, encoding, skip in _WIDE:
            if data.startswith(start):
                data = data[skip:].decode(encoding, errors="replace").encode("utf-8")
                break
    at = 0
    while True:
        space = _SPACE.match(data, at)  # matches everywhere, if only the empty string
        at = space.end() if space else at
        if data.startswith(b"<?", at):
            end, close = data.find(b"?>", at + 2), 2
        elif data.startswith(b"<!--", at):
            end, close = data.find(b"-->", at + 4), 3
        else:
            return data.startswith(b"<!DOCTYPE", at)
        if end < 0:
            return False
        at = end + close


def _check_depth(root: etree._Element, limit: int) -> None:
    try:
        too_deep = bool(_deeper_than(limit)(root))
    except etree.XPathEvalError:
        # libxml2 caps an XPath node set at 10 million nodes; a tree that wide is walked instead
        too_deep = _walk_deeper_than(root, limit)
    if too_deep:
        raise HostileXmlError(f"elements nested deeper than {limit} levels", code=FaultCode.MALFORMED_XML)


def _walk_deeper_than(root: etree._Element, limit: int) -> bool:
    depth = 0
    for event, _elem in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > limit:
            return True
    return False


def _deeper_than(limit: int) -> etree.XPath:
    """``boolean(/*/*/…)`` with ``limit + 1`` steps: is any element deeper than ``limit``?

    Evaluated in libxml2, about ten times faster than walking the tree in Python. Compiled
    once per thread (like the parsers) rather than shared between threads.
    """
    cache = getattr(_local, "depth_checks", None)
    if cache is None:
        cache = _local.depth_checks = {}
    check = cache.get(limit)
    if check is None:
        check = cache[limit] = etree.XPath("boolean(/" + "/".join(["*"] * (limit + 1)) + ")")
    return check
