"""One frozen settings object, read from a TOML file with environment overrides.

Without a file the gateway runs on embedded defaults: 127.0.0.1:8080, SQLite and blobs
under ``var/``, and a demo sender (``demo``/``demo``) that is refused on any non-loopback
address. Environment variables ``GATEWAY_<SECTION>_<KEY>`` (for example
``GATEWAY_SERVER_PORT=9000`` or ``GATEWAY_STORAGE_DATABASE_URL=postgresql+psycopg://...``)
override scalar keys of the ``[server]``, ``[storage]``, ``[intake]`` and ``[logging]``
sections. Relative paths are relative to the working directory.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway import passwords
from gateway.limits import LIMITS, KiB, MiB

_T = typing.TypeVar("_T")


@typing.dataclass_transform(frozen_default=True, kw_only_default=True)
def frozen(cls: type[_T]) -> type[_T]:
    """A frozen, slotted dataclass with keyword-only fields (so type checkers know it is one)."""
    return dataclass(frozen=True, slots=True, kw_only=True)(cls)


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
class SenderSettings:
    """One sending case system (SvarUt "avgivende system")."""

    name: str
    password_hash: str = dataclasses.field(repr=False)
    organization_number: str = ""
    display_name: str = ""
    #: Printed as the return address on cover pages.
    return_address: tuple[str, ...] = ()
    #: Overrides ``dispatch.read_deadline_working_hours`` for this sender's letters.
    read_deadline_working_hours: int = 0
    #: MeMo intake: PEM file(s) of the pinned certificate(s) the sender signs with, and/or of
    #: a private CA that issues them. Unsigned messages only with ``allow_unsigned``.
    signing_certificate: str = ""
    signing_ca: str = ""
    allow_unsigned: bool = False


@frozen
class ReceivingSystem:
    """An entry answered by ``retrieveMottakerSystemForOrgnr``."""

    organization_number: str
    system: str
    shipment_type: str = ""
    recipient_id: str = ""
    level: int = 3


@frozen
class SvarUtSettings:
    #: Answer of ``retreiveForsendelseTyper``: the forsendelseType values this gateway routes.
    shipment_types: tuple[str, ...] = ()
    receiving_systems: tuple[ReceivingSystem, ...] = ()


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


@frozen
class Altinn3Settings:
    """``[channels.altinn3]``: Altinn 3 Correspondence over REST with Maskinporten tokens."""

    enabled: bool = False
    base_url: str = "https://platform.altinn.no"
    resource_id: str = ""
    #: Maskinporten token endpoint and audience, the client id and the signing key (PEM).
    token_url: str = "https://maskinporten.no/token"
    token_audience: str = "https://maskinporten.no/"
    client_id: str = ""
    key_id: str = ""
    private_key_file: str = ""
    scope: str = "altinn:correspondence.write"
    notification_template: str = "GenericAltinnMessage"  # or "CustomMessage" with the texts below
    email_subject: str = "Du har fått brev"
    email_body: str = "Du har fått et brev i Altinn: $correspondenceTitle$"
    sms_body: str = "Du har fått et brev i Altinn."
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
class DigitalPostSettings:
    """``[channels.digitalpost]``: Danish Digital Post, MeMo upload over mutual TLS plus HTTP Basic."""

    enabled: bool = False
    base_url: str = ""
    #: The system certificate and its unencrypted private key (PEM paths).
    client_certificate: str = ""
    client_private_key: str = ""
    #: PEM of the CA that signs Digital Post's server certificate; '' trusts the usual CAs.
    ca_bundle: str = ""
    #: Identifies the calling system on top of the certificate.
    system_id: str = ""
    system_password: str = dataclasses.field(default="", repr=False)
    timeout_seconds: float = 30.0
    memo_path: str = "/apis/v1/messages/memo"
    registration_path: str = "/apis/v1/contacts/registration/{id_type}/{identifier}"
    status_path: str = "/apis/v1/messages/{message_uuid}/status"


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
    #: How often the print cycle runs (close batches, read receipts, alert on overdue ones).
    maintenance_interval_seconds: float = 10.0
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
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    senders: tuple[SenderSettings, ...] = ()
    source: str = "embedded defaults"

    def sender(self, name: str) -> SenderSettings | None:
        for s in self.senders:
            if s.name == name:
                return s
        return None


DEMO_SENDER_NAME = "demo"
DEMO_SENDER_PASSWORD = "demo"
DEMO_ORGANIZATION_NUMBER = "974720760"

_ENV_SECTIONS = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "intake": IntakePolicy,
    "logging": LoggingSettings,
    "dispatch": DispatchSettings,
}


def demo_sender() -> SenderSettings:
    return SenderSettings(
        name=DEMO_SENDER_NAME,
        password_hash=passwords.hash_password(DEMO_SENDER_PASSWORD),
        organization_number=DEMO_ORGANIZATION_NUMBER,
        display_name="Demo kommune",
    )


def load_settings(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or the embedded defaults), apply environment overrides, check."""
    environ = os.environ if environ is None else environ
    if path is None:
        raw: dict[str, Any] = {}
        source = "embedded defaults"
    else:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        source = str(path)
    for (section, key), value in _env_overrides(environ).items():
        raw.setdefault(section, {})[key] = value

    known = {"server", "storage", "intake", "svarut", "logging", "senders", "channels", "dispatch"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)} in {source}")

    sections = {name: _build(cls, raw.get(name, {}), name) for name, cls in _ENV_SECTIONS.items()}
    svarut_raw = dict(raw.get("svarut", {}))
    systems = tuple(
        _build(ReceivingSystem, item, f"svarut.receiving_systems[{i}]")
        for i, item in enumerate(svarut_raw.pop("receiving_systems", []))
    )
    svarut = _build(SvarUtSettings, {**svarut_raw, "receiving_systems": systems}, "svarut")

    channels_raw = dict(raw.get("channels", {}))
    unknown_channels = sorted(set(channels_raw) - {"print", "altinn3", "altinn2", "digitalpost"})
    if unknown_channels:
        raise ConfigError(f"unknown channel(s) {', '.join(unknown_channels)}: known are print, altinn3, altinn2, digitalpost")
    channels = ChannelSettings(
        print=_build(PrintSettings, channels_raw.get("print", {}), "channels.print"),
        altinn3=_build(Altinn3Settings, channels_raw.get("altinn3", {}), "channels.altinn3"),
        altinn2=_build(Altinn2Settings, channels_raw.get("altinn2", {}), "channels.altinn2"),
        digitalpost=_build(DigitalPostSettings, channels_raw.get("digitalpost", {}), "channels.digitalpost"),
    )

    if "senders" in raw:
        senders = tuple(_sender(item, i) for i, item in enumerate(raw["senders"]))
    else:
        senders = (demo_sender(),)
    names = [s.name for s in senders]
    if len(set(names)) != len(names):
        raise ConfigError("sender names must be unique")
    for s in senders:
        for key in ("signing_certificate", "signing_ca"):
            value = getattr(s, key)
            if value and not Path(value).is_file():
                raise ConfigError(f"senders[{s.name}].{key}: no such file {value!r}")

    settings = Settings(senders=senders, source=source, svarut=svarut, channels=channels, **sections)
    _check(settings)
    return settings


