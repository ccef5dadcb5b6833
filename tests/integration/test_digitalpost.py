"""Digital Post (NgDP REST) channel against the loopback double, over real mutual TLS.

The double (tests/doubles/digitalpost.py) is written from NgDP's OpenAPI as the generated
client in github.com/sjkp/digitalpost shows it; each of its refusals is shown here to refuse,
and the channel is shown never to send what it refuses.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, StatusFeed
from gateway.channels.digitalpost import DigitalPostChannel
from gateway.config import ConfigError, DigitalPostSettings
from gateway.model import Party, PartyKind, Shipment, Status
from tests.conftest import SPECS, require_spec
from tests.doubles.digitalpost import DigitalPostDouble, Pki, make_pki

EXAMPLES = SPECS / "memo" / "examples"
EXAMPLE_UUID = b"8C2EA15D-61FB-4BA9-9366-42F8B194C114"
SYSTEM_ID, SYSTEM_PASSWORD = "kommune-gateway", "s3cret-dp"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def digitalpost(pki: Pki) -> Iterator[DigitalPostDouble]:
    with DigitalPostDouble(pki, system_id=SYSTEM_ID, system_password=SYSTEM_PASSWORD) as double:
        yield double


def memo(message_uuid: str, version: str = "1.2") -> bytes:
    """The official minimum MeMo example of ``version`` with a fresh messageUUID."""
    data = require_spec(EXAMPLES / f"MeMo_v{version}_Minimum_Example.xml").read_bytes()
    assert data.count(EXAMPLE_UUID) == 1
    return data.replace(EXAMPLE_UUID, message_uuid.encode())


def letter(shipment_id: str = "5d0c7b0e-8a43-4d55-9a8e-0f3b1c2d4e5f") -> Letter:
    shipment = Shipment(id=shipment_id, sender="kommune-sak", title="Pladsanvisning",
                        recipient=Party(identifier="2211771212", kind=PartyKind.DK_CPR), documents=())
    return Letter(shipment=shipment, content=lambda d: b"")


def renderer(message_uuid: str, data: bytes | None = None, *, version: str = "1.2"):
    def render(let: Letter) -> tuple[str, bytes]:
        return message_uuid, memo(message_uuid, version) if data is None else data

    return render


def settings(double: DigitalPostDouble, pki: Pki, **overrides: object) -> DigitalPostSettings:
    s = DigitalPostSettings(enabled=True, base_url=double.base_url, client_certificate=str(pki.client_cert),
                            client_private_key=str(pki.client_key), ca_bundle=str(pki.ca_cert),
                            system_id=SYSTEM_ID, system_password=SYSTEM_PASSWORD, timeout_seconds=5.0)
    return dataclasses.replace(s, **overrides)


@pytest.fixture
def make_channel(digitalpost: DigitalPostDouble, pki: Pki):
    made: list[DigitalPostChannel] = []

    def make(render=None, **overrides: object) -> DigitalPostChannel:
        ch = DigitalPostChannel(settings(digitalpost, pki, **overrides), render=render or renderer(str(uuid.uuid4())))
        made.append(ch)
        return ch

    yield make
    for ch in made:
        ch.close()


def posts(double: DigitalPostDouble) -> list:
    return [s for s in double.seen if s.method == "POST"]


# --- sending ---


def test_memo_is_sent_raw_with_its_uuid_in_the_query_over_mutual_tls(digitalpost, pki, make_channel):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    receipt = ch.submit(letter(), idempotency_key="5d0c7b0e:digitalpost")
    assert receipt.channel == "digitalpost" and receipt.status is Status.SENT_DIGITAL
    assert receipt.reference == message_uuid and "RECEIVED" in receipt.detail
    [seen] = digitalpost.seen
    url = urlsplit(seen.path)
    assert (seen.method, url.path, parse_qs(url.query)) == ("POST", "/apis/v1/memos/", {"memo-message-uuid": [message_uuid]})
    assert seen.content_type == "application/xml"  # the MeMo itself, not multipart
    assert digitalpost.messages[message_uuid].data == memo(message_uuid)  # byte for byte
    assert seen.client_subject == pki.client_subject == "CN=Nordic Mail Gateway,O=Eksempel Kommune,C=DK"
    assert seen.user == SYSTEM_ID
    assert digitalpost.rejected == [] and digitalpost.handshake_failures == []


def test_the_channel_is_a_status_feed_without_per_letter_poll(make_channel):
    ch = make_channel()
    assert isinstance(ch, StatusFeed) and not hasattr(ch, "poll")


def test_memo_version_1_1_setting_sends_1_1(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid, version="1.1"), memo_version="1.1")
    ch.submit(letter(), idempotency_key="k")
    assert b'memoVersion="1.1"' in digitalpost.messages[message_uuid].data


@pytest.mark.parametrize(("configured", "written"), [("1.2", "1.1"), ("1.1", "1.2")])
def test_a_memo_of_another_version_than_configured_is_refused_before_sending(digitalpost, make_channel, configured, written):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid, version=written), memo_version=configured)
    with pytest.raises(ChannelRejected, match="memo_version"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen == []


def test_a_memo_that_does_not_fit_its_schema_is_refused_before_sending_with_the_reason(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    broken = memo(message_uuid).replace(b"<memo:messageType>DIGITALPOST</memo:messageType>",
                                        b"<memo:messageType>EBOKS</memo:messageType>")
    ch = make_channel(renderer(message_uuid, broken))
    with pytest.raises(ChannelRejected, match=r"MeMo 1\.2 schema at /memo:Message/memo:MessageHeader/memo:messageType"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen == []
    # ... which the double refuses too, with NgDP's ErrorMessage shape
    r = ch.session.post(digitalpost.base_url + "memos/", params={"memo-message-uuid": message_uuid}, data=broken,
                        headers={"Content-Type": "application/xml"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["code"] == "INVALID_MEMO" and r.json()["fieldErrors"][0]["code"] == "Schema"
    assert digitalpost.messages == {}


def _default_namespace(data: bytes) -> bytes:
    """The same XML to a parser, serialized with a default namespace instead of memo:."""
    return re.sub(rb"<(/?)memo:", rb"<\1", data).replace(b"xmlns:memo=", b"xmlns=")


@pytest.mark.parametrize("case", ["default namespace", "utf-16", "other uuid", "declared latin-1", "not a uuid"])
def test_bad_memo_is_refused_before_any_network_call(digitalpost, make_channel, case):
    message_uuid = str(uuid.uuid4())
    good = memo(message_uuid)
    data, name = {
        "default namespace": (_default_namespace(good), message_uuid),
        "utf-16": (good.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), message_uuid),
        "other uuid": (good, str(uuid.uuid4())),
        "declared latin-1": (good.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'), message_uuid),
        "not a uuid": (good.replace(message_uuid.encode(), b"../evil"), "../evil"),
    }[case]
    ch = make_channel(renderer(name, data))
    with pytest.raises(ChannelRejected) as caught:
        ch.submit(letter(), idempotency_key="k")
    if case == "default namespace":
        assert "literal memo: prefix" in str(caught.value)
    assert digitalpost.seen == [] and digitalpost.handshake_failures == []


# --- what the double refuses (so it cannot accept anything) ---


def _refusals(message_uuid: str, good: bytes) -> dict[str, tuple[dict, bytes, dict]]:
    """name → (query, body, headers) of an upload NgDP refuses."""
    xml = {"Content-Type": "application/xml"}
    q = {"memo-message-uuid": message_uuid}
    return {
        "multipart upload": (q, b"", {}),  # built below with files=
        "text/plain": (q, good, {"Content-Type": "text/plain"}),
        "no memo-message-uuid": ({}, good, xml),
        "memo-message-uuid not a uuid": ({"memo-message-uuid": "nope"}, good, xml),
        "memo-message-uuid of another message": ({"memo-message-uuid": str(uuid.uuid4())}, good, xml),
        "default namespace": (q, _default_namespace(good), xml),
        "not xml": (q, b"<memo:Message", xml),
        "memoVersion 1.3": (q, good.replace(b'memoVersion="1.2"', b'memoVersion="1.3"'), xml),
    }


@pytest.mark.parametrize("case", list(_refusals("x", b"")))
def test_the_double_refuses_what_ngdp_refuses(digitalpost, make_channel, case):
    ch = make_channel()
    message_uuid = str(uuid.uuid4())
    good = memo(message_uuid)
    query, body, headers = _refusals(message_uuid, good)[case]
    url = digitalpost.base_url + "memos/"
    if case == "multipart upload":
        r = ch.session.post(url, params=query, files={"file": (f"{message_uuid}.xml", good, "application/xml")}, timeout=5)
    else:
        r = ch.session.post(url, params=query, data=body, headers=headers, timeout=5)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"code", "message", "fieldErrors"}
    assert digitalpost.messages == {} and digitalpost.receipts == {}
    # and the same bytes, properly sent, are taken
    r = ch.session.post(url, params={"memo-message-uuid": message_uuid}, data=good, headers={"Content-Type": "application/xml"},
                        timeout=5)
    assert r.status_code == 201 and r.json()["receiptStatus"] == "RECEIVED"


def test_wrong_api_token_is_refused(digitalpost, make_channel):
    ch = make_channel(system_password="wrong")
    with pytest.raises(ChannelRejected, match="client certificate or system credentials"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen[0].client_subject and digitalpost.messages == {}
    with pytest.raises(ChannelUnavailable, match="401"):  # a lookup is never about one letter
        ch.is_registered("CPR", "2211771212")


@pytest.mark.parametrize("who", ["no certificate", "rogue certificate"])
def test_client_without_a_trusted_certificate_cannot_connect(digitalpost, pki, make_channel, who):
    ch = make_channel()
    if who == "no certificate":
        ch.session.cert = None  # the channel refuses to start without one: play a misconfigured client
    else:
        ch.session.cert = (str(pki.rogue_cert), str(pki.rogue_key))
    # The handshake fails before any HTTP: about the gateway's configuration, not this letter,
    # so ChannelUnavailable keeps letters queued (with backoff) until the certificate is fixed.
    with pytest.raises(ChannelUnavailable, match="Digital Post"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen == [] and digitalpost.messages == {}
    [failure] = digitalpost.wait_for_handshake_failures()
    assert ("did not return a certificate" if who == "no certificate" else "certificate verify failed") in failure


def test_server_certificate_must_be_trusted(digitalpost, make_channel):
    ch = make_channel(ca_bundle="")  # the usual public CAs do not know the test CA
    with pytest.raises(ChannelUnavailable, match="TLS"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen == []


# --- a repeated messageUUID never makes a second letter ---


def test_the_double_refuses_a_repeated_message_uuid(digitalpost, make_channel):
    ch = make_channel()
    message_uuid = str(uuid.uuid4())
    send = dict(params={"memo-message-uuid": message_uuid}, data=memo(message_uuid),
                headers={"Content-Type": "application/xml"}, timeout=5)
    assert ch.session.post(digitalpost.base_url + "memos/", **send).status_code == 201
    r = ch.session.post(digitalpost.base_url + "memos/", **send)
    assert r.status_code == 400 and "already exists" in r.json()["message"]
    assert len(digitalpost.letters) == 1


def test_a_repeat_submit_counts_as_the_earlier_upload(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    first = make_channel(renderer(message_uuid)).submit(letter(), idempotency_key="k")
    # another worker process, which never saw the first answer
    second = make_channel(renderer(message_uuid)).submit(letter(), idempotency_key="k")
    assert first.reference == second.reference == message_uuid and second.status is Status.SENT_DIGITAL
    assert "already has" in second.detail
    assert len(digitalpost.letters) == 1 and len(posts(digitalpost)) == 2


@pytest.mark.parametrize("repeat", ["refuse", "accept"])
def test_a_retry_after_a_lost_answer_leaves_exactly_one_message(pki, repeat):
    """The answer to the upload is lost (the double took the letter, then closed the
    connection): the retry finds the letter's receipt and does not upload again, even with a
    service that would take a repeat as a second letter."""
    with DigitalPostDouble(pki, system_id=SYSTEM_ID, system_password=SYSTEM_PASSWORD, repeat=repeat) as double:
        message_uuid = str(uuid.uuid4())
        ch = DigitalPostChannel(settings(double, pki), render=renderer(message_uuid))
        try:
            double.drop_answer_next(1)
            with pytest.raises(ChannelUnavailable):
                ch.submit(letter(), idempotency_key="k")
            assert len(double.letters) == 1  # it arrived
            receipt = ch.submit(letter(), idempotency_key="k")
        finally:
            ch.close()
        assert receipt.reference == message_uuid and "answer was lost" in receipt.detail
        assert len(double.letters) == 1 and len(posts(double)) == 1


def test_unavailable_before_arrival_then_retry_sends_once(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    digitalpost.fail_next(1, 503)
    with pytest.raises(ChannelUnavailable, match="503"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.messages == {}
    ch.submit(letter(), idempotency_key="k")  # looked among the receipts first: not there, so sent
    assert list(digitalpost.messages) == [message_uuid] and len(digitalpost.letters) == 1
    assert [urlsplit(s.path).path for s in digitalpost.seen] == ["/apis/v1/memos/", "/apis/v1/receipts/", "/apis/v1/memos/"]


def test_other_client_errors_are_rejections_with_the_body(digitalpost, make_channel):
    ch = make_channel(base_url=digitalpost.url + "/apis/v2/")
    with pytest.raises(ChannelRejected, match="404"):
        ch.submit(letter(), idempotency_key="k")


# --- receipts: the status feed ---


def test_fetch_answers_completed_and_refused_receipts_and_acknowledge_deletes_them(pki):
    with DigitalPostDouble(pki, system_id=SYSTEM_ID, system_password=SYSTEM_PASSWORD, auto_complete=False) as double:
        uuids = [str(uuid.uuid4()) for _ in range(3)]
        channels = [DigitalPostChannel(settings(double, pki), render=renderer(u)) for u in uuids]
        try:
            for ch in channels:
                ch.submit(letter(), idempotency_key="k")
            ch = channels[0]
            assert ch.fetch(limit=10) == []  # RECEIVED only: nothing to report ...
            assert double.receipts == {}  # ... and deleted, so it is not read again
            double.add_receipt(uuids[0].upper(), "COMPLETED")
            double.add_receipt(uuids[1], "INVALID", error_code="DP-0042", error_message="the attachment is not a valid PDF")
            double.add_receipt(uuids[2], "NOT_ALLOWED", error_code="DP-0007", error_message="recipient blocks this sender")
            double.add_receipt(uuids[0], "RECEIVED")
            completed, invalid, not_allowed = ch.fetch(limit=10)
            assert (completed.reference, completed.status, completed.failed) == (uuids[0], Status.DELIVERED, False)
            assert (invalid.reference, invalid.status, invalid.failed) == (uuids[1], None, True)
            assert "INVALID" in invalid.detail and "DP-0042" in invalid.detail and "not a valid PDF" in invalid.detail
            assert not_allowed.failed and "NOT_ALLOWED" in not_allowed.detail and "DP-0007" in not_allowed.detail
            assert len(double.receipts) == 3  # read, not deleted: a crash before the commit reads them again
            ch.release([completed])
            assert [e.reference for e in ch.fetch(limit=1)] == [uuids[0]]
            ch.acknowledge([completed, invalid, not_allowed])
            assert double.receipts == {} and ch.fetch(limit=10) == []
            deletes = [s.path for s in double.seen if "delete=true" in s.path]
            assert len(deletes) == 3 + 1 + 3  # 3 RECEIVED at first, 1 later, then the 3 acknowledged
        finally:
            for ch in channels:
                ch.close()


def test_fetch_asks_for_limit_receipts(digitalpost, make_channel):
    for _ in range(3):
        make_channel().submit(letter(), idempotency_key="k")  # RECEIVED + COMPLETED each
    ch = make_channel()
    entries = ch.fetch(limit=4)  # the first four: two RECEIVED (deleted), two COMPLETED
    assert len(entries) == 2 and all(e.status is Status.DELIVERED for e in entries)
    assert "page=0&size=4" in [s.path for s in digitalpost.seen if "/receipts/?" in s.path][-1]


def test_an_unreadable_receipt_feed_is_unavailable(digitalpost, make_channel):
    ch = make_channel()
    digitalpost.fail_next(1, 503)
    with pytest.raises(ChannelUnavailable, match="503"):
        ch.fetch(limit=10)
    receipt_id = digitalpost.add_receipt(str(uuid.uuid4()), "COMPLETED")
    digitalpost.receipts[receipt_id]["receiptStatus"] = "SHREDDED"
    with pytest.raises(ChannelUnavailable, match="cannot read"):
        ch.fetch(limit=10)
    assert receipt_id in digitalpost.receipts  # not deleted: nothing was learnt from it


# --- contacts: is a number registered ---


def test_is_registered_reads_the_public_registration_status(digitalpost, make_channel):
    ch = make_channel()
    digitalpost.contacts.update({"2211771212": "REGISTERED", "0101704321": "EXEMPT", "0202704321": "CLOSED",
                                 "0303704321": "UNKNOWN", "0404704321": None, "12345678": "REGISTERED", "87654321": "CLOSED"})
    assert ch.is_registered("CPR", "2211771212") is True
    for cpr in ("0101704321", "0202704321", "0303704321", "0404704321", "3112999999"):  # ... and unknown
        assert ch.is_registered("CPR", cpr) is False, cpr
    assert ch.is_registered("CVR", "12345678") is True
    assert ch.is_registered("CVR", "87654321") is False
    paths = [s.path for s in digitalpost.seen]
    assert paths[0] == "/apis/v1/contacts/?cprNumber=2211771212&page=0"
    assert paths[-1] == "/apis/v1/contacts/?cvrNumber=87654321&page=0"
    with pytest.raises(ValueError):
        ch.is_registered("FNR", "2211771212")


def test_a_registration_answer_the_channel_cannot_read_is_unavailable(digitalpost, make_channel):
    ch = make_channel()
    digitalpost.contacts["2211771212"] = "PERHAPS"
    with pytest.raises(ChannelUnavailable, match="cannot read"):
        ch.is_registered("CPR", "2211771212")
    digitalpost.fail_next(1, 503)
    with pytest.raises(ChannelUnavailable, match="503"):
        ch.is_registered("CPR", "2211771212")


# --- settings ---


def test_unusable_settings_fail_at_start(digitalpost, pki, tmp_path):
    render = renderer(str(uuid.uuid4()))
    for overrides, match in (({"base_url": digitalpost.base_url.replace("https", "http")}, "https"),
                             ({"client_certificate": str(tmp_path / "missing.crt")}, "no such file"),
                             ({"client_private_key": str(pki.rogue_key)}, "certificate"),
                             ({"transport": "sf1601"}, "NgDP"),
                             ({"memo_version": "1.3"}, "memo_version")):
        with pytest.raises(ConfigError, match=match):
            DigitalPostChannel(settings(digitalpost, pki, **overrides), render=render)


def test_defaults_are_production_ngdp_and_memo_1_2():
    s = DigitalPostSettings()
    assert (s.base_url, s.transport, s.memo_version) == ("https://api.digitalpost.dk/apis/v1/", "ngdp", "1.2")


def test_a_201_whose_receipt_cannot_be_read_is_still_sent(digitalpost, make_channel, monkeypatch):
    """201 means NgDP took the letter: an unreadable body must not make the dispatcher send it again."""
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    real = digitalpost.upload
    monkeypatch.setattr(digitalpost, "upload", lambda *a, **kw: (real(*a, **kw)[0], ["not", "a", "receipt"]))
    receipt = ch.submit(letter(), idempotency_key="k")
    assert receipt.status is Status.SENT_DIGITAL and "cannot read" in receipt.detail
    assert len(digitalpost.letters) == 1


@pytest.mark.parametrize(("status", "message", "taken"), [
    (409, "conflict", True),
    (400, "memo with messageUUID {u} already exists", True),
    (400, "ReplyData messageUUID {u} does not exist", False),  # about the letter, not a repeat
])
def test_only_a_refusal_that_says_the_uuid_is_used_counts_as_sent(digitalpost, make_channel, monkeypatch, status, message, taken):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    monkeypatch.setattr(digitalpost, "upload", lambda *a, **kw: (
        status, {"code": "X", "message": message.format(u=message_uuid), "fieldErrors": []}))
    if taken:
        assert "already has" in ch.submit(letter(), idempotency_key="k").detail
        assert any("/receipts/" in s.path for s in digitalpost.seen)  # looked for its receipt
    else:
        with pytest.raises(ChannelRejected, match="does not exist"):
            ch.submit(letter(), idempotency_key="k")
