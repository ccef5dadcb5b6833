"""Altinn2Channel against a loopback Altinn 2 that serves the official WSDL and validates
every InsertCorrespondenceV2 against the schemas embedded in it."""
from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import pytest
import requests

from gateway.channels.altinn2 import DUPLICATE_FAULT, Altinn2Channel
from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter
from gateway.config import Altinn2Settings
from gateway.model import Document, DocumentRole, Link, Party, PartyKind, Shipment, Status, new_shipment_id
from tests.conftest import make_pdf
from tests.doubles.altinn2 import ACTION, DUPLICATE_MESSAGE, PASSWORD_TEXT, SOAP12, TNS, WSSE, WSU, Altinn2Double

USER, PASSWORD = "agency-sys", "correct horse"
FNR = "15076500565"


@pytest.fixture
def altinn() -> Iterator[Altinn2Double]:
    with Altinn2Double(username=USER, password=PASSWORD) as double:
        yield double
    assert double.errors == []


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    s.trust_env = False  # no proxies from the environment between us and loopback
    yield s
    s.close()


def settings_for(double: Altinn2Double, **overrides: object) -> Altinn2Settings:
    values: dict[str, object] = dict(
        enabled=True, wsdl_url=double.wsdl_url, endpoint_url=double.endpoint_url, username=USER, password=PASSWORD,
        system_user_code="GATEWAY_SYS", service_code="4914", service_edition="1", timeout_seconds=5.0,
    )
    values.update(overrides)
    return Altinn2Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def channel(altinn: Altinn2Double, session: requests.Session) -> Altinn2Channel:
    return Altinn2Channel(settings_for(altinn), transport_session=session)


def letter(*, recipient: Party | None = None) -> Letter:
    pdfs = {"vedtak.pdf": make_pdf("Vedtak", pages=2), "vedlegg.pdf": make_pdf("Vedlegg")}
    docs = tuple(
        Document(filename=name, media_type="application/pdf", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                 storage_ref="", role=DocumentRole.MAIN if i == 0 else DocumentRole.ATTACHMENT)
        for i, (name, data) in enumerate(pdfs.items())
    )
    bytes_by_sha = {hashlib.sha256(data).hexdigest(): data for data in pdfs.values()}
    shipment = Shipment(
        id=new_shipment_id(), sender="t", title="Vedtak om startlån & bostøtte",
        recipient=recipient or Party(identifier=FNR, kind=PartyKind.NO_PERSON, name="Ola Nordmann"),
        sender_party=Party(identifier="974720760", kind=PartyKind.NO_ORGANIZATION, name="Kommune"),
        documents=docs,
        links=(Link(url="https://kommune.example/sak/2024/123?vis=alle&x=1", text="Se saken"),
               Link(url="https://kommune.example/klage", text="Klag på vedtaket")),
    )
    return Letter(shipment=shipment, content=lambda d: bytes_by_sha[d.sha256])


def test_letter_with_two_pdfs_arrives_as_one_valid_correspondence(altinn, channel):
    sent = letter()
    receipt = channel.submit(sent, idempotency_key="key-1")

    [got] = altinn.correspondences
    assert got.username == USER
    assert got.schema_valid and altinn.invalid == []
    assert (got.soap_action, got.wsa_action) == (ACTION, ACTION)
    assert got.system_user_code == "GATEWAY_SYS"
    assert got.external_shipment_reference == "key-1"
    assert (got.service_code, got.service_edition) == ("4914", "1")
    assert got.reportee == FNR
    assert got.message_title == "Vedtak om startlån & bostøtte"
    assert got.message_sender == "Kommune"
    assert '<a href="https://kommune.example/sak/2024/123?vis=alle&amp;x=1">Se saken</a>' in got.message_body
    assert "Klag på vedtaket</a>" in got.message_body
    assert got.visible_date_time and got.allow_system_delete_date_time > got.visible_date_time
    docs = sent.shipment.documents
    assert [a.file_name for a in got.attachments] == [d.filename for d in docs]
    assert [a.data for a in got.attachments] == [sent.content(d) for d in docs]
    assert [a.senders_reference for a in got.attachments] == [d.sha256 for d in docs]
    assert {a.function_type for a in got.attachments} == {"Unspecified"}

    assert receipt.channel == "altinn2" and receipt.status is Status.SENT_DIGITAL
    assert receipt.reference == str(got.receipt_id)
    assert receipt.idempotency_key == "key-1" and receipt.shipment_id == sent.shipment.id
    assert channel.poll([receipt]) == []


def test_resubmitting_the_same_key_makes_no_second_correspondence(altinn, channel, session):
    sent = letter()
    first = channel.submit(sent, idempotency_key="key-dup")
    again = channel.submit(sent, idempotency_key="key-dup")
    # a fresh process (new channel, same key) after a crash between send and commit
    restarted = Altinn2Channel(settings_for(altinn), transport_session=session).submit(sent, idempotency_key="key-dup")

    assert len(altinn.correspondences) == 1
    assert altinn.duplicates == ["key-dup", "key-dup"]
    assert first.reference == str(altinn.correspondences[0].receipt_id)
    for receipt in (again, restarted):
        assert receipt.reference == "duplicate:key-dup" and receipt.status is Status.SENT_DIGITAL
        assert "already" in receipt.detail and "key-dup" in receipt.detail
    channel.submit(sent, idempotency_key="key-other")
    assert len(altinn.correspondences) == 2


@pytest.mark.parametrize("text, duplicate", [
    (DUPLICATE_MESSAGE.format(ref="k", code="SYS"), True),
    ("ExternalShipmentReference k already exists", True),
    ("ExternalShipmentReference is required", False),
    ("The ExternalShipmentReference must be used with a valid ServiceCode", False),
    ("Duplicate attachment file name", False),
])
def test_only_a_reused_reference_counts_as_duplicate(text, duplicate):
    assert bool(DUPLICATE_FAULT.search(text)) is duplicate


