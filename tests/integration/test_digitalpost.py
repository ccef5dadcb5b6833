"""Digital Post channel against the loopback double, over real mutual TLS."""
from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator

import pytest

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt
from gateway.channels.digitalpost import DigitalPostChannel
from gateway.config import ConfigError, DigitalPostSettings
from gateway.model import Party, PartyKind, Shipment, Status
from tests.conftest import SPECS, require_spec
from tests.doubles.digitalpost import DigitalPostDouble, Pki, make_pki

EXAMPLE = SPECS / "memo" / "examples" / "MeMo_v1.1_Minimum_Example.xml"
EXAMPLE_UUID = b"8C2EA15D-61FB-4BA9-9366-42F8B194C114"
SYSTEM_ID, SYSTEM_PASSWORD = "kommune-gateway", "s3cret-dp"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def digitalpost(pki: Pki) -> Iterator[DigitalPostDouble]:
    with DigitalPostDouble(pki, system_id=SYSTEM_ID, system_password=SYSTEM_PASSWORD) as double:
        yield double


def memo(message_uuid: str) -> bytes:
    """The official minimum MeMo 1.1 example with a fresh messageUUID."""
    data = require_spec(EXAMPLE).read_bytes()
    assert data.count(EXAMPLE_UUID) == 1
    return data.replace(EXAMPLE_UUID, message_uuid.encode())


def letter(shipment_id: str = "5d0c7b0e-8a43-4d55-9a8e-0f3b1c2d4e5f") -> Letter:
    shipment = Shipment(id=shipment_id, sender="kommune-sak", title="Pladsanvisning",
                        recipient=Party(identifier="2211771212", kind=PartyKind.DK_CPR), documents=())
    return Letter(shipment=shipment, content=lambda d: b"")


def renderer(message_uuid: str, data: bytes | None = None):
    calls: list[Letter] = []

    def render(let: Letter) -> tuple[str, bytes]:
        calls.append(let)
        return message_uuid, memo(message_uuid) if data is None else data

    render.calls = calls  # type: ignore[attr-defined]
    return render


def settings(double: DigitalPostDouble, pki: Pki, **overrides: object) -> DigitalPostSettings:
    s = DigitalPostSettings(enabled=True, base_url=double.url, client_certificate=str(pki.client_cert),
                            client_private_key=str(pki.client_key), ca_bundle=str(pki.ca_cert),
                            system_id=SYSTEM_ID, system_password=SYSTEM_PASSWORD, timeout_seconds=5.0)
    return dataclasses.replace(s, **overrides)


@pytest.fixture
def channels() -> Iterator[list[DigitalPostChannel]]:
    made: list[DigitalPostChannel] = []
    yield made
    for ch in made:
        ch.close()


@pytest.fixture
def make_channel(digitalpost: DigitalPostDouble, pki: Pki, channels: list[DigitalPostChannel]):
    def make(render=None, **overrides: object) -> DigitalPostChannel:
        ch = DigitalPostChannel(settings(digitalpost, pki, **overrides), render=render or renderer(str(uuid.uuid4())))
        channels.append(ch)
        return ch

    return make


def test_memo_is_delivered_over_mutual_tls(digitalpost, pki, make_channel):
    message_uuid = str(uuid.uuid4())
    expected = memo(message_uuid)
    ch = make_channel(renderer(message_uuid))
    receipt = ch.submit(letter(), idempotency_key="5d0c7b0e:digitalpost")
    assert receipt.channel == "digitalpost" and receipt.status is Status.SENT_DIGITAL
    assert receipt.reference == message_uuid and receipt.shipment_id == letter().shipment.id
    stored = digitalpost.messages[message_uuid]
    assert stored.data == expected  # byte for byte: prolog, comment and memo: prefixes untouched
    assert stored.filename == f"{message_uuid}.xml"
    assert stored.content_type == "application/xml; charset=utf-8"
    assert stored.idempotency_key == "5d0c7b0e:digitalpost"
    [seen] = digitalpost.seen
    assert seen.client_subject == pki.client_subject == "CN=Nordic Mail Gateway,O=Eksempel Kommune,C=DK"
    assert seen.user == SYSTEM_ID and seen.method == "POST"
    assert digitalpost.rejected == [] and digitalpost.handshake_failures == []


