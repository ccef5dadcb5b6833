"""End to end over real sockets: SvarUt V9 intake → dispatch → Altinn 3 double or print folder,
with the case system watching the status. Time is an injected clock; the worker is driven
step by step so every transition is observable."""
from __future__ import annotations

import datetime as dt
import io
import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from openpyxl import load_workbook
from pypdf import PdfReader

from gateway.config import Altinn3Settings, ChannelSettings, DispatchSettings, PrintSettings
from gateway.dispatch.worker import Worker
from gateway.model import utcnow
from gateway.reports import write_letters_report
from tests.conftest import make_pdf
from tests.console_helpers import with_console
from tests.doubles.altinn3 import Altinn3Double
from tests.svarut_builders import PERSON_FNR, dokument, forsendelse

CLIENT_ID = "kommune-gateway"
OSLO = ZoneInfo("Europe/Oslo")
RECEIPT_NS = "urn:gateway:print:receipt:1"
MANIFEST_NS = "urn:gateway:print:manifest:1"
XSD = Path(__file__).resolve().parents[2] / "xsd"


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start.astimezone(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Rig:
    def __init__(self, gw, double, clock, svc, client) -> None:
        self.gw, self.double, self.clock, self.svc, self.client = gw, double, clock, svc, client
        rt = gw.runtime
        self.worker = Worker(rt.dispatcher, rt.dispatch_store, name="test-worker", lease_seconds=120)
        rt.dispatcher.ensure_periodic_jobs()

    def drain(self, rounds: int = 200) -> None:
        """Run every job that is due now."""
        for _ in range(rounds):
            if not self.worker.run_once():
                return
        raise AssertionError("jobs keep coming")

    def advance(self, **delta: float) -> None:
        self.clock.advance(**delta)
        self.drain()

    def status(self, sid: str) -> str:
        return self.svc.retrieveForsendelseStatus(forsendelsesid=sid)

    def history(self, sid: str) -> list[str]:
        return [h.hendelse for h in self.svc.retrieveForsendelseHistorikk(forsendelsesid=sid)]

    def register(self, identifier: str, status: str) -> None:
        self.gw.runtime.dispatch_store.register_set([(identifier, "person", status)], now=utcnow())

    @property
    def print_dir(self) -> Path:
        return Path(self.gw.runtime.settings.storage.data_dir) / "print"


@pytest.fixture
def rig(start_gateway, settings_factory, svarut_client, client_key, tmp_path, database_url):
    public = client_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "maskinporten.pem"
    key_file.write_bytes(client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with Altinn3Double(public_key_pem=public, client_id=CLIENT_ID) as double:
        channels = ChannelSettings(
            altinn3=Altinn3Settings(
                enabled=True, base_url=double.url, resource_id="kommune-brev", token_url=double.url + "/token",
                token_audience=double.audience, client_id=CLIENT_ID, key_id="kid-1", private_key_file=str(key_file),
                timeout_seconds=2.0, poll_interval_seconds=60, subscription_key=double.subscription_key,
            ),
            print=PrintSettings(batch_max_age_seconds=60, receipt_timeout_hours=48, return_address=("Eksempel kommune", "Postboks 1", "0101 Oslo")),
        )
        dispatch = DispatchSettings(backoff_base_seconds=10, backoff_max_seconds=600, outage_to_print_hours=24,
                                    breaker_threshold=50, max_attempts=50)
        # Monday 23 November 2026, 09:00 in Oslo
        clock = FakeClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=OSLO))
        # with the console's test operators (tests/integration/test_console_dispatch.py acts on letters through it)
        gw = start_gateway(with_console(settings_factory(database_url, channels=channels, dispatch=dispatch)), clock=clock)
        client, svc = svarut_client(gw)
        yield Rig(gw, double, clock, svc, client)


def _send(rig: Rig, **overrides) -> str:
    return rig.svc.sendForsendelse(forsendelse=forsendelse(rig.client, **overrides))