def _sender(item: Mapping[str, Any], index: int) -> SenderSettings:
    where = f"senders[{index}]"
    item = dict(item)
    if "name" not in item:
        raise ConfigError(f"{where}: 'name' is required")
    password = item.pop("password", None)
    if password is not None and "password_hash" in item:
        raise ConfigError(f"{where}: give 'password' or 'password_hash', not both")
    if password is not None:
        item["password_hash"] = passwords.hash_password(str(password))
    elif "password_hash" in item:
        if not passwords.is_hash(item["password_hash"]):
            raise ConfigError(f"{where}: 'password_hash' is not a hash made by 'gateway hash-password'")
    else:
        raise ConfigError(f"{where}: 'password' or 'password_hash' is required")
    return _build(SenderSettings, item, where)


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"[{where}] unknown key(s): {', '.join(unknown)}")
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"[{where}] {exc}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if hint is str:
        if not isinstance(value, (str, int)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list")
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(v if dataclasses.is_dataclass(v) else _coerce(item_hint, v, where) for v in value)
    return value


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name, value in environ.items():
        if not name.startswith("GATEWAY_"):
            continue
        rest = name[len("GATEWAY_"):].lower()
        for section, cls in _ENV_SECTIONS.items():
            prefix = section + "_"
            if rest.startswith(prefix):
                key = rest[len(prefix):]
                if key in {f.name for f in dataclasses.fields(cls)}:
                    found[(section, key)] = value
    return found


def _check(settings: Settings) -> None:
    s = settings.server
    if not 0 <= s.port <= 65535:
        raise ConfigError(f"server.port must be 0-65535, got {s.port}")
    if s.max_request_bytes < 1024:
        raise ConfigError("server.max_request_bytes must be at least 1024")
    if s.threads < 1:
        raise ConfigError("server.threads must be at least 1")
    if s.memory_budget_bytes < 64 * MiB:
        raise ConfigError("server.memory_budget_bytes must be at least 64 MiB")
    if not 1 <= s.processes <= 64:
        raise ConfigError(f"server.processes must be 1-64, got {s.processes}")
    if bool(s.tls_certificate) != bool(s.tls_private_key):
        raise ConfigError("server.tls_certificate and server.tls_private_key go together")
    for key in ("tls_certificate", "tls_private_key"):
        value = getattr(s, key)
        if value and not Path(value).is_file():
            raise ConfigError(f"server.{key}: no such file {value!r}")
    if s.public_url:
        problem = _public_url_problem(s.public_url)
        if problem:
            raise ConfigError(f"server.public_url {s.public_url!r} {problem}")
    for key in ("max_ids_per_call", "pdf_max_stream_bytes", "pdf_max_decoded_bytes", "pdf_max_slow_stream_bytes",
                "pdf_max_pages", "pdf_max_objects", "pdf_max_seconds"):
        if getattr(settings.intake, key) <= 0:
            raise ConfigError(f"intake.{key} must be positive, got {getattr(settings.intake, key)}")
    if settings.storage.documents not in (DOCUMENTS_IN_FILES, DOCUMENTS_IN_DATABASE):
        raise ConfigError(f"storage.documents must be {DOCUMENTS_IN_FILES!r} (large documents as files, one node) or "
                          f"{DOCUMENTS_IN_DATABASE!r} (every document in the database, for nodes sharing it), "
                          f"got {settings.storage.documents!r}")
    if settings.storage.inline_document_bytes < 0:
        raise ConfigError(f"storage.inline_document_bytes must be 0 or more, got {settings.storage.inline_document_bytes}")
    url = settings.storage.resolved_database_url
    if not url.startswith(("sqlite:", "postgresql")):
        raise ConfigError(f"storage.database_url must be sqlite:/// or postgresql+psycopg://, got {url!r}")
    demo = settings.sender(DEMO_SENDER_NAME)
    if demo is not None and not _is_loopback(s.host):
        if passwords.verify_password(DEMO_SENDER_PASSWORD, demo.password_hash):
            raise ConfigError(
                "the demo sender with its well-known password may only listen on a loopback address; "
                "configure [[senders]] before binding to " + s.host
            )


def _public_url_problem(url: str) -> str | None:
    """``None`` when ``url`` can be published as a base address, else why not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry a user or password"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "must not have a query or fragment"
    if any(c.isspace() or ord(c) < 0x20 for c in url) or any(c in url for c in "<>\"'"):
        return "has characters a URL cannot have"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
