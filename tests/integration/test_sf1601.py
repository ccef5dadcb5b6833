"""SF1601 via Serviceplatformen: the double refuses what the service refuses, and the channel
sends what it takes (STS → access token → Holder-of-key, transaction headers, kombi_request),
all over real mutual TLS on loopback."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from gateway.channels.base import ChannelRejected, Letter
from gateway.channels.sf1601 import Sf1601Channel
from gateway.channels.sf1601_tokens import one_line_certificate
from gateway.channels.sf1601_xml import kombi_request
from gateway.config import ConfigError, DigitalPostSettings
from gateway.config.sections import Sf1601Settings
from gateway.dispatch.register import CompositeRegister
from gateway.dispatch.routing import Reachability
from gateway.mapping.memo_out import shipment_to_memo
from gateway.model import Document, DocumentRole, Party, PartyKind, PostalAddress, PrintOptions, Shipment, Status
from tests.conftest import make_pdf
from tests.doubles.digitalpost import Pki, make_pki
from tests.doubles.sf1601 import (
    DKAL_NS, FJERNPRINT_NS, LOOKUP_ENTITY, LOOKUP_PATH, MEMO_NS, SEND_ENTITY, SEND_PATHS, STS_PATH, TOKEN_PATH, Sf1601Double,
)

CVR = "29189498"
CPR = "2211771212"
PDF = make_pdf("Afgørelse", pages=2)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def double(pki: Pki) -> Iterator[Sf1601Double]:
    with Sf1601Double(pki, cvr=CVR) as d:
        yield d


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


def settings(double: Sf1601Double, pki: Pki, **sf: object) -> DigitalPostSettings:
    return DigitalPostSettings(enabled=True, transport="sf1601", base_url=double.url, client_certificate=str(pki.client_cert),
                               client_private_key=str(pki.client_key), ca_bundle=str(pki.ca_cert), timeout_seconds=5.0,
                               sf1601=Sf1601Settings(authority_cvr=CVR, sts_url=double.sts_url, **sf))  # type: ignore[arg-type]


@pytest.fixture
def make_channel(double: Sf1601Double, pki: Pki) -> Iterator:
    made: list[Sf1601Channel] = []

    def make(*, clock: Clock | None = None, **sf: object) -> Sf1601Channel:
        clock = clock or Clock()
        ch = Sf1601Channel(settings(double, pki, **sf), clock=clock,
                           render=lambda letter: shipment_to_memo(letter.shipment, content=letter.content, now=clock()))
        made.append(ch)
        return ch

    yield make
    for ch in made:
        ch.close()


def document(name: str = "afgoerelse.pdf", *, role: DocumentRole = DocumentRole.MAIN, media_type: str = "application/pdf",
             data: bytes = PDF) -> Document:
    return Document(filename=name, media_type=media_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                    storage_ref=name, role=role)


def letter(*, identifier: str = CPR, kind: PartyKind = PartyKind.DK_CPR, documents: tuple[Document, ...] | None = None,
           address: PostalAddress | None = None, shipment_id: str | None = None) -> Letter:
    address = address or PostalAddress(name="Test Testesen", lines=("Testvej 3, 2. tv",), postcode="2300", city="København S",
                                       country="DK")
    docs = (document(),) if documents is None else documents
    data = {d.filename: (PDF if d.media_type == "application/pdf" else b"hello") for d in docs}
    shipment = Shipment(id=shipment_id or str(uuid.uuid4()), sender="kommune-sak", title="Afgørelse om boligstøtte",
                        recipient=Party(identifier=identifier, kind=kind, name="Test Testesen", address=address),
                        sender_party=Party(identifier=CVR, kind=PartyKind.DK_CVR, name="Eksempel Kommune"),
                        documents=docs, print_options=PrintOptions(duplex=True))
    return Letter(shipment=shipment, content=lambda d: data[d.filename])


# ---------------------------------------------------------------- the double refuses


def _session(pki: Pki, *, cert: bool = True) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would replace verify
    s.verify = str(pki.ca_cert)
    if cert:
        s.cert = (str(pki.client_cert), str(pki.client_key))
    return s


def _issue_body(pki: Pki, entity: str = SEND_ENTITY, **changes: object) -> dict:
    body = {"TokenType": "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0",
            "RequestType": "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
            "KeyType": "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey",
            "AnvenderKontekst": {"Cvr": CVR}, "UseKey": one_line_certificate(pki.client_cert.read_bytes()),
            "AppliesTo": {"EndpointReference": {"Address": entity}}, "OnBehalfOf": None}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def _token(double: Sf1601Double, pki: Pki, entity: str = SEND_ENTITY) -> str:
    s = _session(pki)
    saml = s.post(double.url + STS_PATH, json=_issue_body(pki, entity), timeout=5).json()["RequestedSecurityToken"]["Assertion"]
    answer = s.post(double.url + TOKEN_PATH, data={"saml-token": saml}, timeout=5).json()
    assert answer["token_type"] == "Holder-of-key"
    return f"Holder-of-key {answer['access_token']}"


def _memo_xml() -> bytes:
    let = letter()
    return shipment_to_memo(let.shipment, content=let.content, now=dt.datetime.now(dt.timezone.utc))[1]


def _send(double: Sf1601Double, pki: Pki, body: bytes, *, authorization: str | None, **headers: str | None) -> requests.Response:
    base = {"Authorization": authorization, "x-TransaktionsId": str(uuid.uuid4()),
            "x-TransaktionsTid": "2026-12-02T18:00:00Z", "Content-Type": "application/xml"}
    base.update(headers)
    return _session(pki).post(double.url + SEND_PATHS[0], data=body,
                              headers={k: v for k, v in base.items() if v is not None}, timeout=5)


def test_double_refuses_a_client_without_certificate(double, pki):
    with pytest.raises(requests.exceptions.ConnectionError):
        _session(pki, cert=False).post(double.url + STS_PATH, json=_issue_body(pki), timeout=5)
    assert double.issued == []


@pytest.mark.parametrize("change, reason", [
    ({"AnvenderKontekst": {}}, "Cvr"),
    ({"AnvenderKontekst": {"Cvr": "12345678"}}, "Cvr"),
    ({"TokenType": "urn:jwt"}, "TokenType"),
    ({"UseKey": ...}, "UseKey"),
    ({"UseKey": "MIIB"}, "UseKey"),
    ({"AppliesTo": {"EndpointReference": {"Address": "http://entityid.kombit.dk/service/unknown/1"}}}, "AppliesTo"),
])
def test_double_sts_refuses_a_request_without_cvr_usekey_or_known_service(double, pki, change, reason):
    r = _session(pki).post(double.url + STS_PATH, json=_issue_body(pki, **change), timeout=5)
    assert r.status_code == 400 and reason in r.json()["error"]
    assert double.issued == []


def test_double_token_service_refuses_a_saml_token_it_did_not_issue(double, pki):
    fake = base64.b64encode(b"<saml:Assertion xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion'/>").decode()
    r = _session(pki).post(double.url + TOKEN_PATH, data={"saml-token": fake}, timeout=5)
    assert r.status_code == 401


def test_double_token_service_wants_a_form(double, pki):
    s = _session(pki)
    saml = s.post(double.url + STS_PATH, json=_issue_body(pki), timeout=5).json()["RequestedSecurityToken"]["Assertion"]
    assert s.post(double.url + TOKEN_PATH, json={"saml-token": saml}, timeout=5).status_code == 400


def _forsendelse_body(memo: bytes, change=None, *, prefix: str = "fjernprint") -> bytes:
    from gateway.channels.sf1601_xml import forsendelse_i

    let = letter()
    f = forsendelse_i(let.shipment, content=let.content, reference=let.shipment.id, forsendelse_type=265, post_kategori="Prioritaire")
    if change:
        change(f)
    body = kombi_request("Fysisk Post", memo, f)
    for old in ("<fjernprint:", "</fjernprint:", "xmlns:fjernprint="):
        body = body.replace(old.encode(), old.replace("fjernprint", prefix).encode())
    return body


def _drop(local: str, ns: str = FJERNPRINT_NS):
    return lambda f: f.remove(f.find(f"{{{ns}}}{local}"))


def _set(path: str, text: str):
    def change(f):
        f.find(path).text = text
    return change


@pytest.mark.parametrize("change, reason", [
    (_drop("AfsendelseIdentifikator"), "AfsendelseIdentifikator"),
    (_drop("ForsendelseTypeIdentifikator"), "ForsendelseTypeIdentifikator"),
    (_set(f"{{{DKAL_NS}}}FilformatNavn", "DOCX"), "FilformatNavn"),
    (_set(f"{{{DKAL_NS}}}MeddelelseIndholdData", base64.b64encode(b"hello").decode()), "PDF"),
    (_drop("DokumentParametre"), "DokumentParametre"),
    (_set(f"{{{FJERNPRINT_NS}}}PostParametre/{{{FJERNPRINT_NS}}}PostKategoriKode", "Express"), "PostKategoriKode"),
    (_drop("ForsendelseModtager"), "ModtagerAdresse"),
])
def test_double_refuses_a_forsendelse_without_what_remote_print_needs(double, pki, change, reason):
    token = _token(double, pki)
    assert _send(double, pki, _forsendelse_body(_memo_xml()), authorization=token).status_code == 200  # the unchanged one passes
    r = _send(double, pki, _forsendelse_body(_memo_xml(), change), authorization=token)
    assert r.status_code == 400 and reason in r.json()["error"]
    assert len(double.sends) == 1


def test_double_refuses_a_forsendelse_without_the_literal_fjernprint_prefix(double, pki):
    r = _send(double, pki, _forsendelse_body(_memo_xml(), prefix="fp"), authorization=_token(double, pki))
    assert r.status_code == 400 and "literal fjernprint:" in r.json()["error"]


def test_double_refuses_a_memo_version_it_does_not_know(double, pki):
    memo = re.sub(rb'memoVersion="[^"]*"', b'memoVersion="2.0"', _memo_xml(), count=1)
    assert b'memoVersion="2.0"' in memo
    r = _send(double, pki, b"<kombi_request><KombiValgKode>Digital Post</KombiValgKode>" + memo.split(b"?>", 1)[1] + b"</kombi_request>",
              authorization=_token(double, pki))
    assert r.status_code == 400 and "memoVersion" in r.json()["error"]


def test_double_send_needs_a_holder_of_key_token_for_the_send_service(double, pki):
    body = kombi_request("Digital Post", _memo_xml())
    assert _send(double, pki, body, authorization=None).status_code == 401
    assert _send(double, pki, body, authorization=_token(double, pki, LOOKUP_ENTITY)).status_code == 401  # wrong service
    token = _token(double, pki)
    assert _send(double, pki, body, authorization=token.replace("Holder-of-key", "Bearer")).status_code == 401
    assert _send(double, pki, body, authorization=token).status_code == 200


def test_double_answers_an_expired_token_401(double, pki):
    token = _token(double, pki)
    double.expire_tokens()
    r = _send(double, pki, kombi_request("Digital Post", _memo_xml()), authorization=token)
    assert r.status_code == 401 and "expired" in r.json()["error"]


@pytest.mark.parametrize("header, value", [
    ("x-TransaktionsId", None), ("x-TransaktionsId", "letter-1"), ("x-TransaktionsTid", None), ("x-TransaktionsTid", "yesterday"),
])
def test_double_send_needs_the_transaction_headers(double, pki, header, value):
    r = _send(double, pki, kombi_request("Digital Post", _memo_xml()), authorization=_token(double, pki), **{header: value})
    assert r.status_code == 400 and header in r.json()["error"]
    assert double.sends == []


def _default_namespace(memo: bytes) -> bytes:
    root = etree.fromstring(memo)
    clean = etree.Element(f"{{{MEMO_NS}}}Message", nsmap={None: MEMO_NS}, attrib=dict(root.attrib))
    clean.extend(list(root))
    return etree.tostring(clean)


def _invalid_memo(memo: bytes) -> bytes:
    root = etree.fromstring(memo)
    root.find(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}messageUUID").text = "not-a-uuid"
    return etree.tostring(root)


@pytest.mark.parametrize("body, reason", [
    (lambda memo: memo.replace(b"<?xml version='1.0' encoding='UTF-8'?>\n", b""), "kombi_request"),
    (lambda memo: b"<kombi_request><KombiValgKode>Brev</KombiValgKode>" + memo.split(b"?>", 1)[1] + b"</kombi_request>", "KombiValgKode"),
    (lambda memo: b"<kombi_request><KombiValgKode>Digital Post</KombiValgKode>" + _default_namespace(memo) + b"</kombi_request>", "literal memo:"),
    (lambda memo: b"<kombi_request><KombiValgKode>Digital Post</KombiValgKode>" + _invalid_memo(memo) + b"</kombi_request>", "not valid"),
    (lambda memo: b"<kombi_request><KombiValgKode>Digital Post</KombiValgKode></kombi_request>", "needs a memo:Message"),
    (lambda memo: b"<kombi_request><KombiValgKode>Fysisk Post</KombiValgKode>" + memo.split(b"?>", 1)[1] + b"</kombi_request>", "ForsendelseI"),
])
def test_double_refuses_a_kombi_request_the_service_refuses(double, pki, body, reason):
    r = _send(double, pki, body(_memo_xml()), authorization=_token(double, pki))
    assert r.status_code == 400 and reason in r.json()["error"]
    assert double.sends == []


def test_double_lookup_needs_its_own_token_and_the_headers(double, pki):
    url = double.url + LOOKUP_PATH
    s = _session(pki)
    assert s.get(url, params={"cprNumber": CPR}, headers={"Authorization": _token(double, pki), "x-TransaktionsId": str(uuid.uuid4()),
                                                          "x-TransaktionsTid": "2026-12-02T18:00:00Z"}, timeout=5).status_code == 401
    token = _token(double, pki, LOOKUP_ENTITY)
    assert s.get(url, params={"cprNumber": CPR}, headers={"Authorization": token}, timeout=5).status_code == 400
    headers = {"Authorization": token, "x-TransaktionsId": str(uuid.uuid4()), "x-TransaktionsTid": "2026-12-02T18:00:00Z"}
    assert s.get(url, params={"pnr": CPR}, headers=headers, timeout=5).status_code == 400
    r = s.get(url, params={"cprNumber": CPR}, headers={"Authorization": token, "x-TransaktionsId": str(uuid.uuid4()),
                                                       "x-TransaktionsTid": "2026-12-02T18:00:00Z"}, timeout=5)
    assert r.status_code == 200 and r.json() == {"result": False}  # unknown: false, not 404


# ---------------------------------------------------------------- the channel


def test_letter_goes_with_both_tokens_and_the_transaction_headers(double, pki, make_channel):
    let = letter()
    receipt = make_channel().submit(let, idempotency_key="k1")
    assert receipt.status is Status.SENT_DIGITAL and receipt.reference == let.shipment.id
    assert receipt.extra["kombi_valg_kode"] == "Digital Post" and receipt.extra["transmission_id"]
    [request] = double.issued
    assert request["AnvenderKontekst"] == {"Cvr": CVR}
    assert request["UseKey"] == one_line_certificate(pki.client_cert.read_bytes())
    assert "BEGIN" not in request["UseKey"] and "\n" not in request["UseKey"]
    assert request["AppliesTo"] == {"EndpointReference": {"Address": SEND_ENTITY}}
    [send] = double.sends
    assert send.path == "/service/KombiPostAfsend_1/kombi"
    assert send.transaction_id == let.shipment.id  # = messageUUID = reference: what the events carry
    assert ISO.fullmatch(send.transaction_time)
    assert send.kombi_valg_kode == "Digital Post" and send.forsendelse is None
    assert send.memo.findtext(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}messageUUID") == let.shipment.id
    assert send.body.split(b"?>", 1)[1].lstrip().startswith(b"<kombi_request><KombiValgKode>Digital Post</KombiValgKode><memo:Message")
    assert double.refused == []


def test_send_path_is_a_setting(double, make_channel):
    make_channel(send_path="/service/KombiPostAfsend_1/memos").submit(letter(), idempotency_key="k")
    assert double.sends[0].path == "/service/KombiPostAfsend_1/memos"


def test_one_sts_round_trip_per_token_lifetime_not_per_letter(double, make_channel):
    clock = Clock()
    ch = make_channel(clock=clock, token_margin_seconds=300)
    for i in range(5):
        ch.submit(letter(), idempotency_key=f"k{i}")
    assert len(double.issued) == 1 and double.access_tokens_issued == 1 and len(double.sends) == 5
    clock.now += dt.timedelta(seconds=3600 - 299)  # inside the margin before the access token ends
    ch.submit(letter(), idempotency_key="k-late")
    assert len(double.issued) == 1 and double.access_tokens_issued == 2  # the SAML token (8 h) still serves
    clock.now += dt.timedelta(hours=8)
    ch.submit(letter(), idempotency_key="k-later")
    assert len(double.issued) == 2 and double.access_tokens_issued == 3


def test_a_token_refused_as_expired_is_renewed_once(double, make_channel):
    ch = make_channel()
    ch.submit(letter(), idempotency_key="k1")
    double.expire_tokens()
    ch.submit(letter(), idempotency_key="k2")
    assert len(double.sends) == 2 and double.access_tokens_issued == 2
    assert double.refused == ["the access token has expired"]


def test_registration_lookup(double, make_channel):
    ch = make_channel()
    double.registered[CPR] = True
    double.registered["12345678"] = False
    assert ch.is_registered("CPR", CPR) is True
    assert ch.is_registered("CVR", "12345678") is False
    assert ch.is_registered("CPR", "0101010101") is False
    assert double.lookups == [("cprNumber", CPR), ("cvrNumber", "12345678"), ("cprNumber", "0101010101")]
    assert [r["AppliesTo"]["EndpointReference"]["Address"] for r in double.issued] == [LOOKUP_ENTITY]
    with pytest.raises(ValueError):
        ch.is_registered("SSN", "1")


def test_unregistered_recipient_gets_fysisk_post_when_sf1601_prints(double, make_channel):
    ch = make_channel(physical_post="sf1601", forsendelse_type_identifikator=265)
    assert ch.carries_physical_post
    attachment = document("bilag.pdf", role=DocumentRole.ATTACHMENT)
    let = letter(documents=(document(), attachment))
    receipt = ch.submit(let, idempotency_key="k")
    assert receipt.status is Status.SENT_TO_PRINT and receipt.reference == let.shipment.id
    [send] = double.sends
    assert send.kombi_valg_kode == "Fysisk Post" and send.memo is not None
    f, fp, dk = send.forsendelse, f"{{{FJERNPRINT_NS}}}", f"{{{DKAL_NS}}}"
    assert f.findtext(fp + "AfsendelseIdentifikator") == let.shipment.id == send.transaction_id
    assert f.findtext(fp + "ForsendelseTypeIdentifikator") == "265"
    assert f.findtext(dk + "FilformatNavn") == "PDF"
    assert base64.b64decode(f.findtext(dk + "MeddelelseIndholdData")) == PDF
    assert f.findtext(f"{fp}PostParametre/{fp}PostKategoriKode") == "Prioritaire"
    assert f.findtext(f"{fp}PrintParametre/{fp}SimplexDuplexKode") == "Duplex"
    assert f.findtext(f"{fp}ForsendelseModtager/{dk}AfsendelseModtager/{{urn:oio:adir:dagpenge:2009.07.01}}CPRnummerIdentifikator") == "0000000000"
    address = f.find(f"{fp}ForsendelseModtager/{fp}ModtagerAdresse")
    assert [etree.QName(e).localname for e in address] == ["PersonName", "PostCodeIdentifier", "DistrictSubdivisionIdentifier",
                                                            "PostalAddressFirstLineText", "CountryIdentificationCode"]
    assert f.findtext(f"{fp}BilagSamling/{fp}Bilag/{fp}BilagNavn") == "bilag.pdf"
    assert b"<fjernprint:ForsendelseISamling" in send.body
    assert double.lookups == [("cprNumber", CPR)]


def test_registered_recipient_gets_digital_post_even_when_sf1601_prints(double, make_channel):
    double.registered[CPR] = True
    receipt = make_channel(physical_post="sf1601", forsendelse_type_identifikator=265).submit(letter(), idempotency_key="k")
    assert receipt.status is Status.SENT_DIGITAL and double.sends[0].kombi_valg_kode == "Digital Post"


def test_a_text_message_to_an_unregistered_recipient_is_refused_not_printed(double, make_channel):
    from gateway.model import MailboxHandling, RoutingMetadata

    let = letter(documents=())
    sms = dataclasses.replace(let.shipment, routing=RoutingMetadata(handling=MailboxHandling(text_message=True, notification="Husk tandlægen")))
    ch = make_channel(physical_post="sf1601", forsendelse_type_identifikator=265)
    with pytest.raises(ChannelRejected, match="text message"):
        ch.submit(Letter(shipment=sms, content=let.content), idempotency_key="k")
    assert double.sends == []
    double.registered[CPR] = True
    assert ch.submit(Letter(shipment=sms, content=let.content), idempotency_key="k").status is Status.SENT_DIGITAL
    assert double.sends[0].kombi_valg_kode == "NemSMS"


@pytest.mark.parametrize("docs, address, reason", [
    ((document("brev.txt", media_type="text/plain"),), None, "PDF only"),
    (None, PostalAddress(name="Test Testesen"), "postal address"),
])
def test_channel_refuses_physical_post_it_cannot_send_before_sending(double, make_channel, docs, address, reason):
    ch = make_channel(physical_post="sf1601", forsendelse_type_identifikator=265)
    with pytest.raises(ChannelRejected, match=reason):
        ch.submit(letter(documents=docs, address=address), idempotency_key="k")
    assert double.sends == [] and double.refused == []


def test_channel_refuses_a_memo_without_the_literal_prefix_before_sending(double, pki):
    ch = Sf1601Channel(settings(double, pki), render=lambda let: (let.shipment.id, _default_namespace(_memo_xml())))
    try:
        with pytest.raises(ChannelRejected, match="memo:Message"):
            ch.submit(letter(), idempotency_key="k")
    finally:
        ch.close()
    assert double.sends == [] and double.refused == []


def test_channel_refuses_a_letter_whose_id_is_no_uuid_before_sending(double, make_channel):
    with pytest.raises(ChannelRejected, match="not a UUID"):
        make_channel().submit(letter(shipment_id="brev-17"), idempotency_key="k")
    assert double.sends == [] and double.refused == []


def test_kombi_request_takes_only_the_four_codes():
    with pytest.raises(ValueError, match="KombiValgKode"):
        kombi_request("Brev", _memo_xml())


def test_channel_without_client_certificate_of_the_ca_cannot_connect(double, pki):
    rogue = dataclasses.replace(settings(double, pki), client_certificate=str(pki.rogue_cert), client_private_key=str(pki.rogue_key))
    ch = Sf1601Channel(rogue, render=lambda let: ("", b""))
    try:
        from gateway.channels.base import ChannelUnavailable
        with pytest.raises(ChannelUnavailable, match="not reachable"):
            ch.is_registered("CPR", CPR)
    finally:
        ch.close()
    assert double.issued == []


@pytest.mark.parametrize("sf, key", [
    ({"authority_cvr": ""}, "authority_cvr"),
    ({"authority_cvr": "1234"}, "authority_cvr"),
    ({"physical_post": "post"}, "physical_post"),
    ({"physical_post": "sf1601"}, "forsendelse_type_identifikator"),
    ({"amqp_url": "amqp://127.0.0.1/"}, "amqp_queue"),
])
def test_settings_are_checked_at_start(double, pki, sf, key):
    s = settings(double, pki)
    with pytest.raises(ConfigError, match=key):
        Sf1601Channel(dataclasses.replace(s, sf1601=dataclasses.replace(s.sf1601, **sf)), render=lambda let: ("", b""))


def test_settings_load_from_toml(tmp_path: Path, pki):
    from gateway.config import load_settings

    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[channels.digitalpost]
enabled = true
transport = "sf1601"
base_url = "https://exttest.serviceplatformen.dk"
client_certificate = "{pki.client_cert}"
client_private_key = "{pki.client_key}"

[channels.digitalpost.sf1601]
authority_cvr = "{CVR}"
physical_post = "sf1601"
forsendelse_type_identifikator = 265
amqp_url = "amqps://beskedfordeler.eksterntest-stoettesystemerne.dk:5671/BF"
amqp_queue = "c82e55b4-d9aa-4c15-90cf-f4fbc0f85037"
amqp_token_auth = true
""", encoding="utf-8")
    s = load_settings(path, environ={}).channels.digitalpost
    assert s.transport == "sf1601" and s.sf1601.authority_cvr == CVR and s.sf1601.forsendelse_type_identifikator == 265
    assert s.sf1601.send_path == "/service/KombiPostAfsend_1/kombi" and s.sf1601.amqp_token_auth is True
    bad = tmp_path / "bad.toml"
    bad.write_text("[channels.digitalpost.sf1601]\nauthority = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="channels.digitalpost.sf1601"):
        load_settings(bad, environ={})


# ---------------------------------------------------------------- routing


class _Table:
    def lookup(self, identifier, kind):
        return Reachability.DIGITAL


def test_register_sends_every_danish_letter_to_a_channel_that_prints_itself(double, make_channel):
    printing = CompositeRegister(_Table(), make_channel(physical_post="sf1601", forsendelse_type_identifikator=265))
    assert printing.lookup(CPR, PartyKind.DK_CPR) is Reachability.DIGITAL
    assert double.lookups == []  # asked at submit instead
    asking = CompositeRegister(_Table(), make_channel())
    assert asking.lookup(CPR, PartyKind.DK_CPR) is Reachability.UNREACHABLE
    assert double.lookups == [("cprNumber", CPR)]
    assert json.dumps(double.refused) == "[]"


def test_saml_expiry_is_read_from_the_assertion_even_with_line_breaks():
    from gateway.channels.sf1601_tokens import assertion_expiry

    saml = (b'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Conditions '
            b'NotOnOrAfter="2026-12-02T20:00:00Z"/></saml:Assertion>')
    wrapped = "\n".join(re.findall(".{1,64}", base64.b64encode(saml).decode()))
    assert assertion_expiry(wrapped) == dt.datetime(2026, 12, 2, 20, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="NotOnOrAfter"):
        assertion_expiry(base64.b64encode(b"<saml:Assertion xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion'/>").decode())
