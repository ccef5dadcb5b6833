"""PDF inspection with pypdf: can print and mailboxes open it, and how many pages.

A PDF that needs a password to open is refused; one that is only restricted by an owner
password (empty user password) opens and is accepted, as print houses can process it.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from gateway.errors import DocumentError, FaultCode

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class PdfInfo:
    page_count: int
    encrypted: bool


def inspect_pdf(data: bytes | BinaryIO, *, field: str) -> PdfInfo:
    """Open ``data`` (bytes, or a seekable file for a large document) as a PDF or raise
    :class:`DocumentError` naming ``field``."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    head = stream.read(1024)
    stream.seek(0)
    if b"%PDF-" not in head:  # the header may follow a little junk, as readers allow
        raise DocumentError("not a PDF: the file does not start with a %PDF- header", code=FaultCode.PDF_UNREADABLE, field=field)
    try:
        reader = PdfReader(stream, strict=False)
        encrypted = reader.is_encrypted
        if encrypted:
            try:
                opened = reader.decrypt("")
            except (PyPdfError, NotImplementedError, ValueError):
                opened = 0
            if not opened:
                raise DocumentError(
                    "the PDF is password-protected; send it without a password to open it",
                    code=FaultCode.PDF_PASSWORD_PROTECTED,
                    field=field,
                )
        pages = len(reader.pages)
    except DocumentError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, AssertionError) as exc:
        raise DocumentError(f"the PDF cannot be read: {exc}", code=FaultCode.PDF_UNREADABLE, field=field) from None
    if pages < 1:
        raise DocumentError("the PDF has no pages", code=FaultCode.PDF_UNREADABLE, field=field)
    return PdfInfo(page_count=pages, encrypted=encrypted)
