"""Alert mails end to end (issue #13 item 3): alerts raised by real flows (a letter refused at
intake for its address, letters sent to print for a foreign address, Altinn down until its
circuit opens and the letters go to print) reach a real SMTP server on loopback (aiosmtpd,
STARTTLS with a self-signed certificate, AUTH), and each mail is parsed and checked.

Time is an injected clock and the worker is driven step by step, so "at once", "later in one
digest" and "retried after the backoff" are each observable."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from zeep.exceptions import Fault

from gateway.channels.smtp import SmtpMailer
from gateway.config import AlertSettings, Altinn3Settings, ChannelSettings, DispatchSettings, PrintSettings
from gateway.model import utcnow
from gateway.store import tables
from tests.conftest import make_certificate
from tests.doubles.altinn3 import Altinn3Double
from tests.doubles.smtp import SmtpDouble, free_port
from tests.integration.test_dispatch import FakeClock, Rig
from tests.svarut_builders import PERSON_FNR, dokument, forsendelse, post_adresse

OSLO = ZoneInfo("Europe/Oslo")
CLIENT_ID = "kommune-gateway"
USER, PASSWORD = "gateway", "smtp-passord-æøå"
FROM = "Post-gateway <post-gateway@kommune.no>"
DRIFT, POST = "drift@kommune.no", "postmottak@kommune.no"
DIGEST_SECONDS = 900


class AlertRig(Rig):
    """test_dispatch's rig (worker driven step by step on a fake clock) with the SMTP double."""

    def __init__(self, gw, clock, svc, client, smtp: SmtpDouble, double: Altinn3Double) -> None:
        super().__init__(gw, double, clock, svc, client)
        self.smtp = smtp

    def send(self, **overrides) -> str:
        return self.svc.sendForsendelse(forsendelse=forsendelse(self.client, **overrides))

    def refused(self, **overrides) -> str:
        with pytest.raises(Fault) as caught:
            self.send(**overrides)
        return str(caught.value.detail.findtext(".//{urn:gateway:faults}code"))

    def alert_rows(self, kind: str | None = None) -> list[dict]:
        query = sa.select(tables.alerts).order_by(tables.alerts.c.id)
        if kind:
            query = query.where(tables.alerts.c.kind == kind)
        with self.gw.runtime.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


@pytest.fixture
def smtp_files(tmp_path):
    return make_certificate(tmp_path, "smtp")


@pytest.fixture
def make_rig(start_gateway, settings_factory, svarut_client, client_key, tmp_path, smtp_files) -> Iterator:
    """``make_rig(database_url, smtp_port=…, password=…)``: a gateway whose [alerts] point at the
    SMTP double (started unless ``smtp_running`` is False), with Altinn 3 and print."""
    opened: list = []
    public = client_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "maskinporten.pem"
    key_file.write_bytes(client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    certificate, key = smtp_files

    def make(database_url: str, *, smtp_running: bool = True, password: str = PASSWORD, breaker_threshold: int = 50) -> AlertRig:
        double = Altinn3Double(public_key_pem=public, client_id=CLIENT_ID).__enter__()
        smtp = SmtpDouble(certificate=certificate, key=key, user=USER, password=PASSWORD, port=free_port())
        opened.append((double, smtp, smtp_running))
        if smtp_running:
            smtp.start()
        channels = ChannelSettings(
            altinn3=Altinn3Settings(enabled=True, base_url=double.url, resource_id="kommune-brev", token_url=double.url + "/token",
                                    token_audience=double.audience, client_id=CLIENT_ID, key_id="kid-1", private_key_file=str(key_file),
                                    timeout_seconds=2.0, poll_interval_seconds=60, subscription_key=double.subscription_key),
            print=PrintSettings(batch_max_age_seconds=60, receipt_timeout_hours=48, return_address=("Eksempel kommune", "Postboks 1", "0101 Oslo")),
        )
        dispatch = DispatchSettings(backoff_base_seconds=10, backoff_max_seconds=600, outage_to_print_hours=24,
                                    breaker_threshold=breaker_threshold, breaker_open_seconds=60, max_attempts=200)
        alerts = AlertSettings(host="127.0.0.1", port=smtp.port, starttls=True, ca_file=str(certificate), user=USER, password=password,
                               from_address=FROM, digest_interval_seconds=DIGEST_SECONDS, check_interval_seconds=30, timeout_seconds=5,
                               retry_base_seconds=60, retry_max_seconds=120, installation="Post-gateway test",
                               recipients=(("default", (DRIFT,)), ("address_refused", (POST, DRIFT)), ("address_print", (POST,)),
                                           # the SMTP double's certificate (alerts.ca_file) expires tomorrow: the unit
                                           # tests check those alerts; here they would make the count of mails depend on the date
                                           ("certificate_expiring", ())))
        settings = dataclasses.replace(settings_factory(database_url, channels=channels, dispatch=dispatch), alerts=alerts)
        clock = FakeClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=OSLO))  # Monday 09:00 in Oslo
        gw = start_gateway(settings, clock=clock)
        client, svc = svarut_client(gw)
        return AlertRig(gw, clock, svc, client, smtp, double)

    yield make
    for double, smtp, _running in opened:
        double.__exit__(None, None, None)
        if smtp.controller._thread is not None:  # started, by the fixture or the test
            smtp.stop()


