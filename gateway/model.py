"""The canonical shipment: one model every intake maps into and every channel maps out of.

Field names are English; the Norwegian and Danish names live in the intake translators and
in ``mappings/``. The model is immutable: a lifecycle change is an :class:`Event`, stored
beside the shipment, never an edit of it.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable
from dataclasses import field

from gateway.frozen import frozen


class Status(enum.StrEnum):
    """Internal lifecycle states; ``mappings/status.toml`` maps them to each contract."""

    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    SENT_DIGITAL = "SENT_DIGITAL"
    NOTIFIED = "NOTIFIED"
    READ = "READ"
    SENT_TO_PRINT = "SENT_TO_PRINT"
    PRINTED = "PRINTED"
    DELIVERED = "DELIVERED"
    NOT_DELIVERED = "NOT_DELIVERED"
    MANUALLY_HANDLED = "MANUALLY_HANDLED"


FINAL_STATUSES = frozenset(
    {Status.REJECTED, Status.READ, Status.PRINTED, Status.DELIVERED, Status.NOT_DELIVERED, Status.MANUALLY_HANDLED}
)


class PartyKind(enum.StrEnum):
    NO_PERSON = "NO_PERSON"  # fødselsnummer or D-nummer
    NO_ORGANIZATION = "NO_ORGANIZATION"  # organisasjonsnummer
    DK_CPR = "DK_CPR"
    DK_CVR = "DK_CVR"
    UNKNOWN = "UNKNOWN"  # postal address only

    @property
    def danish(self) -> bool:
        """A Danish recipient: Digital Post, Danish holidays, Danish texts."""
        return self in (PartyKind.DK_CPR, PartyKind.DK_CVR)


class DocumentRole(enum.StrEnum):
    MAIN = "MAIN"
    ATTACHMENT = "ATTACHMENT"
    TECHNICAL = "TECHNICAL"


class DeliveryMode(enum.StrEnum):
    DIGITAL_ONLY = "DIGITAL_ONLY"
    DIGITAL_WITH_PRINT_FALLBACK = "DIGITAL_WITH_PRINT_FALLBACK"
    PRINT_ONLY = "PRINT_ONLY"


class LetterClass(enum.StrEnum):
    A = "A"  # A-post, priority
    B = "B"  # B-post, economy


@frozen
class PostalAddress:
    name: str | None = None
    lines: tuple[str, ...] = ()
    postcode: str | None = None
    city: str | None = None
    country: str = "NO"  # ISO 3166 alpha-2


#: How senders spell Norway in an address (an empty country means Norway in Norwegian post).
NORWEGIAN_COUNTRY_NAMES = frozenset({"", "NO", "NOR", "NORGE", "NORWAY", "NOREG"})


def is_norway(country: str | None) -> bool:
    return (country or "").strip().upper() in NORWEGIAN_COUNTRY_NAMES


@frozen
class Attention:
    """Whom at the recipient the letter is for: a person, a production unit, an e-mail address."""

    person: str | None = None  # a person's id (CPR number, employee id)
    production_unit: str | None = None  # DK P-number
    email: str | None = None


@frozen
class Party:
    identifier: str | None = None
    kind: PartyKind = PartyKind.UNKNOWN
    name: str | None = None
    address: PostalAddress | None = None
    attention: Attention | None = None


@frozen
class Document:
    filename: str
    media_type: str
    size: int
    sha256: str
    storage_ref: str
    role: DocumentRole = DocumentRole.MAIN
    exclude_from_print: bool = False
    giro_pages: tuple[int, ...] = ()
    language: str | None = None
    document_type: str | None = None
    page_count: int | None = None
    sign_requested: bool = False
    title: str | None = None  # the document's own title (Noark dbTittel, arkivmelding dokumentbeskrivelse/tittel)


@frozen
class Link:
    url: str
    text: str
    label: str | None = None
    action: str | None = None  # MeMo action code (AFTALE, BETALING, ...)


@frozen
class NoarkFiling:
    """What both Noark metadata blocks say: the case, the journal entry's type and status,
    the document's date and title."""

    case_year: int
    case_sequence_number: int
    document_date: dt.datetime | None = None
    journal_entry_type: str | None = None
    journal_status: str | None = None
    title: str | None = None


@frozen
class ImportMetadata(NoarkFiling):
    """Noark "metadata for import": where the receiving archive should file the letter."""


@frozen
class CaseMetadata(NoarkFiling):
    """Noark metadata from the sending case system: the filing, and its journal entry there."""

    journal_year: int
    journal_sequence_number: int
    journal_entry_number: int
    journal_date: dt.datetime | None = None
    case_officer: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    # What a Noark archive says beyond SvarUt's metadata block (Noark 4 journpost/noarksak,
    # arkivmelding saksmappe/journalpost). None: the sender did not say.
    case_title: str | None = None  # saTittel, saksmappe/tittel
    public_title: str | None = None  # jpOffinnhold, offentligTittel
    access_code: str | None = None  # jpTgkode, skjerming/tilgangsrestriksjon
    access_basis: str | None = None  # jpUoff, skjerming/skjermingshjemmel
    administrative_unit: str | None = None  # saAdmkort, administrativEnhet
    records_unit: str | None = None  # saJenhet, journalenhet
    case_officer_id: str | None = None  # saAnsvinit (the officer's initials or user id)
    archive_part: str | None = None  # saArkdel, referanseArkivdel


@frozen
class ContactInfo:
    """One way to reach the recipient's contact point (a label and its value)."""

    label: str = ""
    value: str = ""


@frozen
class ContentData:
    """A named value the sender attaches for the recipient's systems (type is free text)."""

    name: str | None = None
    value: str | None = None
    type: str | None = None


