"""The Maskinporten credentials of ``[channels.altinn3]``, checked at start-up.

Maskinporten's JWT grant names the signing key in its header by exactly one of ``kid`` (a key
registered on the client) or ``x5c`` (the business certificate chain, virksomhetssertifikat, leaf
first, base64 DER). A grant with neither is refused by the token endpoint; this module refuses the
configuration instead, before the first letter waits on it. Both the start-up check and the channel
factory read the credentials here, so they agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.config.sections import Altinn3Settings, ConfigError

__all__ = ["MaskinportenCredentials", "maskinporten_credentials"]

_SECTION = "channels.altinn3"


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskinportenCredentials:
    """The RSA key (PEM) and how the grant names it: ``key_id`` or a DER chain, never both."""

    private_key_pem: bytes
    key_id: str = ""
    certificate_chain: tuple[bytes, ...] = ()


def maskinporten_credentials(a: Altinn3Settings) -> MaskinportenCredentials:
    """Read and cross-check the key, the key id and the certificate chain; ConfigError names the key."""
    missing = [k for k in ("resource_id", "client_id", "private_key_file") if not getattr(a, k)]
    if missing:
        raise ConfigError(f"[{_SECTION}] needs {', '.join(missing)}")
    if bool(a.key_id) == bool(a.certificate_chain_file):
        raise ConfigError(
            f"[{_SECTION}] needs exactly one of key_id (the kid of a key registered on the Maskinporten client) "
            "or certificate_chain_file (the business certificate chain, virksomhetssertifikat, PEM, leaf first): "
            "Maskinporten refuses a grant whose header has neither kid nor x5c"
            + (", and a grant cannot name its key both ways" if a.key_id else "")
        )
    key_pem = _read(a.private_key_file, "private_key_file")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{_SECTION}.private_key_file {a.private_key_file!r} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{_SECTION}.private_key_file: Maskinporten grants are signed with RS256, the key must be RSA")
    if a.key_id:
        return MaskinportenCredentials(private_key_pem=key_pem, key_id=a.key_id)
    return MaskinportenCredentials(private_key_pem=key_pem, certificate_chain=_chain(a.certificate_chain_file, key))


def _read(path: str, key: str) -> bytes:
    if not Path(path).is_file():
        raise ConfigError(f"{_SECTION}.{key}: no such file {path!r}")
    return Path(path).read_bytes()


def _chain(path: str, key: rsa.RSAPrivateKey) -> tuple[bytes, ...]:
    try:
        certificates = x509.load_pem_x509_certificates(_read(path, "certificate_chain_file"))
    except ValueError as exc:
        raise ConfigError(f"{_SECTION}.certificate_chain_file {path!r} holds no PEM certificates: {exc}") from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    leaf = certificates[0].public_key().public_bytes(serialization.Encoding.DER, public)
    if leaf != key.public_key().public_bytes(serialization.Encoding.DER, public):
        raise ConfigError(
            f"{_SECTION}.certificate_chain_file: the first certificate (the leaf, {certificates[0].subject.rfc4514_string()}) "
            "does not belong to the key in private_key_file"
        )
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certificates)