def test_digital_letter_is_notified_then_read(rig):
    rig.register(PERSON_FNR, "digital")
    first, second = make_pdf("Vedtak", pages=2), make_pdf("Vedlegg")
    links = [{"urlLenke": "https://minside.kommune.no/sak/1234", "urlTekst": "Se saken din"}]
    sid = _send(rig, dokumenter=[dokument(first, "Vedtak.pdf"), dokument(second, "Vedlegg.pdf")], lenker=links)
    rig.drain()

    [upload] = rig.double.uploads
    assert upload["errors"] == []  # the JSON part validated against the official OpenAPI schema
    assert upload["json"]["Recipients"] == [f"urn:altinn:person:identifier-no:{PERSON_FNR}"]
    assert upload["json"]["Correspondence.SendersReference"] == sid
    assert [f["data"] for f in upload["files"]] == [first, second]
    assert "[Se saken din](https://minside.kommune.no/sak/1234)" in upload["json"]["Correspondence.Content.MessageBody"]
    assert rig.status(sid) == "SENDT_DIGITALT"

    rig.advance(seconds=61)  # the poll finds the correspondence published
    assert rig.status(sid) == "VARSLET"
    [cid] = rig.double.correspondences
    rig.double.mark_read(cid)
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    history = rig.history(sid)
    assert history[:2] == ["Forsendelse mottatt", "Forsendelse akseptert og lagret"]
    assert any(h.startswith("Sendt digitalt: Altinn") for h in history)
    assert any(h.startswith("Mottaker varslet") for h in history) and history[-1].startswith("Lest av mottaker")
    # read: the deadline no longer sends it to print
    rig.advance(days=14)
    assert rig.status(sid) == "LEST" and not list(rig.print_dir.rglob(f"{sid}.pdf"))


def test_unread_past_deadline_goes_to_print_and_is_printed_with_cost(rig):
    rig.register(PERSON_FNR, "digital")
    link = "https://minside.kommune.no/byggesak/2026-1234?vis=vedtak"
    sid = _send(rig, lenker=[{"urlLenke": link, "urlTekst": "Se saken din"}],
                dokumenter=[dokument(make_pdf("Vedtak", pages=3), "Vedtak.pdf")],
                printkonfigurasjon={"brevtype": "BPOST", "fargePrint": False, "tosidig": True})
    rig.drain()
    assert rig.status(sid) == "SENDT_DIGITALT"

    # 40 working hours from Monday 09:00 is the next Monday 09:00; just before it nothing happens
    rig.clock.now = dt.datetime(2026, 11, 30, 8, 59, tzinfo=OSLO).astimezone(dt.timezone.utc)
    rig.drain()
    assert rig.status(sid) in ("SENDT_DIGITALT", "VARSLET")
    rig.advance(minutes=2)
    assert rig.status(sid) == "SENDT_PRINT"
    rig.advance(seconds=61)  # the batch is closed by the next print cycle

    [batch] = [p for p in (rig.print_dir / "outbox").iterdir() if p.is_dir() and p.name.startswith("batch-")]
    manifest = etree.parse(str(batch / "manifest.xml"))
    etree.XMLSchema(etree.parse(str(XSD / "print-manifest.xsd"))).assertValid(manifest)
    [job] = manifest.getroot().findall(f"{{{MANIFEST_NS}}}Job")
    pdf = PdfReader(io.BytesIO((batch / job.findtext(f"{{{MANIFEST_NS}}}file")).read_bytes()))
    cover = pdf.pages[0].extract_text()
    for text in ("Ola Nordmann", "Storgata 1", "0155", "Oslo", link):
        assert text in cover, text
    # duplex: cover (1 page + blank) + 3-page document (+ blank) = 6 pages on 3 sheets
    assert int(job.findtext(f"{{{MANIFEST_NS}}}pages")) == len(pdf.pages) == 6
    assert int(job.findtext(f"{{{MANIFEST_NS}}}sheets")) == 3

    receipt = rig.print_dir / "receipts" / f"{batch.name.removeprefix('batch-')}.xml"
    receipt.parent.mkdir(parents=True, exist_ok=True)
    receipt.write_text(
        f'<PrintReceipt xmlns="{RECEIPT_NS}" batchId="{batch.name.removeprefix("batch-")}" produced="2026-11-30T14:00:00+01:00">'
        f"<Job><shipmentId>{sid}</shipmentId><pages>6</pages><sheets>3</sheets>"
        "<productionCostOre>412</productionCostOre><postageOre>2200</postageOre></Job></PrintReceipt>",
        encoding="utf-8",
    )
    os.utime(receipt, (time.time() - 60, time.time() - 60))  # written a while ago: settled
    rig.advance(seconds=61)
    assert rig.status(sid) == "PRINTET"
    [delivery] = [d for d in rig.gw.runtime.dispatch_store.deliveries(shipment_id=sid) if d.channel == "print"]
    assert delivery.cost_ore == 2612 and delivery.cost_estimate_ore is not None
    assert rig.history(sid)[-1].startswith("Printet:") and "26.12 kr" in rig.history(sid)[-1]
    # the per-letter report splits the charge as the print house's receipt does
    out = rig.print_dir.parent / "brev.xlsx"
    write_letters_report(rig.gw.runtime, start=dt.date(2026, 11, 23), end=dt.date(2026, 11, 30), format="xlsx", out=out)
    book = load_workbook(out, read_only=True)
    headings, row = list(book["Brev"].iter_rows(values_only=True))
    book.close()
    row = dict(zip(headings, row))
    assert (row["Produksjonskostnad (kr)"], row["Porto (kr)"], row["Totalkostnad (kr)"], row["Ark"]) == (4.12, 22, 26.12, 3)
    assert row["Kanal"] == "Utskrift" and row["Skrevet ut"] == dt.datetime(2026, 11, 30, 14, 0)