@frozen
class ReplyReference:
    """An earlier message this letter answers, as the sender identified it."""

    message_uuid: str | None = None
    message_id: str | None = None
    reply_uuid: str | None = None
    sender_id: str | None = None
    recipient_id: str | None = None
    case_id: str | None = None
    contact_point_id: str | None = None
    generating_system_id: str | None = None
    comment: str | None = None


@frozen
class Forwarding:
    """The message this letter forwards and who sent it first."""

    message_uuid: str | None = None
    original_sender: str | None = None


@frozen
class MailboxHandling:
    """How the recipient's mailbox treats the letter. None: the sender did not say."""

    text_message: bool | None = None  # the notification is sent as a text message; no documents
    message_code: str | None = None  # the sender's code for the kind of letter
    notification: str | None = None  # the short notice (the text of a text message)
    additional_notification: str | None = None
    reply_allowed: bool | None = None
    reply_by: str | None = None  # ISO 8601 date and time, as the sender wrote it
    hold_until: str | None = None  # ISO 8601 date: not shown to the recipient before
    mandatory: bool | None = None  # mandatory mail: delivered even where the recipient opted out
    legal_notification: bool | None = None  # the letter has legal effect when delivered


@frozen
class RoutingMetadata:
    """Where the recipient's mailbox files the letter, whom it is for and about, and how the
    mailbox treats it. Each channel says these in its own words (MeMo elements, Altinn
    properties); folder-routing rules set the contact point and attention."""

    kle: str | None = None  # KLE subject key
    kle_version: str | None = None
    kle_label: str | None = None
    form: str | None = None  # FORM task key
    form_version: str | None = None
    form_label: str | None = None
    case_id: str | None = None
    case_system: str | None = None
    production_unit: str | None = None  # DK P-number the letter concerns
    production_unit_name: str | None = None
    contact_point: str | None = None  # the recipient's contact point: the folder it files the letter in
    contact_group: str | None = None
    contact_label: str | None = None
    contact_info: tuple[ContactInfo, ...] = ()
    attention: Attention | None = None  # whom at the recipient the letter is for
    sender_contact_point: str | None = None  # the sender's own contact point (where replies go)
    sender_representative: str | None = None  # who sends on the sender's behalf
    concerns: tuple[Party, ...] = ()  # the persons (DK_CPR) and companies (DK_CVR) the letter is about
    content_data: tuple[ContentData, ...] = ()
    replies_to: tuple[ReplyReference, ...] = ()
    forwarded: Forwarding | None = None
    handling: MailboxHandling = field(default_factory=MailboxHandling)
    post_type: str | None = None
    shipment_type: str | None = None  # SvarUt forsendelseType
    extra: tuple[tuple[str, str], ...] = ()  # pairs no field above names (from rows stored before them)


@frozen
class ExchangeEnvelope:
    """The BEST/EDU envelope a letter came in (noarkExchange ``PutMessage``): what a status
    receipt back to the sending archive must echo."""

    conversation_id: str
    content_namespace: str
    sender_orgnr: str  # the sending organisation (the authenticated sender's, where the envelope left it empty)
    receiver_orgnr: str
    sender_ref: str | None = None  # the archive's own reference (envelope/sender/ref)
    receiver_ref: str | None = None
    receiver_name: str | None = None
    journal_entry_id: str | None = None  # jpId: the archive's key of the journal entry


@frozen
class DeliveryPolicy:
    mode: DeliveryMode = DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK
    read_deadline_hours: int | None = None  # None: the sender's or gateway's default
    require_high_assurance_login: bool = False  # SvarUt krevNiva4Innlogging
    encrypted: bool = False  # SvarUt kryptert


@frozen
class PrintOptions:
    letter_class: LetterClass = LetterClass.B
    color: bool = False
    duplex: bool = False


@frozen
class SigningRequest:
    signature_type: str | None = None
    expires: dt.datetime | None = None


@frozen
class Shipment:
    """One letter as a sender submitted it. Three things are easily confused: ``sender`` is the
    account that submitted it (a ``[[senders]]`` name, authenticated), ``sender_party`` the
    authority the letter names as its sender, and ``source_system`` the case system that
    produced it."""

    id: str
    sender: str  # the authenticated account that submitted the letter ([[senders]] name); owns it
    title: str
    recipient: Party
    documents: tuple[Document, ...]
    #: The authority the letter is from, as the letter names it (MeMo Sender; SvarUt V9 names
    #: none, so its intake names the sender's configured organisation and display name).
    sender_party: Party | None = None
    source_system: str | None = None  # the case system that produced the letter (SvarUt avgivendeSystem, free text); not a sender
    links: tuple[Link, ...] = ()
    case_metadata: CaseMetadata | None = None
    import_metadata: ImportMetadata | None = None
    routing: RoutingMetadata = field(default_factory=RoutingMetadata)
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    print_options: PrintOptions = field(default_factory=PrintOptions)
    cost_code: str | None = None
    external_ref: str | None = None
    reply_to: Party | None = None
    reply_to_shipment_id: str | None = None
    reply_link_requested: bool = False
    signing: SigningRequest | None = None
    security_level: int | None = None
    source_contract: str = "svarut-v9"
    exchange: ExchangeEnvelope | None = None  # noarkExchange letters: the envelope they came in

    @property
    def printable(self) -> bool:
        return self.delivery.mode is not DeliveryMode.DIGITAL_ONLY

    @property
    def printable_documents(self) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if not d.exclude_from_print)


@frozen
class Event:
    at: dt.datetime
    kind: str
    status: Status | None = None
    channel: str | None = None
    detail: str = ""


def new_shipment_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


#: What tells the time to the services and the dispatcher: :func:`utcnow`, or a test's clock.
Clock = Callable[[], dt.datetime]
