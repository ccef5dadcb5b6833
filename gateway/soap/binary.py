"""A base64Binary value as a service receives it, joined in one place.

spyne hands a base64Binary argument over as a sequence of chunks. The hardened decoder
(:meth:`gateway.soap.protocol._HardenedInput.byte_array_from_element`) gives one chunk: the
decoded ``bytes``, or an MTOM attachment as :class:`~gateway.spool.SpooledContent`, which
stays on disk.
"""
from __future__ import annotations

from gateway.spool import Content, SpooledContent, content_bytes


def binary_content(value: object) -> Content:
    """The value as document content: a spooled attachment stays a file, chunks are joined."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    chunks = list(value)  # type: ignore[call-overload]  # spyne's chunks: any iterable
    if len(chunks) == 1 and isinstance(chunks[0], SpooledContent):
        return chunks[0]
    return b"".join(content_bytes(c) for c in chunks)


def binary_bytes(value: object) -> bytes:
    """The value as one ``bytes``, read into memory: only for values handled in memory anyway
    (a MeMo message, a payload to validate)."""
    return content_bytes(binary_content(value))
