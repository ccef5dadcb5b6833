"""Status receipts back into the archive (issue #12, item 6), end to end: the real Public 360 and
ePhorte samples come in through /noarkExchange, are dispatched to the Altinn 3 double or to print,
and when they are read, delivered, printed or not delivered the sending archive's double (one
per dialect, built from its vendor's WSDL and schemas) receives a schema-valid AppReceipt with
the SOAPAction its vendor's binding gives PutMessage. An archive that is down gets it later, once;
one that refuses raises an alert and changes nothing about the letter; letters from SvarUt and
senders without an archive send nothing."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time

import pytest
import requests

from gateway.dispatch.archive_receipts import ALERT, KIND
from gateway.store.tables import as_utc
from tests.conftest import OTHER_PASSWORD, SENDER_PASSWORD
from tests.doubles.noark_archive import ArchiveDouble
from tests.integration.test_dispatch import OSLO, RECEIPT_NS, _send
from tests.integration.test_dispatch import rig  # noqa: F401  (the fixture)
from tests.integration.test_noark_exchange import _ids, _official_service, _put
from tests.noark_samples import SAMPLE_SENDERS, sample

P360_ACTION = "http://www.arkivverket.no/Noark/Exchange/IEDUImport/PutMessage"
NOARK4 = "http://www.arkivverket.no/Noark4-1-WS-WD/types"
ARCHIVE_USER = ("gateway", "arkiv-passord")


@pytest.fixture(params=["p360", "ephorte", "websak", "standard"])
def archive(request):
    with ArchiveDouble(request.param, credentials=ARCHIVE_USER) as double:
        yield double


@pytest.fixture
def sender_dialect(archive) -> str:
    """The dialect the sender's settings name: the archive's own, unless a test says otherwise."""
    return archive.dialect


@pytest.fixture
def settings_factory(settings_factory, archive, sender_dialect):
    """``kommune-sak`` has its archive at the double (and may send the ePhorte sample in its
    organisation's name); ``annen-kommune`` has no archive."""
    def factory(*args, **kwargs):
        settings = settings_factory(*args, **kwargs)
        own = dataclasses.replace(settings.senders[0], sends_for=(SAMPLE_SENDERS["ephorte"],), archive_endpoint=archive.url,
                                  archive_dialect=sender_dialect, archive_username=ARCHIVE_USER[0],
                                  archive_password=ARCHIVE_USER[1], archive_timeout_seconds=5.0)
        return dataclasses.replace(settings, senders=(own, *settings.senders[1:]))
    return factory


def _through_noark(rig, name: str, user: str = "kommune-sak", password: str = SENDER_PASSWORD) -> tuple[str, str]:
    """The sample in through /noarkExchange; answers the letter's id and conversationId."""
    _, service = _official_service(rig.gw, user=user, password=password)
    data, conversation_id = sample(name)
    [shipment_id] = _ids(_put(service, data))
    return shipment_id, conversation_id


def _assert_receipt(archive, received, *, conversation_id: str, receipt_type: str, code: str, archive_orgnr: str,
                    archive_ref: str | None = None, gateway_orgnr: str = "974720760") -> None:
    assert archive.refused == []
    assert received.soap_version == "1.1"
    assert received.soap_action == (P360_ACTION if archive.dialect == "p360" else "")
    assert received.authorization == ARCHIVE_USER
    assert received.conversation_id == conversation_id and received.content_namespace == NOARK4
    assert received.receiver.get("orgnr") == archive_orgnr and received.receiver.get("ref") == archive_ref
    assert received.sender.get("orgnr") == gateway_orgnr  # the letter's receiver: the gateway's side
    assert received.payload_as_text  # the AppReceipt as text, as every vendor types the payload
    assert received.receipt_type == receipt_type
    [(message_code, text)] = received.messages
    assert message_code == code and text


def _receipt_jobs(rig, shipment_id: str) -> list[dict]:
    return [j for j in rig.gw.runtime.dispatch_store.pending_jobs(shipment_id) if j["kind"] == KIND]


def test_a_read_letter_sends_lest_to_the_archive(rig, archive):
    rig.register("974720760", "digital")
    sid, conversation_id = _through_noark(rig, "p360")  # a DOCX to a registered organisation: Altinn 3, digital only
    rig.drain()
    assert rig.status(sid) == "SENDT_DIGITALT" and archive.received == []  # nothing to tell yet
    [cid] = rig.double.correspondences
    rig.double.mark_read(cid)
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="OK", code="LEST",
                    archive_orgnr="974720760")  # the P360 sample leaves its sender empty: the account's number
    assert rig.history(sid)[-1].startswith("Statuskvittering til arkivet: LEST sendt til")
    rig.advance(days=14)  # the deadline no longer runs, nothing more is sent
    assert len(archive.received) == 1 and rig.status(sid) == "LEST"


