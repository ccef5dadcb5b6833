"""The periodic ``alert_mail`` job: the alerts in the ``alerts`` table, mailed to the people
``[alerts]`` names for their kind.

Each round reads the alerts not mailed yet and decides (:func:`plan`, no I/O):

* **The same alert once.** Two alerts are the same when their kind, channel and letter agree
  (without a letter: their text; for ``channel_down``: the channel alone — the kind's ``once``
  in ``mappings/alert_mail.toml``). One mailed within ``dedupe_hours``, or an earlier one in
  the same round, makes the later one ``duplicate``: not mailed, marked at once.
* **A digest gathers bursts.** Alerts go in one mail per kind and recipient list. When no mail
  of that kind went out in the last ``digest_interval_seconds``, the mail goes now (the first
  alert of a burst is not held back); otherwise the alerts wait until the interval has passed
  since that mail, and go together then.
* **Nothing is lost.** Sending is :class:`~gateway.channels.smtp.SmtpMailer`'s; a mail that
  fails leaves its alerts waiting with one more attempt and a ``mail_after`` (backoff), and a
  later round sends them. A kind with no recipients is marked ``nobody``.

What the round did is an :class:`~gateway.store.outcome.Outcome` whose ``mailed`` entries the
store writes in the transaction that ends the job, so an alert is marked sent only with the job's
outcome. A crash (or a lost lease) between the SMTP server taking a mail and that commit sends
it again next round: at least once, never zero times.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from typing import Protocol

from gateway.config import Settings
from gateway.config.alerts import AlertSettings
from gateway.dispatch.alert_texts import LetterFacts, compose, kind_text
from gateway.dispatch.backoff import backoff_seconds
from gateway.frozen import frozen
from gateway.store.alert_mail import DUPLICATE, NOBODY, SENT, AlertRow
from gateway.store.dispatch import DispatchStore, Job
from gateway.store.outcome import AlertsMailed, Outcome, Retry
from gateway.store.repository import Repository

KIND = "alert_mail"
#: Alerts read per round; a full round is followed by the next at once.
BATCH = 500


class Mailer(Protocol):
    def send_all(self, messages: Sequence[EmailMessage]) -> Sequence[Exception | None]: ...


@frozen
class PlannedMail:
    kind: str
    recipients: tuple[str, ...]
    alerts: tuple[AlertRow, ...]


@frozen
class Plan:
    mails: tuple[PlannedMail, ...]
    marks: tuple[AlertsMailed, ...]
    #: When a round has something to do next (a held digest, a retry), at the latest the next check.
    next_round: dt.datetime


def same_alert(alert: AlertRow) -> tuple[str, ...]:
    """What makes two alerts the same (the kind's ``once``)."""
    once = kind_text(alert.kind, "once")
    if once == "channel":
        return (alert.kind, alert.channel or "")
    if once == "letter" and alert.shipment_id:
        return (alert.kind, alert.channel or "", alert.shipment_id)
    return (alert.kind, alert.channel or "", alert.shipment_id or "", alert.detail)


def plan(waiting: Iterable[AlertRow], mailed: Iterable[AlertRow], settings: AlertSettings, now: dt.datetime) -> Plan:
    """What to send now, what to mark, and when to look again. ``mailed``: alerts sent in a mail
    since ``now - max(dedupe window, digest interval)``."""
    window = dt.timedelta(hours=settings.dedupe_hours)
    seen = {same_alert(a) for a in mailed if a.mailed_at and a.mailed_at >= now - window}
    last_mail: dict[str, dt.datetime] = {}
    for a in mailed:
        if a.mailed_at and (a.kind not in last_mail or a.mailed_at > last_mail[a.kind]):
            last_mail[a.kind] = a.mailed_at
    duplicates: list[int] = []
    nobody: list[int] = []
    groups: dict[tuple[tuple[str, ...], str], list[AlertRow]] = {}
    for alert in sorted(waiting, key=lambda a: a.id):
        key = same_alert(alert)
        if key in seen:
            duplicates.append(alert.id)
            continue
        seen.add(key)
        recipients = settings.recipients_for(alert.kind)
        if not recipients:
            nobody.append(alert.id)
            continue
        groups.setdefault((recipients, alert.kind), []).append(alert)
    next_round = now + dt.timedelta(seconds=settings.check_interval_seconds)
    mails: list[PlannedMail] = []
    digest = dt.timedelta(seconds=settings.digest_interval_seconds)
    for (recipients, kind), alerts in groups.items():
        holds = [a.mail_after for a in alerts if a.mail_after]  # a failed mail's backoff
        if kind in last_mail:
            holds.append(last_mail[kind] + digest)  # a digest: wait out the interval since the last mail
        due = max(holds, default=now)
        if due <= now:
            mails.append(PlannedMail(kind=kind, recipients=recipients, alerts=tuple(alerts)))
        else:
            next_round = min(next_round, due)
    marks = tuple(AlertsMailed(ids=tuple(ids), state=state) for ids, state in ((duplicates, DUPLICATE), (nobody, NOBODY)) if ids)
    return Plan(mails=tuple(mails), marks=marks, next_round=next_round)


class AlertMail:
    """The ``alert_mail`` job's handler."""

    def __init__(self, *, settings: Settings, store: DispatchStore, repository: Repository, mailer: Mailer | None,
                 rng: random.Random) -> None:
        self.settings = settings.alerts
        self.store = store
        self.repository = repository
        if mailer is None:
            from gateway.channels.smtp import SmtpMailer
            mailer = SmtpMailer(settings.alerts)
        self.mailer = mailer
        self.rng = rng

    def handle(self, job: Job, now: dt.datetime) -> Outcome:
        s = self.settings
        waiting = self.store.alerts_waiting(limit=BATCH)
        since = now - max(dt.timedelta(hours=s.dedupe_hours), dt.timedelta(seconds=s.digest_interval_seconds))
        decided = plan(waiting, self.store.alerts_mailed_since(since) if waiting else [], s, now)
        letters = self._letters(decided.mails)
        messages = [compose(kind=m.kind, alerts=m.alerts, recipients=m.recipients, settings=s, letters=letters, now=now)
                    for m in decided.mails]
        results = self.mailer.send_all(messages)
        mailed, next_round = list(decided.marks), decided.next_round
        for mail, failure in zip(decided.mails, results, strict=True):
            ids = tuple(a.id for a in mail.alerts)
            if failure is None:
                mailed.append(AlertsMailed(ids=ids, state=SENT))
                continue
            attempts = min(max(a.mail_attempts for a in mail.alerts) + 1, 30)  # 2**n stays a float
            retry_after = now + dt.timedelta(seconds=backoff_seconds(attempts, base=s.retry_base_seconds,
                                                                     cap=s.retry_max_seconds, rng=self.rng))
            mailed.append(AlertsMailed(ids=ids, state=None, retry_after=retry_after, error=str(failure)))
            next_round = min(next_round, retry_after)
        if len(waiting) >= BATCH:
            next_round = now
        return Outcome(at=now, mailed=tuple(mailed), job=Retry(run_after=next_round, count_attempt=False))

    def _letters(self, mails: Sequence[PlannedMail]) -> dict[str, LetterFacts]:
        """What the mails may say about their letters (one read per letter)."""
        found: dict[str, LetterFacts] = {}
        for sid in {a.shipment_id for m in mails for a in m.alerts if a.shipment_id}:
            stored = self.repository.get(sid)
            if stored is None:
                continue
            letter = stored.shipment
            case = letter.case_metadata
            found[sid] = LetterFacts(sender=letter.sender, reference=letter.external_ref or "",
                                     case=f"{case.case_year}/{case.case_sequence_number}" if case else "")
        return found
