"""One print job: the cover page and the printable documents merged into one PDF, and its cost.

Duplex needs care. A print house prints the merged PDF front, back, front, back; if the
cover had one page the first document would start on the cover's back side, and a
three-page document would push the next one onto a back side too. So with ``duplex`` a
blank page follows every part (cover or document) with an odd page count, the last one
included: every part starts on the front of its own sheet, ``pages`` counts the blanks and
is always even, and sheets are exactly ``pages / 2``. Without duplex no blanks are needed
and every page is one sheet.
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pypdf import PdfWriter

from gateway.config import IntakePolicy, PrintSettings
from gateway.documents.pdf import open_pdf
from gateway.model import LetterClass


@dataclass(frozen=True, slots=True, kw_only=True)
class PrintPdf:
    data: bytes
    pages: int  # blank pages included
    blank_pages: int = 0


def count_sheets(pages: int, *, duplex: bool) -> int:
    """Paper sheets for ``pages`` printed pages: one each, or one per two sides in duplex."""
    if pages < 0:
        raise ValueError(f"pages must not be negative, got {pages}")
    return math.ceil(pages / 2) if duplex else pages


def build_print_pdf(cover: bytes, documents: Sequence[bytes], *, duplex: bool = False, policy: IntakePolicy | None = None) -> PrintPdf:
    """Merge ``cover`` and ``documents`` in order; see the module text for ``duplex``.

    Each PDF is opened and merged within ``policy``'s bounds (:func:`~gateway.documents.pdf.open_pdf`).
    A PDF restricted only by an owner password (empty user password) is opened with "" and
    merged; one that needs a real password is a :class:`~gateway.errors.DocumentError`, as is a broken one.
    """
    writer = PdfWriter()
    blanks = 0
    for index, data in enumerate([cover, *documents]):
        with open_pdf(data, field="cover" if index == 0 else f"documents[{index - 1}]", policy=policy) as reader:
            writer.append(reader, import_outline=False)
            if duplex and len(reader.pages) % 2:
                last = reader.pages[-1].mediabox
                writer.add_blank_page(width=float(last.width), height=float(last.height))
                blanks += 1
    out = io.BytesIO()
    writer.write(out)
    return PrintPdf(data=out.getvalue(), pages=len(writer.pages), blank_pages=blanks)


def estimate_cost_ore(settings: PrintSettings, *, sheets: int, color: bool, letter_class: LetterClass) -> int:
    """Paper and print per sheet, the colour surcharge per sheet, postage and envelope.

    Postage is the flat A or B price from the settings; weight steps are not modelled.
    """
    per_sheet = settings.price_per_sheet_ore + (settings.color_surcharge_per_sheet_ore if color else 0)
    postage = settings.postage_a_ore if letter_class is LetterClass.A else settings.postage_b_ore
    return sheets * per_sheet + postage + settings.envelope_ore
