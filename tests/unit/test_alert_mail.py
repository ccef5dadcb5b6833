"""E-mail alerts without a network: which alerts go in which mail and when (dedupe, digest,
retries), the words of the mails, the [alerts] settings, the certificate expiry check and the
alerts the dispatcher raises where it decides."""
from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest

from gateway.config import AlertSettings, ConfigError, Settings, load_settings
from gateway.config.alerts import ALERT_KINDS
from gateway.dispatch import alerting, expiry
from gateway.dispatch.alert_mail import plan, same_alert
from gateway.dispatch.alert_texts import LetterFacts, compose, kind_text, mask, table
from gateway.dispatch.routing import PRINT, Route
from gateway.model import Party, PartyKind, PostalAddress, Shipment
from gateway.store.alert_mail import DUPLICATE, NOBODY, AlertRow
from gateway.store.health import ChannelHealth
from gateway.store.outcome import ChannelFailed

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
SETTINGS = AlertSettings(host="smtp.kommune.no", from_address="gateway@kommune.no", digest_interval_seconds=900,
                         dedupe_hours=24, check_interval_seconds=30,
                         recipients=(("default", ("drift@kommune.no",)), ("print_receipt_overdue", ("trykk@kommune.no",)),
                                     ("address_print", ())))
SID = "6f1d2c3b-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def alert(id: int, kind: str = "channel_outage", *, shipment_id: str | None = SID, channel: str | None = "altinn3",
          detail: str = "altinn3 har feilet", at: dt.datetime = NOW, **mail: object) -> AlertRow:
    return AlertRow(id=id, at=at, kind=kind, channel=channel, shipment_id=shipment_id, detail=detail, **mail)  # type: ignore[arg-type]


# ------------------------------------------------------------------ plan: dedupe, digest, retries


def test_first_alert_goes_at_once_to_the_kinds_recipients():
    decided = plan([alert(1), alert(2, "print_receipt_overdue", shipment_id=None, channel=PRINT, detail="bunke 7")], [], SETTINGS, NOW)
    assert {(m.kind, m.recipients, tuple(a.id for a in m.alerts)) for m in decided.mails} == {
        ("channel_outage", ("drift@kommune.no",), (1,)),
        ("print_receipt_overdue", ("trykk@kommune.no",), (2,)),
    }
    assert decided.marks == ()
    assert decided.next_round == NOW + dt.timedelta(seconds=30)


def test_the_same_alert_twice_in_one_round_is_one_mail_and_one_duplicate():
    decided = plan([alert(1), alert(2, detail="annen tekst, samme brev"), alert(3, shipment_id="other")], [], SETTINGS, NOW)
    [mail] = decided.mails
    assert [a.id for a in mail.alerts] == [1, 3]
    assert [(m.ids, m.state) for m in decided.marks] == [((2,), DUPLICATE)]


def test_an_alert_mailed_within_the_window_is_not_mailed_again_but_after_it_is():
    mailed = [alert(1, mailed_at=NOW - dt.timedelta(hours=23))]
    decided = plan([alert(2)], mailed, SETTINGS, NOW)
    assert decided.mails == () and [(m.ids, m.state) for m in decided.marks] == [((2,), DUPLICATE)]
    later = plan([alert(2)], [alert(1, mailed_at=NOW - dt.timedelta(hours=25))], SETTINGS, NOW)
    assert [a.id for m in later.mails for a in m.alerts] == [2]


def test_a_burst_waits_for_the_digest_interval_and_goes_as_one_mail():
    mailed = [alert(1, shipment_id="first", mailed_at=NOW - dt.timedelta(minutes=5))]
    burst = [alert(i, shipment_id=f"letter-{i}") for i in range(2, 8)]
    held = plan(burst, mailed, SETTINGS, NOW)
    assert held.mails == () and held.marks == ()
    assert held.next_round == NOW + dt.timedelta(seconds=30)  # the next check comes before the interval ends
    due = NOW - dt.timedelta(minutes=5) + dt.timedelta(seconds=900)
    assert plan(burst, mailed, dataclasses.replace(SETTINGS, check_interval_seconds=3600), NOW).next_round == due
    [digest] = plan(burst, mailed, SETTINGS, due).mails
    assert [a.id for a in digest.alerts] == list(range(2, 8))


def test_a_failed_mail_waits_for_its_backoff():
    waiting = [alert(1, mail_attempts=2, mail_after=NOW + dt.timedelta(minutes=2)), alert(2, shipment_id="new")]
    held = plan(waiting, [], dataclasses.replace(SETTINGS, check_interval_seconds=3600), NOW)
    assert held.mails == () and held.next_round == NOW + dt.timedelta(minutes=2)
    [mail] = plan(waiting, [], SETTINGS, NOW + dt.timedelta(minutes=2)).mails
    assert [a.id for a in mail.alerts] == [1, 2]


