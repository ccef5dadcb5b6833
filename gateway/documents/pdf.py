"""PDF opening and inspection with pypdf: can print and mailboxes open it, and how many pages.

:func:`open_pdf` is the one way the gateway opens a PDF (intake checks it with
:func:`inspect_pdf`, print merges it); both run within the bounds below.

A PDF that needs a password to open is refused; one that is only restricted by an owner
password (empty user password) opens and is accepted, as print houses can process it.

Opening a PDF means decompressing what a print house or mailbox would: the cross-reference
and object streams pypdf needs to find the pages, and every page's content streams. An
attacker's PDF of a few hundred kilobytes can inflate to gigabytes (deflate bombs), or make
pure-Python decoders (PNG/TIFF predictors, LZW, RunLength, ASCIIHex, ASCII85) run for minutes.
So every inspection runs within the intake policy's bounds, refused as ``PDF_TOO_COMPLEX``:

- decoded bytes per stream (``pdf_max_stream_bytes``; ``pdf_max_slow_stream_bytes`` for a
  stream pypdf decodes or parses byte by byte in Python: predictors, LZW, RunLength,
  ASCIIHex, ASCII85, and object and cross-reference streams) and per document
  (``pdf_max_decoded_bytes``), enforced by pypdf's own output limits on every filter, set per
  stream through its ``Configuration``;
- objects (``pdf_max_objects``: entries of cross-reference tables and streams and objects
  declared in object streams, counted before pypdf parses them), pages (``pdf_max_pages``)
  and the depth and size of the page tree (pypdf's own limits, set from the same policy);
- time (``pdf_max_seconds`` of the inspecting thread's CPU time, so that a busy server does not
  refuse a large PDF it is merely slow to get to): a deadline checked before and after every
  stream is decoded, at every object resolved, and, in a file over 1 MiB, every 4,096 reads of
  it (:class:`_MeteredFile`: one long string or comment), where also no more than
  :data:`_READS_PER_OBJECT` reads may go to one object (pypdf keeps a list entry per byte of a
  string: 40 MB of string would hold 320 MB). No single step between two checks can run long,
  because the steps above are bounded; parsing a smaller file is bounded by its size (reads
  through a Python method would cost a small letter ~20% more).

A bound once reached stays reached for the document, even where pypdf catches the error and
carries on (a broken cross-reference stream is "repaired" by scanning the file).

pypdf has no hook for a budget over a whole document, so :func:`_bounded_decode` wraps
``pypdf.filters.decode_stream_data`` once, process-wide. Outside an inspection (no budget in
the context) it only forwards the call. The budget lives in a :class:`~contextvars.ContextVar`,
so concurrent inspections in other threads keep their own.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field as dataclass_field
from typing import BinaryIO, NoReturn, Union

import pypdf.filters
from pypdf import Configuration, PasswordType, PdfReader, apply_configuration, get_configuration
from pypdf.errors import DependencyError, LimitReachedError, PyPdfError
from pypdf.generic import ArrayObject, IndirectObject, StreamObject

from gateway.config import IntakePolicy
from gateway.documents.printability import PrintRules, print_problems
from gateway.errors import DocumentError, FaultCode
from gateway.limits import LIMITS

logging.getLogger("pypdf").setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

#: What a caller reads for a PDF pypdf cannot open. pypdf's own message (Python wording,
#: object ids, memory addresses) is logged instead: it helps the developers, not the sender.
UNREADABLE = ("the PDF cannot be read: it is damaged or uses features the gateway cannot open; "
              "save it again as PDF/A (or print it to PDF) and send it again")
#: The reason given for a limit of pypdf's own (a loop of references, nesting, entries).
PYPDF_LIMIT = "its structure loops or nests beyond what the PDF reader allows"
#: What pypdf raises for a malformed file: its own errors, and Python's from its parsing code.
_PYPDF_ERRORS = (PyPdfError, DependencyError, NotImplementedError, ValueError, KeyError, TypeError, AttributeError,
                 IndexError, RecursionError, AssertionError, OverflowError, ZeroDivisionError, UnicodeError)

#: The bytes of a document, or a binary file positioned anywhere (it is read from the start).
PdfSource = Union[bytes, bytearray, memoryview, BinaryIO]

#: Filters pypdf decodes byte by byte in Python.
_SLOW_FILTERS = frozenset({"/LZWDecode", "/LZW", "/RunLengthDecode", "/RL", "/ASCIIHexDecode", "/AHx", "/ASCII85Decode", "/A85"})
#: Streams pypdf parses byte by byte in Python after decoding them.
_PARSED_TYPES = frozenset({"/ObjStm", "/XRef"})


@dataclass(frozen=True, slots=True)
class PdfInfo:
    page_count: int
    encrypted: bool
    #: Why print cannot take it, by the rules asked for (:mod:`gateway.documents.printability`).
    print_problems: tuple[str, ...] = ()


class _TooComplex(Exception):
    """A bound of the inspection was reached; the message says which."""


@dataclass(slots=True)
class _Budget:
    policy: IntakePolicy
    deadline: float
    decoded: int = 0
    objects: int = 0
    counted_streams: set[int] = dataclass_field(default_factory=set)
    #: Reads of the file, and their count when the last object was resolved.
    reads: int = 0
    reads_mark: int = 0
    #: The first bound reached, kept: pypdf catches some errors and goes on.
    exceeded: str | None = None

    def fail(self, message: str) -> NoReturn:
        self.exceeded = self.exceeded or message
        raise _TooComplex(self.exceeded)

    def check_time(self) -> None:
        if self.exceeded:
            raise _TooComplex(self.exceeded)
        if time.thread_time() > self.deadline:
            self.fail(f"opening it takes more than {self.policy.pdf_max_seconds:g} seconds of work")

    def count_objects(self, n: int, what: str) -> None:
        self.objects += n
        if self.objects > self.policy.pdf_max_objects:
            self.fail(f"it has more than {self.policy.pdf_max_objects} objects ({what})")

    def stream_limit(self, slow: bool) -> int:
        own = self.policy.pdf_max_slow_stream_bytes if slow else self.policy.pdf_max_stream_bytes
        return max(0, min(own, self.policy.pdf_max_decoded_bytes - self.decoded))

    def spend(self, n: int) -> None:
        self.decoded += n
        if self.decoded > self.policy.pdf_max_decoded_bytes:
            self.fail(f"its streams decompress to more than {self.policy.pdf_max_decoded_bytes} bytes")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("gateway_pdf_budget", default=None)
_original_decode = pypdf.filters.decode_stream_data


def _is_slow(stream: StreamObject) -> bool:
    if stream.get("/Type") in _PARSED_TYPES:
        return True
    filters = stream.get("/Filter", ())
    filters = filters.get_object() if isinstance(filters, IndirectObject) else filters
    names = [str(f) for f in filters] if isinstance(filters, ArrayObject) else [str(filters)]
    if any(name in _SLOW_FILTERS for name in names):
        return True
    parms = stream.get("/DecodeParms")
    parms = parms.get_object() if isinstance(parms, IndirectObject) else parms
    for parm in parms if isinstance(parms, ArrayObject) else [parms]:
        parm = parm.get_object() if isinstance(parm, IndirectObject) else parm
        if isinstance(parm, dict) and parm.get("/Predictor", 1) not in (1, None):
            return True  # PNG and TIFF predictors run per byte in Python
    return False


def _bounded_decode(stream: StreamObject) -> bytes:
    """``decode_stream_data`` within the budget of the inspection running in this context."""
    budget = _BUDGET.get()
    if budget is None:
        return _original_decode(stream)
    budget.check_time()
    if stream.get("/Type") == "/ObjStm" and id(stream) not in budget.counted_streams:
        budget.counted_streams.add(id(stream))
        declared = stream.get("/N", 0)
        budget.count_objects(max(0, int(declared)) if isinstance(declared, int) else 0, "declared in object streams")
    slow = _is_slow(stream)
    limit = budget.stream_limit(slow)
    raw = len(stream._data or b"")
    if slow and raw > 2 * budget.policy.pdf_max_slow_stream_bytes:
        budget.fail(f"a stream of {raw} bytes needs a slow decoder (LZW, RunLength, ASCIIHex, ASCII85 or a predictor)")
    if limit <= 0:
        budget.fail(f"its streams decompress to more than {budget.policy.pdf_max_decoded_bytes} bytes")
    # A limit of 0 means "none" to pypdf: the checks above keep it positive.
    with apply_configuration(
        zlib_maximum_output_length=limit,
        lzw_maximum_output_length=limit,
        run_length_maximum_output_length=limit,
        brotli_maximum_output_length=limit,
        jbig2_maximum_output_length=limit,
        array_based_stream_maximum_output_length=limit,
        stream_decoding_work_maximum_length=4 * limit,
    ):
        try:
            data = _original_decode(stream)
        except LimitReachedError:
            budget.fail(f"a stream decompresses to more than {limit} bytes")
    budget.spend(len(data))
    if slow and len(data) > budget.policy.pdf_max_slow_stream_bytes:
        budget.fail(f"a stream needs a slow decoder for more than {budget.policy.pdf_max_slow_stream_bytes} bytes")
    budget.check_time()
    return data


pypdf.filters.decode_stream_data = _bounded_decode  # see the module text


class _BoundedReader(PdfReader):
    """A reader that looks at the clock while it resolves objects."""

    def get_object(self, indirect_reference):  # type: ignore[no-untyped-def, override]
        budget = _BUDGET.get()
        if budget is not None:
            budget.check_time()
            budget.reads_mark = budget.reads
        return super().get_object(indirect_reference)


@functools.lru_cache(maxsize=8)
def _configuration_for(policy: IntakePolicy) -> Configuration:
    """pypdf's configuration for ``policy``, built once (it is rebuilt field by field)."""
    return get_configuration().with_overwrites(**_configuration(policy))