def test_an_alert_mail_arrives_and_the_same_alert_twice_sends_one_mail(make_rig, database_url):
    rig = make_rig(database_url)
    no_city = post_adresse(poststed="")
    assert rig.refused(mottaker={"postAdresse": no_city}) == "ADDRESS_CITY_REQUIRED"
    assert rig.refused(mottaker={"postAdresse": no_city}) == "ADDRESS_CITY_REQUIRED"  # the same letter again
    rig.drain()

    [received] = rig.smtp.received
    assert received.mail_from == "post-gateway@kommune.no" and received.rcpt_tos == (POST, DRIFT)
    mail = received.message
    assert mail["From"] == FROM and mail["To"] == f"{POST}, {DRIFT}"
    assert mail["Subject"] == "[Post-gateway test] Brev avvist: mangelfull adresse"
    assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
    body = mail.get_content()
    assert "kommune-sak sendte et brev med sendForsendelse som ble avvist (ADDRESS_CITY_REQUIRED, recipient.address.city)" in body
    assert "Hva skjedde: Saksystemet sendte et brev som ble avvist ved mottak" in body
    assert "Hva du bør gjøre: Rett adressen i saksystemet" in body
    assert "Tid: 2026-11-23 09:00 (norsk tid)" in body
    assert PERSON_FNR not in mail.as_string()
    assert rig.smtp.refused_logins == 0

    # raised a third time, after the digest interval: still the same alert, still one mail
    assert rig.refused(mottaker={"postAdresse": no_city}) == "ADDRESS_CITY_REQUIRED"
    rig.advance(seconds=DIGEST_SECONDS + 31)
    assert len(rig.smtp.received) == 1
    assert [r["mail_state"] for r in rig.alert_rows("address_refused")] == ["sent", "duplicate", "duplicate"]


def test_a_burst_of_alerts_goes_in_one_digest(make_rig, sqlite_url):
    rig = make_rig(sqlite_url)
    abroad = {"digitalAdresse": None, "postAdresse": post_adresse(land="Sverige", postnr="11122", poststed="Stockholm")}
    rig.drain()  # the mail job's first look: nothing yet
    first = rig.send(mottaker=abroad)
    rig.advance(seconds=31)  # its next look (alerts.check_interval_seconds)
    [single] = rig.smtp.messages  # the first alert of a burst goes at once
    assert single["To"] == POST and single["Subject"] == "[Post-gateway test] Brev sendt til utskrift: adresseproblem"
    assert first in single.get_content() and "utlandet (SVERIGE)" in single.get_content()

    burst = [rig.send(mottaker=abroad, tittel=f"Vedtak {i}") for i in range(3)]
    rig.advance(seconds=31)
    assert len(rig.smtp.messages) == 1  # gathered, not sent one by one
    rig.advance(seconds=DIGEST_SECONDS)
    [_, digest] = rig.smtp.messages
    assert digest["Subject"] == "[Post-gateway test] Brev sendt til utskrift: adresseproblem (3 varsler)"
    body = digest.get_content()
    assert all(f"Brev: {sid}" in body for sid in burst) and first not in body
    assert "Varsel 3" in body and "Avsender: kommune-sak" in body
    assert "Vedtak 1" not in body  # titles may name people: a mail names the letter by id and reference only