def test_a_printed_letter_sends_printet(rig, archive):
    sid, conversation_id = _through_noark(rig, "ephorte")  # a PDF with an address, not registered: print
    rig.drain()
    assert rig.status(sid) == "SENDT_PRINT"
    rig.advance(seconds=61)  # the batch is closed by the next print cycle
    [batch] = [p for p in (rig.print_dir / "outbox").iterdir() if p.is_dir() and p.name.startswith("batch-")]
    batch_id = batch.name.removeprefix("batch-")
    receipt = rig.print_dir / "receipts" / f"{batch_id}.xml"
    receipt.parent.mkdir(parents=True, exist_ok=True)
    receipt.write_text(f'<PrintReceipt xmlns="{RECEIPT_NS}" batchId="{batch_id}" produced="2026-11-23T14:00:00+01:00">'
                       f"<Job><shipmentId>{sid}</shipmentId><pages>2</pages><sheets>1</sheets>"
                       "<productionCostOre>300</productionCostOre><postageOre>2200</postageOre></Job></PrintReceipt>", encoding="utf-8")
    os.utime(receipt, (time.time() - 60, time.time() - 60))
    rig.advance(seconds=61)
    assert rig.status(sid) == "PRINTET"
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="OK", code="PRINTET",
                    archive_orgnr="974763907", archive_ref="2014/2703", gateway_orgnr="974763907")  # the ePhorte sample's envelope


def test_a_letter_that_cannot_be_delivered_sends_an_error(rig, archive):
    sid, conversation_id = _through_noark(rig, "p360")  # digital only (a DOCX), and no mailbox is registered
    rig.drain()
    assert rig.status(sid) == "IKKE_LEVERT"
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="ERROR", code="IKKE_LEVERT",
                    archive_orgnr="974720760")


def test_unread_past_the_deadline_when_digital_only_sends_levert(rig, archive):
    rig.register("974720760", "digital")
    sid, conversation_id = _through_noark(rig, "p360")
    rig.drain()
    rig.clock.now = dt.datetime(2026, 11, 30, 9, 1, tzinfo=OSLO).astimezone(dt.timezone.utc)  # 40 working hours on
    rig.drain()
    assert rig.status(sid) == "LEVERT_SDP"
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="OK", code="LEVERT", archive_orgnr="974720760")


def test_a_letter_stopped_by_an_operator_sends_manuelt_handtert(rig, archive):
    from gateway.dispatch.manual import stop_shipment
    from gateway.model import utcnow

    rig.register("974720760", "digital")
    rig.double.fail_next(5, 503)  # Altinn is down: the letter waits for a retry
    sid, conversation_id = _through_noark(rig, "p360")
    rig.drain()
    rt = rig.gw.runtime
    assert stop_shipment(rt.repository, rt.dispatcher, sid, reason="feil mottaker") == "MANUALLY_HANDLED"
    assert _receipt_jobs(rig, sid)  # queued with the stop, in the same transaction
    rig.clock.now = max(rig.clock.now, utcnow())  # the stop is stamped by the wall clock
    rig.drain()
    assert rig.status(sid) == "MANUELT_HANDTERT"
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="ERROR", code="MANUELT_HANDTERT",
                    archive_orgnr="974720760")
    assert "feil mottaker" in received.messages[0][1]


@pytest.mark.parametrize("archive", ["p360"], indirect=True)
def test_an_archive_that_is_down_gets_the_receipt_later_and_once(rig, archive):
    archive.unavailable = 2  # a load balancer's 503 page, twice
    sid, conversation_id = _through_noark(rig, "p360")
    rig.drain()
    assert rig.status(sid) == "IKKE_LEVERT" and archive.received == []
    [job] = _receipt_jobs(rig, sid)
    assert job["attempts"] == 1 and "503" in job["last_error"] and as_utc(job["run_after"]) > rig.clock()
    rig.advance(seconds=30)  # backoff base 10 s: the second try fails too
    assert archive.received == [] and _receipt_jobs(rig, sid)[0]["attempts"] == 2
    rig.advance(seconds=60)
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="ERROR", code="IKKE_LEVERT",
                    archive_orgnr="974720760")
    assert _receipt_jobs(rig, sid) == []
    rig.advance(hours=2)
    assert len(archive.received) == 1  # no second receipt after the success
    assert rig.status(sid) == "IKKE_LEVERT" and rig.gw.runtime.dispatch_store.alerts(kind=ALERT) == []


