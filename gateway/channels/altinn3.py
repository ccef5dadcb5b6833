"""Altinn 3 Correspondence over REST (``/correspondence/api/v1/correspondence/upload``).

One multipart upload per letter: the correspondence fields as form fields (the flat
``Correspondence.*`` names of the official OpenAPI contract), the recipient as an Altinn URN,
the documents as ``attachments`` files, ``SendersReference`` = the shipment id and
``IdempotentKey`` = a UUID derived from the gateway's idempotency key, so a retry never
creates a second correspondence. Altinn answers a repeated key with 409 (error 1034); the
channel then finds the existing correspondence by its senders reference. Status is polled
with ``GET /correspondence/{id}``.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import requests

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange, sent_digital
from gateway.channels.http import environment_session, retry_after_seconds
from gateway.channels.maskinporten import TokenProvider
from gateway.config import Altinn3Settings
from gateway.model import PartyKind, Shipment, Status, utcnow

logger = logging.getLogger(__name__)

NAME = "altinn3"
API = "/correspondence/api/v1/correspondence"
_KEY_NAMESPACE = uuid.UUID("6f1b4c5e-2d7a-4f43-9a0e-5b1c7d2e8f90")

#: Altinn correspondence status → what it means for the letter.
STATUS_MAP: dict[str, Status | None] = {
    "Published": Status.NOTIFIED,
    "Fetched": Status.NOTIFIED,
    "Read": Status.READ,
    "Confirmed": Status.READ,
    "Replied": Status.READ,
    "AttachmentsDownloaded": Status.READ,
}
FAILED = frozenset({"Failed", "Reserved"})


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


def message_body(shipment: Shipment) -> str:
    """Markdown body: a short text and the deep links as links."""
    lines = [f"Du har fått brev fra {shipment.sender_party.name if shipment.sender_party and shipment.sender_party.name else 'avsender'}: {shipment.title}."]
    if shipment.links:
        lines.append("")
        for link in shipment.links:
            label = f"{link.label}: " if link.label else ""
            lines.append(f"- {label}[{link.text}]({link.url})")
    return "\n".join(lines)


class Altinn3Channel:
    name = NAME

    def __init__(self, settings: Altinn3Settings, *, tokens: TokenProvider, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.tokens = tokens
        self.base = settings.base_url.rstrip("/")
        self.session = session or environment_session(self.base)

    # --- submit ---

    def form(self, letter: Letter, *, idempotency_key: str) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
        """The multipart form fields and files for one letter."""
        s = letter.shipment
        fields: list[tuple[str, str]] = [
            ("Correspondence.ResourceId", self.settings.resource_id),
            ("Correspondence.SendersReference", s.id),
            ("Correspondence.Content.Language", "nb"),
            ("Correspondence.Content.MessageTitle", s.title),
            ("Correspondence.Content.MessageSummary", s.title),
            ("Correspondence.Content.MessageBody", message_body(s)),
            ("Correspondence.Notification.NotificationTemplate", self.settings.notification_template),
            ("Recipients", recipient_urn(s)),
            ("IdempotentKey", idempotent_key(idempotency_key)),
        ]
        if s.sender_party and s.sender_party.name:
            fields.append(("Correspondence.MessageSender", s.sender_party.name[:256]))
        if self.settings.notification_template == "CustomMessage":
            fields += [
                ("Correspondence.Notification.NotificationChannel", "EmailPreferred"),
                ("Correspondence.Notification.EmailSubject", self.settings.email_subject),
                ("Correspondence.Notification.EmailBody", self.settings.email_body),
                ("Correspondence.Notification.SmsBody", self.settings.sms_body),
            ]
        for key, value in _properties(s).items():
            fields.append((f"Correspondence.PropertyList[{key}]", value))
        files = []
        for i, doc in enumerate(s.documents):
            data = letter.content(doc)
            prefix = f"Correspondence.Content.Attachments[{i}]"
            fields += [
                (f"{prefix}.FileName", doc.filename),
                (f"{prefix}.DisplayName", doc.filename),
                (f"{prefix}.SendersReference", doc.sha256),
                (f"{prefix}.Checksum", hashlib.md5(data, usedforsecurity=False).hexdigest()),
                (f"{prefix}.DataLocationType", "NewCorrespondenceAttachment"),
                (f"{prefix}.IsEncrypted", "false"),
            ]
            files.append(("attachments", (doc.filename, data, doc.media_type or "application/octet-stream")))
        return fields, files

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        fields, files = self.form(letter, idempotency_key=idempotency_key)
        r = self._call("POST", f"{API}/upload", data=fields, files=files)
        if r.status_code == 409:
            reference = self._find_existing(letter.shipment)
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

    def _find_existing(self, shipment: Shipment) -> str:
        r = self._call("GET", API, params={"resourceId": self.settings.resource_id, "sendersReference": shipment.id, "role": "Sender"})
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
            r = self._call("GET", f"{API}/{receipt.reference}")
            if r.status_code != 200:
                self._raise_for(r)
            body = r.json()
            status = body.get("status", "")
            at = utcnow()
            if status in FAILED:
                changes.append(StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=None,
                                            at=at, failed=True, detail=f"Altinn: {status} {body.get('statusText') or ''}".strip()))
            elif STATUS_MAP.get(status) is not None:
                changes.append(StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference,
                                            status=STATUS_MAP[status], at=at, detail=f"Altinn: {status}"))
        return changes

    # --- HTTP ---

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.tokens.token()}", "Accept": "application/json"}
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


def _properties(s: Shipment) -> dict[str, str]:
    """Case and routing metadata for the recipient's mailbox (folder routing, replies)."""
    props: dict[str, str] = {}
    cm = s.case_metadata
    if cm is not None:
        props["saksaar"] = str(cm.case_year)
        props["sakssekvensnummer"] = str(cm.case_sequence_number)
        props["journalpostnummer"] = str(cm.journal_entry_number)
        if cm.case_officer:
            props["saksbehandler"] = cm.case_officer
    r = s.routing
    for key, value in (("kle", r.kle), ("form", r.form), ("caseId", r.case_id), ("caseSystem", r.case_system),
                       ("contactPoint", r.contact_point), ("forsendelseType", r.shipment_type)):
        if value:
            props[key] = value
    attention = r.attention
    for name, value in (("contactPointLabel", r.contact_label), ("contactGroup", r.contact_group),
                        ("attentionPerson", attention.person if attention else None),
                        ("attentionEmail", attention.email if attention else None)):
        if value:
            props[name] = value  # set by folder-routing rules: the mailbox files the letter by them
    for key, value in r.extra:
        props.setdefault(key, value)
    if s.external_ref:
        props["eksternref"] = s.external_ref
    return props
