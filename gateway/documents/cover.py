"""The cover page that goes first in every printed letter.

The recipient's address sits where the window of a Norwegian C5/DL window envelope shows
it, so the print house needs no address data of its own beyond the manifest. Below it: the
title, a short text on how to get letters digitally, and every deep link as text and as a
QR code, since paper cannot be clicked. Text is kept in plain ``cell`` runs (no hyphenation,
long URLs shrunk to fit one line) so the address and URLs can be read back with pypdf.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from gateway.model import Link, PostalAddress, Shipment, is_norway
from gateway.resources import load_table

# --- geometry, in millimetres on an A4 page (210 x 297) ---

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_X = 20.0
MARGIN_BOTTOM = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN_X
#: The address window of a Norwegian C5/DL window envelope (Posten's standard placement):
#: 20 mm from the left edge, 45 mm from the top, 85 x 45 mm. Everything the postman must read
#: stays inside it; the return address is a small line across its top.
WINDOW_X, WINDOW_Y, WINDOW_W, WINDOW_H = 20.0, 45.0, 85.0, 45.0
WINDOW_PADDING = 3.0
RETURN_LINE_H = 4.0
ADDRESS_LINE_H = 4.6
#: Below the window (and clear of its bottom edge when the sheet shifts in the envelope).
BODY_Y = WINDOW_Y + WINDOW_H + 12.0
#: QR codes: modules at least 0.35 mm so print and phone cameras cope, never below 22 mm.
QR_BORDER = 4
QR_MODULE_MM = 0.35
QR_MIN_MM = 22.0
QR_MAX_MM = 40.0
QR_GAP = 6.0
LINK_ROW_GAP = 6.0
URL_FONT_SIZES = (9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0)

FONT = "helvetica"  # a core font: latin-1, which holds æ, ø and å

#: The cover's words by language, and the country names for letters abroad
#: (``mappings/cover_texts.toml``).
_TABLE = load_table("cover_texts")
TEXTS: dict[str, dict[str, str]] = _TABLE["texts"]
COUNTRY_NAMES: dict[str, str] = _TABLE["countries"]
_LANGUAGE_ALIASES = {"no": "nb", "nob": "nb", "nno": "nn", "eng": "en", "dan": "da", "dk": "da"}

_TYPOGRAPHY = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u00a0": " ", "\u20ac": "EUR"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def latin1(text: str) -> str:
    """What a core font can show: typographic quotes and dashes simplified, control
    characters turned into spaces, anything else outside latin-1 into '?'."""
    text = _CONTROL.sub(" ", text.translate(_TYPOGRAPHY))
    return text.encode("latin-1", "replace").decode("latin-1")


def address_lines(address: PostalAddress, *, name: str | None = None) -> list[str]:
    """The recipient block as printed: name, street lines, postcode and city, country abroad."""
    lines = [(name or address.name or "").strip()]
    lines += [line.strip() for line in address.lines if line and line.strip()]
    place = " ".join(p.strip() for p in (address.postcode or "", address.city or "") if p and p.strip())
    if place:
        lines.append(place)
    if not is_norway(address.country):
        country = address.country.strip().upper()
        lines.append(COUNTRY_NAMES.get(country, country))
    return [line for line in lines if line]


def render_cover_page(
    shipment: Shipment,
    *,
    return_address: Sequence[str],
    language: str = "nb",
    sender_name: str | None = None,
) -> bytes:
    """One A4 page (a second only if the deep links do not fit on the first)."""
    address = shipment.recipient.address
    if address is None:
        raise ValueError(f"shipment {shipment.id} has no postal address for the cover page")
    texts = TEXTS.get(_LANGUAGE_ALIASES.get(language.lower(), language.lower()), TEXTS["nb"])

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_X, MARGIN_X, MARGIN_X)
    pdf.set_title(latin1(shipment.title))
    pdf.add_page()

    if sender_name:
        pdf.set_xy(MARGIN_X, 18)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(CONTENT_W, 6, latin1(sender_name))

    _return_line(pdf, return_address)
    _recipient(pdf, address_lines(address, name=address.name or shipment.recipient.name))

    pdf.set_xy(MARGIN_X, BODY_Y)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(CONTENT_W, 6, latin1(shipment.title), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(CONTENT_W, 5, latin1(texts["digital"]), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if shipment.links:
        pdf.ln(6)
        pdf.set_font(FONT, "B", 10)
        pdf.cell(CONTENT_W, 5, latin1(texts["links"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        for link in shipment.links:
            _link_row(pdf, link, continued=texts["continued"])
    return bytes(pdf.output())


def _return_line(pdf: FPDF, return_address: Sequence[str]) -> None:
    text = latin1(", ".join(line.strip() for line in return_address if line and line.strip()))
    if not text:
        return
    width = WINDOW_W - 2 * WINDOW_PADDING
    size = 7.0
    pdf.set_font(FONT, "", size)
    while size > 5.0 and pdf.get_string_width(text) > width:
        size -= 0.5
        pdf.set_font_size(size)
    pdf.set_xy(WINDOW_X + WINDOW_PADDING, WINDOW_Y + 1.0)
    pdf.cell(width, RETURN_LINE_H, text)


def _recipient(pdf: FPDF, lines: list[str]) -> None:
    width = WINDOW_W - 2 * WINDOW_PADDING
    y = WINDOW_Y + 1.0 + RETURN_LINE_H + 2.0
    for line in lines:
        text = latin1(line)
        size = 10.0
        pdf.set_font(FONT, "", size)
        while size > 7.0 and pdf.get_string_width(text) > width:  # shrink a long line, never cut it
            size -= 0.5
            pdf.set_font_size(size)
        pdf.set_xy(WINDOW_X + WINDOW_PADDING, y)
        pdf.cell(width, ADDRESS_LINE_H, text)
        y += ADDRESS_LINE_H


def qr_png(url: str) -> tuple[bytes, float]:
    """The URL as a QR code (PNG bytes) and the size in mm to print it at."""
    qr = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="png", scale=8, border=QR_BORDER)
    modules = qr.symbol_size(border=QR_BORDER)[0]
    return out.getvalue(), min(QR_MAX_MM, max(QR_MIN_MM, modules * QR_MODULE_MM))


def _url_lines(pdf: FPDF, url: str, width: float) -> tuple[float, list[str]]:
    """The smallest font size that keeps ``url`` on one line, or its pieces at 6 pt."""
    for size in URL_FONT_SIZES:
        pdf.set_font(FONT, "", size)
        if pdf.get_string_width(url) <= width:
            return size, [url]
    pieces, current = [], ""
    for char in url:
        if current and pdf.get_string_width(current + char) > width:
            pieces.append(current)
            current = ""
        current += char
    return URL_FONT_SIZES[-1], pieces + [current]


def _link_row(pdf: FPDF, link: Link, *, continued: str) -> None:
    url = latin1(link.url.strip())
    png, qr_size = qr_png(link.url.strip())
    text_x = MARGIN_X + qr_size + QR_GAP
    text_w = PAGE_W - MARGIN_X - text_x
    url_size, url_lines = _url_lines(pdf, url, text_w)
    pdf.set_font(FONT, "B", 10)
    title_lines: list[str] = pdf.multi_cell(text_w, 5, latin1(link.text), dry_run=True, output="LINES")  # type: ignore[assignment]  # fpdf2 types the answer of every output mode as one union
    label_h = 4.0 if link.label else 0.0
    text_h = label_h + 5 * len(title_lines) + 1 + 4 * len(url_lines)
    row_h = max(qr_size, text_h)

    if pdf.get_y() + row_h > PAGE_H - MARGIN_BOTTOM:
        pdf.add_page()
        pdf.set_xy(MARGIN_X, MARGIN_X)
        pdf.set_font(FONT, "B", 10)
        pdf.cell(CONTENT_W, 5, latin1(continued), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    top = pdf.get_y()
    pdf.image(io.BytesIO(png), x=MARGIN_X, y=top, w=qr_size, h=qr_size, link=link.url.strip())

    pdf.set_xy(text_x, top)
    if link.label:
        pdf.set_font(FONT, "", 8)
        pdf.cell(text_w, label_h, latin1(link.label), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(text_w, 5, latin1(link.text), align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(pdf.get_y() + 1)
    pdf.set_font(FONT, "", url_size)
    for piece in url_lines:
        pdf.set_x(text_x)
        pdf.cell(text_w, 4, piece, link=link.url.strip(), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(MARGIN_X, top + row_h + LINK_ROW_GAP)
