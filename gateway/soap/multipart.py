"""A streaming reader for MTOM/XOP request bodies (``multipart/related``, RFC 2046/2387).

Why the gateway reads MTOM itself: spyne's decoder re-parsed the root part with lxml's
default parser once per attachment (entities expanded, an XPath built from each Content-ID),
ignored ``start``, refused chunked bodies (Apache CXF chunks every body over 4 KB) and held
every part in memory. This reader goes through the body once, in fixed-size chunks:

* the root part (the one ``start`` names, else the first) is kept in memory, for the one
  hardened parser (:func:`gateway.xml.parser.parse_untrusted`);
* every other part is an attachment, kept in memory up to
  :attr:`MultipartPolicy.memory_part_bytes` and streamed into the request's spool file
  beyond that, hashed on the way (flat memory for a 350 MB document);
* a body that ends without its closing boundary (a truncated upload), a part without a
  Content-ID, two parts with the same one, more parts or longer headers than the policy
  allows are refused with a :class:`~gateway.errors.RequestError` naming the problem.

A ``cid:`` URL is percent-decoded before it is compared with the Content-IDs as sent (RFC
2392 URLs are percent-encoded, and WCF and CXF send them so).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol
from urllib.parse import unquote

from gateway.errors import FaultCode, RequestError, StorageError, quoted
from gateway.limits import LIMITS, KiB
from gateway.soap.transport import parse_media_type
from gateway.spool import Content, Spool, SpoolFile

_SHOWN = 80  # characters of a caller's value quoted in a refusal

#: RFC 2046 boundary: 1 to 70 characters of a restricted set, not ending in a space.
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
#: Content transfer encodings that leave the bytes as they are.
_IDENTITY_ENCODINGS = frozenset({"", "binary", "8bit", "7bit"})
_ROOT_TYPES = frozenset({"application/xop+xml", "application/soap+xml", "text/xml"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MultipartPolicy:
    """Bounds on a multipart body beyond its total size (bounded by twisted.web)."""

    max_parts: int = LIMITS.mtom_max_parts
    #: All header lines of one part together.
    max_header_bytes: int = LIMITS.mtom_max_header_bytes
    max_header_lines: int = LIMITS.mtom_max_header_lines
    #: The root part is parsed in memory.
    max_root_bytes: int = LIMITS.mtom_max_root_bytes
    #: Attachments up to this size stay in memory; larger ones go to the spool.
    memory_part_bytes: int = LIMITS.mtom_memory_part_bytes
    #: All attachments of one body kept in memory together; past it, every part spools.
    memory_total_bytes: int = LIMITS.mtom_memory_total_bytes
    #: How much of the body is read at a time.
    chunk_bytes: int = 256 * KiB


DEFAULT_POLICY = MultipartPolicy()


@dataclass(frozen=True, slots=True)
class Attachment:
    content_id: str
    media_type: str
    content: Content


@dataclass(frozen=True, slots=True)
class MultipartMessage:
    root: bytes
    #: The root part's media type and ``charset`` (None when it gives none).
    root_type: str
    root_charset: str | None
    #: Attachments by percent-decoded Content-ID.
    attachments: dict[str, Attachment] = field(default_factory=dict)


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def content_id_key(value: str) -> str:
    """A Content-ID header (``<a@b>``) as sent, without its angle brackets."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value.strip()


def cid_url_keys(href: str) -> tuple[str, ...]:
    """The Content-IDs a ``cid:`` URL may mean: RFC 2392 percent-encodes it, so decoded
    first; as written too, for clients that did not encode a ``%`` of their own."""
    value = href.strip()[4:].strip()
    try:
        decoded = unquote(value, errors="strict") if "%" in value else value
    except UnicodeDecodeError:  # %FF and the like: not UTF-8, so only as written
        return (value,)
    return (decoded,) if decoded == value else (decoded, value)


def _fail(message: str) -> RequestError:
    return RequestError(f"MTOM/multipart body: {message}", code=FaultCode.INVALID_REQUEST)


