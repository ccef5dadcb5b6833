"""KOMBIT's two-step login for Serviceplatformen (SF1601 and the other KOMBIT services).

1. A SAML token from the security token service: ``POST …/runtime/api/rest/wstrust/v1/issue``
   with JSON naming the authority (``AnvenderKontekst.Cvr``), the system certificate on one
   line (``UseKey``) and the service it is for (``AppliesTo.EndpointReference.Address``, the
   service's entity id). The answer's ``RequestedSecurityToken.Assertion`` is the base64 of a
   SAML assertion whose ``Conditions/@NotOnOrAfter`` says when it ends.
2. An access token for that SAML token: ``POST …/service/AccessTokenService_1/token`` with the
   form field ``saml-token``; the JSON answer (``access_token``, ``token_type`` =
   ``Holder-of-key``, ``expires_in``) becomes ``Authorization: Holder-of-key <token>``.

Both calls use mutual TLS with the same certificate. Tokens are per entity id and kept until
``margin`` before they end, so a busy gateway makes one STS round trip per token lifetime, not
one per letter (sources: itk-dev/serviceplatformen ``AbstractRESTService.php``,
itk-dev-rpa/python-serviceplatformen ``authentication.py``).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.channels.base import ChannelUnavailable
from gateway.xml.parser import make_parser

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
REQUEST_TYPE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
KEY_TYPE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"


def one_line_certificate(pem: bytes) -> str:
    """The first certificate of a PEM file as STS wants it in ``UseKey``: base64 DER on one
    line, without the BEGIN/END lines."""
    cert = x509.load_pem_x509_certificate(pem)
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def issue_request(*, cvr: str, use_key: str, entity_id: str) -> dict[str, Any]:
    """The STS request body, field for field as KOMBIT's STS reads it."""
    return {
        "TokenType": TOKEN_TYPE,
        "RequestType": REQUEST_TYPE,
        "KeyType": KEY_TYPE,
        "AnvenderKontekst": {"Cvr": cvr},
        "UseKey": use_key,
        "AppliesTo": {"EndpointReference": {"Address": entity_id}},
        "OnBehalfOf": None,
    }


def assertion_expiry(assertion_b64: str) -> dt.datetime:
    """``Conditions/@NotOnOrAfter`` of a base64 SAML assertion (a ValueError when it has none)."""
    try:
        xml = base64.b64decode("".join(assertion_b64.split()), validate=True)
        root = etree.fromstring(xml, make_parser())
    except (binascii.Error, etree.XMLSyntaxError) as exc:
        raise ValueError(f"the SAML assertion is not base64 XML: {exc}") from None
    conditions = root if root.tag == f"{{{SAML_NS}}}Conditions" else root.find(f".//{{{SAML_NS}}}Conditions")
    value = conditions.get("NotOnOrAfter") if conditions is not None else None
    if not value:
        raise ValueError("the SAML assertion has no Conditions/@NotOnOrAfter")
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class _Held:
    value: str
    renew_at: dt.datetime


class KombitTokens:
    """SAML and access tokens per entity id, fetched when missing or about to end (thread-safe:
    one worker fetches while the others wait for its token)."""

    def __init__(self, session: requests.Session, *, channel: str, sts_url: str, access_token_url: str, cvr: str,
                 use_key: str, margin: dt.timedelta, timeout: float, clock: Callable[[], dt.datetime]) -> None:
        self.session = session
        self.channel = channel
        self.sts_url = sts_url
        self.access_token_url = access_token_url
        self.cvr = cvr
        self.use_key = use_key
        self.margin = margin
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._saml: dict[str, _Held] = {}
        self._access: dict[str, _Held] = {}

    def authorization(self, entity_id: str) -> str:
        """The ``Authorization`` header value for a call to the service ``entity_id``."""
        with self._lock:
            held = self._access.get(entity_id)
            if held is None or self.clock() >= held.renew_at:
                held = self._fetch_access(self._saml_locked(entity_id))
                self._access[entity_id] = held
            return held.value

    def saml_assertion(self, entity_id: str) -> str:
        """The base64 SAML assertion for ``entity_id`` (Beskedfordeler logs in with it decoded)."""
        with self._lock:
            return self._saml_locked(entity_id)

    def forget(self, entity_id: str) -> None:
        """Drop the tokens of ``entity_id`` (the service answered 401: they ended early)."""
        with self._lock:
            self._access.pop(entity_id, None)
            self._saml.pop(entity_id, None)

    # --- the two calls ---

    def _saml_locked(self, entity_id: str) -> str:
        held = self._saml.get(entity_id)
        if held is None or self.clock() >= held.renew_at:
            body = self._post_json(self.sts_url, "the security token service",
                                   json=issue_request(cvr=self.cvr, use_key=self.use_key, entity_id=entity_id))
            token = body.get("RequestedSecurityToken")
            assertion = token.get("Assertion") if isinstance(token, dict) else None
            if not isinstance(assertion, str) or not assertion:
                raise ChannelUnavailable(f"the security token service answered without RequestedSecurityToken.Assertion: "
                                         f"{str(body)[:300]}", channel=self.channel)
            try:
                expires = assertion_expiry(assertion)
            except ValueError as exc:
                raise ChannelUnavailable(f"the security token service's SAML token: {exc}", channel=self.channel) from None
            held = _Held(assertion, expires - self.margin)
            self._saml[entity_id] = held
        return held.value

    def _fetch_access(self, assertion: str) -> _Held:
        body = self._post_json(self.access_token_url, "the access token service", data={"saml-token": assertion})
        token, kind, expires_in = body.get("access_token"), body.get("token_type"), body.get("expires_in")
        if not (isinstance(token, str) and token and isinstance(kind, str) and kind
                and isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool)):
            raise ChannelUnavailable(f"the access token service answered without access_token, token_type and "
                                     f"expires_in: {str(body)[:300]}", channel=self.channel)
        return _Held(f"{kind} {token}", self.clock() + dt.timedelta(seconds=float(expires_in)) - self.margin)

    def _post_json(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            r = self.session.post(url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ChannelUnavailable(f"{what} is not reachable (mutual TLS refused, or no answer): {exc}",
                                     channel=self.channel) from exc
        if r.status_code != 200:
            raise ChannelUnavailable(f"{what} answered {r.status_code}: {r.text[:300]}", channel=self.channel)
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ChannelUnavailable(f"{what} answered without a JSON object: {r.text[:300]}", channel=self.channel)
        return body
