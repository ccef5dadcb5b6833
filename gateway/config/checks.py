"""Checks over the settings as a whole (what no single field can say), run once after loading."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from stdnum.no import orgnr

from gateway import passwords
from gateway.config.alerts import check_alerts
from gateway.config.altinn3 import check_altinn3
from gateway.config.digipost import check_print_provider
from gateway.config.console import OPERATOR_ROLES
from gateway.config.maskinporten import maskinporten_credentials
from gateway.config.metrics import MIN_TOKEN_CHARACTERS, MetricsAccess
from gateway.config.retention import check_retention
from gateway.config.senders import ARCHIVE_DIALECTS
from gateway.config.sections import (
    DEMO_SENDER_NAME,
    DEMO_SENDER_PASSWORD,
    DOCUMENTS_IN_DATABASE,
    DOCUMENTS_IN_FILES,
    ConfigError,
    Settings,
)
from gateway.limits import MiB


def check(settings: Settings) -> None:
    check_retention(settings.retention)
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
        problem = _url_problem(s.public_url, base=True)
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
    if settings.channels.altinn3.enabled:
        maskinporten_credentials(settings.channels.altinn3)
        check_altinn3(settings.channels.altinn3)
    if settings.channels.print.enabled:
        check_print_provider(settings.channels.print)
    _check_organization_numbers(settings)
    _check_archives(settings)
    check_alerts(settings.alerts, loopback=_is_loopback(settings.alerts.host))
    _check_metrics(settings)
    _check_console(settings)
    demo = settings.sender(DEMO_SENDER_NAME)
    if demo is not None and not _is_loopback(s.host):
        if passwords.verify_password(DEMO_SENDER_PASSWORD, demo.password_hash):
            raise ConfigError(
                "the demo sender with its well-known password may only listen on a loopback address; "
                "configure [[senders]] before binding to " + s.host
            )


def _check_metrics(settings: Settings) -> None:
    """The networks must parse and the token file must hold a token no one guesses."""
    m = settings.metrics
    if not m.enabled:
        return
    for i, network in enumerate(m.allowed_networks):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"metrics.allowed_networks[{i}]: {network!r} is not an address or network (CIDR)") from None
    try:
        access = MetricsAccess.of(m)
    except OSError as exc:
        raise ConfigError(f"metrics.bearer_token_file: cannot read {m.bearer_token_file!r}: {exc.strerror}") from None
    if access.token is not None and len(access.token) < MIN_TOKEN_CHARACTERS:
        raise ConfigError(f"metrics.bearer_token_file: the token must have at least {MIN_TOKEN_CHARACTERS} characters")
    if access.token is not None and not access.token.isascii():
        raise ConfigError("metrics.bearer_token_file: the token must be ASCII (it travels in an HTTP header)")


def _check_organization_numbers(settings: Settings) -> None:
    """noarkExchange compares these with envelopes: a mistyped one would never match."""
    numbers = [(f"noark.own_organization_numbers[{i}]", n) for i, n in enumerate(settings.noark.own_organization_numbers)]
    for sender in settings.senders:
        numbers += [(f"senders[{sender.name}].sends_for[{i}]", n) for i, n in enumerate(sender.sends_for) if n != "*"]
    for where, number in numbers:
        if not (len(number) == 9 and number.isascii() and number.isdigit() and orgnr.is_valid(number)):
            raise ConfigError(f"{where}: {number!r} is not an organisasjonsnummer (9 digits, mod-11 check digit)")


def _check_archives(settings: Settings) -> None:
    """A sender's archive endpoint is called by workers long after start: a wrong one must stop the start."""
    for sender in settings.senders:
        where = f"senders[{sender.name}]"
        if sender.archive_dialect not in ARCHIVE_DIALECTS:
            raise ConfigError(f"{where}.archive_dialect must be one of {', '.join(ARCHIVE_DIALECTS)}, not {sender.archive_dialect!r}")
        if sender.archive_timeout_seconds <= 0:
            raise ConfigError(f"{where}.archive_timeout_seconds must be positive, got {sender.archive_timeout_seconds}")
        if bool(sender.archive_username) != bool(sender.archive_password):
            raise ConfigError(f"{where}.archive_username and {where}.archive_password go together")
        if sender.archive_username and not sender.archive_endpoint:
            raise ConfigError(f"{where}.archive_username is set without {where}.archive_endpoint")
        if sender.archive_endpoint:
            problem = _url_problem(sender.archive_endpoint, base=False)
            if problem:
                raise ConfigError(f"{where}.archive_endpoint {sender.archive_endpoint!r} {problem}")


def _check_console(settings: Settings) -> None:
    """Operators: unique names, a known role, and only senders that exist."""
    c = settings.console
    for key in ("session_idle_minutes", "session_max_hours", "login_max_failures", "login_window_seconds", "page_size"):
        if getattr(c, key) <= 0:
            raise ConfigError(f"console.{key} must be positive, got {getattr(c, key)}")
    names = [o.name for o in c.operators]
    if len(set(names)) != len(names):
        raise ConfigError("operator names must be unique")
    senders = {s.name for s in settings.senders}
    for operator in c.operators:
        if operator.role not in OPERATOR_ROLES:
            raise ConfigError(f"operators[{operator.name}].role must be one of {', '.join(OPERATOR_ROLES)}, not {operator.role!r}")
        unknown = sorted(set(operator.senders) - senders)
        if unknown:
            raise ConfigError(f"operators[{operator.name}].senders: no such sender(s) {', '.join(unknown)}")


def _url_problem(url: str, *, base: bool) -> str | None:
    """``None`` when ``url`` can be called (or, ``base``, published as a base address), else why not."""
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
        return "must not carry a user or password" + ("" if base else " (use archive_username and archive_password)")
    if base and (parts.query or parts.fragment or "?" in url or "#" in url):
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
