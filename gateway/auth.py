"""HTTP Basic authentication of sender systems.

Passwords are stored as scrypt hashes and compared in constant time; an unknown user
costs the same scrypt work as a known one, so timing tells nothing about which names exist.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from gateway import passwords
from gateway.config import SenderSettings
from gateway.errors import AuthenticationError, FaultCode

_DUMMY_HASH = passwords.hash_password("no such sender")


class Authenticator:
    def __init__(self, senders: Sequence[SenderSettings]) -> None:
        self._senders = {s.name: s for s in senders}
        self._cache = passwords.CredentialCache()

    def authenticate(self, authorization: str | None) -> SenderSettings:
        user, password = _parse_basic(authorization)
        sender = self._senders.get(user)
        encoded = sender.password_hash if sender else _DUMMY_HASH
        ok = self._cache.verify(user, password, encoded)
        if sender is None or not ok:
            raise AuthenticationError("wrong user name or password for the sender system", code=FaultCode.AUTHENTICATION_FAILED)
        return sender


def _parse_basic(authorization: str | None) -> tuple[str, str]:
    if not authorization:
        raise AuthenticationError("HTTP Basic credentials are required", code=FaultCode.AUTHENTICATION_FAILED)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        raise AuthenticationError("only HTTP Basic authentication is accepted", code=FaultCode.AUTHENTICATION_FAILED)
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("malformed HTTP Basic credentials", code=FaultCode.AUTHENTICATION_FAILED) from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationError("malformed HTTP Basic credentials", code=FaultCode.AUTHENTICATION_FAILED)
    return user, password