def test_repeat_submit_makes_no_second_message(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    first = ch.submit(letter(), idempotency_key="k")
    second = ch.submit(letter(), idempotency_key="k")  # Digital Post answers 409: it already has this UUID
    assert first.reference == second.reference == message_uuid and second.status is Status.SENT_DIGITAL
    assert "already" in second.detail
    assert list(digitalpost.messages) == [message_uuid] and digitalpost.uploads == 2


@pytest.mark.parametrize("who", ["no certificate", "rogue certificate"])
def test_client_without_a_trusted_certificate_cannot_connect(digitalpost, pki, make_channel, who):
    ch = make_channel()
    if who == "no certificate":
        # the channel refuses to start without a certificate, so play a misconfigured client
        ch.session.cert = None
    else:
        ch.session.cert = (str(pki.rogue_cert), str(pki.rogue_key))
    # The server aborts the TLS handshake (certificate required / unknown CA) before any HTTP
    # is spoken, so there is no status code to read: it is a transport failure, and it is
    # ChannelUnavailable because it is about the gateway's configuration, not this letter.
    # Rejecting would send every letter to the print fallback; unavailable keeps them queued
    # (with backoff) until the certificate is fixed.
    with pytest.raises(ChannelUnavailable, match="Digital Post"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen == [] and digitalpost.messages == {}
    [failure] = digitalpost.wait_for_handshake_failures()  # the double refused the handshake
    assert ("did not return a certificate" if who == "no certificate" else "certificate verify failed") in failure


def test_server_certificate_must_be_trusted(digitalpost, make_channel):
    ch = make_channel(ca_bundle="")  # the usual public CAs do not know the test CA
    with pytest.raises(ChannelUnavailable, match="TLS"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen == []


def test_wrong_system_password_is_rejected(digitalpost, make_channel):
    ch = make_channel(system_password="wrong")
    with pytest.raises(ChannelRejected, match="client certificate or system credentials"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.seen[0].client_subject and digitalpost.messages == {}


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


def test_default_namespace_memo_would_be_refused_by_the_double_too(digitalpost, make_channel):
    """The channel's pre-check matches what the (double of the) server enforces."""
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    files = {"file": (f"{message_uuid}.xml", _default_namespace(memo(message_uuid)), "application/xml; charset=utf-8")}
    r = ch.session.post(digitalpost.url + "/apis/v1/messages/memo", files=files, timeout=5)
    assert r.status_code == 400 and "memo:Message" in r.json()["detail"]


def test_is_registered(digitalpost, make_channel):
    ch = make_channel()
    digitalpost.registered.update({"2211771212": True, "0101704321": False, "12345678": True})
    assert ch.is_registered("CPR", "2211771212") is True
    assert ch.is_registered("CPR", "0101704321") is False
    assert ch.is_registered("CPR", "3112999999") is False  # 404: unknown
    assert ch.is_registered("CVR", "12345678") is True
    assert [s.path for s in digitalpost.seen][0] == "/apis/v1/contacts/registration/CPR/2211771212"
    with pytest.raises(ValueError):
        ch.is_registered("FNR", "2211771212")
    digitalpost.fail_next(1, 503)
    with pytest.raises(ChannelUnavailable):
        ch.is_registered("CPR", "2211771212")


def test_poll_maps_statuses(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    receipt = ch.submit(letter(), idempotency_key="k")
    assert ch.poll([receipt]) == []  # PENDING
    for status, expected in (("DELIVERED", Status.NOTIFIED), ("READ", Status.READ)):
        digitalpost.statuses[message_uuid] = status
        [change] = ch.poll([receipt])
        assert change.status is expected and not change.failed and change.reference == message_uuid
    digitalpost.statuses[message_uuid] = "FAILED"
    [change] = ch.poll([receipt])
    assert change.failed and change.status is None and change.shipment_id == receipt.shipment_id
    unknown = Receipt(channel="digitalpost", shipment_id="x", idempotency_key="x", reference=str(uuid.uuid4()), status=Status.SENT_DIGITAL)
    assert ch.poll([unknown]) == []  # 404: skipped, not fatal for the other receipts


def test_unavailable_then_retry_delivers_once(digitalpost, make_channel):
    message_uuid = str(uuid.uuid4())
    ch = make_channel(renderer(message_uuid))
    digitalpost.fail_next(1, 503)
    with pytest.raises(ChannelUnavailable, match="503"):
        ch.submit(letter(), idempotency_key="k")
    assert digitalpost.messages == {}
    ch.submit(letter(), idempotency_key="k")
    assert list(digitalpost.messages) == [message_uuid]


def test_other_client_errors_are_rejections_with_the_body(digitalpost, make_channel):
    ch = make_channel(memo_path="/apis/v1/messages/nowhere")
    with pytest.raises(ChannelRejected, match="404"):
        ch.submit(letter(), idempotency_key="k")


def test_unusable_settings_fail_at_start(digitalpost, pki, tmp_path):
    render = renderer(str(uuid.uuid4()))
    with pytest.raises(ConfigError, match="https"):
        DigitalPostChannel(settings(digitalpost, pki, base_url=digitalpost.url.replace("https", "http")), render=render)
    with pytest.raises(ConfigError, match="no such file"):
        DigitalPostChannel(settings(digitalpost, pki, client_certificate=str(tmp_path / "missing.crt")), render=render)
    with pytest.raises(ConfigError, match="certificate"):  # the rogue key is not the client certificate's
        DigitalPostChannel(settings(digitalpost, pki, client_private_key=str(pki.rogue_key)), render=render)
