"""SF1601's status events through Beskedfordeler: the test publishes events in the real shape
into a fresh queue of the machine's RabbitMQ, and the channel's feed reads, acknowledges and
releases them over AMQP 0-9-1."""
from __future__ import annotations

import base64
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pika
import pytest

from gateway.channels.base import ChannelUnavailable, StatusFeed
from gateway.channels.sf1601 import Sf1601Channel, Sf1601FeedChannel, TokenCredentials
from gateway.channels.sf1601_events import BeskedfordelerFeed, parse_event, MalformedEvent
from gateway.config import ConfigError
from gateway.config.sections import Sf1601Settings
from gateway.mapping.memo_out import shipment_to_memo
from gateway.model import Status, utcnow
from tests.doubles.beskedfordeler import Beskedfordeler, event, haendelsesbesked, post_status
from tests.doubles.digitalpost import make_pki
from tests.doubles.sf1601 import BF_ENTITY, Sf1601Double
from tests.integration.test_sf1601 import CVR, settings

AMQP_URL = os.environ.get("GATEWAY_TEST_AMQP_URL", "")
needs_amqp = pytest.mark.skipif(not AMQP_URL, reason="GATEWAY_TEST_AMQP_URL is not set (CI sets it to the machine's RabbitMQ)")


@pytest.fixture
def bf() -> Iterator[Beskedfordeler]:
    if not AMQP_URL:
        pytest.skip("GATEWAY_TEST_AMQP_URL is not set (CI sets it to the machine's RabbitMQ)")
    with Beskedfordeler(AMQP_URL) as b:
        yield b


@pytest.fixture
def feed(bf: Beskedfordeler) -> Iterator[BeskedfordelerFeed]:
    f = BeskedfordelerFeed(lambda: pika.URLParameters(AMQP_URL), queue=bf.queue, channel="digitalpost")
    yield f
    f.close()


# ---------------------------------------------------------------- parsing (no broker)


def test_event_names_the_letter_and_its_status():
    ref = str(uuid.uuid4())
    parsed = parse_event(event(ref, "Afleveret Digital Post"))
    assert parsed.reference == ref and parsed.code == "Afleveret Digital Post" and parsed.error == ""
    failed = parse_event(event(ref.upper(), "Fejlet", error=("1002", "Modtager findes ikke")))
    assert failed.reference == ref and failed.error == "1002: Modtager findes ikke"
    assert parse_event(event(ref, "Afsendt", physical=True)).reference == ref  # AfsendelseIdentifikator


@pytest.mark.parametrize("body, reason", [
    (b"not xml", "not XML"),
    (b"<Haendelsesbesked xmlns='urn:oio:besked:kuvert:1.0'/>", "Base64"),
    (haendelsesbesked(b"%%%"), "base64 XML"),
    (haendelsesbesked(b"<PKO_PostStatus xmlns='http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types'>"
                      b"<TransaktionsStatusKode>Fejlet</TransaktionsStatusKode></PKO_PostStatus>"), "MessageUUID"),
])
def test_malformed_events_are_told_apart(body, reason):
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(body)


# ---------------------------------------------------------------- the feed over AMQP


@needs_amqp
def test_fetch_reads_events_and_acknowledge_removes_them(bf, feed):
    delivered, failed, news = (str(uuid.uuid4()) for _ in range(3))
    bf.publish(event(delivered, "Afleveret Digital Post"), event(failed, "Fejlet", error=("1002", "Ukendt modtager")),
               event(news, "Modtaget Digital Post"))
    entries = feed.fetch(limit=10)
    assert [(e.reference, e.status, e.failed) for e in entries] == [
        (delivered, Status.DELIVERED, False), (failed, None, True), (news, None, False)]
    assert "1002: Ukendt modtager" in entries[1].detail and entries[2].detail == "SF1601: Modtaget Digital Post"
    assert all(e.token for e in entries)
    assert feed.fetch(limit=10) == []  # taken, not yet acknowledged: not answered twice on this connection
    feed.acknowledge(entries)
    feed.close()
    assert feed.fetch(limit=10) == [] and bf.waiting() == 0


@needs_amqp
def test_fetch_takes_at_most_limit(bf, feed):
    refs = [str(uuid.uuid4()) for _ in range(5)]
    bf.publish(*(event(r, "Afleveret Digital Post") for r in refs))
    first = feed.fetch(limit=2)
    second = feed.fetch(limit=10)
    assert [e.reference for e in first + second] == refs and len(first) == 2


@needs_amqp
def test_unacknowledged_events_come_back_after_a_reconnect(bf, feed):
    ref = str(uuid.uuid4())
    bf.publish(event(ref, "Afleveret Digital Post"))
    [entry] = feed.fetch(limit=10)
    feed._connection.close()  # the connection drops behind the feed's back
    [again] = feed.fetch(limit=10)  # reconnects; the event came back
    assert again.reference == ref and again.token != entry.token
    feed.acknowledge([entry])  # a tag of the dropped connection: skipped, not an error
    feed.acknowledge([again])
    feed.close()
    assert feed.fetch(limit=10) == [] and bf.waiting() == 0


