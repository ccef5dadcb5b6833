"""Altinn 3 Correspondence over REST (``/correspondence/api/v1/correspondence/upload``).

One multipart upload per letter: the correspondence fields as form fields (the flat
``Correspondence.*`` names of the official OpenAPI contract), the recipient as an Altinn URN,
the documents as ``attachments`` files, ``SendersReference`` = the shipment id and
``IdempotentKey`` = a UUID derived from the gateway's idempotency key, so a retry never
creates a second correspondence. What Altinn would refuse is fixed or moved first
(:mod:`gateway.channels.altinn3_content`); a letter that cannot fit is rejected before any call.

Altinn answers a repeated key with 409 (error 1034) and no id; the channel then finds the
existing correspondence by ``idempotentKey`` and answers its receipt. Status is polled with
``GET /correspondence/{id}``: its ``status`` is the highest status reached and ``read`` the
time it was read (a later Archived still means read). A correspondence that answers 404 after
it was published has been purged, and the recipient can only purge what they have opened:
it counts as read.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import requests

from gateway.channels.altinn3_content import Content, Unfit, prepare
from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange, sent_digital
from gateway.channels.http import environment_session, retry_after_seconds
from gateway.channels.maskinporten import TokenProvider
from gateway.config import Altinn3Settings
from gateway.mapping import altinn3 as rules
from gateway.model import PartyKind, Shipment, Status, utcnow

logger = logging.getLogger(__name__)

NAME = "altinn3"
API = "/correspondence/api/v1/correspondence"
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
_KEY_NAMESPACE = uuid.UUID("6f1b4c5e-2d7a-4f43-9a0e-5b1c7d2e8f90")

#: CorrespondenceStatus in Altinn's numeric order; ``status`` is the highest one reached.
STATUS_ORDER = {name: i for i, name in enumerate((
    "Initialized", "ReadyForPublish", "Published", "Fetched", "Read", "Replied", "Confirmed", "PurgedByRecipient",
    "PurgedByAltinn", "Archived", "Reserved", "Failed", "AttachmentsDownloaded", "Forwarded"))}
READ_RANK = STATUS_ORDER["Read"]
#: Statuses that end the letter undelivered unless ``read`` says it was read first.
FAILED = frozenset({"Failed", "Reserved", "PurgedByAltinn"})
NOTIFIED = frozenset({"Published", "Fetched"})


def recipient_urn(shipment: Shipment) -> str:
    r = shipment.recipient
    if r.kind is PartyKind.NO_PERSON and r.identifier:
        return f"urn:altinn:person:identifier-no:{r.identifier}"
    if r.kind is PartyKind.NO_ORGANIZATION and r.identifier:
        return f"urn:altinn:organization:identifier-no:{r.identifier}"
    raise ChannelRejected("Altinn needs a Norwegian fødselsnummer or organisasjonsnummer", channel=NAME)


def idempotent_key(key: str) -> str:
    """Altinn wants a GUID; the same gateway key always gives the same GUID."""
    return str(uuid.uuid5(_KEY_NAMESPACE, key))


class Altinn3Channel:
    name = NAME

    def __init__(self, settings: Altinn3Settings, *, tokens: TokenProvider, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.tokens = tokens
        self.base = settings.base_url.rstrip("/")
        self.session = session or environment_session(self.base)

    # --- submit ---

    def form(self, letter: Letter, *, idempotency_key: str) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
        """The multipart form fields and files for one letter; ChannelRejected if it cannot fit."""
        s = letter.shipment
        try:
            content = prepare(s)
        except Unfit as exc:
            raise ChannelRejected(str(exc), channel=NAME) from exc
        fields: list[tuple[str, str]] = [
            ("Correspondence.ResourceId", self.settings.resource_id),
            ("Correspondence.SendersReference", s.id),
            ("Correspondence.Content.Language", "nb"),
            ("Correspondence.Content.MessageTitle", content.title),
            ("Correspondence.Content.MessageSummary", content.summary),
            ("Correspondence.Content.MessageBody", content.body),
            ("Correspondence.IsConfidential", "true" if content.confidential else "false"),
            ("Recipients", recipient_urn(s)),
            ("IdempotentKey", idempotent_key(idempotency_key)),
        ]
        if content.sender:
            fields.append(("Correspondence.MessageSender", content.sender))
        fields += self._notification()
        fields += [(f"Correspondence.PropertyList[{key}]", value) for key, value in content.properties]
        attachment_fields, files = self._attachments(letter, content)
        return fields + attachment_fields, files

    def _notification(self) -> list[tuple[str, str]]:
        a = self.settings
        fields = [("Correspondence.Notification.NotificationTemplate", a.notification_template),
                  ("Correspondence.Notification.SendReminder", "true" if a.send_reminder else "false")]
        if a.notification_template == "CustomMessage":
            fields += [
                ("Correspondence.Notification.NotificationChannel", "EmailPreferred"),
                ("Correspondence.Notification.EmailSubject", a.email_subject),
                ("Correspondence.Notification.EmailBody", a.email_body),
                ("Correspondence.Notification.SmsBody", a.sms_body),
            ]
            if a.send_reminder:  # Altinn wants the reminder's own texts (error 3007): the same words
                fields += [
                    ("Correspondence.Notification.ReminderNotificationChannel", "EmailPreferred"),
                    ("Correspondence.Notification.ReminderEmailSubject", a.email_subject),
                    ("Correspondence.Notification.ReminderEmailBody", a.email_body),
                    ("Correspondence.Notification.ReminderSmsBody", a.sms_body),
                ]
        return fields

    @staticmethod
    def _attachments(letter: Letter, content: Content) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
        """Metadata and files, matched by name as Altinn matches them (error 1005)."""
        fields: list[tuple[str, str]] = []
        files = []
        for i, (doc, name) in enumerate(zip(letter.shipment.documents, content.attachment_names, strict=True)):
            data = letter.content(doc)
            prefix = f"Correspondence.Content.Attachments[{i}]"
            fields += [
                (f"{prefix}.FileName", name),
                (f"{prefix}.DisplayName", name),
                (f"{prefix}.SendersReference", doc.sha256),
                (f"{prefix}.Checksum", hashlib.md5(data, usedforsecurity=False).hexdigest()),  # lower-case hex, as Altinn compares
                (f"{prefix}.DataLocationType", "NewCorrespondenceAttachment"),
                (f"{prefix}.IsEncrypted", "false"),
            ]
            files.append(("attachments", (name, data, doc.media_type or "application/octet-stream")))
        return fields, files

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        fields, files = self.form(letter, idempotency_key=idempotency_key)
        r = self._call("POST", f"{API}/upload", data=fields, files=files)
        if r.status_code == 409:
            reference = self._find_existing(idempotent_key(idempotency_key))
            detail = "already created by an earlier attempt (same idempotent key)"
        elif r.status_code == 200:
            created = r.json().get("correspondences") or []
            if not created or not created[0].get("correspondenceId"):
                raise ChannelUnavailable(f"Altinn answered 200 without a correspondence id: {r.text[:300]}", channel=NAME)
            reference, detail = created[0]["correspondenceId"], f"status {created[0].get('status', '?')}"
        else:
            self._raise_for(r)
        return sent_digital(letter, channel=NAME, idempotency_key=idempotency_key, reference=reference,
                            detail=f"Altinn correspondence {reference}: {detail}")

    def _find_existing(self, key: str) -> str:
        """The correspondence an earlier attempt created: Altinn's 409 names none, the key finds it."""
        r = self._call("GET", API, params={"resourceId": self.settings.resource_id, "role": "Sender", "idempotentKey": key})
        if r.status_code != 200:
            self._raise_for(r)
        ids = r.json().get("ids") or []
        if not ids:
            raise ChannelUnavailable("Altinn reports the idempotent key as used but lists no correspondence yet", channel=NAME)
        return ids[0]

    # --- poll ---

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        changes = []
        for receipt in receipts:
            change = self._status(receipt)
            if change is not None:
                changes.append(change)
        return changes

    def _status(self, receipt: Receipt) -> StatusChange | None:
        r = self._call("GET", f"{API}/{receipt.reference}")
        sid, ref = receipt.shipment_id, receipt.reference
        if r.status_code == 404:  # purged after it was published: only an opened letter is purged by its recipient
            return StatusChange(shipment_id=sid, reference=ref, status=Status.READ, at=utcnow(),
                                detail=rules.texts()["read_then_purged"])
        if r.status_code != 200:
            self._raise_for(r)
        body = r.json()
        status, read = str(body.get("status") or ""), body.get("read")
        if read:
            return StatusChange(shipment_id=sid, reference=ref, status=Status.READ, at=_time(read) or utcnow(),
                                detail=f"Altinn: {status}, read {read}")
        if status in FAILED:
            return StatusChange(shipment_id=sid, reference=ref, status=None, at=utcnow(), failed=True,
                                detail=f"Altinn: {status} {body.get('statusText') or ''}".strip())
        if STATUS_ORDER.get(status, -1) >= READ_RANK:  # Read, Confirmed, Archived, ...: opened by the recipient
            return StatusChange(shipment_id=sid, reference=ref, status=Status.READ, at=utcnow(), detail=f"Altinn: {status}")
        if status in NOTIFIED:
            return StatusChange(shipment_id=sid, reference=ref, status=Status.NOTIFIED, at=utcnow(), detail=f"Altinn: {status}")
        return None

    # --- HTTP ---

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.tokens.token()}", "Accept": "application/json",
                       SUBSCRIPTION_HEADER: self.settings.subscription_key}
            try:
                r = self.session.request(method, self.base + path, headers=headers, timeout=self.settings.timeout_seconds, **kwargs)
            except requests.Timeout as exc:
                raise ChannelUnavailable(f"Altinn did not answer within {self.settings.timeout_seconds} s", channel=NAME) from exc
            except requests.RequestException as exc:
                raise ChannelUnavailable(f"Altinn is not reachable: {exc}", channel=NAME) from exc
            if r.status_code == 401 and attempt == 1:
                self.tokens.invalidate()  # an expired or revoked token: fetch a new one once
                continue
            return r
        return r

    @staticmethod
    def _raise_for(r: requests.Response) -> None:
        text = r.text[:500]
        if r.status_code >= 500 or r.status_code in (401, 408, 429):
            raise ChannelUnavailable(f"Altinn answered {r.status_code}: {text}", channel=NAME,
                                     retry_after=retry_after_seconds(r.headers.get("Retry-After"), now=utcnow()))
        raise ChannelRejected(f"Altinn refused the correspondence ({r.status_code}): {text}", channel=NAME)


def _time(value: object) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
