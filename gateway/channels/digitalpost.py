"""Danish Digital Post over NgDP's REST API: one raw MeMo per letter, over mutual TLS.

The gateway proves who it is twice: with its system certificate in the TLS handshake, and
with ``systemId:apiToken`` as HTTP Basic (which only identifies the calling system). A letter
is ``POST memos/?memo-message-uuid=<messageUUID>`` with the MeMo itself as the body
(``application/xml``), answered 201 with a Receipt. What became of it arrives later in
NgDP's receipt list (``GET receipts/``, ``GET receipts/{id}?delete=``): the channel is a
:class:`~gateway.channels.base.StatusFeed`, read by the dispatcher's ``feed`` job, and has no
per-letter status to poll. Whether a number has a mailbox is ``GET contacts/?cprNumber=``
(or ``cvrNumber``).

A repeated messageUUID must never make a second letter, and NgDP's OpenAPI documents no
answer for one (no 409). So the channel never re-sends blindly: after an answer it did not
get (timeout, broken connection, 5xx) it first looks for the messageUUID among the receipts,
and a 409, or a 400 that says the messageUUID is already used, counts as the earlier attempt
having arrived. See README.md, "Danish Digital Post".
"""
from __future__ import annotations

import logging
import re
import ssl
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import requests

from gateway.channels.base import ChannelRejected, ChannelUnavailable, FeedEntry, Letter, Receipt, sent_digital
from gateway.channels.digitalpost_api import NAME, NgdpReceipt, feed_entry, json_object, read_receipt, read_receipt_ids, read_registration
from gateway.channels.digitalpost_memo import check_memo_schema, check_upload_bytes
from gateway.channels.http import environment_session, retry_after_seconds
from gateway.config import ConfigError, DigitalPostSettings
from gateway.model import utcnow
from gateway.xml.schemas import SchemaRegistry

__all__ = ["DigitalPostChannel", "check_upload_bytes"]

logger = logging.getLogger(__name__)

ID_FIELDS = {"CPR": "cprNumber", "CVR": "cvrNumber"}
#: A refusal that says the messageUUID was used before: NgDP names no code for it, so the text decides.
_REPEATED = re.compile(r"(?is)(?=.*uuid)(?=.*\b(?:already|duplicate)\b)")
#: Pages of contacts read for one number before giving up (a number has one contact).
MAX_CONTACT_PAGES = 5
#: Pages of receipts looked through for one messageUUID before a re-send (the feed job
#: deletes receipts as it records them, so the list stays short unless dispatch is stopped).
MAX_RECEIPT_PAGES = 100

Render = Callable[[Letter], tuple[str, bytes]]


