"""NgDP's JSON shapes, as its OpenAPI (1.68.0) names them, read into what the gateway needs.

Three answers matter: a ``Receipt`` (``messageUUID``, ``receiptStatus``, ``errorCode``,
``errorMessage``, ``timeStamp``), the page of receipt ids ``GET receipts/`` answers
(``PagingResultUUID``: ``content``, ``number``, ``totalPages``), and the page of contacts
``GET contacts/`` answers (``ContactSearchResult``: ``contacts[].mailboxSubscription.
publicRegistrationStatus``, ``currentPage``, ``totalPages``). An answer that does not have
the shape is :class:`ChannelUnavailable`: the gateway cannot tell what it means, so it asks
again later rather than deciding a letter's fate on it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from gateway.channels.base import ChannelUnavailable, FeedEntry
from gateway.model import Status, utcnow
from gateway.uuids import canonical_uuid

NAME = "digitalpost"

#: ``ReceiptStatus``: RECEIVED (taken, not yet in the mailbox), COMPLETED (in the mailbox:
#: final, NgDP has no read status), INVALID and NOT_ALLOWED (refused after the upload).
RECEIVED, COMPLETED = "RECEIVED", "COMPLETED"
REFUSED = frozenset({"INVALID", "NOT_ALLOWED"})
RECEIPT_STATUSES = frozenset({RECEIVED, COMPLETED}) | REFUSED

#: ``PublicRegistrationStatus``: only REGISTERED receives digital post; EXEMPT (fritaget),
#: CLOSED and UNKNOWN get physical post.
REGISTERED = "REGISTERED"
REGISTRATION_STATUSES = frozenset({REGISTERED, "EXEMPT", "CLOSED", "UNKNOWN"})


@dataclass(frozen=True, slots=True, kw_only=True)
class NgdpReceipt:
    """One NgDP ``Receipt``; ``id`` is the receipt's id in ``receipts/{id}`` ('' in a 201 answer)."""

    id: str
    message_uuid: str
    status: str
    error_code: str = ""
    error_message: str = ""
    at: dt.datetime | None = None

    @property
    def refused(self) -> bool:
        return self.status in REFUSED

    def describe(self) -> str:
        reason = ": ".join(p for p in (self.error_code, self.error_message) if p)
        return f"Digital Post receipt {self.status}" + (f" ({reason})" if reason else "")


def json_object(r: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ChannelUnavailable(f"Digital Post answered {what} ({r.status_code}) without a JSON object: {r.text[:300]}", channel=NAME)
    return body


def read_receipt(body: Mapping[str, Any], *, receipt_id: str = "") -> NgdpReceipt:
    status, given = body.get("receiptStatus"), body.get("messageUUID")
    message_uuid = canonical_uuid(given) if isinstance(given, str) else None
    if status not in RECEIPT_STATUSES or message_uuid is None:
        raise ChannelUnavailable(f"Digital Post answered a receipt the gateway cannot read: {str(dict(body))[:300]}", channel=NAME)
    return NgdpReceipt(id=receipt_id, message_uuid=message_uuid, status=str(status),
                       error_code=_text(body.get("errorCode")), error_message=_text(body.get("errorMessage")),
                       at=_timestamp(body.get("timeStamp")))


def read_receipt_ids(body: Mapping[str, Any]) -> tuple[list[str], bool]:
    """(receipt ids on this page, whether later pages exist)."""
    content = body.get("content")
    if not isinstance(content, list) or not all(isinstance(i, str) and i for i in content):
        raise ChannelUnavailable(f"Digital Post answered a receipt list the gateway cannot read: {str(dict(body))[:300]}", channel=NAME)
    return list(content), _more(body, "number")


def read_registration(body: Mapping[str, Any], *, field: str, identifier: str) -> tuple[bool | None, bool]:
    """(True when a contact with ``identifier`` in ``field`` is REGISTERED, False when one is
    known and not registered, None when this page has none; whether later pages exist)."""
    contacts = body.get("contacts")
    if not isinstance(contacts, list):
        raise ChannelUnavailable(f"Digital Post answered a contact search the gateway cannot read: {str(dict(body))[:300]}", channel=NAME)
    found: bool | None = None
    for contact in contacts:
        if not isinstance(contact, dict) or contact.get(field) != identifier:
            continue
        subscription = contact.get("mailboxSubscription")
        if subscription is None:
            found = found or False  # known, with no mailbox
            continue
        status = subscription.get("publicRegistrationStatus") if isinstance(subscription, dict) else None
        if status not in REGISTRATION_STATUSES:
            raise ChannelUnavailable(f"Digital Post answered a registration status the gateway cannot read: {status!r}", channel=NAME)
        found = found or status == REGISTERED
    return found, _more(body, "currentPage")


def feed_entry(receipt: NgdpReceipt) -> FeedEntry | None:
    """What a receipt tells the dispatcher; None for RECEIVED, which tells it nothing new."""
    at = receipt.at or utcnow()
    if receipt.status == COMPLETED:
        return FeedEntry(reference=receipt.message_uuid, status=Status.DELIVERED, at=at, token=receipt.id,
                         detail="Digital Post: in the recipient's mailbox (COMPLETED)")
    if receipt.refused:
        return FeedEntry(reference=receipt.message_uuid, status=None, at=at, failed=True, token=receipt.id,
                         detail=receipt.describe())
    return None


def _more(body: Mapping[str, Any], page_key: str) -> bool:
    page, total = body.get(page_key), body.get("totalPages")
    return isinstance(page, int) and isinstance(total, int) and page + 1 < total


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