def test_a_kind_nobody_reads_is_marked_not_mailed():
    decided = plan([alert(1, "address_print")], [], SETTINGS, NOW)
    assert decided.mails == () and [(m.ids, m.state) for m in decided.marks] == [((1,), NOBODY)]


def test_what_makes_two_alerts_the_same():
    assert same_alert(alert(1, "channel_down", shipment_id=None, detail="5 feil")) == same_alert(
        alert(2, "channel_down", shipment_id=None, detail="7 feil"))  # once per channel
    assert same_alert(alert(1, "channel_down", shipment_id=None)) != same_alert(alert(2, "channel_down", shipment_id=None, channel="print"))
    assert same_alert(alert(1, "print_receipt_overdue", shipment_id=None, detail="bunke 1")) != same_alert(
        alert(2, "print_receipt_overdue", shipment_id=None, detail="bunke 2"))
    assert same_alert(alert(1, "channel_outage")) == same_alert(alert(2, "channel_outage", detail="other words"))


# ------------------------------------------------------------------ the words


def test_every_alert_kind_has_its_words():
    kinds = table()["kind"]
    assert set(kinds) == set(ALERT_KINDS) | {"test"}  # test: `gateway alerts test`
    for kind in ALERT_KINDS:
        assert all(kinds[kind][key].strip() for key in ("title", "what", "action"))
        assert kind_text(kind, "once") in ("letter", "channel", "text")


def test_national_identity_numbers_are_masked():
    text = mask("mottaker 15076500565 (urn:altinn:person:identifier-no:15076500565), CPR 010190-1234 og 0101901234; orgnr 974720760")
    assert "15076500565" not in text and "010190-1234" not in text and "0101901234" not in text
    assert "974720760" in text and "[fødselsnummer skjult]" in text


def test_a_single_mail_and_a_digest():
    facts = {SID: LetterFacts(sender="kommune-sak", reference="P360-2026/1234-5", case="2026/1234")}
    one = compose(kind="channel_outage", alerts=[alert(1, detail="Altinn svarte 503 for 15076500565")], recipients=["a@x.no", "b@x.no"],
                  settings=SETTINGS, letters=facts, now=NOW)
    parsed = email.message_from_bytes(one.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "[Post-gatewayen] Brev sendt til utskrift etter driftsavbrudd"
    assert parsed["To"] == "a@x.no, b@x.no" and parsed["From"] == "gateway@kommune.no"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    body = parsed.get_content()
    for expected in (f"Brev: {SID}", "Avsender: kommune-sak", "Ekstern referanse: P360-2026/1234-5", "Saksnummer: 2026/1234",
                     "Kanal: Altinn 3", "Tid: 2026-11-23 10:00 (norsk tid)", "Hva du bør gjøre:", "[fødselsnummer skjult]"):
        assert expected in body
    assert "15076500565" not in body
    digest = compose(kind="channel_outage", alerts=[alert(1), alert(2, shipment_id="x")], recipients=["a@x.no"],
                     settings=dataclasses.replace(SETTINGS, installation="Gateway Bergen"), letters={}, now=NOW)
    assert digest["Subject"] == "[Gateway Bergen] Brev sendt til utskrift etter driftsavbrudd (2 varsler)"
    assert "Varsel 1" in digest.get_content() and "Varsel 2" in digest.get_content()


# ------------------------------------------------------------------ [alerts]


def _load(tmp_path: Path, text: str, **environ: str) -> Settings:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ)


def test_alerts_section_is_read(tmp_path):
    settings = _load(tmp_path, """
[alerts]
host = "smtp.kommune.no"
port = 587
user = "gateway"
from = "Post-gateway <gateway@kommune.no>"
digest_interval_seconds = 600

[alerts.recipients]
default = ["drift@kommune.no"]
print_receipt_overdue = ["trykk@kommune.no", "drift@kommune.no"]
""", GATEWAY_ALERTS_PASSWORD="hemmelig")
    a = settings.alerts
    assert a.enabled and a.starttls and a.password == "hemmelig" and a.from_address == "Post-gateway <gateway@kommune.no>"
    assert a.recipients_for("print_receipt_overdue") == ("trykk@kommune.no", "drift@kommune.no")
    assert a.recipients_for("channel_down") == ("drift@kommune.no",)
    assert "hemmelig" not in repr(a)
    assert not load_settings(None, environ={}).alerts.enabled  # no host: no mail


