"""Maskinporten grants with a business certificate chain (x5c) against the double's token endpoint."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.channels.base import ChannelRejected
from gateway.channels.factory import build_channels
from gateway.channels.maskinporten import GRANT_TYPE, MaskinportenClient, TokenProvider
from gateway.config import Altinn3Settings, ChannelSettings, PrintSettings, Settings
from gateway.config.checks import check
from gateway.model import Status
from tests.doubles.altinn3 import Altinn3Double
from tests.doubles.maskinporten import business_certificates, chain_pem
from tests.integration.test_altinn3 import CLIENT_ID, letter, rsa_pem

SCOPE = "altinn:correspondence.write"


@pytest.fixture
def certificates(client_key):
    return business_certificates(client_key)  # (CA, leaf)


@pytest.fixture
def altinn(certificates):
    """No key registered on the client: only a chain to the trusted CA gets a token."""
    ca, _ = certificates
    with Altinn3Double(client_id=CLIENT_ID, trusted_certificates=[ca]) as double:
        yield double


def der(*certificates) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certificates)


def provider(double, key, chain: tuple[bytes, ...]) -> TokenProvider:
    client = MaskinportenClient(token_url=double.url + "/token", audience=double.audience, client_id=CLIENT_ID,
                                scope=SCOPE, certificate_chain=chain)
    return TokenProvider(client, private_key_pem=rsa_pem(key), timeout=2.0)


def test_a_letter_is_delivered_with_an_x5c_grant(altinn, certificates, client_key, tmp_path):
    ca, leaf = certificates
    key_file, chain_file = tmp_path / "maskinporten.pem", tmp_path / "virksomhetssertifikat.pem"
    key_file.write_bytes(rsa_pem(client_key))
    chain_file.write_bytes(chain_pem(leaf, ca))
    settings = Settings(channels=ChannelSettings(
        altinn3=Altinn3Settings(enabled=True, base_url=altinn.url, resource_id="kommune-brev", token_url=altinn.url + "/token",
                                token_audience=altinn.audience, client_id=CLIENT_ID, private_key_file=str(key_file),
                                certificate_chain_file=str(chain_file), timeout_seconds=2.0,
                                subscription_key=altinn.subscription_key),
        print=PrintSettings(enabled=False),
    ))
    check(settings)
    channel = build_channels(settings)["altinn3"]
    let, _ = letter()
    receipt = channel.submit(let, idempotency_key=f"{let.shipment.id}:altinn3")
    assert receipt.status is Status.SENT_DIGITAL and receipt.reference in altinn.correspondences
    [claims] = altinn.grants
    assert claims["iss"] == CLIENT_ID and claims["scope"] == SCOPE


def test_the_leaf_alone_is_accepted_when_the_double_trusts_its_ca(altinn, certificates, client_key):
    _, leaf = certificates
    assert provider(altinn, client_key, der(leaf)).token()


def test_a_certificate_from_an_untrusted_ca_is_refused(altinn, client_key):
    ca, leaf = business_certificates(client_key)  # same key, another CA
    with pytest.raises(ChannelRejected, match="invalid_client.*not trusted"):
        provider(altinn, client_key, der(leaf, ca)).token()
    assert altinn.grants == []


def test_a_grant_signed_by_another_key_than_the_certificate_is_refused(altinn, certificates):
    ca, leaf = certificates
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ChannelRejected, match="Signature verification failed"):
        provider(altinn, other, der(leaf, ca)).token()


def test_a_chain_not_leaf_first_is_refused(altinn, certificates, client_key):
    ca, leaf = certificates
    with pytest.raises(ChannelRejected, match="not a chain"):
        provider(altinn, client_key, der(ca, leaf)).token()


def grant(double, key, *, headers: dict | None = None, **claims) -> requests.Response:
    now = int(time.time())
    body = {"aud": double.audience, "iss": CLIENT_ID, "scope": SCOPE, "iat": now, "exp": now + 120,
            "jti": str(uuid.uuid4()), **claims}
    assertion = jwt.encode(body, key, algorithm="RS256", headers=headers)
    return requests.post(double.url + "/token", data={"grant_type": GRANT_TYPE, "assertion": assertion}, timeout=5)


def test_a_grant_with_neither_kid_nor_x5c_is_refused(altinn, client_key):
    r = grant(altinn, client_key)
    assert r.status_code == 400 and r.json()["error"] == "invalid_client" and "neither kid nor x5c" in r.json()["error_description"]


def test_the_double_checks_the_claims_as_maskinporten_does(client_key, certificates):
    public = client_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with Altinn3Double(client_id=CLIENT_ID, public_key_pem=public, key_id="kid-1") as double:
        kid = {"kid": "kid-1"}
        assert grant(double, client_key, headers=kid).status_code == 200
        assert "no key 'kid-2'" in grant(double, client_key, headers={"kid": "kid-2"}).text
        now = int(time.time())
        refused = {
            "exp is more than 120 s after iat": {"exp": now + 121},
            "iat is not within 10 s": {"iat": now - 30, "exp": now + 60},
            "undocumented claims ['sub']": {"sub": CLIENT_ID},
            "Audience doesn't match": {"aud": double.url + "/token"},
            "Invalid issuer": {"iss": "someone-else"},
            "Invalid scope": {"scope": "altinn:serviceowner"},
        }
        for message, claims in refused.items():
            r = grant(double, client_key, headers=kid, **claims)
            assert r.status_code == 400 and message in r.text, (message, r.text)
        assert len(double.grants) == 1