def test_channel_down_and_the_switch_to_print_are_mailed(make_rig, sqlite_url):
    rig = make_rig(sqlite_url, breaker_threshold=3)
    rig.gw.runtime.dispatch_store.register_set([(PERSON_FNR, "person", "digital")], now=utcnow())
    rig.double.fail_next(10_000, 503)
    sid = rig.send()
    rig.drain()
    for _ in range(40):
        if rig.svc.retrieveForsendelseStatus(forsendelsesid=sid) == "SENDT_PRINT":
            break
        rig.advance(minutes=60)
    rig.advance(seconds=DIGEST_SECONDS)
    subjects = [m["Subject"] for m in rig.smtp.messages]
    assert subjects.count("[Post-gateway test] Kanal nede") == 1  # the breaker opened once, reopened many times
    assert subjects.count("[Post-gateway test] Brev sendt til utskrift etter driftsavbrudd") == 1
    down = next(m for m in rig.smtp.messages if m["Subject"].endswith("Kanal nede"))
    assert down["To"] == DRIFT and "Kanal: Altinn 3" in down.get_content() and "503" in down.get_content()
    outage = next(m for m in rig.smtp.messages if m["Subject"].endswith("driftsavbrudd"))
    assert f"Brev: {sid}" in outage.get_content() and f"gateway shipment show {sid}" in outage.get_content()


def test_smtp_down_the_alert_waits_and_goes_later(make_rig, database_url):
    rig = make_rig(database_url, smtp_running=False)
    assert rig.refused(mottaker={"postAdresse": post_adresse(navn="")}) == "ADDRESS_NAME_REQUIRED"
    rig.drain()
    [row] = rig.alert_rows("address_refused")
    assert row["mail_state"] is None and row["mail_attempts"] == 1 and "Connection" in row["mail_error"]
    rig.advance(seconds=130)  # the backoff has passed; the server is still down
    [row] = rig.alert_rows("address_refused")
    assert row["mail_state"] is None and row["mail_attempts"] == 2

    rig.smtp.start()
    rig.advance(seconds=130)
    [mail] = rig.smtp.messages
    assert mail["Subject"] == "[Post-gateway test] Brev avvist: mangelfull adresse" and "ADDRESS_NAME_REQUIRED" in mail.get_content()
    [row] = rig.alert_rows("address_refused")
    assert row["mail_state"] == "sent" and row["mail_error"] is None


def test_a_wrong_smtp_password_is_refused_and_the_alert_kept(make_rig, sqlite_url):
    rig = make_rig(sqlite_url, password="feil")
    rig.refused(mottaker={"postAdresse": post_adresse(navn="")})
    rig.drain()
    assert rig.smtp.received == [] and rig.smtp.refused_logins == 1
    [row] = rig.alert_rows("address_refused")
    assert row["mail_state"] is None and "535" in row["mail_error"]


def test_letters_that_cannot_be_delivered_are_mailed(make_rig, sqlite_url):
    rig = make_rig(sqlite_url)
    rig.drain()
    digital_only = rig.send(kunDigitalLevering=True)  # not in the register: no digital mailbox
    unprintable = rig.send(dokumenter=[dokument(ekskluderesFraPrint=True)])  # nothing the printer may print
    rig.advance(seconds=31)
    assert rig.svc.retrieveForsendelseStatus(forsendelsesid=digital_only) == "IKKE_LEVERT"
    mails = {m["Subject"]: m for m in rig.smtp.messages}
    assert set(mails) == {"[Post-gateway test] Brev kan ikke leveres", "[Post-gateway test] Brev avvist av kanal"}
    undeliverable = mails["[Post-gateway test] Brev kan ikke leveres"].get_content()
    assert f"Brev: {digital_only}" in undeliverable and "kun digital levering" in undeliverable
    refused = mails["[Post-gateway test] Brev avvist av kanal"].get_content()
    assert f"Brev: {unprintable}" in refused and "Kanal: utskrift" in refused and "excluded from print" in refused
    assert all(m["To"] == DRIFT for m in mails.values())


