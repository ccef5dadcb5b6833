"""Digipost's request and response signatures (API v8, "sertifikatmodus").

Every request carries ``X-Digipost-UserId``, ``Date`` (RFC 1123), ``X-Content-SHA256`` (base64
SHA-256 of the body, when there is one) and ``X-Digipost-Signature``: base64 RSA-SHA256 (PKCS#1
v1.5) over the canonical string the official Java client builds
(``RequestMessageSignatureUtil``)::

    METHOD\\n
    /path (lower case)\\n
    content-md5: ...\\n  date: ...\\n  x-content-sha256: ...\\n  x-digipost-userid: ...\\n
    query (lower case)\\n

The headers are the four named ones that are present, in the sorted order of their names,
each as ``name-in-lower-case: value``. A response is signed the same way over its status code,
the request's path and the same headers (``ResponseMessageSignatureUtil``); the client checks
it against Digipost's certificate, its body against ``X-Content-SHA256`` and its ``Date``
against the clock (five minutes either way), and refuses the response otherwise.
"""
from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "DATE", "SIGNATURE", "SIGNED_HEADERS", "USER_ID", "CONTENT_SHA256", "SignatureProblem", "canonical_request",
    "canonical_response", "check_date", "content_hash", "http_date", "sign", "signed_headers", "verify",
]

USER_ID = "X-Digipost-UserId"
DATE = "Date"
CONTENT_SHA256 = "X-Content-SHA256"
SIGNATURE = "X-Digipost-Signature"
#: The headers that enter the canonical string, by their lower-case names.
SIGNED_HEADERS = frozenset({"content-md5", "date", "x-digipost-userid", "x-content-sha256"})


class SignatureProblem(Exception):
    """A signature, content hash or Date that does not hold."""


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.timezone.utc), usegmt=True)


def _headers(headers: Mapping[str, str]) -> str:
    chosen = sorted((name, value) for name, value in headers.items() if name.lower() in SIGNED_HEADERS)
    return "".join(f"{name.lower()}: {value}\n" for name, value in chosen)


def canonical_request(method: str, path: str, headers: Mapping[str, str], query: str = "") -> str:
    return f"{method.upper()}\n{path.lower()}\n{_headers(headers)}{query.lower()}\n"


def canonical_response(status: int, path: str, headers: Mapping[str, str]) -> str:
    return f"{status}\n{path.lower()}\n{_headers(headers)}"


def sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(public_key: rsa.RSAPublicKey, text: str, signature: str | None) -> None:
    """Raise :class:`SignatureProblem` unless ``signature`` (base64) signs ``text``."""
    if not signature or not signature.strip():
        raise SignatureProblem(f"missing {SIGNATURE} header")
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise SignatureProblem(f"{SIGNATURE} does not match") from exc


def check_date(value: str | None, *, now: dt.datetime, max_skew: dt.timedelta) -> None:
    """Raise :class:`SignatureProblem` for a missing, unreadable, too old or too new ``Date``."""
    if not value:
        raise SignatureProblem("missing Date header")
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise SignatureProblem(f"the Date header {value!r} is not an RFC 1123 date") from None
    if when.tzinfo is None:
        raise SignatureProblem(f"the Date header {value!r} has no zone")
    if when < now - max_skew:
        raise SignatureProblem(f"the Date header is too old: {value}")
    if when > now + max_skew:
        raise SignatureProblem(f"the Date header is too far ahead: {value}")


def signed_headers(key: rsa.RSAPrivateKey, *, method: str, path: str, query: str, user_id: str, body: bytes | None,
                   now: dt.datetime) -> dict[str, str]:
    """The four headers of a signed request (no content hash for a request without a body)."""
    headers = {DATE: http_date(now), USER_ID: user_id}
    if body is not None:
        headers[CONTENT_SHA256] = content_hash(body)
    headers[SIGNATURE] = sign(key, canonical_request(method, path, headers, query))
    return headers
