"""``[alerts]``: e-mail alerts over SMTP (issue #13 item 3).

Alerts are rows in the ``alerts`` table whoever raises them; this section says whether and
how they are mailed (:mod:`gateway.dispatch.alert_mail`). An empty ``host`` mails nothing:
the alerts stay in the table for the console and the CLI.

    [alerts]
    host = "smtp.kommune.no"
    port = 587
    starttls = true
    user = "gateway"
    password = "..."            # or GATEWAY_ALERTS_PASSWORD
    from = "post-gateway@kommune.no"
    digest_interval_seconds = 900

    [alerts.recipients]
    default = ["drift@kommune.no"]
    print_receipt_overdue = ["dokumentsenter@kommune.no"]
"""
from __future__ import annotations

import dataclasses

from gateway.frozen import frozen

__all__ = ["ALERT_KINDS", "AlertSettings", "check_alerts"]

#: Every kind of alert the gateway raises (mappings/alert_mail.toml has the words for each;
#: ``[alerts.recipients]`` may name any of them, or ``default``).
ALERT_KINDS = (
    "address_refused", "address_print", "letter_refused", "not_deliverable", "print_rejected", "print_receipt_overdue",
    "channel_down", "channel_outage", "delivery_failed", "mailbox_refused", "job_failed", "archive_receipt_failed",
    "feed_unplaced", "certificate_expiring",
)


@frozen
class AlertSettings:
    #: The SMTP server; '' mails no alerts.
    host: str = ""
    port: int = 587
    #: Upgrade the connection with STARTTLS before anything else is said (and refuse a server
    #: that does not offer it); ``tls`` instead speaks TLS from the first byte (port 465).
    starttls: bool = True
    tls: bool = False
    #: PEM of the CA that signs the SMTP server's certificate; '' trusts the usual CAs.
    ca_file: str = ""
    #: AUTH (PLAIN/LOGIN) after STARTTLS; no user: no AUTH.
    user: str = ""
    password: str = dataclasses.field(default="", repr=False)
    #: The envelope and header sender (TOML key ``from``).
    from_address: str = ""
    #: Kind → addresses (``default`` for every kind not named); read from ``[alerts.recipients]``.
    recipients: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: After a mail of one kind to one list, further alerts of that kind wait this long and go
    #: together in one digest.
    digest_interval_seconds: float = 900.0
    #: An alert of the same kind, channel and letter (or, without a letter, the same text) as
    #: one mailed within this window is not mailed again.
    dedupe_hours: float = 24.0
    #: How often the mail job looks for new alerts.
    check_interval_seconds: float = 30.0
    timeout_seconds: float = 30.0
    #: After an SMTP failure, the next try waits base·2^n seconds (jittered), at most the cap.
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    #: Certificates (TLS, signing, Maskinporten) that expire within this many days are alerted
    #: (checked once every ``expiry_check_hours``).
    expiry_warning_days: int = 30
    expiry_check_hours: float = 24.0
    #: Named in every mail's footer, so the reader knows which installation wrote it.
    installation: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def recipients_for(self, kind: str) -> tuple[str, ...]:
        table = dict(self.recipients)
        return table.get(kind, table.get("default", ()))


def check_alerts(a: AlertSettings, *, loopback: bool) -> None:
    """What no single key can say; ``loopback``: whether ``host`` is a loopback address (the
    one place a password may cross without TLS, as in a test)."""
    from email.utils import parseaddr
    from pathlib import Path

    from gateway.config.sections import ConfigError

    unknown = sorted(kind for kind, _ in a.recipients if kind != "default" and kind not in ALERT_KINDS)
    if unknown:
        raise ConfigError(f"[alerts.recipients] unknown alert kind(s) {', '.join(unknown)}: known are default, {', '.join(ALERT_KINDS)}")
    for where, address in [("from", a.from_address)] + [(f"recipients.{k}", r) for k, rs in a.recipients for r in rs]:
        if address and "@" not in parseaddr(address)[1]:
            raise ConfigError(f"alerts.{where}: {address!r} is not an e-mail address")
    for key in ("digest_interval_seconds", "dedupe_hours", "retry_base_seconds"):
        if getattr(a, key) < 0:
            raise ConfigError(f"alerts.{key} must be 0 or more, got {getattr(a, key)}")
    for key in ("check_interval_seconds", "timeout_seconds", "retry_max_seconds", "expiry_check_hours", "expiry_warning_days"):
        if getattr(a, key) <= 0:
            raise ConfigError(f"alerts.{key} must be positive, got {getattr(a, key)}")
    if not a.enabled:
        return
    if not 1 <= a.port <= 65535:
        raise ConfigError(f"alerts.port must be 1-65535, got {a.port}")
    if not a.from_address:
        raise ConfigError("alerts.from is required when alerts.host is set")
    if not any(addresses for _, addresses in a.recipients):
        raise ConfigError("[alerts.recipients] names nobody: give at least default = [\"drift@...\"]")
    if a.starttls and a.tls:
        raise ConfigError("alerts.starttls and alerts.tls exclude each other (STARTTLS on 587, TLS from the start on 465)")
    if a.password and not a.user:
        raise ConfigError("alerts.password needs alerts.user")
    if a.user and not (a.starttls or a.tls) and not loopback:
        raise ConfigError("alerts.user: the password would cross the network in clear; turn on alerts.starttls or alerts.tls")
    if a.ca_file and not Path(a.ca_file).is_file():
        raise ConfigError(f"alerts.ca_file: no such file {a.ca_file!r}")
