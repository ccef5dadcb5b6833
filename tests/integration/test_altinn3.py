"""Altinn 3 Correspondence channel and Maskinporten tokens against the loopback double."""
from __future__ import annotations

import hashlib
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.channels.altinn3 import Altinn3Channel, idempotent_key
from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter
from gateway.channels.maskinporten import MaskinportenClient, TokenProvider
from gateway.config import Altinn3Settings
from gateway.model import Document, Link, Party, PartyKind, PostalAddress, Shipment, Status
from tests.conftest import make_pdf
from tests.doubles.altinn3 import Altinn3Double

CLIENT_ID = "kommune-gateway"


def rsa_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.fixture
def altinn(client_key):
    public = client_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with Altinn3Double(public_key_pem=public, client_id=CLIENT_ID) as double:
        yield double


def provider(double, key, *, exchange: bool = True, **kwargs) -> TokenProvider:
    client = MaskinportenClient(
        token_url=double.url + "/token", audience=double.audience, client_id=CLIENT_ID,
        scope="altinn:correspondence.write", key_id="kid-1",
        exchange_url=double.url + "/authentication/api/v1/exchange/maskinporten" if exchange else "",
    )
    return TokenProvider(client, private_key_pem=rsa_pem(key), **kwargs)


def channel(double, key, **settings) -> Altinn3Channel:
    settings.setdefault("subscription_key", double.subscription_key)
    s = Altinn3Settings(enabled=True, base_url=double.url, resource_id="kommune-brev", timeout_seconds=2.0, **settings)
    return Altinn3Channel(s, tokens=provider(double, key))


def letter(*, fnr: str = "15076500565", kind: PartyKind = PartyKind.NO_PERSON, sid: str = "0b5b7f52-2f0e-4a55-9d7b-5a3f3f6f7a11"):
    pdfs = [make_pdf("Vedtak", pages=2), make_pdf("Vedlegg")]
    docs = tuple(
        Document(filename=name, media_type="application/pdf", size=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_ref="x")
        for name, data in zip(("Vedtak.pdf", "Vedlegg.pdf"), pdfs)
    )
    by_sha = {d.sha256: data for d, data in zip(docs, pdfs)}
    shipment = Shipment(
        id=sid, sender="kommune-sak", title="Vedtak om byggetillatelse",
        recipient=Party(identifier=fnr, kind=kind, address=PostalAddress(name="Ola", postcode="0155", city="Oslo")),
        sender_party=Party(identifier="974720760", kind=PartyKind.NO_ORGANIZATION, name="Eksempel kommune"),
        documents=docs,
        links=(Link(url="https://minside.kommune.no/sak/1234", text="Se saken din"), Link(url="https://minside.kommune.no/klage?sak=1", text="Klag")),
        external_ref="P360-1",
    )
    return Letter(shipment=shipment, content=lambda d: by_sha[d.sha256]), pdfs


def test_upload_follows_the_contract(altinn, client_key):
    ch = channel(altinn, client_key)
    let, pdfs = letter()
    receipt = ch.submit(let, idempotency_key=f"{let.shipment.id}:altinn3")
    assert receipt.status is Status.SENT_DIGITAL and receipt.reference in altinn.correspondences
    [upload] = altinn.uploads
    assert upload["errors"] == []  # the rebuilt JSON validated against the official OpenAPI schema
    body = upload["json"]
    assert body["Recipients"] == ["urn:altinn:person:identifier-no:15076500565"]
    assert body["Correspondence.SendersReference"] == let.shipment.id
    assert body["IdempotentKey"] == idempotent_key(f"{let.shipment.id}:altinn3")
    assert "[Se saken din](https://minside.kommune.no/sak/1234)" in body["Correspondence.Content.MessageBody"]
    assert body["Correspondence.PropertyList"]["eksternref"] == "P360-1"
    assert [f["data"] for f in upload["files"]] == pdfs
    assert [a["fileName"] for a in body["Correspondence.Content.Attachments"]] == ["Vedtak.pdf", "Vedlegg.pdf"]


def test_organisation_recipient_urn(altinn, client_key):
    let, _ = letter(fnr="974720760", kind=PartyKind.NO_ORGANIZATION)
    channel(altinn, client_key).submit(let, idempotency_key="k-org")
    assert altinn.uploads[0]["json"]["Recipients"] == ["urn:altinn:organization:identifier-no:974720760"]


def test_retry_with_same_key_creates_no_second_correspondence(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    first = ch.submit(let, idempotency_key="same-key")
    second = ch.submit(let, idempotency_key="same-key")
    assert first.reference == second.reference
    assert len(altinn.correspondences) == 1 and len(altinn.uploads) == 2


def test_poll_maps_statuses(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    receipt = ch.submit(let, idempotency_key="poll-key")
    [change] = ch.poll([receipt])
    assert change.status is Status.NOTIFIED
    altinn.mark_read(receipt.reference)
    assert ch.poll([receipt])[0].status is Status.READ
    altinn.mark_failed(receipt.reference)
    assert ch.poll([receipt])[0].status is Status.READ  # read first: a later status does not undo it
    other, _ = letter(sid="5d0c1f7e-8f6a-4c39-9a43-0f4f3c8f2b10")
    unread = ch.submit(other, idempotency_key="poll-key-2")
    altinn.mark_failed(unread.reference)
    [failed] = ch.poll([unread])
    assert failed.failed and "Failed" in failed.detail


def test_unavailable_timeout_and_rejection(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    altinn.fail_next(1, 503)
    with pytest.raises(ChannelUnavailable):
        ch.submit(let, idempotency_key="k1")
    altinn.stall_next(1, 3.0)  # longer than the 2 s timeout
    with pytest.raises(ChannelUnavailable):
        ch.submit(let, idempotency_key="k1")
    altinn.reserved.add("15076500565")
    with pytest.raises(ChannelRejected, match="1030"):
        ch.submit(let, idempotency_key="k2")


def test_maskinporten_token_is_verified_and_reused_until_expiry(altinn, client_key):
    now = [time.time()]
    altinn.verifier.clock = lambda: now[0]  # Maskinporten's clock moves with the client's
    tokens = provider(altinn, client_key, exchange=False, clock=lambda: now[0])
    first = tokens.token()
    assert tokens.token() == first and tokens.grants == 1
    [claims] = altinn.grants  # the double verified signature, aud, iss, scope, lifetime
    assert claims["iss"] == CLIENT_ID and claims["scope"] == "altinn:correspondence.write"
    now[0] += 61  # the double's tokens live 120 s; refreshed 60 s before expiry
    tokens.token()
    assert tokens.grants == 2 and len(altinn.grants) == 2


def test_a_wrong_key_is_refused_by_maskinporten(altinn):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ChannelRejected, match="refused the grant"):
        provider(altinn, other).token()