@pytest.mark.parametrize("archive, sender_dialect", [("p360", "standard")], indirect=["archive"])
def test_an_archive_that_refuses_raises_an_alert_and_leaves_the_letter(rig, archive):
    # the sender says "standard", the archive is a Public 360: SOAPAction "" is refused with a fault
    sid, _ = _through_noark(rig, "p360")
    rig.drain()
    assert archive.received == [] and "SOAPAction ''" in archive.refused[0]
    [alert] = rig.gw.runtime.dispatch_store.alerts(kind=ALERT)
    assert alert["shipment_id"] == sid and "SOAP fault" in alert["detail"]
    assert rig.status(sid) == "IKKE_LEVERT" and _receipt_jobs(rig, sid) == []
    assert rig.history(sid)[-1].startswith("Statuskvittering til arkivet feilet: IKKE_LEVERT kunne ikke sendes")


@pytest.mark.parametrize("archive", ["websak"], indirect=True)
def test_an_archive_answering_error_raises_an_alert(rig, archive):
    archive.answer = "ERROR"
    sid, _ = _through_noark(rig, "p360")
    rig.drain()
    assert len(archive.received) == 1  # taken once, not again
    [alert] = rig.gw.runtime.dispatch_store.alerts(kind=ALERT)
    assert "AppReceipt ERROR: UKJENT_FORSENDELSE" in alert["detail"] and rig.status(sid) == "IKKE_LEVERT"


@pytest.mark.parametrize("archive", ["ephorte"], indirect=True)
def test_a_svarut_letter_sends_no_receipt(rig, archive):
    sid = _send(rig, kunDigitalLevering=True)  # kommune-sak through SvarUt: no noarkExchange envelope
    rig.drain()
    assert rig.gw.runtime.repository.get(sid).status.value == "NOT_DELIVERED"
    assert archive.received == [] and _receipt_jobs(rig, sid) == []


@pytest.mark.parametrize("archive", ["websak"], indirect=True)
def test_a_sender_without_an_archive_sends_no_receipt(rig, archive):
    sid, _ = _through_noark(rig, "p360", user="annen-kommune", password=OTHER_PASSWORD)  # the same letter from an account without an archive
    rig.drain()
    assert rig.gw.runtime.repository.get(sid).status.value == "NOT_DELIVERED"
    assert archive.received == [] and _receipt_jobs(rig, sid) == []


@pytest.mark.parametrize("archive", ["ephorte"], indirect=True)
def test_an_archive_down_for_good_is_given_up_with_one_alert(rig, archive):
    archive.stop()  # connection refused from now on
    sid, _ = _through_noark(rig, "p360")
    rig.drain()
    for _ in range(rig.gw.runtime.settings.dispatch.max_attempts + 2):
        rig.advance(seconds=rig.gw.runtime.settings.dispatch.backoff_max_seconds + 1)
    [alert] = rig.gw.runtime.dispatch_store.alerts(kind=ALERT)
    assert alert["shipment_id"] == sid and "attempts" in alert["detail"]
    assert _receipt_jobs(rig, sid) == [] and rig.status(sid) == "IKKE_LEVERT"
    assert rig.gw.runtime.dispatch_store.alerts(kind="job_failed") == []  # the letter itself did not fail again


# ---------------------------------------------------------------- the doubles refuse what their vendor would

_RECEIPT = ('<AppReceipt xmlns="http://www.arkivverket.no/Noark/Exchange/types" type="{type}"><message xmlns="" code="LEST">'
            "<text>Lest</text></message></AppReceipt>")


def _raw(payload: str, *, version: str = "1.1", sender: bool = True) -> bytes:
    """A PutMessage as the vendors' clients write it, the payload as (escaped) text."""
    from xml.sax.saxutils import escape

    env = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}[version]
    who = "<sender><orgnr>974720760</orgnr></sender>" if sender else ""
    return (f'<s:Envelope xmlns:s="{env}"><s:Body><t:PutMessageRequest xmlns:t="http://www.arkivverket.no/Noark/Exchange/types">'
            f'<envelope conversationId="c-1" contentNamespace="{NOARK4}">{who}<receiver><orgnr>974763907</orgnr></receiver></envelope>'
            f"<payload>{escape(payload)}</payload>"
            "</t:PutMessageRequest></s:Body></s:Envelope>").encode()


def _post(archive, body: bytes, *, action: str | None = "", version: str = "1.1") -> requests.Response:
    if version == "1.1":
        headers = {"Content-Type": "text/xml; charset=utf-8", **({"SOAPAction": f'"{action}"'} if action is not None else {})}
    else:
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
    return requests.post(archive.url, data=body, headers=headers, auth=ARCHIVE_USER, timeout=10)