def test_reserved_recipient_goes_to_print_at_once(rig):
    rig.register(PERSON_FNR, "reserved")
    sid = _send(rig)
    rig.drain()
    assert rig.status(sid) == "SENDT_PRINT" and rig.double.uploads == []
    assert any("reservert mot digital post" in h for h in rig.history(sid))  # mappings/dispatch_texts.toml [nb]


def test_digital_only_to_reserved_recipient_is_not_delivered(rig):
    rig.register(PERSON_FNR, "reserved")
    sid = _send(rig, kunDigitalLevering=True)
    rig.drain()
    assert rig.status(sid) == "IKKE_LEVERT"
    assert not list(rig.print_dir.rglob(f"{sid}.pdf")) and rig.double.uploads == []


def test_retries_with_backoff_then_delivered_once(rig):
    rig.register(PERSON_FNR, "digital")
    rig.double.fail_next(3, 503)
    rig.double.stall_next(1, 3.0)  # and one timeout (the channel waits 2 s)
    sid = _send(rig)
    rig.drain()
    assert rig.status(sid) == "AKSEPTERT"
    jobs = rig.gw.runtime.dispatch_store.pending_jobs(sid)
    assert [j["attempts"] for j in jobs if j["kind"] == "submit"] == [1]
    waited = []
    for _ in range(10):
        [submit] = [j for j in rig.gw.runtime.dispatch_store.pending_jobs(sid) if j["kind"] == "submit"] or [None]
        if submit is None:
            break
        due = submit["run_after"].replace(tzinfo=dt.timezone.utc) if submit["run_after"].tzinfo is None else submit["run_after"]
        waited.append((due - rig.clock.now).total_seconds())
        rig.clock.now = due
        rig.drain()
    assert rig.status(sid) == "SENDT_DIGITALT"
    assert len(waited) == 3 and all(w > 0 for w in waited) and waited[-1] > waited[0]  # backing off
    keys = [u["json"]["IdempotentKey"] for u in rig.double.uploads]
    assert len(set(keys)) == 1 and len(rig.double.correspondences) == 1


def test_outage_past_the_limit_sends_to_print_and_alerts(rig):
    rig.register(PERSON_FNR, "digital")
    rig.double.fail_next(1000, 503)
    sid = _send(rig)
    rig.drain()
    for _ in range(40):
        if rig.status(sid) != "AKSEPTERT":
            break
        rig.advance(minutes=60)
    assert rig.status(sid) == "SENDT_PRINT"
    assert rig.gw.runtime.dispatch_store.alerts(kind="channel_outage")
    assert any("har feilet i" in h for h in rig.history(sid))
    assert len(rig.double.correspondences) == 0


def _past_deadline(rig: Rig, sid: str) -> None:
    rig.register(PERSON_FNR, "digital")
    rig.drain()
    assert rig.status(sid) == "SENDT_DIGITALT"
    rig.clock.now = dt.datetime(2026, 11, 30, 9, 1, tzinfo=OSLO).astimezone(dt.timezone.utc)


