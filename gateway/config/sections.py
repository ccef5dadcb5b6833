"""The settings' sections: one frozen dataclass each, with the defaults the gateway runs on."""
from __future__ import annotations

import dataclasses
import socket
from dataclasses import field
from pathlib import Path

from gateway.frozen import frozen
from gateway.limits import LIMITS, KiB, MiB
from gateway.config.alerts import AlertSettings
from gateway.config.metrics import MetricsSettings
from gateway.config.console import ConsoleSettings, OperatorSettings
from gateway.config.retention import RetentionSettings
from gateway.config.senders import (DEMO_ORGANIZATION_NUMBER, DEMO_SENDER_NAME, DEMO_SENDER_PASSWORD,
                                    NoarkSettings, ReceivingSystem, SenderSettings, SvarUtSettings)

__all__ = [
    "AlertSettings",
    "Altinn2Settings",
    "Altinn3Settings",
    "ChannelSettings",
    "ConfigError",
    "ConsoleSettings",
    "DEMO_ORGANIZATION_NUMBER",
    "DEMO_SENDER_NAME",
    "DEMO_SENDER_PASSWORD",
    "DOCUMENTS_IN_DATABASE",
    "DOCUMENTS_IN_FILES",
    "DigipostSettings",
    "DigitalPostSettings",
    "DispatchSettings",
    "IntakePolicy",
    "LoggingSettings",
    "MetricsSettings",
    "PrintSettings",
    "ReceivingSystem",
    "RetentionSettings",
    "SenderSettings",
    "Sf1601Settings",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "SvarUtSettings",
    "NoarkSettings",
    "OperatorSettings",
]

#: ``storage.documents``: one node keeps large documents as files, nodes that share only the
#: database keep them in it.
DOCUMENTS_IN_FILES = "files"
DOCUMENTS_IN_DATABASE = "database"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key."""


@frozen
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Bodies above this are refused in twisted.web before any XML parsing (413).
    max_request_bytes: int = LIMITS.max_request_bytes
    #: Worker threads that run SOAP calls (the WSGI thread pool), per serving process.
    threads: int = 16
    #: Serving processes sharing the listening socket. Python runs one call at a time per
    #: process (the GIL), so on a machine with several cores more processes take in more
    #: letters; with more than one, dispatch runs in a process of its own (see
    #: gateway/supervisor.py).
    processes: int = 1
    #: Memory that calls with large bodies may claim together, per serving process: an
    #: inline document costs about 4x its request body while it is handled (MTOM
    #: attachments are streamed to disk and cost nothing here). A call that finds no room
    #: waits up to ``memory_wait_seconds``, then gets 503 SERVER_BUSY. See gateway/admission.py.
    memory_budget_bytes: int = LIMITS.memory_budget_bytes
    memory_wait_seconds: float = LIMITS.memory_wait_seconds
    #: PEM files; when both are set the gateway speaks HTTPS only (HTTP Basic needs TLS
    #: anywhere but on loopback).
    tls_certificate: str = ""
    tls_private_key: str = ""
    #: The address clients reach the gateway at (``https://post.kommune.no``, a path prefix
    #: allowed), written into every served WSDL. '' publishes the listening address; never
    #: the request's Host header, which any caller chooses.
    public_url: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_certificate)

    def base_url(self, port: int | None = None) -> str:
        """``public_url``, else ``http(s)://host:port`` of the listening socket (``port``: the
        bound one, when ``port = 0`` let the system choose)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = socket.gethostname()  # listening everywhere: set public_url to be sure
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port if port is None else port}"


@frozen
class StorageSettings:
    data_dir: str = "var"
    #: Defaults to ``sqlite:///<data_dir>/gateway.db``.
    database_url: str = ""
    #: Where documents larger than ``inline_document_bytes`` live: ``"files"`` under
    #: ``blobs/`` (one node), or ``"database"``: every document in the database, streamed in
    #: 1 MiB chunks and committed with its letter, for nodes that share only the database.
    documents: str = DOCUMENTS_IN_FILES
    #: Documents up to this size are kept in the database and committed in the shipment's
    #: own transaction (one fsync for the letter); larger ones are files under ``blobs/``.
    #: SQLite measures small blobs faster inside the database than as files. 0: always files.
    #: Not used with ``documents = "database"``.
    inline_document_bytes: int = 128 * KiB

    @property
    def documents_in_database(self) -> bool:
        return self.documents == DOCUMENTS_IN_DATABASE

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'gateway.db'}"

    @property
    def blob_dir(self) -> Path:
        return Path(self.data_dir) / "blobs"

    @property
    def spool_dir(self) -> Path:
        """Large MTOM attachments while their request is handled; on the blobs' file
        system, so an accepted document is adopted by a rename."""
        return Path(self.data_dir) / "spool"

    @property
    def schema_dir(self) -> Path:
        """Schema bundles added by operators (``gateway schemas add``)."""
        return Path(self.data_dir) / "schemas"

    @property
    def print_dir(self) -> Path:
        return Path(self.data_dir) / "print"