def test_503_is_unavailable_and_a_retry_goes_through(altinn, channel):
    sent = letter()
    assert channel.client is not None  # load the WSDL first so the 503 hits the operation itself
    altinn.fail_next(1)
    with pytest.raises(ChannelUnavailable) as err:
        channel.submit(sent, idempotency_key="key-503")
    assert err.value.channel == "altinn2" and "503" in str(err.value)
    assert altinn.correspondences == []
    assert channel.submit(sent, idempotency_key="key-503").reference == str(altinn.correspondences[0].receipt_id)


def test_server_fault_is_unavailable(altinn, channel):
    altinn.fault_next(1)
    with pytest.raises(ChannelUnavailable, match="internal error"):
        channel.submit(letter(), idempotency_key="key-500")
    assert altinn.correspondences == []


def test_wrong_password_is_rejected(altinn, session):
    wrong = Altinn2Channel(settings_for(altinn, password="wrong"), transport_session=session)
    with pytest.raises(ChannelRejected, match="verifying security"):
        wrong.submit(letter(), idempotency_key="key-auth")
    assert altinn.auth_failures == 1 and altinn.correspondences == []


def test_operation_timeout_is_set_and_a_stalled_call_is_unavailable(altinn, session):
    channel = Altinn2Channel(settings_for(altinn, timeout_seconds=0.5), transport_session=session)
    transport = channel.client.transport
    assert transport.operation_timeout == 0.5 and transport.load_timeout == 0.5
    altinn.stall_next(1, 2.0)
    with pytest.raises(ChannelUnavailable, match="unreachable"):
        channel.submit(letter(), idempotency_key="key-slow")


def test_unreachable_wsdl_is_unavailable(session):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = Altinn2Settings(enabled=True, wsdl_url=f"http://127.0.0.1:{port}/x.svc?wsdl", endpoint_url=f"http://127.0.0.1:{port}/x.svc",
                               username=USER, password=PASSWORD, timeout_seconds=2.0)
    with pytest.raises(ChannelUnavailable, match="WSDL"):
        Altinn2Channel(settings, transport_session=session).submit(letter(), idempotency_key="k")


def test_recipient_altinn_cannot_address_is_rejected_before_any_call(altinn, channel):
    danish = Party(identifier="0101701234", kind=PartyKind.DK_CPR)
    with pytest.raises(ChannelRejected, match="Norwegian"):
        channel.submit(letter(recipient=danish), idempotency_key="key-dk")
    assert altinn.correspondences == [] and altinn.invalid == []


def _envelope(body: str, *, password: str = PASSWORD) -> bytes:
    return f"""<s:Envelope xmlns:s="{SOAP12}" xmlns:a="http://www.w3.org/2005/08/addressing">
  <s:Header>
    <a:Action>{ACTION}</a:Action>
    <wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">
      <wsu:Timestamp><wsu:Created>2020-01-01T00:00:00Z</wsu:Created><wsu:Expires>2999-01-01T00:00:00Z</wsu:Expires></wsu:Timestamp>
      <wsse:UsernameToken><wsse:Username>{USER}</wsse:Username><wsse:Password Type="{PASSWORD_TEXT}">{password}</wsse:Password></wsse:UsernameToken>
    </wsse:Security>
  </s:Header>
  <s:Body>{body}</s:Body>
</s:Envelope>""".encode()


def test_a_body_that_breaks_the_schema_fails_loudly(altinn, session):
    # ExternalShipmentReference is missing and Bogus is no element of InsertCorrespondenceV2
    broken = f"""<InsertCorrespondenceV2 xmlns="{TNS}">
      <SystemUserCode>GATEWAY_SYS</SystemUserCode>
      <Correspondence><Bogus xmlns="http://schemas.altinn.no/services/ServiceEngine/Correspondence/2010/10">x</Bogus></Correspondence>
    </InsertCorrespondenceV2>"""
    answer = session.post(altinn.endpoint_url, data=_envelope(broken),
                          headers={"Content-Type": f'application/soap+xml; charset=utf-8; action="{ACTION}"'}, timeout=10)
    assert answer.status_code == 500
    assert b"not valid against the service schema" in answer.content and b"DeserializationFailed" in answer.content
    assert len(altinn.invalid) == 1 and "ExternalShipmentReference" in altinn.invalid[0]
    assert altinn.correspondences == []


def test_the_double_serves_the_official_wsdl_pointing_at_itself(altinn, session):
    served = session.get(altinn.wsdl_url, timeout=10)
    assert served.status_code == 200
    assert f'location="{altinn.endpoint_url}"'.encode() in served.content
    assert b"https://www.altinn.no/ServiceEngineExternal" not in served.content
    assert b"InsertCorrespondenceV2" in served.content


def test_enabling_altinn2_warns_at_start_up_that_the_service_is_shut_down(altinn, caplog):
    """Sending through Altinn II ended on 31 May 2026 (../shared/specs/README.md): the channel
    stays for old installations, and whoever switches it on is told at start-up."""
    import logging

    from gateway.channels.factory import ALTINN2_SHUT_DOWN, build_channels
    from gateway.config import ChannelSettings, PrintSettings, Settings

    settings = Settings(channels=ChannelSettings(altinn2=settings_for(altinn), print=PrintSettings(enabled=False)))
    with caplog.at_level(logging.WARNING, logger="gateway.channels.factory"):
        channels = build_channels(settings)
    assert "altinn2" in channels
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [ALTINN2_SHUT_DOWN]
    assert "31 May 2026" in ALTINN2_SHUT_DOWN