def read_multipart(
    stream: BinaryIO | _Reader,
    *,
    boundary: str | None,
    start: str | None,
    spool: Spool,
    policy: MultipartPolicy = DEFAULT_POLICY,
) -> MultipartMessage:
    """Read a whole ``multipart/related`` body from ``stream``; see the module docstring."""
    if not boundary or not _BOUNDARY.match(boundary):
        raise _fail("the Content-Type has no valid boundary parameter")
    try:
        return _MultipartParser(stream, boundary.encode("ascii"), start, spool, policy).run()
    except OSError as exc:
        spool.close()
        raise StorageError(f"cannot keep an MTOM attachment on disk: {exc.strerror or exc}",
                           code=FaultCode.STORAGE_UNAVAILABLE) from exc
    except BaseException:
        spool.close()
        raise


class _MultipartParser:
    def __init__(self, stream: _Reader, boundary: bytes, start: str | None, spool: Spool, policy: MultipartPolicy) -> None:
        self.stream = stream
        self.delimiter = b"--" + boundary
        self.separator = b"\r\n" + self.delimiter
        if start and start.strip()[:4].lower() == "cid:":
            start = start.strip()[4:]
        self.start = content_id_key(start) if start else None
        self.spool = spool
        self.policy = policy
        self.buf = bytearray()
        self.eof = False
        self.in_memory = 0

    # --- buffer ---

    def _fill(self) -> bool:
        """Read one more chunk; False at the end of the body."""
        if self.eof:
            return False
        chunk = self.stream.read(self.policy.chunk_bytes)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _need(self, n: int) -> bool:
        while len(self.buf) < n:
            if not self._fill():
                return False
        return True

    # --- structure ---

    def run(self) -> MultipartMessage:
        self._skip_preamble()
        root: tuple[bytes, str, str | None] | None = None
        root_key: str | None = None
        attachments: dict[str, Attachment] = {}
        parts = 0
        while True:
            if self._after_delimiter_is_close():
                break
            parts += 1
            if parts > self.policy.max_parts:
                raise _fail(f"more than {self.policy.max_parts} parts")
            headers = self._headers()
            content_id = headers.get("content-id")
            key = content_id_key(content_id) if content_id is not None else None
            if content_id is not None and not key:
                raise _fail("a part has an empty Content-ID")
            media_type, params = parse_media_type(headers.get("content-type", "text/plain"))
            encoding = headers.get("content-transfer-encoding", "").strip().lower()
            if encoding not in _IDENTITY_ENCODINGS:
                raise _fail(f"Content-Transfer-Encoding {encoding!r} is not supported (send binary)")
            is_root = root is None and (key == self.start if self.start is not None else parts == 1)
            if is_root:
                if media_type not in _ROOT_TYPES:
                    raise _fail(f"the root part is {media_type!r}, not application/xop+xml")
                body = self._body_in_memory(self.policy.max_root_bytes, "the root part")
                root = (body, media_type, _charset(params))
                root_key = key
                continue
            if key is None:
                raise _fail(f"part {parts} has no Content-ID, so nothing can refer to it")
            if key in attachments or key == root_key or (self.start is not None and key == self.start):
                raise _fail(f"two parts have the Content-ID {quoted(key, _SHOWN)}")
            attachments[key] = Attachment(key, media_type, self._attachment_body())
        if root is None:
            if parts == 0:
                raise _fail("the body has no parts")
            # without a start parameter the first part is the root: so start named none of them
            raise _fail(f"no part has the Content-ID {quoted(self.start or '', _SHOWN)} that the start parameter names")
        body, media_type, charset = root
        return MultipartMessage(root=body, root_type=media_type, root_charset=charset, attachments=attachments)

    def _skip_preamble(self) -> None:
        """Up to and including the first delimiter, which begins the body or a line."""
        scanned = 0
        self._need(len(self.delimiter))
        if self.buf.startswith(self.delimiter):  # only at the very start: else after a line break
            del self.buf[: len(self.delimiter)]
            return
        while True:
            i = self.buf.find(self.separator)
            if i >= 0:
                del self.buf[: i + len(self.separator)]
                return
            keep = len(self.separator) - 1
            if len(self.buf) > keep:
                scanned += len(self.buf) - keep
                del self.buf[: len(self.buf) - keep]
            if scanned > self.policy.max_header_bytes:
                raise _fail("no boundary delimiter at the start of the body")
            if not self._fill():
                raise _fail("the body ends before its first boundary delimiter")

    def _after_delimiter_is_close(self) -> bool:
        """Just after a delimiter: ``--`` closes the body, else padding and CRLF open a part."""
        if not self._need(2):
            raise _fail("the body ends without its closing boundary (truncated upload?)")
        if self.buf[:2] == b"--":
            return True
        # transport padding (spaces, tabs) may stand before the line break
        while True:
            stripped = self.buf.lstrip(b" \t")
            if stripped or self.eof:
                break
            self.buf.clear()
            self._fill()
        del self.buf[: len(self.buf) - len(stripped)]
        if not self._need(2) or self.buf[:2] != b"\r\n":
            raise _fail("a boundary delimiter is not followed by a line break")
        del self.buf[:2]
        return False

    def _headers(self) -> dict[str, str]:
        limit = self.policy.max_header_bytes
        while True:
            if self.buf.startswith(b"\r\n"):  # a part without headers
                del self.buf[:2]
                return {}
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > limit:
                raise _fail(f"a part's headers are longer than {limit} bytes")
            if not self._fill():
                raise _fail("the body ends inside a part's headers (truncated upload?)")
        if end > limit:
            raise _fail(f"a part's headers are longer than {limit} bytes")
        raw = bytes(self.buf[:end])
        del self.buf[: end + 4]
        return _parse_headers(raw, max_lines=self.policy.max_header_lines)

    def _body_into(self, sink: "_Sink") -> None:
        """Stream the part's body into ``sink`` up to the next delimiter (consumed)."""
        sep = self.separator
        keep = len(sep) - 1
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                if i:
                    sink.write(memoryview(self.buf)[:i])
                del self.buf[: i + len(sep)]
                return
            if len(self.buf) > keep:
                n = len(self.buf) - keep
                sink.write(memoryview(self.buf)[:n])
                del self.buf[:n]
            if not self._fill():
                raise _fail("the body ends inside a part, without its closing boundary (truncated upload?)")

    def _body_in_memory(self, limit: int, what: str) -> bytes:
        sink = _MemorySink(limit, what)
        self._body_into(sink)
        return bytes(sink.data)

    def _attachment_body(self) -> Content:
        room = max(0, min(self.policy.memory_part_bytes, self.policy.memory_total_bytes - self.in_memory))
        sink = _SpillingSink(self.spool, room)
        try:
            self._body_into(sink)
        except BaseException:
            sink.abort()
            raise
        content = sink.finish()
        if isinstance(content, bytes):
            self.in_memory += len(content)
        return content