@frozen
class IntakePolicy:
    """Content rules that are operator policy rather than contract."""

    max_print_shipment_bytes: int = LIMITS.max_print_shipment_bytes
    max_filename_length: int = LIMITS.max_filename_length
    max_ids_per_signing_history: int = LIMITS.max_ids_per_signing_history
    #: Ids in one status lookup (``retrieveForsendelseStatuser``). SvarUt documents no limit;
    #: a case system polls the letters of one batch, and 1,000 answers stay well under a second.
    max_ids_per_call: int = LIMITS.max_ids_per_call
    #: PDF inspection (gateway/documents/pdf.py) decompresses what a print house or mailbox
    #: would: within these bounds per document, or the PDF is refused as PDF_TOO_COMPLEX.
    #: Decoded bytes of any one stream, and of all streams together.
    pdf_max_stream_bytes: int = LIMITS.pdf_max_stream_bytes
    pdf_max_decoded_bytes: int = LIMITS.pdf_max_decoded_bytes
    #: A stream with a PNG/TIFF predictor, LZW, RunLength, ASCIIHex or ASCII85 is decoded in
    #: Python (~10 MB/s): its own, lower bound keeps one stream to a fraction of a second.
    pdf_max_slow_stream_bytes: int = LIMITS.pdf_max_slow_stream_bytes
    pdf_max_pages: int = LIMITS.pdf_max_pages
    pdf_max_objects: int = LIMITS.pdf_max_objects
    #: CPU seconds of the inspecting thread (not wall time: a busy server is not the PDF's fault).
    pdf_max_seconds: float = LIMITS.pdf_max_seconds


@frozen
class PrintSettings:
    """``[channels.print]``: batches to a print provider's folder, receipts back."""

    enabled: bool = True
    #: Batches are written here (default ``<data_dir>/print/outbox``).
    outbox_dir: str = ""
    #: The provider drops one receipt file per batch here (default ``<data_dir>/print/receipts``).
    receipts_dir: str = ""
    batch_max_letters: int = 500
    batch_max_age_seconds: int = 300
    #: A batch with no receipt after this long raises an alert event.
    receipt_timeout_hours: int = 48
    #: Prices for the cost estimate stored when a job is sent, in øre.
    price_per_sheet_ore: int = 90
    color_surcharge_per_sheet_ore: int = 60
    postage_a_ore: int = 2600
    postage_b_ore: int = 2200
    envelope_ore: int = 40
    #: Return address printed on the cover page when the sender has none configured.
    return_address: tuple[str, ...] = ()
    #: Who prints: "folder" (batches in our own folder/manifest format for a print house) or
    #: "digipost" (Digipost's API v8, print only; settings in ``[channels.print.digipost]``).
    provider: str = "folder"
    digipost: DigipostSettings = dataclasses.field(default_factory=lambda: DigipostSettings())


@frozen
class DigipostSettings:
    """``[channels.print.digipost]``: print through Digipost's API v8 (``provider = "digipost"``).

    Requests are signed with the organisation's key (``X-Digipost-Signature``); responses are
    checked against Digipost's certificate, as the official Java client does.
    """

    base_url: str = "https://api.digipost.no"
    #: ``X-Digipost-UserId``: the Digipost account id (avsender-id) that signs the requests.
    broker_id: str = ""
    #: ``sender-id`` of each message when a broker sends on behalf of another account (empty: none).
    sender_id: str = ""
    #: The signing key, one of: an RSA key in PEM (``key_file``) or a PKCS#12 file
    #: (``pkcs12_file``, Digipost's usual form) with its ``key_password``.
    key_file: str = ""
    pkcs12_file: str = ""
    key_password: str = dataclasses.field(default="", repr=False)
    #: Digipost's certificate (PEM) for response signatures; empty: the one the entrypoint gives.
    server_certificate_file: str = ""
    #: What Digipost does with a letter the post cannot deliver: RETURN_TO_SENDER or SHRED.
    nondeliverable_handling: str = "RETURN_TO_SENDER"
    #: Largest difference between a response's Date and our clock (the Java client's 5 minutes).
    max_clock_skew_seconds: int = 300
    timeout_seconds: float = 30.0


