"""The Maskinporten token endpoint's checks of a JWT grant, as docs.digdir.no describes them.

"maskinporten_protocol_jwtgrant": the header has ``alg`` RS256/RS384/RS512 and either ``kid`` (a key
registered on the client) or ``x5c`` (the business certificate chain, leaf first, base64 DER); the
body has aud, iss (the client id), iat, exp, jti and scope, and a claim the page does not document
gives 400 "Invalid assertion". iat must be within 10 s of the server's clock, exp at most 120 s
after iat. The page does not give the error code for a grant with neither kid nor x5c:
``invalid_client`` is assumed (the client cannot be authenticated). The real service also checks
that the certificate's organisation owns the client; the double only checks that it trusts the chain.
"""
from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ALGORITHMS = ["RS256", "RS384", "RS512"]
DOCUMENTED_CLAIMS = {"aud", "iss", "iat", "exp", "jti", "scope", "resource", "consumer_org", "authorization_details"}
IAT_SKEW = 10
MAX_LIFETIME = 120


class GrantRefused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


class GrantVerifier:
    """Verifies one assertion: the key it names, its signature and its claims."""

    def __init__(self, *, client_id: str, audience: str, scope: str, keys: dict[str, bytes],
                 trusted: Iterable[x509.Certificate] = (), clock: Callable[[], float] = time.time) -> None:
        self.client_id, self.audience, self.scope = client_id, audience, scope
        self.keys = keys  # kid → public key PEM registered on the client
        self.trusted = list(trusted)  # CA or leaf certificates the double trusts for x5c
        self.clock = clock

    def verify(self, assertion: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise GrantRefused("invalid_grant", f"Invalid assertion: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise GrantRefused("invalid_grant", f"Invalid assertion: alg {header.get('alg')!r} is not supported")
        if "kid" in header:
            key: Any = self.keys.get(header["kid"])
            if key is None:
                raise GrantRefused("invalid_client", f"Invalid assertion: no key {header['kid']!r} registered on the client")
        elif "x5c" in header:
            key = self._trusted_leaf(header["x5c"]).public_key()
        else:
            raise GrantRefused("invalid_client", "Invalid assertion: the header has neither kid nor x5c")
        try:
            claims = jwt.decode(assertion, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.client_id,
                                options={"require": ["exp", "iat", "jti", "aud", "iss", "scope"],  # times: below, by self.clock
                                         "verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except jwt.PyJWTError as exc:
            raise GrantRefused("invalid_grant", f"Invalid assertion: {exc}") from exc
        unknown = set(claims) - DOCUMENTED_CLAIMS
        if unknown:
            raise GrantRefused("invalid_grant", f"Invalid assertion: undocumented claims {sorted(unknown)}")
        if abs(claims["iat"] - self.clock()) > IAT_SKEW:
            raise GrantRefused("invalid_grant", "Invalid assertion: iat is not within 10 s of now")
        if claims["exp"] <= self.clock() - IAT_SKEW:
            raise GrantRefused("invalid_grant", "Invalid assertion: expired")
        if claims["exp"] - claims["iat"] > MAX_LIFETIME:
            raise GrantRefused("invalid_grant", "Invalid assertion: exp is more than 120 s after iat")
        if claims["scope"] != self.scope:
            raise GrantRefused("invalid_scope", f"Invalid scope {claims['scope']!r}")
        return claims

    def _trusted_leaf(self, x5c: Any) -> x509.Certificate:
        try:
            chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c]
        except (ValueError, TypeError) as exc:
            raise GrantRefused("invalid_grant", f"Invalid assertion: x5c is not a certificate chain: {exc}") from exc
        if not chain:
            raise GrantRefused("invalid_grant", "Invalid assertion: x5c is empty")
        now = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)
        for cert, issuer in zip(chain, chain[1:]):
            if not _issued_by(cert, issuer):
                raise GrantRefused("invalid_grant", "Invalid assertion: x5c is not a chain (leaf first)")
        leaf, top = chain[0], chain[-1]
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise GrantRefused("invalid_grant", "Invalid assertion: the certificate is not valid now")
        der = serialization.Encoding.DER
        trusted = {t.public_bytes(der) for t in self.trusted}
        if not any(c.public_bytes(der) in trusted for c in chain) and not any(_issued_by(top, t) for t in self.trusted):
            raise GrantRefused("invalid_client", f"Invalid assertion: certificate {leaf.subject.rfc4514_string()} is not trusted")
        return leaf


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def business_certificates(leaf_key: Any, *, organisation: str = "991825827", ca_key: Any = None
                          ) -> tuple[x509.Certificate, x509.Certificate]:
    """A test CA and a virksomhetssertifikat-like leaf for ``leaf_key`` (organisation number as serialNumber)."""
    ca_key = ca_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Virksomhet CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Eksempel kommune"),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, organisation)])
    leaf = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    return ca, leaf


def chain_pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