def test_marked_read_before_the_print_job_runs_cancels_the_print(rig):
    rig.register(PERSON_FNR, "digital")
    sid = _send(rig)
    _past_deadline(rig, sid)
    while rig.worker.run_once():  # run only the deadline: it queues the print submit
        jobs = rig.gw.runtime.dispatch_store.pending_jobs(sid)
        if any(j["kind"] == "submit" and j["channel"] == "print" for j in jobs):
            break
    rig.svc.setForsendelseLestAvEksterntSystem(forsendelsesid=sid, lestAvFodselsnummer=PERSON_FNR, navnPaEksterntSystem="Min side")
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    assert not list(rig.print_dir.rglob(f"{sid}.pdf"))


def test_marked_read_while_staged_for_print_takes_the_job_back(rig):
    rig.register(PERSON_FNR, "digital")
    sid = _send(rig)
    _past_deadline(rig, sid)
    rig.drain()
    assert rig.status(sid) == "SENDT_PRINT" and list((rig.print_dir / "staging").glob(f"{sid}.pdf"))
    rig.svc.setForsendelseLestAvEksterntSystem(forsendelsesid=sid, lestAvFodselsnummer=PERSON_FNR, navnPaEksterntSystem="Min side")
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    assert not list(rig.print_dir.rglob(f"{sid}.pdf"))
    assert rig.history(sid)[-1].startswith("Utskrift stoppet")


def test_stop_command_and_its_limits(rig):
    from gateway.dispatch.manual import stop_shipment
    from gateway.errors import ConflictError

    rig.register(PERSON_FNR, "digital")
    rig.double.fail_next(5, 503)
    sid = _send(rig)
    rig.drain()
    rt = rig.gw.runtime
    assert stop_shipment(rt.repository, rt.dispatcher, sid, reason="feil mottaker") == "MANUALLY_HANDLED"
    assert rig.status(sid) == "MANUELT_HANDTERT"
    assert rig.history(sid)[-1] == "Manuelt håndtert: feil mottaker"
    assert rt.dispatch_store.pending_jobs(sid) == []
    rig.advance(days=30)
    assert rig.status(sid) == "MANUELT_HANDTERT" and rig.double.correspondences == {}

    rig.register(PERSON_FNR, "reserved")
    printed = _send(rig)
    rig.drain()
    assert rig.status(printed) == "SENDT_PRINT"
    with pytest.raises(ConflictError, match="already gone to print"):
        stop_shipment(rt.repository, rt.dispatcher, printed, reason="for sent")


def test_batch_without_receipt_raises_one_alert(rig):
    rig.register(PERSON_FNR, "reserved")
    _send(rig)
    rig.drain()
    rig.advance(seconds=61)  # batched
    assert list((rig.print_dir / "outbox").glob("batch-*"))
    rig.advance(hours=47)
    assert rig.gw.runtime.dispatch_store.alerts(kind="print_receipt_overdue") == []
    rig.advance(hours=2)
    rig.advance(hours=1)
    [alert] = rig.gw.runtime.dispatch_store.alerts(kind="print_receipt_overdue")
    assert "har ingen kvittering" in alert["detail"]


class _BrokenRegister:
    """A recipient lookup that never answers (the register's service is down for good)."""

    def lookup(self, identifier, kind):
        raise ConnectionError("register lookup: connection refused")


@pytest.mark.parametrize("digital_only, ends", [(False, "SENDT_PRINT"), (True, "IKKE_LEVERT")])
def test_a_lookup_that_keeps_failing_ends_the_letter_visibly(rig, digital_only, ends):
    """No letter is buried silently: when its job is given up, the letter falls back to print
    (or ends not delivered when digital only), says why in its history, and an alert is raised."""
    import dataclasses

    dispatcher = rig.gw.runtime.dispatcher
    dispatcher.register = _BrokenRegister()
    dispatcher.policy = dataclasses.replace(dispatcher.policy, max_attempts=3)
    sid = _send(rig, kunDigitalLevering=digital_only)
    rig.drain()
    assert rig.status(sid) == "AKSEPTERT"  # retrying, not yet given up
    for _ in range(3):
        rig.advance(seconds=700)  # past each backoff
    assert rig.status(sid) == ends
    assert any("ga opp etter 3 forsøk" in h and "connection refused" in h for h in rig.history(sid)), rig.history(sid)
    [alert] = [a for a in rig.gw.runtime.dispatch_store.alerts(kind="job_failed") if a["shipment_id"] == sid]
    assert "ConnectionError" in alert["detail"]
    assert rig.gw.runtime.dispatch_store.pending_jobs(sid) == []  # nothing left waiting for nothing