def _configuration(policy: IntakePolicy) -> dict[str, int | None]:
    """pypdf's own limits, from the policy (decoder outputs are set per stream)."""
    return dict(
        jbig2dec_binary=None,  # never start a program for an untrusted stream
        zlib_maximum_recovery_input_length=min(policy.pdf_max_slow_stream_bytes, 1024 * 1024),
        page_tree_maximum_entries=2 * policy.pdf_max_pages + 64,
        page_tree_maximum_page_entries=2 * policy.pdf_max_pages + 64,
        page_tree_maximum_depth=64,
        outline_maximum_entries=policy.pdf_max_objects,
        array_maximum_element_count=min(100_000, policy.pdf_max_objects),
        dictionary_maximum_element_count=min(100_000, policy.pdf_max_objects),
    )


class _MeteredFile:
    """The document as pypdf reads it, looking at the clock every :data:`_READS_PER_CHECK` reads.

    pypdf parses cross-reference tables and objects with many small reads: this is the one
    place that sees all of that work.
    """

    __slots__ = ("_inner", "_budget", "seek", "tell")

    def __init__(self, inner: BinaryIO, budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget
        self.seek = inner.seek
        self.tell = inner.tell

    def read(self, size: int = -1) -> bytes:
        budget = self._budget
        budget.reads += 1
        if not budget.reads % _READS_PER_CHECK:
            budget.check_time()
            if budget.reads - budget.reads_mark > _READS_PER_OBJECT:
                budget.fail(f"one object takes more than {_READS_PER_OBJECT} reads to parse")
        return self._inner.read(size)


_READS_PER_CHECK = 4096
#: Reads allowed for one object (an object of legitimate size takes far fewer), and in
#: addition for each entry of the cross-reference tables, which are read before any object.
_READS_PER_OBJECT = LIMITS.pdf_reads_per_object
_READS_PER_ENTRY = LIMITS.pdf_reads_per_entry
_METER_ABOVE = 1024 * 1024
#: ``<first> <count>`` of a cross-reference subsection, and the ``/Prev`` of a trailer.
_SUBSECTION = re.compile(rb"\s*(\d{1,10})\s+(\d{1,10})[ \t]*\r?\n?")
_PREV = re.compile(rb"/Prev\s+(\d{1,12})")
_STARTXREF = re.compile(rb"startxref\s+(\d{1,12})")


def _xref_table_entries(stream: BinaryIO, size: int, *, limit: int) -> int:
    """Entries the classic cross-reference tables declare, following ``/Prev``, without
    parsing them: pypdf would hold them all in memory before any other check could run.
    Stops counting past ``limit``; a file without classic tables counts 0 (pypdf finds out
    what is wrong with it)."""
    stream.seek(max(0, size - 1024))
    tail = stream.read(1024)
    found = list(_STARTXREF.finditer(tail))
    offset = int(found[-1].group(1)) if found else -1
    entries, seen = 0, set[int]()
    while 0 <= offset < size and offset not in seen and len(seen) < 64 and entries <= limit:
        seen.add(offset)
        stream.seek(offset)
        head = stream.read(4)
        if head != b"xref":
            break
        position = offset + 4
        while entries <= limit:
            stream.seek(position)
            line = stream.read(32)
            match = _SUBSECTION.match(line)
            if match is None:
                break
            count = int(match.group(2))
            entries += count
            position += match.end() + 20 * count
        stream.seek(position)
        trailer = stream.read(4096)
        prev = _PREV.search(trailer.split(b"startxref", 1)[0]) if b"trailer" in trailer[:64] else None
        offset = int(prev.group(1)) if prev else -1
    stream.seek(0)
    return entries


def _stream_of(source: PdfSource) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    source.seek(0)
    return source


def _size_of(stream: BinaryIO) -> int:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size


def _header(stream: BinaryIO) -> bytes:
    head = stream.read(1024)
    stream.seek(0)
    return head


@contextlib.contextmanager
def open_pdf(source: PdfSource, *, field: str, policy: IntakePolicy | None = None) -> Iterator[PdfReader]:
    """Open ``source`` as a PDF within ``policy``'s bounds, or raise :class:`DocumentError` naming ``field``.

    ``source`` is the document's bytes or a binary file (a large document spooled to disk).
    The body of the ``with`` runs within the same bounds, and whatever pypdf raises there is
    refused as for opening: work with the reader inside it, never after.
    """
    policy = policy or IntakePolicy()
    stream = _stream_of(source)
    if b"%PDF-" not in _header(stream):  # the header may follow a little junk, as readers allow
        raise DocumentError("not a PDF: the file does not start with a %PDF- header", code=FaultCode.PDF_UNREADABLE, field=field)
    budget = _Budget(policy, deadline=time.thread_time() + policy.pdf_max_seconds)
    token = _BUDGET.set(budget)
    try:
        with apply_configuration(_configuration_for(policy)):
            yield _open(stream, field=field, budget=budget)
            budget.check_time()  # also: a bound reached where pypdf caught it and went on
    except _TooComplex as exc:
        raise _too_complex(budget.exceeded or str(exc), field) from None
    except LimitReachedError as exc:  # pypdf's own limits; its message names objects by id
        logger.info("PDF in %s: pypdf limit: %.300s", field, exc)
        raise _too_complex(budget.exceeded or PYPDF_LIMIT, field) from None
    except DocumentError:
        if budget.exceeded:  # a bound reached inside pypdf, which then failed otherwise
            raise _too_complex(budget.exceeded, field) from None
        raise
    except MemoryError:
        raise  # not a property of the file: the bounds did not hold
    except Exception as exc:  # noqa: BLE001 - no error of pypdf's parsing may become a server fault
        if budget.exceeded:
            raise _too_complex(budget.exceeded, field) from None
        if isinstance(exc, _PYPDF_ERRORS):
            logger.info("PDF in %s unreadable: %s: %.300s", field, type(exc).__name__, exc)
        else:  # a failure nobody foresaw: the trace helps to classify it
            logger.warning("PDF in %s unreadable: unexpected %s", field, type(exc).__name__, exc_info=True)
        raise DocumentError(UNREADABLE, code=FaultCode.PDF_UNREADABLE, field=field) from None
    finally:
        _BUDGET.reset(token)


def inspect_pdf(source: PdfSource, *, field: str, policy: IntakePolicy | None = None,
                print_rules: PrintRules | None = None) -> PdfInfo:
    """Open ``source`` (:func:`open_pdf`) and decode every page's content, as a print house or
    mailbox would, within ``policy``'s bounds; raise :class:`DocumentError` naming ``field``.
    With ``print_rules``, also say why print cannot take it, within the same bounds."""
    header = _header(_stream_of(source))
    with open_pdf(source, field=field, policy=policy) as reader:
        for content in _content_streams(reader):
            _bounded_decode(content)  # decoded to be measured, then dropped (never cached)
        problems = tuple(print_problems(reader, header, print_rules)) if print_rules else ()
        return PdfInfo(page_count=len(reader.pages), encrypted=reader.is_encrypted, print_problems=problems)


def _too_complex(reason: str, field: str) -> DocumentError:
    return DocumentError(f"the PDF is too complex to open safely: {reason}", code=FaultCode.PDF_TOO_COMPLEX, field=field)


def _open(stream: BinaryIO, *, field: str, budget: _Budget) -> PdfReader:
    limit = budget.policy.pdf_max_objects
    entries = _xref_table_entries(stream, _size_of(stream), limit=limit)
    budget.count_objects(entries, "cross-reference table entries")
    budget.reads_mark = _READS_PER_ENTRY * entries  # pypdf reads a table entry in some 12 reads
    size = _size_of(stream)
    source = _MeteredFile(stream, budget) if size > _METER_ABOVE else stream
    reader = _BoundedReader(source, strict=False, xref_stream_maximum_entries=limit)  # type: ignore[arg-type]
    budget.check_time()
    if reader.is_encrypted:
        try:
            opened = bool(reader.decrypt(""))  # PasswordType.NOT_DECRYPTED is 0
        except (PyPdfError, NotImplementedError, ValueError):
            opened = False
        if not opened:
            raise DocumentError(
                "the PDF is password-protected; send it without a password to open it",
                code=FaultCode.PDF_PASSWORD_PROTECTED,
                field=field,
            )
    pages = len(reader.pages)  # the page tree as walked, never its /Count
    if pages < 1:
        raise DocumentError("the PDF has no pages", code=FaultCode.PDF_UNREADABLE, field=field)
    if pages > budget.policy.pdf_max_pages:
        raise _TooComplex(f"it has {pages} pages, more than {budget.policy.pdf_max_pages}")
    return reader


def _content_streams(reader: PdfReader) -> Iterator[StreamObject]:
    """Each page's compressed content streams, each shared stream once."""
    seen: set[int] = set()
    for page in reader.pages:
        contents = page.get("/Contents")
        contents = contents.get_object() if isinstance(contents, IndirectObject) else contents
        for item in contents if isinstance(contents, ArrayObject) else [contents]:
            item = item.get_object() if isinstance(item, IndirectObject) else item
            if isinstance(item, StreamObject) and "/Filter" in item and id(item) not in seen:
                seen.add(id(item))
                yield item
