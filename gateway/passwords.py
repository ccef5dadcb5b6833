"""Password hashing for sender systems (scrypt from the standard library).

Hashes look like ``scrypt$14$8$1$<salt b64>$<key b64>`` and are made with
``gateway hash-password``. Verification is constant-time. Because scrypt is slow by design,
:class:`CredentialCache` remembers successful checks under a per-process HMAC key, so a
busy case system does not pay the key derivation on every call.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading

_PREFIX = "scrypt"
DEFAULT_LOG2_N = 14
_R = 8
_P = 1


def hash_password(password: str, *, log2_n: int = DEFAULT_LOG2_N) -> str:
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, log2_n, _R, _P)
    return "$".join((_PREFIX, str(log2_n), str(_R), str(_P), _b64(salt), _b64(key)))


def is_hash(value: object) -> bool:
    return isinstance(value, str) and _parse(value) is not None


def verify_password(password: str, encoded: str) -> bool:
    parsed = _parse(encoded)
    if parsed is None:
        return False
    log2_n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, log2_n, r, p), key)


class CredentialCache:
    """Remembers (user, password) pairs that verified, as HMACs under a random key."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: dict[str, bytes] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def _mac(self, user: str, password: str, encoded: str) -> bytes:
        msg = "\0".join((user, password, encoded)).encode("utf-8")
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def verify(self, user: str, password: str, encoded: str) -> bool:
        mac = self._mac(user, password, encoded)
        with self._lock:
            known = self._seen.get(user)
        if known is not None and hmac.compare_digest(known, mac):
            return True
        if not verify_password(password, encoded):
            return False
        with self._lock:
            if len(self._seen) >= self._max:
                self._seen.clear()
            self._seen[user] = mac
        return True


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=1 << log2_n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
        return None
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if not (1 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16 and salt and key):
        return None
    return log2_n, r, p, salt, key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
