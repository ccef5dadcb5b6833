"""The MeMo bytes the Digital Post channel sends, checked before any network call.

Digital Post refuses a MeMo that is not UTF-8, whose elements lack the literal ``memo:``
prefix (a default-namespace document is the same XML to a parser, but is refused), whose
messageUUID is not the one the upload names (NgDP's ``memo-message-uuid`` query parameter),
or that does not fit the MeMo schema of its version. The first three are byte rules
(:func:`check_upload_bytes`); the last is the project's own schema for the version
(:func:`check_memo_schema`). A letter that fails is :class:`ChannelRejected` with the reason:
no retry can mend it, so it falls back to print at once.
"""
from __future__ import annotations

import re

from gateway.channels.base import ChannelRejected
from gateway.errors import GatewayError
from gateway.uuids import is_canonical_uuid
from gateway.xml.parser import INLINE_DOCUMENTS
from gateway.xml.schemas import SchemaRegistry

NAME = "digitalpost"

_BOM = b"\xef\xbb\xbf"
_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""\sencoding\s*=\s*["']([^"']*)["']""")
_MISC = re.compile(rb"(?:\s+|<!--.*?-->|<\?(?!xml[\s?])[^>]*?\?>)*", re.DOTALL)  # whitespace, comments, PIs
_ROOT = re.compile(rb"<memo:Message[\s/>]")
_UUID_ELEMENT = re.compile(rb"<memo:messageUUID>\s*([^<\s]*)\s*</memo:messageUUID>")
_VERSION = re.compile(rb"""<memo:Message\s[^>]*?\bmemoVersion\s*=\s*["']([^"']*)["']""")


def check_upload_bytes(data: bytes, message_uuid: str) -> None:
    """Refuse bytes Digital Post would refuse, before any network call: not UTF-8, a root
    element without the literal ``memo:`` prefix, or a messageUUID that is not the one the
    upload names."""
    if not is_canonical_uuid(message_uuid, any_case=True):
        raise ChannelRejected(f"the MeMo messageUUID {message_uuid!r} is not a UUID", channel=NAME)
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    declaration = _DECLARATION.match(body)
    if declaration:
        encoding = _ENCODING.search(declaration.group())
        if encoding and encoding.group(1).decode("ascii", "replace").lower() != "utf-8":
            raise ChannelRejected(f"the MeMo declares encoding {encoding.group(1)!r}; Digital Post requires UTF-8", channel=NAME)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChannelRejected(f"the MeMo is not UTF-8 (byte {exc.start}); Digital Post requires UTF-8", channel=NAME) from None
    start = _MISC.match(body, declaration.end() if declaration else 0).end()  # type: ignore[union-attr]
    if not _ROOT.match(body, start):
        head = body[start:start + 60].decode("utf-8", "replace")
        raise ChannelRejected(f"the MeMo root element must be written <memo:Message ...>, found {head!r}: "
                              "Digital Post requires the literal memo: prefix", channel=NAME)
    inside = _UUID_ELEMENT.search(body)
    if inside is None or inside.group(1).decode("utf-8") != message_uuid:
        found = inside.group(1).decode("utf-8", "replace") if inside else "none"
        raise ChannelRejected(f"the MeMo's memo:messageUUID ({found}) is not {message_uuid}, the messageUUID of the upload",
                              channel=NAME)


def check_memo_schema(data: bytes, *, version: str, schemas: SchemaRegistry) -> None:
    """Refuse a MeMo that is not written in ``version`` or does not fit the project's schema
    for it (``xsd/memo-<version>/``), naming the first reason."""
    found = _VERSION.search(data)
    written = found.group(1).decode("utf-8", "replace") if found else None
    if written != version:
        raise ChannelRejected(f"the MeMo is written as memoVersion {written!r}, not {version!r} as configured "
                              "(channels.digitalpost.memo_version)", channel=NAME)
    try:
        verdict = schemas.validate(f"memo-{version}", data, policy=INLINE_DOCUMENTS)
    except GatewayError as exc:  # not XML the gateway's parser takes at all
        raise ChannelRejected(f"the MeMo cannot be read as XML: {exc}", channel=NAME) from None
    if not verdict.valid:
        first = verdict.errors[0]
        where = f" at {first.path}" if first.path else (f" on line {first.line}" if first.line else "")
        raise ChannelRejected(f"the MeMo does not fit the MeMo {version} schema{where}: {first.message}", channel=NAME)
