"""What may come in over HTTP, checked before authentication and before a byte is parsed.

Only SOAP media types are accepted: ``application/soap+xml`` (SOAP 1.2), ``text/xml``
(SOAP 1.1), and ``multipart/related`` whose ``type`` is ``application/xop+xml`` (MTOM; its
``start-info``, when given, must then be one of the two) or one of the two (SOAP with
attachments). Anything else, including no Content-Type at all, would let a browser post a
letter cross-site with a sender's stored credentials (HTML forms can send ``text/plain``,
``application/x-www-form-urlencoded`` and ``multipart/form-data`` without a preflight), so
it is refused with ``UNSUPPORTED_MEDIA_TYPE`` (415). So is a body with a content coding
(``Content-Encoding: gzip``): decompressing it would be work the body limit does not bound.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from email.message import Message
from typing import Any

from gateway.errors import FaultCode, RequestError, quoted

SOAP12_MEDIA = "application/soap+xml"
SOAP11_MEDIA = "text/xml"
XOP_MEDIA = "application/xop+xml"
MULTIPART_RELATED = "multipart/related"
SOAP_MEDIA = frozenset({SOAP12_MEDIA, SOAP11_MEDIA})

_SHOWN = 100  # characters of a refused header value echoed back


def check_request_media(environ: Mapping[str, Any]) -> None:
    """Raise :class:`RequestError` (``UNSUPPORTED_MEDIA_TYPE``) unless the body is a SOAP message."""
    coding = (environ.get("HTTP_CONTENT_ENCODING") or "").strip().lower()
    if coding and coding != "identity":
        raise _refusal(f"a body with Content-Encoding {quoted(coding, _SHOWN)} is not accepted; send it uncompressed")
    value = environ.get("CONTENT_TYPE") or ""
    if not value.strip():
        raise _refusal("the request has no Content-Type; a SOAP call is application/soap+xml (SOAP 1.2) or text/xml (SOAP 1.1)")
    media, params = parse_media_type(value)
    if media in SOAP_MEDIA:
        return
    if media == MULTIPART_RELATED:
        root = params.get("type", "").strip().lower()
        if root == XOP_MEDIA:
            start_info = params.get("start-info", "").split(";")[0].strip().lower()
            if not start_info or start_info in SOAP_MEDIA:
                return
            raise _refusal(f"an MTOM message's start-info must be {SOAP12_MEDIA} or {SOAP11_MEDIA}, not {quoted(start_info, _SHOWN)}")
        if root in SOAP_MEDIA:
            return
        raise _refusal(f"a multipart/related message's type must be {XOP_MEDIA}, {SOAP12_MEDIA} or {SOAP11_MEDIA}, "
                       f"not {quoted(root, _SHOWN) if root else 'missing'}")
    raise _refusal(f"Content-Type {quoted(media, _SHOWN)} is not a SOAP message; send {SOAP12_MEDIA} (SOAP 1.2), "
                   f"{SOAP11_MEDIA} (SOAP 1.1) or multipart/related with type=\"{XOP_MEDIA}\" (MTOM)")


def _refusal(message: str) -> RequestError:
    return RequestError(message, code=FaultCode.UNSUPPORTED_MEDIA_TYPE)


@functools.lru_cache(maxsize=256)
def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; k=v; k2="v 2"`` → (type/subtype lower-cased, parameters by lower-cased
    name): for the request's Content-Type and each MIME part's alike.

    The email package parses parameters (quoting, case) correctly and slowly (~0.1 ms);
    clients send the same few values again and again. Callers must not change the dict."""
    message = Message()
    message["content-type"] = value
    params = {k.lower(): str(v) for k, v in message.get_params(failobj=[])[1:]}
    declared = value.split(";", 1)[0].strip().lower()
    # email falls back to text/plain for a value it cannot parse; refuse those as what they say
    return (message.get_content_type() if "/" in declared else declared or "none"), params
