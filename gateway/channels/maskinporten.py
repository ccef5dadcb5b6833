"""Maskinporten access tokens by the JWT-grant flow (RFC 7523), cached until they expire.

The client signs a short-lived JWT (``iss`` = client id, ``aud`` = Maskinporten, ``scope``,
``jti``) with its RSA key, names the key in the header by ``kid`` (registered on the client) or
``x5c`` (the business certificate chain, leaf first, base64 DER), posts it as
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and gets an access token. Altinn 3 wants that token exchanged for an Altinn token
(``exchange_url``); the exchange is skipped when the URL is empty. The key is loaded once:
parsing PEM per call spends tens of milliseconds on RSA key checks.
"""
from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.channels.base import ChannelRejected, ChannelUnavailable
from gateway.channels.http import environment_session

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskinportenClient:
    token_url: str
    audience: str
    client_id: str
    scope: str
    #: Exactly one of these names the key (checked at start-up, see gateway.config.maskinporten).
    key_id: str = ""
    certificate_chain: tuple[bytes, ...] = ()  # DER, leaf first
    exchange_url: str = ""
    assertion_lifetime: int = 120

    def header(self) -> dict[str, Any]:
        """The JWT header fields beside ``alg``: ``kid`` or ``x5c``."""
        if self.key_id:
            return {"kid": self.key_id}
        return {"x5c": [base64.b64encode(der).decode("ascii") for der in self.certificate_chain]}


class TokenProvider:
    """Thread-safe: one grant at a time, everyone reuses the token until shortly before expiry."""

    def __init__(
        self,
        client: MaskinportenClient,
        *,
        private_key_pem: bytes,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
        channel: str = "altinn3",
    ) -> None:
        self.client = client
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("Maskinporten assertions are signed with RS256: the private key must be an RSA key")
        self._key = key
        self._session = session or environment_session(client.token_url)
        self._timeout = timeout
        self._leeway = leeway
        self._clock = clock
        self._channel = channel
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.grants = 0  # how many times a token was fetched (for operators and tests)

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires - self._leeway:
                self._token, self._expires = self._fetch()
                self.grants += 1
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (after the API answered 401)."""
        with self._lock:
            self._token = None

    def assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "aud": self.client.audience,
            "iss": self.client.client_id,
            "scope": self.client.scope,
            "iat": now,
            "exp": now + self.client.assertion_lifetime,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers=self.client.header())

    def _fetch(self) -> tuple[str, float]:
        r = self._request("Maskinporten", "POST", self.client.token_url,
                          data={"grant_type": GRANT_TYPE, "assertion": self.assertion()})
        body = r.json()
        token, lifetime = body["access_token"], float(body.get("expires_in", 120))
        expires = self._clock() + lifetime
        if self.client.exchange_url:
            token, expires = self._exchange(token, expires)
        return token, expires

    def _request(self, who: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One call to the token service: 5xx and network trouble are transient, 4xx is not."""
        try:
            r = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            raise ChannelUnavailable(f"{who} is not reachable: {exc}", channel=self._channel) from exc
        if r.status_code >= 500:
            raise ChannelUnavailable(f"{who} answered {r.status_code}", channel=self._channel)
        if r.status_code != 200:
            raise ChannelRejected(f"{who} refused the grant ({r.status_code}): {r.text[:300]}", channel=self._channel)
        return r

    def _exchange(self, maskinporten_token: str, fallback_expiry: float) -> tuple[str, float]:
        r = self._request("the Altinn token exchange", "GET", self.client.exchange_url,
                          headers={"Authorization": f"Bearer {maskinporten_token}"})
        token = r.text.strip().strip('"')
        try:
            exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError:
            exp = None
        return token, float(exp) if exp else fallback_expiry