class DigitalPostChannel:
    name = NAME

    def __init__(self, settings: DigitalPostSettings, *, render: Render, schemas: SchemaRegistry | None = None) -> None:
        _check_settings(settings)
        self.settings = settings
        self.render = render
        self.schemas = schemas if schemas is not None else SchemaRegistry.builtin()
        self.base = settings.base_url if settings.base_url.endswith("/") else settings.base_url + "/"
        # configured once: requests keeps the connections (and their handshakes) in its pool
        self.session = environment_session(self.base)
        self.session.cert = (settings.client_certificate, settings.client_private_key)
        self.session.verify = settings.ca_bundle or True
        self.session.auth = (settings.system_id, settings.system_password)
        self.session.headers["Accept"] = "application/json"
        # messageUUIDs whose upload got no answer: looked for among the receipts before a re-send
        self._uncertain: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    # --- submit ---

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        message_uuid, xml = self.render(letter)
        check_upload_bytes(xml, message_uuid)
        check_memo_schema(xml, version=self.settings.memo_version, schemas=self.schemas)
        key = message_uuid.lower()

        def sent(detail: str) -> Receipt:
            with self._lock:
                self._uncertain.discard(key)
            return sent_digital(letter, channel=NAME, idempotency_key=idempotency_key, reference=key, detail=detail)

        with self._lock:
            uncertain = key in self._uncertain
        if uncertain and (earlier := self.find_receipt(key)) is not None:
            return sent(f"Digital Post already has MeMo {message_uuid} from an attempt whose answer was lost ({earlier.describe()})")
        r = self._call("POST", "memos/", params={"memo-message-uuid": message_uuid}, data=xml,
                       headers={"Content-Type": "application/xml"}, uncertain=key)
        if r.status_code == 201:
            try:
                receipt = read_receipt(json_object(r, "the upload"))
            except ChannelUnavailable:  # taken all the same: its receipts will tell the rest
                return sent(f"Digital Post took MeMo {message_uuid} (HTTP 201; a receipt the gateway cannot read: {r.text[:200]})")
            if receipt.refused:
                raise ChannelRejected(f"Digital Post refused MeMo {message_uuid}: {receipt.describe()}", channel=NAME)
            return sent(f"Digital Post took MeMo {message_uuid} ({receipt.describe()})")
        if r.status_code == 409 or (r.status_code == 400 and _REPEATED.search(r.text[:2000])):
            earlier = self.find_receipt(key)
            shown = earlier.describe() if earlier else "its receipts are already collected"
            return sent(f"Digital Post already has MeMo {message_uuid} from an earlier attempt ({shown})")
        if r.status_code >= 500:
            with self._lock:
                self._uncertain.add(key)
        self._raise_for(r)

    def find_receipt(self, message_uuid: str) -> NgdpReceipt | None:
        """The receipt NgDP holds for ``message_uuid``, looked for page by page (read, not deleted)."""
        for page in range(MAX_RECEIPT_PAGES):
            ids, more = self._receipt_ids(page=page, size=self.settings.receipt_page_size)
            for receipt_id in ids:
                receipt = self._receipt(receipt_id, delete=False)
                if receipt is not None and receipt.message_uuid == message_uuid.lower():
                    return receipt
            if not more:
                return None
        # not looked through: sending again could make a second letter, so wait for the feed to shrink
        raise ChannelUnavailable(f"Digital Post holds more than {MAX_RECEIPT_PAGES} pages of receipts; MeMo {message_uuid} "
                                 "is not sent again until they are read", channel=NAME)

    # --- the receipt feed (StatusFeed) ---

    def fetch(self, *, limit: int) -> list[FeedEntry]:
        """The first ``limit`` receipts as feed entries. A RECEIVED receipt says nothing the
        gateway does not know (the 201 said it), so it is deleted here and not answered."""
        entries = []
        ids, _ = self._receipt_ids(page=0, size=limit)
        for receipt_id in ids:
            receipt = self._receipt(receipt_id, delete=False)
            if receipt is None:
                continue
            entry = feed_entry(receipt)
            if entry is None:
                self._receipt(receipt_id, delete=True)
            else:
                entries.append(entry)
        return entries

    def acknowledge(self, entries: Sequence[FeedEntry]) -> None:
        """Delete the receipts the gateway has recorded (``GET receipts/{id}?delete=true``)."""
        for entry in entries:
            if entry.token:
                self._receipt(entry.token, delete=True)

    def release(self, entries: Sequence[FeedEntry]) -> None:
        """Nothing to do: a receipt read without ``delete`` stays in NgDP's list."""

    def _receipt_ids(self, *, page: int, size: int) -> tuple[list[str], bool]:
        r = self._call("GET", "receipts/", params={"page": page, "size": size})
        if r.status_code != 200:
            self._raise_lookup(r, "the receipt list")
        return read_receipt_ids(json_object(r, "the receipt list"))

    def _receipt(self, receipt_id: str, *, delete: bool) -> NgdpReceipt | None:
        """One receipt (None: already gone, as when another worker deleted it)."""
        r = self._call("GET", f"receipts/{requests.utils.quote(receipt_id, safe='')}",
                       params={"delete": "true" if delete else "false"})
        if r.status_code == 404:
            return None
        if r.status_code not in (200, 201):
            self._raise_lookup(r, f"receipt {receipt_id}")
        return read_receipt(json_object(r, f"receipt {receipt_id}"), receipt_id=receipt_id)

    # --- lookups ---

    def is_registered(self, id_type: str, identifier: str) -> bool:
        """Whether a CPR or CVR number gets digital post: its contact's mailbox subscription is
        REGISTERED. EXEMPT, CLOSED, UNKNOWN and an unknown number get physical post."""
        if id_type not in ID_FIELDS:
            raise ValueError(f"id_type must be CPR or CVR, not {id_type!r}")
        field = ID_FIELDS[id_type]
        for page in range(MAX_CONTACT_PAGES):
            r = self._call("GET", "contacts/", params={field: identifier, "page": page})
            if r.status_code != 200:
                self._raise_lookup(r, "the contact search")
            found, more = read_registration(json_object(r, "the contact search"), field=field, identifier=identifier)
            if found is not None or not more:
                return bool(found)
        raise ChannelUnavailable(f"Digital Post answered more than {MAX_CONTACT_PAGES} pages of contacts for one {id_type} number",
                                 channel=NAME)

    # --- HTTP ---

    def _call(self, method: str, path: str, *, uncertain: str | None = None, **kwargs: Any) -> requests.Response:
        """One request; ``uncertain`` is the messageUUID of an upload, remembered when the
        request may have arrived without its answer arriving back."""
        try:
            return self.session.request(method, self.base + path, timeout=self.settings.timeout_seconds, **kwargs)
        except requests.exceptions.SSLError as exc:  # nothing was sent
            raise ChannelUnavailable(f"TLS with Digital Post failed (client certificate refused, or the server certificate "
                                     f"not trusted by ca_bundle): {exc}", channel=NAME) from exc
        except requests.ConnectTimeout as exc:
            raise ChannelUnavailable(f"Digital Post did not accept a connection within {self.settings.timeout_seconds} s",
                                     channel=NAME) from exc
        except requests.RequestException as exc:
            if uncertain is not None:
                with self._lock:
                    self._uncertain.add(uncertain)
            if isinstance(exc, requests.Timeout):
                raise ChannelUnavailable(f"Digital Post did not answer within {self.settings.timeout_seconds} s", channel=NAME) from exc
            raise ChannelUnavailable(f"Digital Post is not reachable: {exc}", channel=NAME) from exc

    @staticmethod
    def _raise_for(r: requests.Response) -> NoReturn:
        text = r.text[:500]
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise ChannelUnavailable(f"Digital Post answered {r.status_code}: {text}", channel=NAME,
                                     retry_after=retry_after_seconds(r.headers.get("Retry-After"), now=utcnow()))
        if r.status_code in (401, 403):
            raise ChannelRejected(f"Digital Post refused the client certificate or system credentials ({r.status_code}): {text}", channel=NAME)
        raise ChannelRejected(f"Digital Post refused the MeMo ({r.status_code}): {text}", channel=NAME)

    @staticmethod
    def _raise_lookup(r: requests.Response, what: str) -> NoReturn:
        """A lookup (receipts, contacts) that failed is never about one letter: try again later."""
        raise ChannelUnavailable(f"Digital Post answered {r.status_code} to {what}: {r.text[:300]}", channel=NAME,
                                 retry_after=retry_after_seconds(r.headers.get("Retry-After"), now=utcnow()))