def test_gateway_alerts_test_sends_one_mail_to_everyone(smtp_files, tmp_path, capsys, monkeypatch):
    from gateway.cli import main

    certificate, key = smtp_files
    with SmtpDouble(certificate=certificate, key=key, user=USER, password=PASSWORD) as smtp:
        config = tmp_path / "gateway.toml"
        config.write_text(f"""
[storage]
data_dir = "{tmp_path / 'var'}"
[alerts]
host = "127.0.0.1"
port = {smtp.port}
ca_file = "{certificate}"
user = "{USER}"
from = "{FROM}"
[alerts.recipients]
default = ["{DRIFT}"]
address_print = ["{POST}", "{DRIFT}"]
""", encoding="utf-8")
        with monkeypatch.context() as env:
            env.setenv("GATEWAY_ALERTS_PASSWORD", PASSWORD)  # the secret from the environment
            assert main(["alerts", "test", "--config", str(config)]) == 0
            assert main(["alerts", "test", "--config", str(config), "--kind", "job_failed"]) == 0
        assert main(["alerts", "test", "--config", str(config)]) == 1  # no password now: the server refuses the login
    first, second = smtp.received
    assert first.rcpt_tos == (DRIFT, POST) and second.rcpt_tos == (DRIFT,)
    assert first.message["Subject"] == "[Post-gatewayen] Testvarsel" and "gateway alerts test" in first.message.get_content()
    assert "did not go" in capsys.readouterr().err


def _mailer(port: int, certificate, **overrides) -> SmtpMailer:
    settings = AlertSettings(host="127.0.0.1", port=port, ca_file=str(certificate), user=USER, password=PASSWORD, from_address=FROM,
                             timeout_seconds=5, recipients=(("default", (DRIFT,)),))
    return SmtpMailer(dataclasses.replace(settings, **overrides))


def _test_message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = FROM, DRIFT, "Testvarsel"
    message.set_content("æøå\n")
    return message


def test_a_server_without_starttls_never_sees_the_password(smtp_files):
    from aiosmtpd.controller import Controller

    certificate, key = smtp_files
    plain = SmtpDouble(certificate=certificate, key=key, user=USER, password=PASSWORD)
    # the same server, but offering no STARTTLS and taking AUTH in clear (as a misconfigured relay would)
    plain.controller = Controller(plain, hostname="127.0.0.1", port=plain.port, auth_require_tls=False, authenticator=plain._authenticate)
    with plain:
        [failure] = _mailer(plain.port, certificate).send_all([_test_message()])
    assert failure is not None and "does not offer STARTTLS" in str(failure)
    assert plain.received == [] and plain.refused_logins == 0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS, from the first byte
def test_tls_from_the_first_byte_and_a_certificate_nobody_vouches_for(smtp_files, tmp_path):
    import ssl

    from aiosmtpd.controller import Controller

    certificate, key = smtp_files
    server = SmtpDouble(certificate=certificate, key=key, user=USER, password=PASSWORD)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    # TLS from the first byte (port 465): aiosmtpd counts only STARTTLS as TLS, so AUTH is allowed as such
    server.controller = Controller(server, hostname="127.0.0.1", port=server.port, ssl_context=context, auth_required=True,
                                   auth_require_tls=False, authenticator=server._authenticate)
    with server:
        assert _mailer(server.port, certificate, starttls=False, tls=True).send_all([_test_message()]) == [None]
        other, _ = make_certificate(tmp_path, "other-ca")
        [failure] = _mailer(server.port, other, starttls=False, tls=True).send_all([_test_message()])
    assert failure is not None and "CERTIFICATE_VERIFY_FAILED" in str(failure)
    [received] = server.received
    assert received.message.get_content().splitlines() == ["æøå"]
