"""SF1601's status events, read from Beskedfordeler (SF1461) over AMQP 0-9-1.

KombiPostAfsend answers at once only that it took the letter; what became of it arrives later
as a ``PostStatusBeskedModtag`` event in the authority's queue (a "Dueslag"). An event is an
``Haendelsesbesked`` envelope (``urn:oio:besked:kuvert:1.0``) whose ``Beskeddata/Base64``
(``urn:besked:kuvert:1.0``) holds a base64 ``PKO_PostStatus`` document
(``http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types``) with ``MessageUUID`` (the
MeMo's messageUUID; ``AfsendelseIdentifikator`` for physical post), ``TransaktionsStatusKode``
and, when it failed, ``FejlDetaljer/FejlKode`` and ``FejlTekst`` (os2forms'
``BeskedfordelerEventSubscriber``, itk-dev's beskedfordeler module, OpenPostbud's worker).

The feed takes events with ``basic_get`` without auto-ack and acknowledges them only when the
dispatcher has recorded them. pika's ``BlockingConnection`` is not thread-safe, so one lock
guards it; a dropped connection is opened again at the next call, and the events that were
taken but not acknowledged come back (reading one twice changes nothing). Delivery tags are
only good on the channel that gave them, so a token names its connection too and an
acknowledgement for an older connection is skipped (the event comes back and is read again).

A malformed event (not XML, no Base64, no MessageUUID) cannot be placed by anyone: it is
logged as an error with its beginning and acknowledged at once, so it never blocks the queue.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pika
import pika.exceptions
from lxml import etree

from gateway.channels.base import ChannelUnavailable
from gateway.delivery import FeedEntry
from gateway.model import Status, utcnow
from gateway.xml.parser import make_parser

logger = logging.getLogger(__name__)

KUVERT_NS = "urn:oio:besked:kuvert:1.0"
BESKED_NS = "urn:besked:kuvert:1.0"
POST_STATUS_NS = "http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types"

#: TransaktionsStatusKode → what the letter reached (the names from Beskedfordeler's event
#: list as OpenPostbud carries them). "Fejlet" and any FejlDetaljer fail the letter; a code
#: not listed is passed on as news without a status (and logged).
EVENT_STATUS: dict[str, Status | None] = {
    "Afleveret Digital Post": Status.DELIVERED,  # in the recipient's mailbox; no read status follows
    "Modtaget Digital Post": None,  # Digital Post has it, not yet delivered
    "Modtaget Fjern-print": None,
    "Klar": None,
    "Afleveret til print og kuvertering": None,
    "Modtaget Post Danmark": None,
    "Opdatering fra Post Danmark": None,
    "Tilbagekaldt": None,
    "Afsendt": Status.PRINTED,  # printed, enveloped and posted
}
FAILED = "Fejlet"


class MalformedEvent(ValueError):
    """An AMQP message that is not a PostStatus event anyone could place."""


@dataclass(frozen=True, slots=True)
class PostStatus:
    reference: str
    code: str
    at: dt.datetime
    error: str = ""


def parse_event(body: bytes) -> PostStatus:
    """One Beskedfordeler message → its PostStatus (:class:`MalformedEvent` when it is none)."""
    try:
        envelope = etree.fromstring(body, make_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedEvent(f"not XML: {exc}") from None
    data = envelope.findtext(f"{{{KUVERT_NS}}}Beskeddata/{{{BESKED_NS}}}Base64")
    if not data or not data.strip():
        raise MalformedEvent("no Beskeddata/Base64 in the Haendelsesbesked")
    try:
        status = etree.fromstring(base64.b64decode("".join(data.split()), validate=True), make_parser())
    except (binascii.Error, etree.XMLSyntaxError) as exc:
        raise MalformedEvent(f"Beskeddata/Base64 is not base64 XML: {exc}") from None

    def text(path: str) -> str:
        return (status.findtext("/".join(f"{{{POST_STATUS_NS}}}{part}" for part in path.split("/"))) or "").strip()

    reference = text("MessageUUID") or text("AfsendelseIdentifikator")
    if not reference:
        raise MalformedEvent("the PostStatus names neither MessageUUID nor AfsendelseIdentifikator")
    code = text("TransaktionsStatusKode")
    if not code:
        raise MalformedEvent(f"the PostStatus of {reference} has no TransaktionsStatusKode")
    error = ": ".join(part for part in (text("FejlDetaljer/FejlKode"), text("FejlDetaljer/FejlTekst")) if part)
    details = status.find(f"{{{POST_STATUS_NS}}}FejlDetaljer")
    if not error and details is not None and (len(details) or (details.text or "").strip()):
        error = "FejlDetaljer without FejlKode or FejlTekst"  # not empty: os2forms counts it as failed
    try:
        at = dt.datetime.fromisoformat(text("TransaktionsDatoTid").replace("Z", "+00:00"))
        at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        at = utcnow()
    return PostStatus(reference=reference.lower(), code=code, at=at, error=error)


def feed_entry(event: PostStatus, *, token: str) -> FeedEntry:
    """What the dispatcher needs of one event."""
    if event.code == FAILED or event.error:
        return FeedEntry(reference=event.reference, status=None, at=event.at, failed=True, token=token,
                         detail=f"SF1601: {event.code}" + (f" ({event.error})" if event.error else ""))
    if event.code not in EVENT_STATUS:
        logger.warning("Beskedfordeler: unknown TransaktionsStatusKode %r for %s", event.code, event.reference)
    return FeedEntry(reference=event.reference, status=EVENT_STATUS.get(event.code), at=event.at, token=token,
                     detail=f"SF1601: {event.code}")


class BeskedfordelerFeed:
    """The queue ``queue`` as a :class:`~gateway.channels.base.StatusFeed`."""

    def __init__(self, parameters: Callable[[], pika.ConnectionParameters], *, queue: str, channel: str) -> None:
        self.parameters = parameters  # called at each (re)connect: a token may have been renewed
        self.queue = queue
        self.channel_name = channel
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: object | None = None
        self._generation = 0

    def fetch(self, *, limit: int) -> list[FeedEntry]:
        with self._lock:
            reused = self._channel is not None
            try:
                return self._take(limit)
            except pika.exceptions.AMQPError as exc:
                self._drop()
                if not reused:
                    raise ChannelUnavailable(f"Beskedfordeler queue {self.queue!r} cannot be read: {exc!r}",
                                             channel=self.channel_name) from exc
                # the broker closed an idle connection (missed heartbeats, a restart): once more, fresh
                logger.info("Beskedfordeler: the connection was gone (%r); connecting again", exc)
            try:
                return self._take(limit)
            except pika.exceptions.AMQPError as exc:
                self._drop()
                raise ChannelUnavailable(f"Beskedfordeler queue {self.queue!r} cannot be read: {exc!r}",
                                         channel=self.channel_name) from exc

    def _take(self, limit: int) -> list[FeedEntry]:
        """Up to ``limit`` events; a malformed one is acknowledged at once (it cannot be placed)."""
        entries: list[FeedEntry] = []
        channel = self._open()
        while len(entries) < limit:
            method, _properties, body = channel.basic_get(self.queue, auto_ack=False)  # type: ignore[attr-defined]
            if method is None:
                break
            token = f"{self._generation}:{method.delivery_tag}"
            try:
                entries.append(feed_entry(parse_event(body), token=token))
            except MalformedEvent as exc:
                logger.error("Beskedfordeler: acknowledged a malformed event from %s (%s): %r", self.queue, exc, bytes(body[:300]))
                channel.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]
        return entries

    def acknowledge(self, entries: Sequence[FeedEntry]) -> None:
        self._settle(entries, ack=True)

    def release(self, entries: Sequence[FeedEntry]) -> None:
        self._settle(entries, ack=False)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _settle(self, entries: Sequence[FeedEntry], *, ack: bool) -> None:
        with self._lock:
            if self._channel is None:
                return  # the connection that gave them is gone: they come back by themselves
            try:
                for entry in entries:
                    generation, _, tag = entry.token.partition(":")
                    if generation != str(self._generation) or not tag.isdigit():
                        continue
                    if ack:
                        self._channel.basic_ack(int(tag))  # type: ignore[attr-defined]
                    else:
                        self._channel.basic_nack(int(tag), requeue=True)  # type: ignore[attr-defined]
            except pika.exceptions.AMQPError as exc:
                logger.warning("Beskedfordeler: could not %s events (they come back): %r", "acknowledge" if ack else "release", exc)
                self._drop()

    def _open(self) -> object:
        if self._connection is not None and self._connection.is_open and self._channel is not None \
                and self._channel.is_open:  # type: ignore[attr-defined]
            return self._channel
        self._drop()
        self._connection = pika.BlockingConnection(self.parameters())
        self._channel = self._connection.channel()
        self._generation += 1
        return self._channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass
