"""What the Noark 4 (``mappings/noark4.toml``) and arkivmelding (``mappings/arkivmelding.toml``)
mappings share: the case metadata a table's fields fill (numbers and dates checked, the case
and journal numbers required), the parties' kinds, and each document as the canonical model
holds it (file name, media type, print).

Both formats describe the same journal entry in other words; one reading of the values
keeps the two in step (a round trip through both compares equal, tests/unit/test_arkivmelding_*).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.config import SenderSettings
from gateway.errors import FaultCode, ValidationError
from gateway.model import (
    Attention,
    CaseMetadata,
    DeliveryMode,
    DeliveryPolicy,
    Document,
    DocumentRole,
    Party,
    PartyKind,
    PostalAddress,
    Shipment,
    is_norway,
)
from gateway.spool import Content, content_sha256

#: CaseMetadata fields that are numbers (the tables' values are text).
NUMBERS = frozenset({"case_year", "case_sequence_number", "journal_year", "journal_sequence_number", "journal_entry_number"})
DATES = frozenset({"journal_date", "document_date"})
PDF = "application/pdf"


def case_metadata(fields: Mapping[str, str | None], *, table: Mapping[str, Any], root: str,
                  extra: tuple[tuple[str, str], ...]) -> CaseMetadata:
    """The ``case_metadata.*`` entries of ``fields`` (canonical path → the text the table's
    paths found) as :class:`CaseMetadata`; ``root`` names the message in a refusal's field."""
    values: dict[str, Any] = {}
    for key, text in fields.items():
        if not key.startswith("case_metadata."):
            continue
        name = key.removeprefix("case_metadata.")
        values[name] = (number(text, key) if name in NUMBERS
                        else date(text, key, none=table["dates"]["none"]) if name in DATES else text)
    missing = sorted(name for name in NUMBERS if values.get(name) is None)
    if missing:
        # The case and journal numbers are what the receipt back and any archive on the other
        # side file the letter under; every archive sends them.
        path = table["fields"][f"case_metadata.{missing[0]}"][0]
        raise ValidationError(f"the {root} has no {path.rpartition('/')[2]}: the case and journal numbers are required",
                              code=FaultCode.INVALID_REQUEST, field=f"{root}." + path.replace("/", "."))
    return CaseMetadata(**values, extra=extra)


def number(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValidationError(f"{field.rpartition('.')[2]} is not a whole number: {text[:20]!r}",
                              code=FaultCode.INVALID_REQUEST, field=field)
    return int(text)


def date(text: str | None, field: str, *, none: Iterable[str]) -> dt.datetime | None:
    """A date (``YYYY-MM-DD``, a time after it ignored) at midnight UTC; the table's
    "no date" values (``0001-01-01``, how .NET archives write none) are None."""
    if text is None or text in none:
        return None
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValidationError(f"not a date (YYYY-MM-DD): {text[:30]!r}", code=FaultCode.INVALID_REQUEST, field=field) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def party_kind(identifier: str | None) -> PartyKind:
    """An ``orgnr`` field holds an organisation number (9 digits), or at times a person's
    fødselsnummer (11): told apart by length; their check digits are checked with the letter."""
    if identifier is None:
        return PartyKind.UNKNOWN
    return PartyKind.NO_PERSON if len(identifier) == 11 else PartyKind.NO_ORGANIZATION


def document(data: Content, *, filename: str, media_type: str, role: str, title: str | None,
             document_type: str | None) -> Document:
    """One document of an archive's letter. Print takes PDF only: any other is kept from print
    (and the letter made digital only by :func:`delivery_mode`)."""
    return Document(
        filename=filename,
        media_type=media_type,
        size=len(data),
        sha256=content_sha256(data),
        storage_ref="",
        role=DocumentRole(role),
        exclude_from_print=media_type != PDF,
        document_type=document_type,
        title=title,
    )


def sniffed(data: Content) -> str:
    if isinstance(data, bytes):
        head = data[:5]
    else:
        with data.open() as stream:
            head = stream.read(5)
    return PDF if head == b"%PDF-" else "application/octet-stream"


def filename(title: str | None, extension: str, index: int) -> str:
    """A file name for a document without one: its title (characters a file name cannot
    hold replaced), else its place."""
    stem = "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in (title or "")).strip(" .")[:200]
    return f"{stem or f'dokument-{index + 1}'}.{extension}"


def party(*, identifier: str | None, name: str | None, lines: Iterable[str], postcode: str | None, city: str | None,
          country: str | None, email: str | None) -> Party:
    """A party of the journal entry (``avsmot``, ``korrespondansepart``); its postal address
    when it has one (no country, or Norway spelled any way, is ``NO``)."""
    lines = tuple(line.strip() for line in lines if line.strip())
    address = None
    if lines or postcode or city:
        address = PostalAddress(name=name, lines=lines, postcode=postcode, city=city,
                                country="NO" if is_norway(country) else country or "NO")
    return Party(identifier=identifier, kind=party_kind(identifier), name=name, address=address,
                 attention=Attention(email=email) if email else None)


def archive_shipment(*, sender: SenderSettings, title: str, documents: tuple[Document, ...], case: CaseMetadata,
                     non_pdf: str, contract: str) -> Shipment:
    """The letter as an archive described it, without its recipient (the envelope chooses):
    from the authenticated sender's organisation, printable when a document is a PDF (else
    the table's ``[delivery] non_pdf``)."""
    printable = any(not d.exclude_from_print for d in documents)
    return Shipment(
        id="",
        sender=sender.name,
        title=title,
        recipient=Party(),
        sender_party=Party(identifier=sender.organization_number or None,
                           kind=PartyKind.NO_ORGANIZATION if sender.organization_number else PartyKind.UNKNOWN,
                           name=sender.display_name or None),
        documents=documents,
        case_metadata=case,
        delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK if printable else DeliveryMode(non_pdf)),
        source_contract=contract,
    )