@needs_amqp
def test_a_dropped_tcp_connection_is_opened_again_at_once_and_its_events_come_back(bf, feed, caplog):
    import socket

    ref = str(uuid.uuid4())
    bf.publish(event(ref, "Afleveret Digital Post"))
    [entry] = feed.fetch(limit=10)
    feed._connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)  # the network drops it
    with caplog.at_level(logging.INFO, logger="gateway.channels.sf1601_events"):
        [again] = feed.fetch(limit=10)  # the first attempt finds it gone; the second connects again
    assert any("connection was gone" in r.getMessage() for r in caplog.records)
    assert again.reference == ref and again.token.split(":")[0] != entry.token.split(":")[0]
    feed.acknowledge([again])
    feed.close()
    assert bf.waiting() == 0


@needs_amqp
def test_release_puts_events_back(bf, feed):
    ref = str(uuid.uuid4())
    bf.publish(event(ref, "Afleveret Digital Post"))
    [entry] = feed.fetch(limit=10)
    feed.release([entry])
    [again] = feed.fetch(limit=10)
    assert again.reference == ref
    feed.acknowledge([again])


@needs_amqp
def test_a_malformed_event_is_logged_and_acknowledged_and_never_blocks_the_queue(bf, feed, caplog):
    ref = str(uuid.uuid4())
    bf.publish(b"<broken", haendelsesbesked(post_status("", "Fejlet")), event(ref, "Afleveret Digital Post"))
    with caplog.at_level(logging.ERROR, logger="gateway.channels.sf1601_events"):
        entries = feed.fetch(limit=10)
    assert [e.reference for e in entries] == [ref]
    assert sum("malformed event" in r.getMessage() for r in caplog.records) == 2
    feed.acknowledge(entries)
    feed.close()
    assert bf.waiting() == 0 and feed.fetch(limit=10) == []


@needs_amqp
def test_the_feed_is_safe_to_share_between_worker_threads(bf, feed):
    refs = {str(uuid.uuid4()) for _ in range(40)}
    bf.publish(*(event(r, "Afleveret Digital Post") for r in refs))
    seen: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while entries := feed.fetch(limit=3):
                seen.extend(e.reference for e in entries)
                feed.acknowledge(entries)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and sorted(seen) == sorted(refs)


def test_an_unreachable_broker_is_channel_unavailable():
    f = BeskedfordelerFeed(lambda: pika.URLParameters("amqp://guest:guest@127.0.0.1:1/%2F?connection_attempts=1"),
                           queue="q", channel="digitalpost")
    with pytest.raises(ChannelUnavailable, match="cannot be read"):
        f.fetch(limit=1)


# ---------------------------------------------------------------- the channel


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def double(pki):
    with Sf1601Double(pki, cvr=CVR) as d:
        yield d


def _channel(cls, double, pki, **sf):
    s = settings(double, pki)
    import dataclasses
    return cls(dataclasses.replace(s, sf1601=dataclasses.replace(s.sf1601, **sf)),
               render=lambda letter: shipment_to_memo(letter.shipment, content=letter.content, now=utcnow()))


def test_the_channel_is_a_status_feed_only_with_a_queue(double, pki, bf):
    plain = _channel(Sf1601Channel, double, pki)  # the base class: no feed
    fed = _channel(Sf1601FeedChannel, double, pki, amqp_url=AMQP_URL, amqp_queue=bf.queue)
    try:
        assert not isinstance(plain, StatusFeed) and isinstance(fed, StatusFeed)
        ref = str(uuid.uuid4())
        bf.publish(event(ref, "Afleveret Digital Post"))
        [entry] = fed.fetch(limit=5)
        assert entry.reference == ref and entry.status is Status.DELIVERED
        fed.acknowledge([entry])
        assert fed.poll([]) == []
    finally:
        plain.close()
        fed.close()


def test_the_factory_refuses_sf1601_without_beskedfordeler(double, pki):
    with pytest.raises(ConfigError, match="amqp_url and amqp_queue"):
        _channel(Sf1601FeedChannel, double, pki)


def test_production_login_uses_tls_and_the_saml_token_as_external_credential(double, pki):
    """What could not run here: RabbitMQ on this machine speaks neither TLS nor token auth, so
    the parameters the channel would connect to Beskedfordeler with are checked instead."""
    ch = _channel(Sf1601FeedChannel, double, pki, amqp_url="amqps://beskedfordeler.eksterntest-stoettesystemerne.dk:5671/BF",
                  amqp_queue=str(uuid.uuid4()), amqp_token_auth=True)
    try:
        params = ch._amqp_parameters()
        assert (params.host, params.port, params.virtual_host) == ("beskedfordeler.eksterntest-stoettesystemerne.dk", 5671, "BF")
        assert params.ssl_options is not None and params.ssl_options.server_hostname == params.host
        assert isinstance(params.credentials, TokenCredentials)
        [request] = double.issued
        assert request["AppliesTo"]["EndpointReference"]["Address"] == BF_ENTITY
        mechanism, response = params.credentials.response_for(SimpleNamespace(mechanisms=b"PLAIN AMQPLAIN EXTERNAL"))
        assert mechanism == "EXTERNAL" and response.startswith(b"<saml:Assertion")
        assert params.credentials.response_for(SimpleNamespace(mechanisms=b"PLAIN")) == (None, None)
        assert base64.b64encode(response).decode() == ch.tokens.saml_assertion(BF_ENTITY)
    finally:
        ch.close()


def test_settings_defaults_name_the_production_services():
    s = Sf1601Settings()
    assert s.sts_url == "https://adgangsstyring.stoettesystemerne.dk/runtime/api/rest/wstrust/v1/issue"
    assert s.amqp_entity_id == BF_ENTITY and s.physical_post == "print"
