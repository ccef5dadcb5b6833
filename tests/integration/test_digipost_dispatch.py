"""End to end with Digipost as the print provider: SvarUt V9 intake → dispatch → the Digipost double
over real HTTP (signed, valid against api_v8.xsd) → its delivery status back to PRINTET."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fpdf import FPDF

from gateway.config import ChannelSettings, DigipostSettings, DispatchSettings, PrintSettings
from gateway.dispatch.worker import Worker
from gateway.model import utcnow
from tests.conftest import make_pdf
from tests.doubles.digipost import NS, DigipostDouble, schema
from tests.svarut_builders import PERSON_FNR, dokument, forsendelse

OSLO = ZoneInfo("Europe/Oslo")
BROKER = "987654"
Q = f"{{{NS}}}"


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start.astimezone(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def rig(start_gateway, settings_factory, svarut_client, tmp_path, database_url):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "digipost.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    clock = FakeClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=OSLO))
    with DigipostDouble(users={BROKER: key.public_key()}, now=clock) as double:
        certificate = tmp_path / "digipost-server.pem"
        certificate.write_bytes(double.certificate_pem)
        channels = ChannelSettings(print=PrintSettings(
            provider="digipost", batch_max_letters=50, batch_max_age_seconds=60,
            return_address=("Eksempel kommune", "Postboks 1", "0101 Oslo"),
            digipost=DigipostSettings(base_url=double.url, broker_id=BROKER, key_file=str(key_file),
                                      server_certificate_file=str(certificate), timeout_seconds=5)))
        dispatch = DispatchSettings(backoff_base_seconds=10, backoff_max_seconds=600, breaker_threshold=50, max_attempts=50)
        gw = start_gateway(settings_factory(database_url, channels=channels, dispatch=dispatch), clock=clock)
        _client, svc = svarut_client(gw)
        rt = gw.runtime
        worker = Worker(rt.dispatcher, rt.dispatch_store, name="test-worker", lease_seconds=120)
        rt.dispatcher.ensure_periodic_jobs()
        yield rt, svc, _client, double, clock, worker


def _drain(worker: Worker) -> None:
    for _ in range(200):
        if not worker.run_once():
            return
    raise AssertionError("jobs keep coming")


def test_letter_for_print_reaches_digipost_valid_and_signed_and_comes_back_printed(rig):
    rt, svc, client, double, clock, worker = rig
    rt.dispatch_store.register_set([(PERSON_FNR, "person", "reserved")], now=utcnow())
    sid = svc.sendForsendelse(forsendelse=forsendelse(client, dokumenter=[dokument(make_pdf("Vedtak", pages=3), "Vedtak.pdf")]))
    _drain(worker)
    assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "SENDT_PRINT"
    assert double.messages == {}  # waiting for its batch
    clock.now += dt.timedelta(seconds=61)
    _drain(worker)  # the print cycle: the batch is created, the letter added, the batch committed
    message = double.messages[sid]
    schema().assertValid(message.xml)
    assert message.xml.findtext(f"{Q}recipient/{Q}print-details/{Q}recipient/{Q}name") == "Ola Nordmann"
    assert double.batches[message.batch]["status"] == "DONE"
    assert double.refusals == []  # every request was signed and valid
    clock.now += dt.timedelta(seconds=61)
    _drain(worker)  # the next cycle reads the document status: DELIVERED on PRINT
    assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "PRINTET"
    history = [h.hendelse for h in svc.retrieveForsendelseHistorikk(forsendelsesid=sid)]
    assert history[-1].startswith("Printet:")
    [delivery] = [d for d in rt.dispatch_store.deliveries(shipment_id=sid) if d.channel == "print"]
    assert delivery.cost_ore == delivery.cost_estimate_ore and delivery.cost_ore


def test_refused_by_digipost_ends_the_letter_visibly(rig):
    rt, svc, client, double, clock, worker = rig
    double.refuse_names.add("Ola Nordmann")
    rt.dispatch_store.register_set([(PERSON_FNR, "person", "reserved")], now=utcnow())
    sid = svc.sendForsendelse(forsendelse=forsendelse(client))
    _drain(worker)
    clock.now += dt.timedelta(seconds=61)
    _drain(worker)
    clock.now += dt.timedelta(seconds=61)
    _drain(worker)
    assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "IKKE_LEVERT"
    [alert] = rt.dispatch_store.alerts(kind="print_rejected")
    assert alert["shipment_id"] == sid and "cannot be printed" in alert["detail"]


def test_a_pdf_print_cannot_take_is_noted_in_the_history_at_intake(rig):
    rt, svc, client, double, clock, worker = rig
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.set_xy(5, 130)
    pdf.cell(text="Tekst i strekkodefeltet")
    sid = svc.sendForsendelse(forsendelse=forsendelse(client, dokumenter=[dokument(bytes(pdf.output()), "Vedtak.pdf")]))
    history = [h.hendelse for h in svc.retrieveForsendelseHistorikk(forsendelsesid=sid)]
    assert any(h.startswith("Kan ikke skrives ut") and "left margin" in h for h in history)
