"""Can Digipost's print service print this PDF? The rules of Digipost's printability-validator.

Digipost's own validator (github.com/digipost/printability-validator, used by its Java client
before a letter goes to print) refuses a PDF for print when:

- text lies in the left margin where the print line puts its barcode: the area 0-18 mm from the
  left edge, 100-170 mm from the top of an A4 page (on a landscape page: 100-170 mm from the left,
  in the bottom 18 mm) - "a left margin of 15 mm";
- it has more than 14 pages (``STANDARD_MAX_PAGES_FOR_AUTOMATED_PRINT``);
- a font that is not one of the standard 14 (Times, Courier, Helvetica, Symbol, ZapfDingbats)
  or Arial is used without being embedded;
- its PDF version is not 1.0 to 1.7;
- a page is not A4 (portrait or landscape, to the millimetre).

:func:`print_problems` runs inside :func:`~gateway.documents.pdf.open_pdf`'s ``with`` (so
within the same bounds of bytes, objects and CPU seconds as every inspection), and in addition
reads text positions only from pages whose content (with the forms it draws) is within
``pdf_print_check_content_bytes``:
a larger page is reported as one whose margin cannot be checked, as Digipost's validator does
for a page it cannot read.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pypdf import PageObject, PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from gateway.limits import LIMITS

__all__ = ["PrintRules", "print_problems"]

_MM = 72 / 25.4  # points per millimetre
_A4 = (210, 297)
_VERSIONS = {f"1.{n}" for n in range(8)}
#: Names of fonts a print line has without embedding (normalised: upper case, no "-" or spaces).
_KNOWN_FONTS = ("TIMES", "COURIER", "HELVETICA", "SYMBOL", "ZAPFDINGBATS", "ARIAL")
_HEADER = re.compile(rb"%PDF-(\d+\.\d+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrintRules:
    """Which of the printability rules apply (all, by default, as Digipost's ``CHECK_ALL``)."""

    max_pages: int = LIMITS.print_max_pages
    left_margin: bool = True
    fonts: bool = True
    pdf_version: bool = True
    max_content_bytes: int = LIMITS.pdf_print_check_content_bytes


def _get(value: object) -> object:
    return value.get_object() if isinstance(value, IndirectObject) else value


def print_problems(reader: PdfReader, header: bytes, rules: PrintRules) -> list[str]:
    """Why the PDF cannot be printed (``[]``: it can); ``header`` is the file's first KiB."""
    problems: list[str] = []
    pages = len(reader.pages)
    if pages > rules.max_pages:
        problems.append(f"it has {pages} pages, print takes at most {rules.max_pages}")
    if rules.pdf_version:
        found = _HEADER.search(header)
        version = found.group(1).decode() if found else "unknown"
        if version not in _VERSIONS:
            problems.append(f"its PDF version is {version}, print takes 1.0 to 1.7")
    odd_size = next((i for i, page in enumerate(reader.pages, 1) if not _is_a4(page)), None)
    if odd_size is not None:
        problems.append(f"page {odd_size} is not A4")
    if rules.left_margin:
        problem = _margin_problem(reader.pages, rules.max_content_bytes)
        if problem:
            problems.append(problem)
    if rules.fonts:
        fonts = sorted({name for page in reader.pages for name in _unembedded_fonts(page)})
        if fonts:
            problems.append(f"font(s) not embedded: {', '.join(fonts[:5])}; embed every font but the standard 14 and Arial")
    return problems


def _size_mm(page: PageObject) -> tuple[int, int]:
    box = page.mediabox
    return round(float(box.width) / _MM), round(float(box.height) / _MM)


def _is_a4(page: PageObject) -> bool:
    size = _size_mm(page)
    return size in (_A4, _A4[::-1])


def _margin_problem(pages: Iterable[PageObject], max_bytes: int) -> str | None:
    for number, page in enumerate(pages, 1):
        if _content_bytes(page, max_bytes) > max_bytes:
            return f"the left margin of page {number} cannot be checked: its content is over {max_bytes} bytes"
        if _text_in_barcode_area(page):
            return (f"page {number} has text in the left margin (0-18 mm from the left edge, 100-170 mm from the top), "
                    "where print puts its barcode: leave a left margin of at least 18 mm there")
    return None


def _content_bytes(page: PageObject, limit: int) -> int:
    """Decoded bytes of the page's content and of the forms it draws (which text extraction
    also parses), counted until ``limit`` is passed; a form drawn twice counts once."""
    contents = page.get_contents()
    total = len(contents.get_data()) if contents is not None else 0
    seen: set[int] = set()
    stack = [(_get(page.get("/Resources")), 0)]
    while stack and total <= limit:
        resources, depth = stack.pop()
        xobjects = _get(resources.get("/XObject")) if isinstance(resources, DictionaryObject) else None
        if not isinstance(xobjects, DictionaryObject) or depth > 16:
            continue
        for value in xobjects.values():
            form = _get(value)
            if isinstance(form, StreamObject) and form.get("/Subtype") == "/Form" and id(form) not in seen:
                seen.add(id(form))
                total += len(form.get_data())
                stack.append((_get(form.get("/Resources")), depth + 1))
    return total


def _text_in_barcode_area(page: PageObject) -> bool:
    """Any text drawn in the barcode area (positions in points from the bottom-left corner)."""
    width_mm, height_mm = _size_mm(page)
    box = page.mediabox
    left, bottom = float(box.left), float(box.bottom)
    height = float(box.height)
    if (width_mm, height_mm) == _A4[::-1]:  # landscape: the strip runs along the bottom edge
        x0, x1, y0, y1 = 100 * _MM, 170 * _MM, 0.0, 18 * _MM
    else:
        x0, x1, y0, y1 = 0.0, 18 * _MM, height - 170 * _MM, height - 100 * _MM
    found = False

    def visit(text: str, cm: list[float], tm: list[float], _font: object, _size: object) -> None:
        nonlocal found
        if found or not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4] - left
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] - bottom
        if x0 <= x < x1 and y0 <= y <= y1:
            found = True

    page.extract_text(visitor_text=visit)
    return found


def _unembedded_fonts(page: PageObject) -> Iterable[str]:
    resources = _get(page.get("/Resources"))
    fonts = _get(resources.get("/Font")) if isinstance(resources, DictionaryObject) else None
    if not isinstance(fonts, DictionaryObject):
        return
    for value in fonts.values():
        font = _get(value)
        if not isinstance(font, DictionaryObject):
            continue
        subtype = font.get("/Subtype")
        if subtype == "/Type3":  # glyphs drawn by the PDF itself
            continue
        descriptor = _get(font.get("/FontDescriptor"))
        if descriptor is None and subtype == "/Type0":
            descendants = _get(font.get("/DescendantFonts"))
            first = _get(descendants[0]) if isinstance(descendants, ArrayObject) and descendants else None
            descriptor = _get(first.get("/FontDescriptor")) if isinstance(first, DictionaryObject) else None
            if descriptor is None:
                continue
        if isinstance(descriptor, DictionaryObject):
            if any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                continue
            name = str(descriptor.get("/FontName") or font.get("/BaseFont") or "")
        else:
            name = str(font.get("/BaseFont") or "")
        if not _known(name):
            yield name.lstrip("/") or "(unnamed)"


def _known(name: str) -> bool:
    normal = "".join(name.replace("-", "").split()).upper()
    return any(known in normal for known in _KNOWN_FONTS)