@pytest.mark.parametrize("dialect, body, action, version, why", [
    ("p360", _raw(_RECEIPT.format(type="OK")), "", "1.1", "SOAPAction ''"),
    ("p360", _raw(_RECEIPT.format(type="OK")), None, "1.1", "without a SOAPAction"),
    ("p360", _raw(_RECEIPT.format(type="OK")), P360_ACTION, "1.2", "SOAP 1.2"),
    ("websak", _raw(_RECEIPT.format(type="OK")), P360_ACTION, "1.1", "SOAPAction 'http"),  # what the integrasjonspunkt sent
    ("ephorte", _raw(_RECEIPT.format(type="FINE")), "", "1.1", "the AppReceipt is not valid"),
    ("ephorte", _raw("<Melding/>", version="1.2"), "", "1.2", "the AppReceipt is not valid"),
    ("standard", _raw(_RECEIPT.format(type="OK"), sender=False), "", "1.1", "PutMessageRequest is not valid"),
    ("p360", _raw("kvittering"), P360_ACTION, "1.1", "not XML"),
])
def test_the_archive_double_refuses_what_its_vendor_would(dialect, body, action, version, why):
    with ArchiveDouble(dialect, credentials=ARCHIVE_USER) as archive:
        response = _post(archive, body, action=action, version=version)
        assert response.status_code == 500 and b"Fault" in response.content
        assert archive.received == [] and why in archive.refused[0], archive.refused


@pytest.mark.parametrize("dialect, action, version", [
    ("p360", P360_ACTION, "1.1"), ("ephorte", "", "1.2"), ("websak", "", "1.2"), ("standard", "", "1.1"),
])
def test_the_archive_double_takes_what_its_vendor_binds(dialect, action, version):
    with ArchiveDouble(dialect, credentials=ARCHIVE_USER) as archive:
        response = _post(archive, _raw(_RECEIPT.format(type="OK"), version=version), action=action, version=version)
        assert response.status_code == 200, archive.refused
        assert b"PutMessageResponse" in response.content and archive.received[0].messages == [("LEST", "Lest")]
        if dialect != "p360":  # ePhorte and WebSak bind SOAP 1.1 as well
            assert _post(archive, _raw(_RECEIPT.format(type="OK")), action="").status_code == 200
        unauthorised = requests.post(archive.url, data=b"", headers={"Content-Type": "text/xml", "SOAPAction": '""'}, timeout=10)
        assert unauthorised.status_code == 401


def test_the_client_parses_a_dialects_wsdl_once_and_keeps_a_client_per_endpoint():
    from gateway.channels.noark_archive import ArchiveEndpoint, NoarkArchiveClient, StatusReceipt

    receipt = StatusReceipt(conversation_id="c-1", sender_orgnr="974720760", receiver_orgnr="974763907", type="OK", code="LEST", text="x")
    client = NoarkArchiveClient()
    with ArchiveDouble("p360", credentials=ARCHIVE_USER) as first, ArchiveDouble("p360") as second:
        assert client.put_receipt(ArchiveEndpoint(url=first.url, dialect="p360", username=ARCHIVE_USER[0],
                                                  password=ARCHIVE_USER[1], timeout_seconds=5), receipt) == "OK"
        assert client.put_receipt(ArchiveEndpoint(url=second.url, dialect="p360", timeout_seconds=5), receipt) == "OK"
        assert second.received[0].authorization is None  # one endpoint's credentials never go to another
        assert len(client._documents) == 1 and len(client._services) == 2


@pytest.mark.parametrize("archive", ["p360"], indirect=True)
def test_an_arkivmelding_letter_sends_its_receipt_too(rig, archive):
    import uuid

    from tests.integration.test_noark_arkivmelding import PDF, _request
    from tests.integration.test_noark_arkivmelding import _put as put_arkivmelding
    from tests.unit.test_arkivmelding_mapping import arkivmelding, part

    rig.register("964338531", "digital")
    conversation_id = str(uuid.uuid4())
    payload = arkivmelding(parts=part("Avsender", "Kommune", address=False) + part("Mottaker", "Mottaker AS"))
    result = put_arkivmelding(rig.gw, _request(conversation_id, payload), {"vedtak.pdf": PDF})
    [sid] = [m.findtext("text") for m in result.findall("message") if m.get("code") == "FORSENDELSE_ID"]
    rig.drain()
    [cid] = rig.double.correspondences
    rig.double.mark_read(cid)
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    [received] = archive.received
    _assert_receipt(archive, received, conversation_id=conversation_id, receipt_type="OK", code="LEST",
                    archive_orgnr="974720760", gateway_orgnr="964338531")
