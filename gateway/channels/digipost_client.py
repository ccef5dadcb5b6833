"""Signed HTTP to Digipost's API v8, as the official Java client talks to it.

Every request is signed (:mod:`digipost_signing`); every answer but the entrypoint's is
checked before it is read: its ``Date`` within the allowed skew, its body against
``X-Content-SHA256`` and its ``X-Digipost-Signature`` against Digipost's certificate (pinned in
the settings, or the one the entrypoint ``GET /`` names, read once). An answer that fails a
check is not trusted: the call counts as failed for now (:class:`ChannelUnavailable`), so the
letter is tried again rather than recorded on a forged word.

Paths come from the entrypoint's links (``create_message``, ``create_batch``, ``get_batch``),
and a batch's own links (``complete_batch``), as in the Java client; document status is read at
``/documents/{sender}/{uuid}/status``.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.channels.base import ChannelUnavailable
from gateway.channels.digipost_messages import (
    MEDIA_TYPE,
    BatchInfo,
    DeliveryAnswer,
    DocumentStatusAnswer,
    batch_xml,
    parse_batch,
    parse_delivery,
    parse_document_status,
    parse_entrypoint,
    parse_error,
)
from gateway.channels.digipost_signing import (
    CONTENT_SHA256,
    DATE,
    SIGNATURE,
    SignatureProblem,
    canonical_response,
    check_date,
    content_hash,
    signed_headers,
    verify,
)
from gateway.channels.http import environment_session, retry_after_seconds
from gateway.config import DigipostSettings
from gateway.errors import GatewayError
from gateway.model import utcnow

logger = logging.getLogger(__name__)

NAME = "print"
T = TypeVar("T")


def _read(parse: Callable[[bytes], T], data: bytes) -> T:
    """An answer read by ``parse``; one that is not what it should be counts as a failed call."""
    try:
        return parse(data)
    except (GatewayError, ValueError) as exc:
        raise ChannelUnavailable(f"Digipost's answer cannot be read: {exc}", channel=NAME) from exc


class DigipostRefused(Exception):
    """Digipost refused the request (4xx): no retry changes that."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Digipost refused it ({status} {code or 'no error code'}): {message or 'no message'}")
        self.status, self.code, self.message = status, code, message


class DigipostClient:
    def __init__(self, settings: DigipostSettings, *, key: rsa.RSAPrivateKey, server_certificate: x509.Certificate | None,
                 clock: Callable[[], dt.datetime] = utcnow, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.key = key
        self.clock = clock
        self.session = session or environment_session(self.base_url)
        self._certificate = server_certificate
        self._links: dict[str, str] | None = None
        self._lock = threading.Lock()

    # --- the API ---

    def send_message(self, body: bytes, content_type: str) -> DeliveryAnswer:
        return _read(parse_delivery, self._call("POST", self._link("create_message"), body=body, content_type=content_type))

    def create_batch(self, batch_uuid: str) -> BatchInfo:
        answer = self._call("POST", self._link("create_batch"), body=batch_xml(batch_uuid), content_type=MEDIA_TYPE)
        return _read(parse_batch, answer)

    def batch(self, batch_uuid: str) -> BatchInfo:
        return _read(parse_batch, self._call("GET", urljoin(self._link("get_batch"), batch_uuid)))

    def commit_batch(self, batch: BatchInfo) -> BatchInfo:
        link = batch.links.get("complete_batch")
        if not link:
            raise ChannelUnavailable(f"Digipost gave batch {batch.uuid} no complete_batch link", channel=NAME)
        return _read(parse_batch, self._call("POST", link))

    def document_status(self, sender_id: str, document_uuid: str) -> DocumentStatusAnswer:
        return _read(parse_document_status, self._call("GET", f"/documents/{sender_id}/{document_uuid}/status"))

    # --- the entrypoint ---

    def _link(self, relation: str) -> str:
        links = self._entrypoint()
        if relation not in links:
            raise ChannelUnavailable(f"Digipost's entrypoint has no {relation} link", channel=NAME)
        return links[relation]

    def _entrypoint(self) -> dict[str, str]:
        with self._lock:
            if self._links is None:
                certificate, links = _read(parse_entrypoint, self._call("GET", "/", signed_answer=False))
                if self._certificate is None:
                    try:
                        self._certificate = x509.load_pem_x509_certificate(certificate.encode())
                    except ValueError as exc:
                        raise ChannelUnavailable(f"Digipost's entrypoint gave no usable certificate: {exc}", channel=NAME) from exc
                self._links = links
            return self._links

    # --- one signed exchange ---

    def _call(self, method: str, target: str, *, body: bytes | None = None, content_type: str | None = None,
              signed_answer: bool = True) -> bytes:
        url = urljoin(self.base_url + "/", target)
        parts = urlsplit(url)
        headers = {"Accept": MEDIA_TYPE, **signed_headers(
            self.key, method=method, path=parts.path, query=parts.query, user_id=self.settings.broker_id, body=body,
            now=self.clock())}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self.session.request(method, url, data=body, headers=headers, timeout=self.settings.timeout_seconds,
                                            allow_redirects=False)
        except requests.RequestException as exc:
            raise ChannelUnavailable(f"Digipost cannot be reached: {type(exc).__name__}", channel=NAME) from exc
        data = response.content
        if signed_answer:
            try:
                self._check_answer(response, parts.path, data)
            except SignatureProblem as exc:
                logger.error("Digipost answer to %s %s not trusted: %s", method, parts.path, exc)
                raise ChannelUnavailable(f"Digipost's answer was not trusted: {exc}", channel=NAME) from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise ChannelUnavailable(f"Digipost answered {response.status_code}", channel=NAME,
                                     retry_after=retry_after_seconds(response.headers.get("Retry-After"), now=self.clock()))
        if response.status_code >= 400:
            code, message = parse_error(data)
            raise DigipostRefused(response.status_code, code, message)
        if response.status_code >= 300:
            raise ChannelUnavailable(f"Digipost answered {response.status_code}", channel=NAME)
        return data

    def _check_answer(self, response: requests.Response, path: str, data: bytes) -> None:
        check_date(response.headers.get(DATE), now=self.clock(),
                   max_skew=dt.timedelta(seconds=self.settings.max_clock_skew_seconds))
        if data:
            expected = response.headers.get(CONTENT_SHA256)
            if not expected:
                raise SignatureProblem(f"missing {CONTENT_SHA256} header for a body")
            if expected != content_hash(data):
                raise SignatureProblem(f"{CONTENT_SHA256} does not match the body")
        certificate = self._certificate
        if certificate is None:
            self._entrypoint()
            certificate = self._certificate
        public_key = certificate.public_key() if certificate is not None else None
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SignatureProblem("Digipost's certificate has no RSA key")
        text = canonical_response(response.status_code, path, dict(response.headers))
        verify(public_key, text, response.headers.get(SIGNATURE))