class _Sink(Protocol):
    def write(self, data: memoryview) -> None: ...


class _MemorySink:
    def __init__(self, limit: int, what: str) -> None:
        self.data = bytearray()
        self.limit = limit
        self.what = what

    def write(self, data: memoryview) -> None:
        if len(self.data) + len(data) > self.limit:
            raise _fail(f"{self.what} is larger than {self.limit} bytes")
        self.data += data


class _SpillingSink:
    """Memory up to ``threshold`` bytes, then a spool file (hashed as it is written)."""

    def __init__(self, spool: Spool, threshold: int) -> None:
        self.spool = spool
        self.threshold = threshold
        self.data = bytearray()
        self.file: SpoolFile | None = None

    def write(self, data: memoryview) -> None:
        if self.file is None and len(self.data) + len(data) <= self.threshold:
            self.data += data
            return
        if self.file is None:
            self.file = self.spool.new_file()
            self.file.write(self.data)
            self.data = bytearray()
        self.file.write(data)

    def finish(self) -> Content:
        return bytes(self.data) if self.file is None else self.file.finish()

    def abort(self) -> None:
        if self.file is not None:
            self.file.abort()


def _parse_headers(raw: bytes, *, max_lines: int) -> dict[str, str]:
    """RFC 5322 header lines (folded lines joined); names lower-cased, values stripped."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    if len(lines) > max_lines:
        raise _fail(f"a part has more than {max_lines} header lines")
    headers: dict[str, str] = {}
    name: str | None = None
    for line in lines:
        if line[:1] in (" ", "\t") and name is not None:
            headers[name] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon or not key or not key.isascii() or any(c in key for c in " \t()<>@,;\\\"/[]?={}"):
            raise _fail(f"a part has a malformed header line {quoted(line, _SHOWN)}")
        if key in headers and key in ("content-id", "content-type", "content-transfer-encoding"):
            raise _fail(f"a part has two {key} headers")
        headers[key] = value.strip()
        name = key
    return headers


def _charset(params: dict[str, str]) -> str | None:
    """The root part's ``charset``, checked where the bytes are decoded (gateway.xml.parser)."""
    return params.get("charset") or None
