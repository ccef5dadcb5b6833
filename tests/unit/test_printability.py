"""Digipost's printability rules (github.com/digipost/printability-validator README) at PDF inspection."""
from __future__ import annotations

import pytest
from fpdf import FPDF

from gateway.config import IntakePolicy
from gateway.documents.pdf import inspect_pdf
from gateway.documents.printability import PrintRules
from tests.conftest import make_pdf

RULES = PrintRules()


def _pdf(*, x_mm: float = 25, y_mm: float = 130, pages: int = 1, orientation: str = "P", fmt: str = "A4",
         font: str = "helvetica", version: str | None = None) -> bytes:
    pdf = FPDF(orientation=orientation, format=fmt)
    pdf.set_compression(False)
    pdf.set_auto_page_break(False)
    for _ in range(pages):
        pdf.add_page()
        pdf.set_font(font, size=11)
        pdf.set_xy(x_mm, y_mm)
        pdf.cell(text="Vedtak om byggesak")
    data = bytes(pdf.output())
    if version is not None:
        data = data.replace(data[:8], f"%PDF-{version}".encode(), 1)
    return data


def problems(data: bytes) -> tuple[str, ...]:
    return inspect_pdf(data, field="documents[0].content", policy=IntakePolicy(), print_rules=RULES).print_problems


def test_a_plain_a4_letter_with_a_margin_is_printable():
    assert problems(_pdf()) == ()
    assert problems(make_pdf(pages=3)) == ()  # fpdf's 10 mm margin, but text only at the top of the page


def test_without_rules_nothing_is_checked():
    assert inspect_pdf(_pdf(x_mm=5), field="f").print_problems == ()


def test_text_in_the_barcode_area_is_refused_with_the_reason():
    [reason] = problems(_pdf(x_mm=5, y_mm=130))
    assert "left margin" in reason and "page 1" in reason


@pytest.mark.parametrize("x_mm, y_mm", [(19, 130), (5, 60), (5, 200)])
def test_text_outside_the_barcode_area_is_fine(x_mm, y_mm):
    assert problems(_pdf(x_mm=x_mm, y_mm=y_mm)) == ()


def test_landscape_barcode_area_is_along_the_bottom_edge():
    assert problems(_pdf(orientation="L", x_mm=120, y_mm=198)) != ()
    assert problems(_pdf(orientation="L", x_mm=5, y_mm=130)) == ()


def test_more_than_14_pages_is_refused():
    assert problems(_pdf(pages=14)) == ()
    [reason] = problems(_pdf(pages=15))
    assert "15 pages" in reason and "14" in reason


def test_pdf_version_outside_1_0_to_1_7_is_refused():
    [reason] = problems(_pdf(version="2.0"))
    assert "version is 2.0" in reason
    assert problems(_pdf(version="1.7")) == ()


def test_a_page_that_is_not_a4_is_refused():
    [reason] = problems(_pdf(fmt="Letter"))
    assert "not A4" in reason


def test_a_font_neither_embedded_nor_standard_is_refused():
    data = _pdf().replace(b"/BaseFont /Helvetica", b"/BaseFont /Calibri")
    [reason] = problems(data)
    assert "Calibri" in reason and "embedded" in reason


def test_arial_and_embedded_fonts_are_fine():
    assert problems(_pdf().replace(b"/BaseFont /Helvetica", b"/BaseFont /Arial,Bold")) == ()
    from pathlib import Path
    candidates = [p for p in Path("/usr/share/fonts").rglob("DejaVuSans.ttf")]
    if not candidates:
        pytest.skip("no TrueType font on this machine to embed")
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(candidates[0]))
    pdf.add_page()
    pdf.set_font("dejavu", size=11)
    pdf.set_xy(25, 130)
    pdf.cell(text="Vedtak")
    assert problems(bytes(pdf.output())) == ()


def test_a_page_too_large_to_check_is_reported_not_parsed():
    rules = PrintRules(max_content_bytes=10)
    [reason] = inspect_pdf(_pdf(), field="f", print_rules=rules).print_problems
    assert "cannot be checked" in reason


def test_a_print_only_letter_is_refused_and_any_other_gets_the_reason():
    from gateway.documents.pdf import PdfInfo
    from gateway.domain.validation import check_printable
    from gateway.errors import FaultCode, GatewayError
    from gateway.model import DeliveryMode, DeliveryPolicy, Document, Party, Shipment

    docs = (Document(filename="vedtak.pdf", media_type="application/pdf", size=1, sha256="0" * 64, storage_ref="x"),)
    infos = [PdfInfo(page_count=15, encrypted=False, print_problems=("it has 15 pages, print takes at most 14",))]
    letter = Shipment(id="1", sender="s", title="t", recipient=Party(), documents=docs)
    assert check_printable(letter, infos) == "documents[0] 'vedtak.pdf': it has 15 pages, print takes at most 14"
    assert check_printable(letter, [PdfInfo(page_count=1, encrypted=False)]) is None
    print_only = Shipment(id="1", sender="s", title="t", recipient=Party(), documents=docs,
                          delivery=DeliveryPolicy(mode=DeliveryMode.PRINT_ONLY))
    with pytest.raises(GatewayError) as refused:
        check_printable(print_only, infos)
    assert refused.value.code is FaultCode.PDF_NOT_PRINTABLE and "15 pages" in str(refused.value)


def test_forms_a_page_draws_count_towards_the_content_bound():
    import io

    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595.28, height=841.89)
    form = DecodedStreamObject()
    form.set_data(b"BT /F1 11 Tf 60 400 Td (Vedtak) Tj ET\n" * 20)
    form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                 NameObject("/BBox"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(595), FloatObject(842)])})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject({NameObject("/Fm0"): writer._add_object(form)})})
    content = DecodedStreamObject()
    content.set_data(b"/Fm0 Do")
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    small = PrintRules(max_content_bytes=100, fonts=False)
    [reason] = inspect_pdf(out.getvalue(), field="f", print_rules=small).print_problems
    assert "cannot be checked" in reason
    assert inspect_pdf(out.getvalue(), field="f", print_rules=PrintRules(fonts=False)).print_problems == ()