@pytest.mark.parametrize("text, message", [
    ('host = "smtp.x.no"\nfrom = "g@x.no"\n[alerts.recipients]\ncolour = ["a@x.no"]', "unknown alert kind"),
    ('host = "smtp.x.no"\n[alerts.recipients]\ndefault = ["a@x.no"]', "alerts.from is required"),
    ('host = "smtp.x.no"\nfrom = "g@x.no"', "names nobody"),
    ('host = "smtp.x.no"\nfrom = "g@x.no"\nstarttls = false\nuser = "u"\npassword = "p"\n[alerts.recipients]\ndefault = ["a@x.no"]', "in clear"),
    ('host = "smtp.x.no"\nfrom = "g@x.no"\ntls = true\n[alerts.recipients]\ndefault = ["a@x.no"]', "exclude each other"),
    ('host = "smtp.x.no"\nfrom = "gateway"\n[alerts.recipients]\ndefault = ["a@x.no"]', "not an e-mail address"),
    ('host = "smtp.x.no"\nfrom = "g@x.no"\nrecipients = ["a@x.no"]', "must be a table"),
])
def test_alerts_section_is_checked(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, "[alerts]\n" + text + "\n")


# ------------------------------------------------------------------ certificates that expire


def _certificate(directory: Path, name: str, days: float) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=300))
            .not_valid_after(NOW + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_certificates_that_expire_within_the_warning_time_are_alerted_once(tmp_path):
    from gateway.config import ServerSettings

    soon, later, gone = (_certificate(tmp_path, n, d) for n, d in (("snart", 10), ("senere", 60), ("borte", -1)))
    senders = (dataclasses.replace(load_settings(None, environ={}).senders[0], signing_certificate=str(later), signing_ca=str(gone)),)
    settings = Settings(server=ServerSettings(tls_certificate=str(soon)), senders=senders)
    raised: set[str] = set()
    alerts = expiry.expiry_alerts(settings, NOW, raised=raised)
    assert [a.detail for a in alerts] == [
        "server.tls_certificate: sertifikatet CN=snart utløper 2026-12-03",
        "senders[demo].signing_ca: sertifikatet CN=borte er utløpt (2026-11-22)",
    ]
    assert {a.kind for a in alerts} == {"certificate_expiring"}
    assert expiry.expiry_alerts(settings, NOW + dt.timedelta(days=1), raised=raised) == []  # the next day: nothing new


def test_an_unreadable_certificate_file_is_alerted(tmp_path):
    from gateway.config import ServerSettings

    broken = tmp_path / "broken.p12"
    broken.write_bytes(b"not a certificate")
    [found] = expiry.expiry_alerts(Settings(server=ServerSettings(tls_certificate=str(broken))), NOW, raised=set())
    assert "kan ikke leses som sertifikat" in found.detail


# ------------------------------------------------------------------ alerts where the dispatcher decides


def _letter(country: str = "NO", *, kind: PartyKind = PartyKind.NO_PERSON, identifier: str | None = "15076500565") -> Shipment:
    address = PostalAddress(name="Ola", lines=("Storgata 1",), postcode="0155", city="Oslo", country=country)
    return Shipment(id=SID, sender="kommune-sak", title="Vedtak", documents=(),
                    recipient=Party(identifier=identifier, kind=kind, address=address))


def test_letters_sent_to_print_for_their_address_are_alerted():
    [foreign] = alerting.address_print(_letter("Sverige"), Route(PRINT, "not_registered"))
    assert (foreign.kind, foreign.channel, foreign.shipment_id) == ("address_print", PRINT, SID)
    assert "utlandet (SVERIGE)" in foreign.detail
    [no_id] = alerting.address_print(_letter(identifier=None, kind=PartyKind.UNKNOWN), Route(PRINT, "no_identifier"))
    assert "ingen nasjonal identifikator" in no_id.detail
    assert alerting.address_print(_letter(), Route(PRINT, "reserved")) == ()  # reserved: print is the rule, no problem
    assert alerting.address_print(_letter("Sverige"), Route("altinn3", "digital_mailbox")) == ()
    assert alerting.address_print(_letter("DK", kind=PartyKind.DK_CPR, identifier="0101901234"), Route(PRINT, "unreachable")) == ()


def test_channel_down_is_alerted_when_the_breaker_opens_not_after():
    failure = ChannelFailed(channel="altinn3", error="503 Service Unavailable", threshold=3, open_seconds=60)
    health = ChannelHealth(channel="altinn3")
    raised = []
    for _ in range(5):
        after = health.failed(failure, now=NOW)
        raised += alerting.channel_down(health, after, threshold=3)
        health = after
    [down] = raised
    assert down.kind == "channel_down" and down.channel == "altinn3" and "3 ganger på rad" in down.detail and "503" in down.detail


def test_readme_alerts_example_loads(tmp_path):
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[alerts]" in b]
    a = _load(tmp_path, block).alerts
    assert a.enabled and a.from_address.endswith("<post-gateway@kommune.no>")
    assert a.recipients_for("address_print") == ("postmottak@kommune.no",) and a.recipients_for("job_failed") == ("drift@kommune.no",)