@frozen
class Altinn3Settings:
    """``[channels.altinn3]``: Altinn 3 Correspondence over REST with Maskinporten tokens."""

    enabled: bool = False
    base_url: str = "https://platform.altinn.no"
    resource_id: str = ""
    #: Maskinporten token endpoint and audience, the client id and the signing key (RSA, PEM).
    token_url: str = "https://maskinporten.no/token"
    token_audience: str = "https://maskinporten.no/"
    client_id: str = ""
    private_key_file: str = ""
    #: How the grant names the key, exactly one of: ``key_id`` (``kid``, a key registered on the
    #: client) or ``certificate_chain_file`` (PEM, leaf first: the virksomhetssertifikat, sent as ``x5c``).
    key_id: str = ""
    certificate_chain_file: str = ""
    scope: str = "altinn:correspondence.write"
    #: The APIM subscription key (header ``Ocp-Apim-Subscription-Key``) Altinn gives the service
    #: owner; "without this key, your request will be denied". A secret: required when enabled,
    #: never shown (also settable as GATEWAY_ALTINN3_SUBSCRIPTION_KEY).
    subscription_key: str = field(default="", repr=False)
    notification_template: str = "GenericAltinnMessage"  # or "CustomMessage" with the texts below
    #: Custom texts may use only Altinn's placeholders ($sendersName$, $recipientName$,
    #: $correspondenceRecipientName$, $recipientNumber$, $messageTitle$, $resourceName$);
    #: another $word$ is refused at start-up (Altinn would send it to the recipient unreplaced).
    email_subject: str = "Du har fått brev fra $sendersName$"
    email_body: str = "Du har fått et brev fra $sendersName$ i Altinn."
    sms_body: str = "Du har fått et brev fra $sendersName$ i Altinn."
    #: Ask Altinn to notify again (its reminder, about 7 days later) when the letter is unopened.
    send_reminder: bool = True
    timeout_seconds: float = 30.0
    poll_interval_seconds: int = 300


@frozen
class Altinn2Settings:
    """``[channels.altinn2]``: legacy Altinn 2 InsertCorrespondenceV2 over SOAP (zeep)."""

    enabled: bool = False
    wsdl_url: str = ""
    endpoint_url: str = ""
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    system_user_code: str = ""
    service_code: str = ""
    service_edition: str = ""
    timeout_seconds: float = 30.0


@frozen
class Sf1601Settings:
    """``[channels.digitalpost.sf1601]``: KOMBIT SF1601 "Afsend post" through Serviceplatformen
    (used when ``transport = "sf1601"``). The service base is ``[channels.digitalpost] base_url``
    (``https://prod.serviceplatformen.dk``; test ``https://exttest.serviceplatformen.dk``); the
    certificate pair, ``ca_bundle`` and ``timeout_seconds`` are the digitalpost ones too."""

    #: The authority's CVR number (AnvenderKontekst.Cvr in the STS request).
    authority_cvr: str = ""
    #: KOMBIT's security token service (test: adgangsstyring.eksterntest-stoettesystemerne.dk).
    sts_url: str = "https://adgangsstyring.stoettesystemerne.dk/runtime/api/rest/wstrust/v1/issue"
    access_token_path: str = "/service/AccessTokenService_1/token"
    #: Open in the sources: itk-dev and os2forms send to ``/kombi`` (so does a later fork of
    #: python-serviceplatformen), python-serviceplatformen to ``/memos``.
    send_path: str = "/service/KombiPostAfsend_1/kombi"
    lookup_path: str = "/service/PostForespoerg_1/digitalpost"
    send_entity_id: str = "http://entityid.kombit.dk/service/kombipostafsend/1"
    lookup_entity_id: str = "http://entityid.kombit.dk/service/postforespoerg/1"
    #: A token is renewed this many seconds before it expires (itk-dev: 60 s access, 15 min SAML).
    token_margin_seconds: float = 300.0
    #: Who prints an unregistered Danish recipient's letter: "print" (our own print channel) or
    #: "sf1601" (Fysisk Post through KOMBIT's remote print, KombiValgKode "Fysisk Post").
    physical_post: str = "print"
    #: ForsendelseTypeIdentifikator, handed out per authority by the print supplier.
    forsendelse_type_identifikator: int = 0
    #: PostKategoriKode of Fysisk Post (os2forms sends "Prioritaire").
    post_kategori_kode: str = "Prioritaire"
    #: Beskedfordeler (SF1461) status events over AMQP 0-9-1: '' reads no events. Production:
    #: amqps://beskedfordeler.stoettesystemerne.dk:5671/BF with ``amqp_token_auth`` on.
    amqp_url: str = ""
    #: The queue (Dueslag id, a UUID) Beskedfordeler fills with PostStatusBeskedModtag events.
    amqp_queue: str = ""
    #: Log in with the decoded SAML token of ``amqp_entity_id`` as SASL EXTERNAL credential and
    #: the client certificate in TLS (KOMBIT's AfhentBesked sample, python-serviceplatformen).
    amqp_token_auth: bool = False
    amqp_entity_id: str = "http://entityid.kombit.dk/service/bfo_modtag/2"
    amqp_heartbeat_seconds: int = 60


