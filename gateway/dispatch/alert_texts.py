"""The words of the alert e-mails, from ``mappings/alert_mail.toml`` (Norwegian bokmål, the
operator's language): a subject, what happened, which letter and channel, what to do.

A mail is plain UTF-8 text. It never carries a national identity number: every text that
goes into it (alert details quote channel errors, which may quote anything) is masked first,
and of a letter it names only the id, the sender account, the external reference and the
case number, not the recipient or the title.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.alerts import AlertSettings
from gateway.frozen import frozen
from gateway.uuids import outside_uuids
from gateway.resources import load_table
from gateway.store.alert_mail import AlertRow

OSLO = ZoneInfo("Europe/Oslo")
#: Header lines up to RFC 5322's hard limit: the email package folds an ASCII subject that
#: starts with "[" onto a line of its own, and readers then show it with a leading space.
#: The body is quoted-printable (its lines short) either way.
_POLICY = SMTP.clone(max_line_length=998)
#: Eleven digits on their own (fødselsnummer, D-nummer) and Danish CPR (ddmmyy-xxxx or ten digits).
_NORWEGIAN_ID = re.compile(r"(?<!\d)\d{11}(?!\d)")
_CPR = re.compile(r"(?<!\d)[0-3]\d[01]\d\d\d-?\d{4}(?!\d)")


@functools.cache
def table() -> dict[str, Any]:
    return load_table("alert_mail")


def words(section: str, key: str, **values: Any) -> str:
    return str(table()[section][key]).format(**values)


def kind_text(kind: str, key: str) -> str:
    """A kind's ``title``, ``what``, ``action`` or ``once``; an unknown kind gets the plain words."""
    entry = table()["kind"].get(kind)
    if entry is None:
        return {"title": f"Varsel: {kind}", "what": kind, "action": "-", "once": "letter"}[key]
    return str(entry[key])


def mask(text: str) -> str:
    """``text`` with every national identity number replaced by a placeholder. Letter ids
    (UUIDs) are left whole: eleven digits in a row inside one are no fødselsnummer."""
    return outside_uuids(text, lambda part: _CPR.sub(words("mail", "masked_cpr"), _NORWEGIAN_ID.sub(words("mail", "masked"), part)))


@frozen
class LetterFacts:
    """What a mail may say about a letter (nothing that identifies its recipient)."""

    sender: str = ""
    reference: str = ""
    case: str = ""


def channel_name(channel: str | None) -> str:
    return str(table()["channel"].get(channel or "", channel or ""))


def compose(*, kind: str, alerts: Sequence[AlertRow], recipients: Sequence[str], settings: AlertSettings,
            letters: Mapping[str, LetterFacts], now: dt.datetime) -> EmailMessage:
    """One mail about ``alerts`` (all of ``kind``): a single alert, or a digest of several."""
    installation = settings.installation or words("mail", "default_installation")
    title, count = kind_text(kind, "title"), len(alerts)
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = mask(words("mail", "subject_one" if count == 1 else "subject_digest",
                                    installation=installation, title=title, count=count))
    message["From"] = settings.from_address
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now.astimezone(dt.timezone.utc))
    message["Message-ID"] = make_msgid("alert", domain=_domain(settings.from_address))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    lines = [words("mail", "intro_one" if count == 1 else "intro_digest", installation=installation, count=count), "",
             words("mail", "what", what=kind_text(kind, "what")), ""]
    for number, alert in enumerate(alerts, start=1):
        if count > 1:
            lines.append(words("mail", "item", number=number))
        lines += _describe(alert, letters.get(alert.shipment_id or ""))
        lines.append("")
    lines += [words("mail", "action", action=kind_text(kind, "action")), "", "-- ",
              words("mail", "footer", installation=installation, dedupe_hours=settings.dedupe_hours,
                    digest_minutes=settings.digest_interval_seconds / 60)]
    message.set_content(mask("\n".join(lines)) + "\n", charset="utf-8")
    return message


def _describe(alert: AlertRow, letter: LetterFacts | None) -> list[str]:
    lines = [words("mail", "time", time=alert.at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M"))]
    if alert.shipment_id:
        lines.append(words("mail", "letter", shipment_id=alert.shipment_id))
        if letter is not None:
            lines += [words("mail", key, **{key: value}) for key, value in
                      (("sender", letter.sender), ("reference", letter.reference), ("case", letter.case)) if value]
    if alert.channel:
        lines.append(words("mail", "channel", channel=channel_name(alert.channel)))
    lines.append(words("mail", "detail", detail=alert.detail))
    if alert.shipment_id:
        lines.append(words("mail", "look_up", shipment_id=alert.shipment_id))
    return lines


def _domain(address: str) -> str:
    found = parseaddr(address)[1]
    try:
        return Address(addr_spec=found).domain or "localhost"
    except (ValueError, IndexError):
        return "localhost"
