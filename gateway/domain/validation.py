"""Content rules for a shipment, checked before anything is stored.

Rules work on the canonical model and name fields by canonical path
(``documents[1].filename``); the SOAP layer renders the path in the caller's contract
(``forsendelse.dokumenter[1].filnavn``) with the tables in ``mappings/``. Cheap rules run
first; PDFs are opened last.

Every text field is bounded by its contract's ``[max_length]`` table (the official SvarUt
limits in ``mappings/svarut_fields.toml``, MeMo's in ``mappings/memo.toml``). A refusal
quotes at most :data:`SHOWN_CHARACTERS` of a value: the message is stored in the audit
log and echoed in the fault, and a refused megabyte must not be copied into either.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from gateway.config import IntakePolicy
from gateway.documents.pdf import PdfInfo, inspect_pdf
from gateway.documents.printability import PrintRules
from gateway.domain.filenames import FORBIDDEN_FILENAME_CHARS, filename_characters_problem, filename_reserved_problem, is_media_type
from gateway.domain.identifiers import is_valid_norwegian_organization_number, is_valid_norwegian_person_id
from gateway.errors import FaultCode, ValidationError
from gateway.limits import LIMITS
from gateway.mapping import altinn3
from gateway.resources import load_table
from gateway.model import DeliveryMode, Document, Party, PartyKind, Shipment, is_norway
from gateway.spool import Content, SpooledContent

COST_CODE = re.compile(r"^[a-zA-Z0-9\-\.øæåØÆÅ]{0,20}$")
PDF = "application/pdf"
#: Column sizes of the store (gateway/store/tables.py): a contract's own limits are lower;
#: these hold for a contract without a table.
MAX_EXTERNAL_REF = LIMITS.max_external_ref_characters
MAX_MEDIA_TYPE = LIMITS.max_media_type_characters
#: The field table (in ``mappings/``) whose ``[max_length]`` bounds a contract's fields.
FIELD_TABLES = {"svarut-v9": "svarut_fields", "memo": "memo", "noarkexchange": "noark4", "arkivmelding": "arkivmelding"}
#: Characters of a refused value quoted in a message (audit log and fault text).
SHOWN_CHARACTERS = 80

__all__ = ["FORBIDDEN_FILENAME_CHARS", "check_giro_pages", "check_printable", "inspect_documents", "shown", "validate_shipment"]


def shown(value: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr`` of ``value``, cut to ``limit`` characters with an ellipsis: safe to echo."""
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + f"… ({len(value)} characters)"