@frozen
class DigitalPostSettings:
    """``[channels.digitalpost]``: Danish Digital Post. ``transport`` picks the way in: "ngdp"
    (NgDP REST, raw MeMo over mutual TLS plus HTTP Basic) or "sf1601" (KOMBIT's Serviceplatformen)."""

    enabled: bool = False
    transport: str = "ngdp"
    #: NgDP's API root (test: https://test.digitalpost.dk/apis/v1/); the paths memos/, receipts/
    #: and contacts/ are relative to it, as in NgDP's OpenAPI.
    base_url: str = "https://api.digitalpost.dk/apis/v1/"
    #: The system certificate and its unencrypted private key (PEM paths).
    client_certificate: str = ""
    client_private_key: str = ""
    #: PEM of the CA that signs Digital Post's server certificate; '' trusts the usual CAs.
    ca_bundle: str = ""
    #: HTTP Basic systemId:apiToken, which identifies the calling system on top of the certificate.
    system_id: str = ""
    system_password: str = dataclasses.field(default="", repr=False)
    timeout_seconds: float = 30.0
    #: The MeMo version written for Digital Post: "1.2" (current since March 2025) or "1.1".
    memo_version: str = "1.2"
    #: Receipt ids asked for per page when looking for one messageUUID among the receipts (NgDP).
    receipt_page_size: int = 100
    sf1601: Sf1601Settings = field(default_factory=Sf1601Settings)


@frozen
class DispatchSettings:
    """``[dispatch]``: workers, retries and deadlines."""

    enabled: bool = True
    #: Worker threads inside the gateway process (``gateway worker`` runs more elsewhere).
    workers: int = 2
    poll_interval_seconds: float = 1.0
    lease_seconds: int = 120
    #: Jobs a worker leases per claim.
    claim_batch: int = 4
    max_attempts: int = 12
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    #: Consecutive failures that open a channel's circuit breaker, and how long it stays open.
    breaker_threshold: int = 5
    breaker_open_seconds: float = 60.0
    #: A channel failing for longer than this sends its pending letters to print.
    outage_to_print_hours: float = 24.0
    #: Folder-routing rules (TOML, see mappings/folder_routing.toml); '' uses that file.
    folder_routing_file: str = ""
    #: How often the print cycle runs (close batches, read receipts, alert on overdue ones),
    #: and how often a channel's status feed is read (Digital Post's receipts, SF1601 events).
    maintenance_interval_seconds: float = 10.0
    #: Feed entries read per round; a full round is followed by the next at once.
    feed_batch: int = 100
    #: Unread digital letters go to print after this many working hours.
    read_deadline_working_hours: int = 40
    working_day_start_hour: int = 8
    working_day_end_hour: int = 16
    holiday_country: str = "NO"
    timezone: str = "Europe/Oslo"


@frozen
class ChannelSettings:
    print: PrintSettings = field(default_factory=PrintSettings)
    altinn3: Altinn3Settings = field(default_factory=Altinn3Settings)
    altinn2: Altinn2Settings = field(default_factory=Altinn2Settings)
    digitalpost: DigitalPostSettings = field(default_factory=DigitalPostSettings)


@frozen
class LoggingSettings:
    level: str = "INFO"


@frozen
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    intake: IntakePolicy = field(default_factory=IntakePolicy)
    svarut: SvarUtSettings = field(default_factory=SvarUtSettings)
    noark: NoarkSettings = field(default_factory=NoarkSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    senders: tuple[SenderSettings, ...] = ()
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    source: str = "embedded defaults"

    def sender(self, name: str) -> SenderSettings | None:
        for s in self.senders:
            if s.name == name:
                return s
        return None


