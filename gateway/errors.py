"""Error taxonomy of the gateway.

Every refusal the gateway can give is a :class:`GatewayError` carrying a stable
:class:`FaultCode`, the offending field (a path such as ``mottaker.postAdresse.postnr``)
and a message a case-system operator can act on. The SOAP layer turns these into
faults in exactly one place (:mod:`gateway.soap.faults`); nothing else formats faults.

Modules with refusals of their own declare them as a :class:`FaultFamily`, which adds them
to :data:`FAULTS`. This module imports nothing of the gateway: every layer may raise these
errors. ``docs/faults.md`` lists every code (:mod:`gateway.catalogue`, which imports the
modules that declare families; ``gateway faults --markdown``) and a test keeps the two in step.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Self

Side = Literal["Client", "Server"]


class FaultCode(enum.StrEnum):
    # request / transport
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    VERSION_MISMATCH = "VERSION_MISMATCH"
    MUST_UNDERSTAND = "MUST_UNDERSTAND"
    MALFORMED_XML = "MALFORMED_XML"
    FORBIDDEN_DTD = "FORBIDDEN_DTD"
    INVALID_REQUEST = "INVALID_REQUEST"
    # shipment content
    SHIPMENT_REQUIRED = "SHIPMENT_REQUIRED"
    TITLE_REQUIRED = "TITLE_REQUIRED"
    RECIPIENT_REQUIRED = "RECIPIENT_REQUIRED"
    INVALID_NATIONAL_ID = "INVALID_NATIONAL_ID"
    INVALID_ORGANIZATION_NUMBER = "INVALID_ORGANIZATION_NUMBER"
    ADDRESS_REQUIRED = "ADDRESS_REQUIRED"
    ADDRESS_NAME_REQUIRED = "ADDRESS_NAME_REQUIRED"
    ADDRESS_CITY_REQUIRED = "ADDRESS_CITY_REQUIRED"
    INVALID_POSTCODE = "INVALID_POSTCODE"
    DOCUMENTS_REQUIRED = "DOCUMENTS_REQUIRED"
    FILENAME_REQUIRED = "FILENAME_REQUIRED"
    FILENAME_TOO_LONG = "FILENAME_TOO_LONG"
    FILENAME_INVALID_CHARACTERS = "FILENAME_INVALID_CHARACTERS"
    FILENAME_DUPLICATE = "FILENAME_DUPLICATE"
    FILENAME_RESERVED = "FILENAME_RESERVED"
    MEDIA_TYPE_INVALID = "MEDIA_TYPE_INVALID"
    DOCUMENT_EMPTY = "DOCUMENT_EMPTY"
    DOCUMENT_NOT_PDF = "DOCUMENT_NOT_PDF"
    DOCUMENT_TYPE_NOT_FOR_ALTINN = "DOCUMENT_TYPE_NOT_FOR_ALTINN"
    PDF_UNREADABLE = "PDF_UNREADABLE"
    PDF_PASSWORD_PROTECTED = "PDF_PASSWORD_PROTECTED"
    PDF_TOO_COMPLEX = "PDF_TOO_COMPLEX"
    PDF_NOT_PRINTABLE = "PDF_NOT_PRINTABLE"
    SHIPMENT_TOO_LARGE = "SHIPMENT_TOO_LARGE"
    INVALID_COST_CODE = "INVALID_COST_CODE"
    LINK_URL_REQUIRED = "LINK_URL_REQUIRED"
    LINK_TEXT_REQUIRED = "LINK_TEXT_REQUIRED"
    LINK_URL_INVALID = "LINK_URL_INVALID"
    SIGNING_NOT_SUPPORTED = "SIGNING_NOT_SUPPORTED"
    FIELD_TOO_LONG = "FIELD_TOO_LONG"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    GIRO_PAGE_INVALID = "GIRO_PAGE_INVALID"
    # identity and lookup
    INVALID_SHIPMENT_ID = "INVALID_SHIPMENT_ID"
    UNKNOWN_SHIPMENT_ID = "UNKNOWN_SHIPMENT_ID"
    SHIPMENT_NOT_FOUND = "SHIPMENT_NOT_FOUND"
    SHIPMENT_ID_CONFLICT = "SHIPMENT_ID_CONFLICT"
    TOO_MANY_IDS = "TOO_MANY_IDS"
    SCHEMA_UNKNOWN = "SCHEMA_UNKNOWN"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    # server side
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    DOCUMENT_PURGED = "DOCUMENT_PURGED"
    SERVER_BUSY = "SERVER_BUSY"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True, slots=True)
class FaultInfo:
    side: Side
    http_status: int
    meaning: str


#: The one table: fault code → SOAP side, HTTP status and what it means for an operator.
#: Modules with codes of their own (signatures, MeMo rules) add them as a :class:`FaultFamily`.
FAULTS: dict[str, FaultInfo] = {
    FaultCode.AUTHENTICATION_FAILED: FaultInfo("Client", 401, "Missing or wrong HTTP Basic credentials for the sender system."),
    FaultCode.REQUEST_TOO_LARGE: FaultInfo("Client", 413, "The request body is larger than `server.max_request_bytes`; nothing was read into the SOAP layer."),
    FaultCode.UNSUPPORTED_MEDIA_TYPE: FaultInfo("Client", 415, "The Content-Type is not a SOAP one (`application/soap+xml`, `text/xml`, or `multipart/related` with `type=\"application/xop+xml\"`), or the body has a `Content-Encoding`; nothing was parsed."),
    FaultCode.VERSION_MISMATCH: FaultInfo("Client", 500, "The envelope is not in this endpoint's SOAP namespace (a SOAP 1.1 envelope on the SOAP 1.2-only SvarUt endpoint). `Code/Value` is `VersionMismatch`; a SOAP 1.2 fault carries an `Upgrade` header naming the supported envelope."),
    FaultCode.MUST_UNDERSTAND: FaultInfo("Client", 500, "A header block addressed to the gateway has `mustUnderstand` set and the gateway does not process it. `Code/Value` is `MustUnderstand`; a SOAP 1.2 fault names the block in a `NotUnderstood` header."),
    FaultCode.METHOD_NOT_ALLOWED: FaultInfo("Client", 405, "A SOAP call is a POST, and `?wsdl` a GET; other methods (or a GET without `?wsdl`) get 405 with `Allow`."),
    FaultCode.MALFORMED_XML: FaultInfo("Client", 400, "The body is not well-formed XML or not a SOAP 1.2 envelope."),
    FaultCode.FORBIDDEN_DTD: FaultInfo("Client", 400, "The XML carries a DOCTYPE (entities, external references, entity bombs); DTDs are never accepted."),
    FaultCode.INVALID_REQUEST: FaultInfo("Client", 400, "The message does not fit the contract (unknown operation, wrong type, missing required element)."),
    FaultCode.SHIPMENT_REQUIRED: FaultInfo("Client", 400, "The `forsendelse` element is missing."),
    FaultCode.TITLE_REQUIRED: FaultInfo("Client", 400, "`tittel` is missing or blank."),
    FaultCode.RECIPIENT_REQUIRED: FaultInfo("Client", 400, "`mottaker` is missing, or has neither a digital nor a postal address."),
    FaultCode.INVALID_NATIONAL_ID: FaultInfo("Client", 400, "The fødselsnummer/D-nummer is not 11 digits with two valid mod-11 check digits."),
    FaultCode.INVALID_ORGANIZATION_NUMBER: FaultInfo("Client", 400, "The organisasjonsnummer is not 9 digits with a valid mod-11 check digit."),
    FaultCode.ADDRESS_REQUIRED: FaultInfo("Client", 400, "A shipment that may go to print needs `mottaker.postAdresse`."),
    FaultCode.ADDRESS_NAME_REQUIRED: FaultInfo("Client", 400, "`postAdresse.navn` is required for a printable shipment."),
    FaultCode.ADDRESS_CITY_REQUIRED: FaultInfo("Client", 400, "`postAdresse.poststed` is required for a printable shipment."),
    FaultCode.INVALID_POSTCODE: FaultInfo("Client", 400, "A Norwegian `postnr` must be exactly 4 digits."),
    FaultCode.DOCUMENTS_REQUIRED: FaultInfo("Client", 400, "A shipment needs at least one document."),
    FaultCode.FILENAME_REQUIRED: FaultInfo("Client", 400, "A document has no `filnavn`."),
    FaultCode.FILENAME_TOO_LONG: FaultInfo("Client", 400, "`filnavn` is longer than 226 characters."),
    FaultCode.FILENAME_INVALID_CHARACTERS: FaultInfo("Client", 400, "`filnavn` contains one of `\" < > ? * | : / \\`, a control character or an invisible format character (bidirectional controls such as U+202E, zero-width characters, U+FEFF: Unicode category Cf)."),
    FaultCode.FILENAME_DUPLICATE: FaultInfo("Client", 400, "Two documents share a `filnavn` (compared case-insensitively)."),
    FaultCode.FILENAME_RESERVED: FaultInfo("Client", 400, "`filnavn` is a Windows device name (`CON`, `PRN`, `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, in any case, also with an extension such as `CON.pdf`) or ends with a dot or a space; Altinn refuses these."),
    FaultCode.MEDIA_TYPE_INVALID: FaultInfo("Client", 400, "`mimetype` is not an RFC 6838 `type/subtype` (parameters after `;` are allowed and dropped)."),
    FaultCode.DOCUMENT_EMPTY: FaultInfo("Client", 400, "A document has no bytes."),
    FaultCode.DOCUMENT_NOT_PDF: FaultInfo("Client", 400, "A printable document must be `application/pdf` unless the shipment is digital-only or the document is excluded from print."),
    FaultCode.DOCUMENT_TYPE_NOT_FOR_ALTINN: FaultInfo("Client", 400, "A digital-only letter to a Norwegian recipient can only go to Altinn, and Altinn takes only doc, xls, docx, xlsx, ppt, pps, zip, pdf, html, txt, xml, jpg, jpeg, gif, bmp, png, json, csv, dcm and dicom files: a document is of another type by both its `filnavn` extension and its `mimetype` (such as `notat.msg`). Send it in one of these types, or let the letter go to print."),
    FaultCode.PDF_UNREADABLE: FaultInfo("Client", 400, "The PDF cannot be opened (broken, truncated or not a PDF)."),
    FaultCode.PDF_PASSWORD_PROTECTED: FaultInfo("Client", 400, "The PDF needs a password to open; print and mailboxes cannot read it."),
    FaultCode.PDF_TOO_COMPLEX: FaultInfo("Client", 400, "Opening the PDF needs more than the gateway allows for one document: decompressed bytes per stream or in all (`intake.pdf_max_stream_bytes`, `pdf_max_decoded_bytes`, `pdf_max_slow_stream_bytes`), pages, objects, page-tree depth, or seconds (`intake.pdf_max_seconds`). Typical of a compression bomb; save the PDF again (print to PDF) to send it."),
    FaultCode.PDF_NOT_PRINTABLE: FaultInfo("Client", 400, "A print-only letter's PDF breaks a rule of Digipost's print (its printability-validator: text in the left margin's barcode area, more than 14 pages, a font neither embedded nor standard, PDF version outside 1.0-1.7, a page not A4); checked only when `[channels.print] provider = \"digipost\"`. A letter that may go digital is accepted, with the reason in its history."),
    FaultCode.SHIPMENT_TOO_LARGE: FaultInfo("Client", 400, "A printable shipment's documents exceed the print size limit (350 MiB by default)."),
    FaultCode.INVALID_COST_CODE: FaultInfo("Client", 400, "`konteringskode` must match `^[a-zA-Z0-9\\-\\.øæåØÆÅ]{0,20}$`."),
    FaultCode.LINK_URL_REQUIRED: FaultInfo("Client", 400, "A `lenke` has no `urlLenke`."),
    FaultCode.LINK_TEXT_REQUIRED: FaultInfo("Client", 400, "A `lenke` has no `urlTekst`."),
    FaultCode.LINK_URL_INVALID: FaultInfo("Client", 400, "`urlLenke` is not an absolute http(s) URL."),
    FaultCode.SIGNING_NOT_SUPPORTED: FaultInfo("Client", 400, "Signing orders (`skalSigneres`, `signaturtype`) are not offered by this gateway."),
    FaultCode.FIELD_TOO_LONG: FaultInfo("Client", 400, "A text field is longer than its contract allows: the official SvarUt limits (KS REST v3 schema) listed in `mappings/svarut_fields.toml`, MeMo's in `mappings/memo.toml`; the field is named."),
    FaultCode.TOO_MANY_ITEMS: FaultInfo("Client", 400, "A list has more entries than the contract allows (`lenker` 5, `ekstraMetadata` 20, `dokumenter` 200, `giroarkSider` 100; `mappings/svarut_fields.toml`)."),
    FaultCode.GIRO_PAGE_INVALID: FaultInfo("Client", 400, "A `giroarkSider` entry is not a page of its document (1 to the PDF's page count), or names a page twice."),
    FaultCode.INVALID_SHIPMENT_ID: FaultInfo("Client", 400, "A shipment id is not a UUID."),
    FaultCode.UNKNOWN_SHIPMENT_ID: FaultInfo("Client", 400, "`sendForsendelseMedId` with an id that `startNyForsendelse` did not give this sender."),
    FaultCode.SHIPMENT_NOT_FOUND: FaultInfo("Client", 404, "No shipment with that id belongs to this sender."),
    FaultCode.SHIPMENT_ID_CONFLICT: FaultInfo("Client", 409, "The id was already used for a shipment with different content."),
    FaultCode.TOO_MANY_IDS: FaultInfo("Client", 400, "More ids in one call than the operation allows (`intake.max_ids_per_call`, 1,000 by default, for statuses; 10 for signing history)."),
    FaultCode.SCHEMA_UNKNOWN: FaultInfo("Client", 404, "No schema is registered under that name (`listSchemas`, `gateway schemas list`)."),
    FaultCode.SCHEMA_INVALID: FaultInfo("Client", 400, "The message does not validate against its schema (the MeMo version's); the field is the element path."),
    FaultCode.STORAGE_UNAVAILABLE: FaultInfo("Server", 503, "The database or blob store failed; nothing was accepted, the call can be retried."),
    FaultCode.DOCUMENT_PURGED: FaultInfo("Client", 410, "The document's bytes were deleted by the retention rule (`[retention]`) after the letter was over; the letter, its history and costs are kept."),
    FaultCode.SERVER_BUSY: FaultInfo("Server", 503, "Other large letters use this process's memory budget (`server.memory_budget_bytes`) and no room came free in time; retry after the Retry-After seconds."),
    FaultCode.INTERNAL_ERROR: FaultInfo("Server", 500, "An unexpected error; it is logged with the request id."),
}


def quoted(value: str, limit: int) -> str:
    """A caller's value as a message quotes it: at most ``limit`` characters, anything not
    printable as ``?`` (a refusal must not echo a megabyte, nor control characters)."""
    shown = "".join(c if c.isprintable() else "?" for c in value[:limit])
    return repr(shown + ("…" if len(value) > limit else ""))


class GatewayError(Exception):
    """Base of every refusal. Carries a stable code, the field it is about and details."""

    default_code: FaultCode = FaultCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: FaultCode | str | None = None,
        field: str | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.details = dict(details or {})

    @property
    def info(self) -> FaultInfo:
        return FAULTS[self.code]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!s}, field={self.field!r}, message={self.message!r})"


class FaultFamily(enum.StrEnum):
    """A module's own stable fault codes, each declared with what it means for an operator.

    One table per family, and the central table learns it when the class is created::

        class MemoRule(FaultFamily, side="Client", http_status=400):
            NOT_A_MESSAGE = "MEMO_NOT_A_MESSAGE", "The root element is not `Message` ..."

    A member is its code (a ``str``); ``meaning`` is the text ``docs/faults.md`` lists.
    """

    meaning: str

    def __new__(cls, code: str, meaning: str) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    def __init_subclass__(cls, *, side: Side = "Client", http_status: int = 400) -> None:
        super().__init_subclass__()
        codes = list(cls.__members__.values())
        if not codes:
            raise TypeError(f"fault family {cls.__name__} declares no codes")
        for code in codes:
            known = FAULTS.get(code)
            if known is not None and known != FaultInfo(side, http_status, code.meaning):
                raise ValueError(f"fault code {code} is registered twice, differently")
            FAULTS[code] = FaultInfo(side, http_status, code.meaning)


class FamilyError(GatewayError):
    """A refusal with a :class:`FaultFamily` code; ``details["code"]`` repeats the code."""

    default_code = FaultCode.INVALID_REQUEST

    def __init__(self, code: FaultFamily, message: str, *, field: str | None = None) -> None:
        super().__init__(message, code=code, field=field, details={"code": str(code)})


class RequestError(GatewayError):
    """The request as a whole is unacceptable (size, XML, contract)."""

    default_code = FaultCode.INVALID_REQUEST


class HostileXmlError(RequestError):
    default_code = FaultCode.FORBIDDEN_DTD


class AuthenticationError(GatewayError):
    default_code = FaultCode.AUTHENTICATION_FAILED


class ValidationError(GatewayError):
    """The shipment breaks a content rule; ``field`` names where."""

    default_code = FaultCode.INVALID_REQUEST


class DocumentError(ValidationError):
    default_code = FaultCode.PDF_UNREADABLE


class NotFoundError(GatewayError):
    default_code = FaultCode.SHIPMENT_NOT_FOUND


class ConflictError(GatewayError):
    default_code = FaultCode.SHIPMENT_ID_CONFLICT


class StorageError(GatewayError):
    default_code = FaultCode.STORAGE_UNAVAILABLE
