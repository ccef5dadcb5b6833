"""The periodic ``key_expiry`` job: every certificate the configuration holds, checked once every
``alerts.expiry_check_hours`` (a day), and a ``certificate_expiring`` alert for each that expires
within ``alerts.expiry_warning_days`` (30) — and another once it has expired.

The certificates: the server's TLS certificate, Maskinporten's business certificate chain
(``x5c``), Digipost's signing certificate (in its PKCS#12) and Digipost's own, Digital Post's
system certificate (NgDP and SF1601, mutual TLS and signing) and its CA, each sender's pinned
MeMo signing certificate and CA, and the SMTP server's CA. A bare key (Maskinporten with a
``kid``, Digipost's PEM key) has no expiry of its own: there is nothing to check.

An alert's text names the file, the certificate's subject and its end date, and the same text
is not raised twice (the rows say what was raised), so a certificate gets one "expires" alert
and one "has expired" alert, not one a day.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.config import Settings
from gateway.dispatch.alert_texts import words
from gateway.store.dispatch import DispatchStore, Job
from gateway.store.outcome import Alert, Outcome, Retry

KIND = "key_expiry"
ALERT = "certificate_expiring"


def certificate_files(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """(where in the configuration, path, PKCS#12 password) of every certificate file set."""
    c = settings.channels
    found = [("server.tls_certificate", settings.server.tls_certificate, ""),
             ("alerts.ca_file", settings.alerts.ca_file, "")]
    if c.altinn3.enabled:
        found.append(("channels.altinn3.certificate_chain_file", c.altinn3.certificate_chain_file, ""))
    if c.print.enabled and c.print.provider == "digipost":
        d = c.print.digipost
        found += [("channels.print.digipost.pkcs12_file", d.pkcs12_file, d.key_password),
                  ("channels.print.digipost.server_certificate_file", d.server_certificate_file, "")]
    if c.digitalpost.enabled:
        found += [("channels.digitalpost.client_certificate", c.digitalpost.client_certificate, ""),
                  ("channels.digitalpost.ca_bundle", c.digitalpost.ca_bundle, "")]
    for sender in settings.senders:
        found += [(f"senders[{sender.name}].signing_certificate", sender.signing_certificate, ""),
                  (f"senders[{sender.name}].signing_ca", sender.signing_ca, "")]
    yield from ((where, path, password) for where, path, password in found if path)


def read_certificates(path: str, password: str = "") -> list[x509.Certificate]:
    """The certificates in a PEM file (all of them) or a PKCS#12 file."""
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    _key, cert, more = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    return ([cert] if cert else []) + list(more)


def expiry_alerts(settings: Settings, now: dt.datetime, *, raised: set[str]) -> list[Alert]:
    """An alert for each certificate that expires within the warning time (or has expired),
    unless one with the same text was ``raised`` already."""
    horizon = now + dt.timedelta(days=settings.alerts.expiry_warning_days)
    alerts: list[Alert] = []
    for where, path, password in certificate_files(settings):
        try:
            certificates = read_certificates(path, password)
        except (OSError, ValueError) as exc:
            detail = words("detail", "certificate_unreadable", where=where, path=path, error=str(exc)[:300])
            alerts += [] if detail in raised else [Alert(kind=ALERT, detail=detail)]
            continue
        for cert in certificates:
            ends = cert.not_valid_after_utc
            if ends > horizon:
                continue
            key = "certificate_expired" if ends <= now else "certificate_expiring"
            detail = words("detail", key, where=where, subject=cert.subject.rfc4514_string(), date=ends.date().isoformat())
            if detail not in raised:
                raised.add(detail)
                alerts.append(Alert(kind=ALERT, detail=detail))
    return alerts


def handle(job: Job, now: dt.datetime, *, settings: Settings, store: DispatchStore) -> Outcome:
    raised = {a["detail"] for a in store.alerts(kind=ALERT)}
    again = now + dt.timedelta(hours=settings.alerts.expiry_check_hours)
    return Outcome(at=now, alerts=tuple(expiry_alerts(settings, now, raised=raised)), job=Retry(run_after=again, count_attempt=False))
