"""The print provider of ``[channels.print]`` and Digipost's signing key, checked at start-up.

Digipost authenticates each API request by its RSA signature (``X-Digipost-Signature``). The
key is read once, here, by both the start-up check and the channel factory, so a missing,
encrypted-without-password or unusable key stops the gateway with a :class:`ConfigError` that
names the key, before the first letter waits on it.
"""
from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.config.sections import ConfigError, DigipostSettings, PrintSettings

__all__ = ["NONDELIVERABLE_HANDLING", "PROVIDERS", "check_print_provider", "digipost_server_certificate", "digipost_signing_key"]

PROVIDERS = ("folder", "digipost")
#: api_v8.xsd ``nondeliverable-handling``.
NONDELIVERABLE_HANDLING = ("RETURN_TO_SENDER", "SHRED")
_SECTION = "channels.print.digipost"
#: Digipost's keys are RSA; a smaller one is no longer accepted anywhere.
_MIN_KEY_BITS = 2048


def check_print_provider(p: PrintSettings) -> None:
    if p.provider not in PROVIDERS:
        raise ConfigError(f"channels.print.provider must be one of {', '.join(PROVIDERS)}, got {p.provider!r}")
    if p.provider != "digipost":
        return
    d = p.digipost
    if not d.broker_id.isdigit():
        raise ConfigError(f"{_SECTION}.broker_id must be the Digipost account id (digits), got {d.broker_id!r}")
    if d.sender_id and not d.sender_id.isdigit():
        raise ConfigError(f"{_SECTION}.sender_id must be a Digipost account id (digits), got {d.sender_id!r}")
    if d.nondeliverable_handling not in NONDELIVERABLE_HANDLING:
        raise ConfigError(f"{_SECTION}.nondeliverable_handling must be one of {', '.join(NONDELIVERABLE_HANDLING)}, "
                          f"got {d.nondeliverable_handling!r}")
    if not d.base_url.startswith(("https://", "http://")):
        raise ConfigError(f"{_SECTION}.base_url must be an http(s) URL, got {d.base_url!r}")
    digipost_signing_key(d)
    digipost_server_certificate(d)


def digipost_signing_key(d: DigipostSettings) -> rsa.RSAPrivateKey:
    """The RSA key of ``key_file`` (PEM) or ``pkcs12_file``; exactly one must be set."""
    if bool(d.key_file) == bool(d.pkcs12_file):
        raise ConfigError(f"[{_SECTION}] needs exactly one of key_file (PEM) or pkcs12_file")
    password = d.key_password.encode() if d.key_password else None
    if d.key_file:
        data = _read(d.key_file, "key_file")
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except TypeError as exc:  # encrypted without a password, or a password for a plain key
            raise ConfigError(f"{_SECTION}.key_file {d.key_file!r}: {exc} (see key_password)") from exc
        except ValueError as exc:
            raise ConfigError(f"{_SECTION}.key_file {d.key_file!r} is not a PEM private key this password opens: {exc}") from exc
        where = "key_file"
    else:
        data = _read(d.pkcs12_file, "pkcs12_file")
        try:
            loaded, _cert, _more = pkcs12.load_key_and_certificates(data, password)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{_SECTION}.pkcs12_file {d.pkcs12_file!r} cannot be opened with key_password: {exc}") from exc
        if loaded is None:
            raise ConfigError(f"{_SECTION}.pkcs12_file {d.pkcs12_file!r} holds no private key")
        key, where = loaded, "pkcs12_file"
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{_SECTION}.{where}: Digipost signs with RSA-SHA256, the key must be RSA")
    if key.key_size < _MIN_KEY_BITS:
        raise ConfigError(f"{_SECTION}.{where}: an RSA key of {key.key_size} bits is too small (at least {_MIN_KEY_BITS})")
    return key


def digipost_server_certificate(d: DigipostSettings) -> x509.Certificate | None:
    """Digipost's certificate pinned in ``server_certificate_file``; None: the entrypoint's."""
    if not d.server_certificate_file:
        return None
    try:
        return x509.load_pem_x509_certificate(_read(d.server_certificate_file, "server_certificate_file"))
    except ValueError as exc:
        raise ConfigError(f"{_SECTION}.server_certificate_file {d.server_certificate_file!r} is not a PEM certificate: {exc}") from exc


def _read(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{_SECTION}.{key}: cannot read {path!r}: {exc.strerror or exc}") from exc
