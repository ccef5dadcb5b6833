"""End to end through gateway.runtime: a signed MeMo for a Danish recipient goes out over
SF1601 (both tokens, the transaction headers, a kombi_request) and its Beskedfordeler status
event, published into the machine's RabbitMQ, ends it; with ``physical_post = "sf1601"`` an
unregistered recipient's letter is Fysisk Post with a ForsendelseI, with ``"print"`` it goes
to our own print channel."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from lxml import etree

from gateway.config import ChannelSettings, DigitalPostSettings, DispatchSettings, PrintSettings
from gateway.config.sections import Sf1601Settings
from gateway.dispatch.worker import Worker
from gateway.model import Status
from tests.conftest import make_pdf
from tests.doubles.beskedfordeler import Beskedfordeler, event
from tests.doubles.digitalpost import make_pki
from tests.doubles.sf1601 import DKAL_NS, FJERNPRINT_NS, LOOKUP_ENTITY, SEND_ENTITY, Sf1601Double
from tests.integration.test_memo_endpoint import MEMO, SIGNER_CERT, _service, signed_message
from tests.integration.test_memo_to_digitalpost import _with_address

AMQP_URL = os.environ.get("GATEWAY_TEST_AMQP_URL", "")
CVR = "29189498"
CPR = "2211771212"
PDF = make_pdf("Pladsanvisning", pages=2)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def make_rig(start_gateway, settings_factory, tmp_path):
    if not AMQP_URL:
        pytest.skip("GATEWAY_TEST_AMQP_URL is not set (CI sets it to the machine's RabbitMQ)")
    pki = make_pki(tmp_path / "pki")
    opened: list = []

    def make(physical_post: str):
        double = Sf1601Double(pki, cvr=CVR)
        bf = Beskedfordeler(AMQP_URL)
        opened.extend([double, bf])
        sf = Sf1601Settings(authority_cvr=CVR, sts_url=double.sts_url, physical_post=physical_post, forsendelse_type_identifikator=265,
                            amqp_url=AMQP_URL, amqp_queue=bf.queue)
        channels = ChannelSettings(
            digitalpost=DigitalPostSettings(enabled=True, transport="sf1601", base_url=double.url, client_certificate=str(pki.client_cert),
                                            client_private_key=str(pki.client_key), ca_bundle=str(pki.ca_cert), timeout_seconds=5.0,
                                            sf1601=sf),
            print=PrintSettings(batch_max_age_seconds=60),
        )
        settings = settings_factory(channels=channels, dispatch=DispatchSettings())
        senders = tuple(dataclasses.replace(s, signing_certificate=str(SIGNER_CERT)) if s.name == "kommune-sak" else s
                        for s in settings.senders)
        clock = Clock()
        gw = start_gateway(dataclasses.replace(settings, senders=senders), clock=clock)  # channels from the factory
        gw.runtime.dispatcher.ensure_periodic_jobs()
        worker = Worker(gw.runtime.dispatcher, gw.runtime.dispatch_store, name="sf1601-e2e", lease_seconds=120)

        def drain(seconds: float = 0) -> None:
            clock.now += dt.timedelta(seconds=seconds)
            for _ in range(100):
                if not worker.run_once():
                    return
            raise AssertionError("jobs keep coming")

        return gw, double, bf, drain

    yield make
    for thing in opened:
        thing.close() if isinstance(thing, Beskedfordeler) else thing.stop()


def _pdf_only(root: etree._Element) -> None:
    """The full example with a structured address and only its PDFs (remote print takes PDF)."""
    _with_address(root)
    for file in list(root.iter(f"{{{MEMO}}}File")):
        if file.findtext(f"{{{MEMO}}}encodingFormat") != "application/pdf":
            holder = file.getparent()
            if len(holder.findall(f"{{{MEMO}}}File")) > 1:
                holder.remove(file)
            else:
                holder.getparent().remove(holder)


def _send(gw, mutate=_pdf_only) -> str:
    message_uuid, data = signed_message("MeMo_v1.1_Full_Example.xml", pdf=PDF, mutate=mutate)
    assert _service(gw, "MemoService").sendMessage(message=data).messageUUID == message_uuid
    return message_uuid


def _status(gw, message_uuid: str) -> Status:
    return gw.runtime.repository.get(message_uuid).status


def _printed_files(gw, message_uuid: str) -> list[Path]:
    return list((Path(gw.runtime.settings.storage.data_dir) / "print").rglob(f"{message_uuid}*"))


def test_a_danish_letter_over_sf1601_is_delivered_when_its_event_says_so(make_rig):
    gw, double, bf, drain = make_rig("print")
    double.registered[CPR] = True
    message_uuid = _send(gw)
    drain()
    assert _status(gw, message_uuid) is Status.SENT_DIGITAL
    [send] = double.sends
    assert send.kombi_valg_kode == "Digital Post" and send.transaction_id == message_uuid and send.transaction_time
    assert send.memo.findtext(f"{{{MEMO}}}MessageHeader/{{{MEMO}}}messageUUID") == message_uuid
    assert sorted(r["AppliesTo"]["EndpointReference"]["Address"] for r in double.issued) == [SEND_ENTITY, LOOKUP_ENTITY]
    assert double.access_tokens_issued == 2 and double.refused == []
    bf.publish(event(message_uuid, "Modtaget Digital Post"), event(message_uuid, "Afleveret Digital Post"))
    drain(seconds=11)
    assert _status(gw, message_uuid) is Status.DELIVERED
    assert bf.waiting() == 0
    assert gw.runtime.dispatch_store.pending_jobs(message_uuid) == []  # no deadline: it will never be printed


def test_a_failed_event_sends_the_letter_to_print(make_rig):
    gw, double, bf, drain = make_rig("print")
    double.registered[CPR] = True
    message_uuid = _send(gw)
    drain()
    bf.publish(event(message_uuid, "Fejlet", error=("1002", "Postkassen er lukket")))
    drain(seconds=11)
    assert _status(gw, message_uuid) is Status.SENT_TO_PRINT
    [alert] = gw.runtime.dispatch_store.alerts(kind="mailbox_refused")
    assert alert["shipment_id"] == message_uuid and "Postkassen er lukket" in alert["detail"]


def test_unregistered_recipient_gets_fysisk_post_through_sf1601(make_rig):
    gw, double, bf, drain = make_rig("sf1601")
    message_uuid = _send(gw)
    drain()
    assert _status(gw, message_uuid) is Status.SENT_TO_PRINT
    [send] = double.sends
    assert send.kombi_valg_kode == "Fysisk Post"
    f = send.forsendelse
    assert f.findtext(f"{{{FJERNPRINT_NS}}}AfsendelseIdentifikator") == message_uuid
    assert f.findtext(f"{{{FJERNPRINT_NS}}}ForsendelseTypeIdentifikator") == "265"
    assert base64.b64decode(f.findtext(f"{{{DKAL_NS}}}MeddelelseIndholdData")) == PDF
    address = f.find(f"{{{FJERNPRINT_NS}}}ForsendelseModtager/{{{FJERNPRINT_NS}}}ModtagerAdresse")
    texts = [e.text for e in address]
    assert "9000" in texts and "Aalborg" in texts and any("Bakketoppen" in (t or "") for t in texts)
    assert _printed_files(gw, message_uuid) == []  # not our print channel
    assert "deadline" not in {j["kind"] for j in gw.runtime.dispatch_store.pending_jobs(message_uuid)}  # a print: no read deadline
    bf.publish(event(message_uuid, "Afsendt", physical=True))
    drain(seconds=11)
    assert _status(gw, message_uuid) is Status.PRINTED


def test_unregistered_recipient_goes_to_our_print_channel_with_physical_post_print(make_rig):
    gw, double, bf, drain = make_rig("print")
    double.registered[CPR] = False
    message_uuid = _send(gw)
    drain()
    assert _status(gw, message_uuid) is Status.SENT_TO_PRINT
    assert double.sends == [] and double.lookups == [("cprNumber", CPR)]
    assert ".pdf" in {p.suffix for p in _printed_files(gw, message_uuid)}