def normalize_media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def validate_shipment(shipment: Shipment, *, policy: IntakePolicy, unique_filenames: bool = True,
                      documents_required: bool = True) -> None:
    """Raise :class:`ValidationError` for the first rule ``shipment`` breaks.

    ``unique_filenames``: SvarUt wants every document name unique; MeMo does not.
    ``documents_required``: false only for a text message (a MeMo NemSMS), which is digital only.
    """
    if not shipment.documents and shipment.printable:  # nothing to print: a text message is digital only
        documents_required = True
    _check_counts(shipment)
    if not shipment.title or not shipment.title.strip():
        _fail(FaultCode.TITLE_REQUIRED, "title", "a title is required")
    if shipment.external_ref is not None and len(shipment.external_ref) > MAX_EXTERNAL_REF:
        _fail(FaultCode.FIELD_TOO_LONG, "external_ref", f"at most {MAX_EXTERNAL_REF} characters, got {len(shipment.external_ref)}")
    _check_recipient(shipment)
    if shipment.reply_to is not None:
        _check_identifier(shipment.reply_to, "reply_to")
    if shipment.documents or documents_required:
        _check_documents(shipment.documents, printable=shipment.printable, policy=policy, unique_filenames=unique_filenames)
    if not shipment.printable and shipment.recipient.kind in (PartyKind.NO_PERSON, PartyKind.NO_ORGANIZATION):
        _check_altinn_types(shipment.documents)
    if shipment.cost_code is not None and not COST_CODE.match(shipment.cost_code):
        _fail(FaultCode.INVALID_COST_CODE, "cost_code", "at most 20 of the characters a-z, A-Z, 0-9, '-', '.', æøå")
    for i, link in enumerate(shipment.links):
        where = f"links[{i}]"
        if not link.url or not link.url.strip():
            _fail(FaultCode.LINK_URL_REQUIRED, f"{where}.url", "a link needs a URL")
        if not link.text or not link.text.strip():
            _fail(FaultCode.LINK_TEXT_REQUIRED, f"{where}.text", "a link needs a text to show")
        parts = urlsplit(link.url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            _fail(FaultCode.LINK_URL_INVALID, f"{where}.url", f"not an absolute http(s) URL: {shown(link.url)}")
    if shipment.signing is not None and shipment.signing.signature_type is not None:
        _fail(FaultCode.SIGNING_NOT_SUPPORTED, "signing.signature_type", "signing orders are not offered by this gateway")
    _check_lengths(shipment)  # last: the rules above have codes of their own for some lengths


def inspect_documents(documents: Sequence[Document], contents: Sequence[Content], *,
                      policy: IntakePolicy | None = None, print_rules: PrintRules | None = None) -> list[PdfInfo | None]:
    """Open every PDF within the policy's bounds; the last and most expensive check. With
    ``print_rules``, each PDF for print also answers why print cannot take it."""
    policy = policy or IntakePolicy()
    infos: list[PdfInfo | None] = []
    seen: dict[tuple[str, bool], PdfInfo] = {}  # the same PDF twice in one letter is opened once
    for i, (doc, data) in enumerate(zip(documents, contents, strict=True)):
        if normalize_media_type(doc.media_type) == PDF:
            rules = None if doc.exclude_from_print else print_rules
            key = (doc.sha256, rules is not None)
            if key not in seen:
                if isinstance(data, SpooledContent):  # read from its file, not into memory
                    with data.open() as f:
                        seen[key] = inspect_pdf(f, field=f"documents[{i}].content", policy=policy, print_rules=rules)
                else:
                    seen[key] = inspect_pdf(data, field=f"documents[{i}].content", policy=policy, print_rules=rules)
            infos.append(seen[key])
        else:
            infos.append(None)
    return infos


def _check_recipient(shipment: Shipment) -> None:
    recipient = shipment.recipient
    if recipient.identifier is None and recipient.address is None:
        _fail(FaultCode.RECIPIENT_REQUIRED, "recipient", "a recipient with a digital address or a postal address is required")
    _check_identifier(recipient, "recipient")
    if not shipment.printable:
        return
    address = recipient.address
    if address is None:
        _fail(FaultCode.ADDRESS_REQUIRED, "recipient.address", "a postal address is required unless the shipment is digital-only")
    if not (address.name or "").strip():
        _fail(FaultCode.ADDRESS_NAME_REQUIRED, "recipient.address.name", "the recipient's name is required for print")
    if not (address.city or "").strip():
        _fail(FaultCode.ADDRESS_CITY_REQUIRED, "recipient.address.city", "the city (poststed) is required for print")
    if is_norway(address.country):
        postcode = (address.postcode or "").strip()
        if len(postcode) != 4 or not postcode.isascii() or not postcode.isdigit():
            _fail(FaultCode.INVALID_POSTCODE, "recipient.address.postcode", f"a Norwegian postcode is 4 digits, got {shown(address.postcode or '')}")


def _check_identifier(party: Party, where: str) -> None:
    if party.identifier is None:
        return
    if party.kind is PartyKind.NO_PERSON and not is_valid_norwegian_person_id(party.identifier):
        _fail(FaultCode.INVALID_NATIONAL_ID, f"{where}.identifier", "not a valid fødselsnummer or D-nummer (11 digits, two mod-11 check digits)")
    if party.kind is PartyKind.NO_ORGANIZATION and not is_valid_norwegian_organization_number(party.identifier):
        _fail(FaultCode.INVALID_ORGANIZATION_NUMBER, f"{where}.identifier", "not a valid organisasjonsnummer (9 digits, mod-11 check digit)")


def _check_documents(documents: Sequence[Document], *, printable: bool, policy: IntakePolicy, unique_filenames: bool) -> None:
    if not documents:
        _fail(FaultCode.DOCUMENTS_REQUIRED, "documents", "at least one document is required")
    seen: dict[str, int] = {}
    print_bytes = 0
    for i, doc in enumerate(documents):
        where = f"documents[{i}]"
        name = doc.filename or ""
        if not name.strip():
            _fail(FaultCode.FILENAME_REQUIRED, f"{where}.filename", "a filename is required")
        if len(name) > policy.max_filename_length:
            _fail(FaultCode.FILENAME_TOO_LONG, f"{where}.filename", f"at most {policy.max_filename_length} characters, got {len(name)}")
        problem = filename_characters_problem(name)
        if problem:
            _fail(FaultCode.FILENAME_INVALID_CHARACTERS, f"{where}.filename", f"{shown(name)} {problem}")
        problem = filename_reserved_problem(name)
        if problem:
            _fail(FaultCode.FILENAME_RESERVED, f"{where}.filename", f"{shown(name)}: {problem}")
        key = name.casefold()
        if unique_filenames and key in seen:
            _fail(FaultCode.FILENAME_DUPLICATE, f"{where}.filename", f"{shown(name)} is also the name of document {seen[key]}")
        seen[key] = i
        if len(doc.media_type) > MAX_MEDIA_TYPE:
            _fail(FaultCode.FIELD_TOO_LONG, f"{where}.media_type", f"at most {MAX_MEDIA_TYPE} characters")
        if not is_media_type(doc.media_type):
            _fail(FaultCode.MEDIA_TYPE_INVALID, f"{where}.media_type",
                  f"not a media type (type/subtype, such as application/pdf): {shown(doc.media_type)}")
        if doc.size == 0:
            _fail(FaultCode.DOCUMENT_EMPTY, f"{where}.content", "the document is empty")
        if doc.sign_requested:
            _fail(FaultCode.SIGNING_NOT_SUPPORTED, f"{where}.sign_requested", "signing orders are not offered by this gateway")
        if printable and not doc.exclude_from_print:
            if normalize_media_type(doc.media_type) != PDF:
                _fail(FaultCode.DOCUMENT_NOT_PDF, f"{where}.media_type", f"a document for print must be application/pdf, got {shown(doc.media_type)}")
            print_bytes += doc.size
    if printable and print_bytes > policy.max_print_shipment_bytes:
        _fail(
            FaultCode.SHIPMENT_TOO_LARGE,
            "documents",
            f"{print_bytes} bytes for print, the limit is {policy.max_print_shipment_bytes}",
        )


def _check_altinn_types(documents: Sequence[Document]) -> None:
    """Altinn 3 is the only route of a digital-only letter to a Norwegian recipient: a document it
    takes in no form (not even renamed by its media type) could never be delivered, so it is
    refused now rather than ending undelivered later. A printable letter goes to print instead."""
    for i, doc in enumerate(documents):
        if altinn3.attachment_name(doc.filename, doc.media_type) is None:
            allowed = ", ".join(sorted(altinn3.allowed_extensions()))
            _fail(FaultCode.DOCUMENT_TYPE_NOT_FOR_ALTINN, f"documents[{i}].filename",
                  f"{shown(doc.filename)} ({shown(doc.media_type)}) is of a type Altinn does not take, and a digital-only "
                  f"letter to a Norwegian recipient can only go to Altinn; allowed: {allowed}")


def _check_counts(shipment: Shipment) -> None:
    """TOO_MANY_ITEMS for a list longer than its contract's ``[max_items]`` allows."""
    for path, steps, limit in field_limits(shipment.source_contract, "max_items"):
        where = _first_over(shipment, steps, limit, len)
        if where is not None:
            count = len(_at(shipment, steps, where))
            _fail(FaultCode.TOO_MANY_ITEMS, _path(steps, where) or path, f"at most {limit} entries, got {count}")


def check_printable(shipment: Shipment, infos: Sequence[PdfInfo | None]) -> str | None:
    """Why print cannot take the letter's documents (None: it can). A print-only letter is
    refused for it (``PDF_NOT_PRINTABLE``); any other letter is accepted and the caller
    records the reason in its history."""
    reasons = [f"documents[{i}] {shown(doc.filename)}: {'; '.join(info.print_problems)}"
               for i, (doc, info) in enumerate(zip(shipment.documents, infos, strict=True))
               if info is not None and info.print_problems]
    if not reasons:
        return None
    if shipment.delivery.mode is DeliveryMode.PRINT_ONLY:
        first = next(i for i, info in enumerate(infos) if info is not None and info.print_problems)
        _fail(FaultCode.PDF_NOT_PRINTABLE, f"documents[{first}].content", "the PDF cannot be printed: " + " | ".join(reasons))
    return " | ".join(reasons)


def check_giro_pages(documents: Sequence[Document], infos: Sequence[PdfInfo | None]) -> None:
    """Giro pages are pages of their PDF: 1 to its page count, each once (REST v3 minimum 1)."""
    for i, (doc, info) in enumerate(zip(documents, infos, strict=True)):
        if not doc.giro_pages:
            continue
        where = f"documents[{i}].giro_pages"
        if info is None:
            _fail(FaultCode.GIRO_PAGE_INVALID, where, "giro pages can only be pages of a PDF")
        if len(set(doc.giro_pages)) != len(doc.giro_pages):
            _fail(FaultCode.GIRO_PAGE_INVALID, where, "a page is named twice")
        wrong = [p for p in doc.giro_pages if not 1 <= p <= info.page_count]
        if wrong:
            _fail(FaultCode.GIRO_PAGE_INVALID, where, f"page {wrong[0]} is not a page of this {info.page_count}-page PDF")


def check_length(value: str | None, field: str, limit: int) -> None:
    """FIELD_TOO_LONG naming ``field`` when ``value`` has more than ``limit`` characters."""
    if value is not None and len(value) > limit:
        _fail(FaultCode.FIELD_TOO_LONG, field, f"at most {limit} characters, got {len(value)}: {shown(value, 40)}")


def _check_lengths(shipment: Shipment) -> None:
    for path, steps, limit in field_limits(shipment.source_contract, "max_length"):
        where = _first_over(shipment, steps, limit, _text_length)
        if where is not None:
            check_length(_at(shipment, steps, where), _path(steps, where) or path, limit)


_Steps = tuple[tuple[str, bool], ...]  # (attribute, is a list) per step of a canonical path


@functools.cache
def field_limits(contract: str, kind: str = "max_length") -> tuple[tuple[str, _Steps, int], ...]:
    """(path, its steps, limit) from the contract's ``[max_length]`` (or ``[max_items]``)
    table, parsed once."""
    table = FIELD_TABLES.get(contract)
    limits: Mapping[str, int] = load_table(table).get(kind, {}) if table else {}
    return tuple((path, tuple((step.removesuffix("[]"), step.endswith("[]")) for step in path.split(".")), int(limit))
                 for path, limit in limits.items())


_PAIR = {"key": 0, "value": 1}  # extra metadata is a tuple of (key, value) pairs


def _text_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _child(node: Any, name: str) -> Any:
    return node[_PAIR[name]] if isinstance(node, tuple) else getattr(node, name, None)


def _first_over(node: Any, steps: _Steps, limit: int, measure: Callable[[Any], int]) -> list[int | None] | None:
    """The list indices (None for a plain step) leading to the first value at ``steps`` below
    ``node`` whose ``measure`` passes ``limit``; None if there is none. Runs for every field of
    every letter, so the path text is only built for a refusal (:func:`_path`)."""
    if node is None:
        return None
    if not steps:
        return [] if measure(node) > limit else None
    (name, many), rest = steps[0], steps[1:]
    child = _child(node, name)
    if not many:
        found = _first_over(child, rest, limit, measure)
        return None if found is None else [None, *found]
    for i, item in enumerate(child or ()):
        found = _first_over(item, rest, limit, measure)
        if found is not None:
            return [i, *found]
    return None


def _at(node: Any, steps: _Steps, where: list[int | None]) -> Any:
    for (name, _many), index in zip(steps, where):
        node = _child(node, name)
        if index is not None:
            node = node[index]
    return node


def _path(steps: _Steps, where: list[int | None]) -> str:
    """``documents[1].filename``: the canonical path of a value, with its indices."""
    return ".".join(name + (f"[{index}]" if index is not None else "") for (name, _many), index in zip(steps, where))


def _fail(code: FaultCode, field: str, message: str) -> NoReturn:
    raise ValidationError(message, code=code, field=field)