def _check_settings(s: DigitalPostSettings) -> None:
    """Fail at start-up, not at the first letter: the certificate pair is loaded once here,
    so a missing file, a key that does not match, or an encrypted key (which OpenSSL would
    answer with a password prompt on the terminal) is a configuration error."""
    if s.transport != "ngdp":
        raise ConfigError(f"channels.digitalpost.transport is {s.transport!r}; this channel speaks NgDP (\"ngdp\")")
    if s.memo_version not in ("1.1", "1.2"):
        raise ConfigError(f"channels.digitalpost.memo_version must be \"1.2\" or \"1.1\", not {s.memo_version!r}")
    if not s.base_url.startswith("https://"):
        raise ConfigError(f"channels.digitalpost.base_url must be https:// (mutual TLS), not {s.base_url!r}")
    if s.receipt_page_size < 1:
        raise ConfigError("channels.digitalpost.receipt_page_size must be at least 1")
    missing = [k for k in ("client_certificate", "client_private_key", "system_id", "system_password") if not getattr(s, k)]
    if missing:
        raise ConfigError(f"[channels.digitalpost] needs {', '.join(missing)}")
    for key in ("client_certificate", "client_private_key", "ca_bundle"):
        path = getattr(s, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"channels.digitalpost.{key}: no such file {path!r}")

    def encrypted() -> bytes:
        raise ConfigError("channels.digitalpost.client_private_key is encrypted; give the key unencrypted (mode 0600)")

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(s.client_certificate, s.client_private_key, password=encrypted)
        if s.ca_bundle:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=s.ca_bundle)
    except ssl.SSLError as exc:
        raise ConfigError(f"[channels.digitalpost] certificate files unusable (is the key the certificate's?): {exc}") from exc
