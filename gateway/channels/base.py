"""The small interface every delivery channel implements.

``submit`` hands one letter to the channel with an idempotency key that the channel passes
on to its upstream, so a retry after a crash or timeout never makes a second letter.
``poll`` asks what became of letters submitted earlier. Transient trouble (timeouts, 5xx,
connection refused) is :class:`ChannelUnavailable` and is retried with backoff; a refusal
that no retry can fix is :class:`ChannelRejected`.

Print works in batches and can take a letter back, which no mailbox can: those operations are
:class:`PrintOperations`, a protocol of their own, so the channel interface stays the same
for every channel.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.delivery import FeedEntry, Receipt, StatusChange
from gateway.model import Document, Shipment, Status

__all__ = [
    "Channel", "ChannelError", "ChannelRejected", "ChannelUnavailable", "FeedEntry", "Letter", "Polled", "PrintOperations", "Receipt",
    "StatusChange", "StatusFeed", "sent_digital",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    """A shipment on its way out, with access to its document bytes."""

    shipment: Shipment
    content: Callable[[Document], bytes]


class ChannelError(Exception):
    def __init__(self, message: str, *, channel: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.channel = channel
        self.retry_after = retry_after


class ChannelUnavailable(ChannelError):
    """Try again later."""


class ChannelRejected(ChannelError):
    """The channel will never take this letter; route it elsewhere or end it."""


class Channel(Protocol):
    """What every channel does. What became of a letter it tells in one of two ways: asked per
    letter (:class:`Polled`) or in one feed for all (:class:`StatusFeed`)."""

    name: str

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        """Hand ``letter`` over; the same ``idempotency_key`` again answers the first receipt."""
        ...


@runtime_checkable
class Polled(Protocol):
    """A channel that is asked about earlier letters (Altinn, the print houses)."""

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        """What became of these earlier receipts (only those with news)."""
        ...


@runtime_checkable
class PrintOperations(Protocol):
    """What only print does: letters wait in batches, and a waiting one can be taken back.

    ``isinstance(channel, PrintOperations)`` tells a print channel from the others (it checks
    that the methods exist; their signatures are the type checker's to hold).
    """

    def flush(self, *, force: bool = False) -> list[str]:
        """Close the batches that are due (full, or their oldest letter waited long enough;
        every waiting letter with ``force``) and hand them to the print house. Answers the
        new batches' ids, oldest letters first; ``[]`` when none was due."""
        ...

    def overdue_batches(self, now: dt.datetime) -> list[str]:
        """Ids of batches handed over that have had no receipt for longer than the print
        house is given (``receipt_timeout_hours``) at ``now``. Reading does not change them:
        the same batch is answered again until its receipt arrives."""
        ...

    def cancel(self, shipment_id: str) -> bool:
        """Take back the letter of ``shipment_id`` while it still waits for a batch: True when
        it was taken back, False when it was not waiting (already in a batch, so the print
        house has it, or never submitted)."""
        ...


@runtime_checkable
class StatusFeed(Protocol):
    """A channel that reports on all its letters in one feed instead of being asked per letter
    (Digital Post's receipt list, Beskedfordeler's AMQP queue).

    The dispatcher reads the feed in a periodic ``feed`` job, writes what it learnt, and only
    after that commit acknowledges the entries: a crash in between reads them again, and
    reading an entry twice changes nothing. Entries it cannot place yet (a receipt that
    overtook the commit of its own letter) are released, to be answered again later. Such a
    channel gets no per-letter ``poll`` jobs.
    """

    def fetch(self, *, limit: int) -> list[FeedEntry]:
        """Up to ``limit`` entries not yet acknowledged, oldest first; ``[]`` when none waits.
        Raises :class:`ChannelUnavailable` when the feed cannot be read now."""
        ...

    def acknowledge(self, entries: Sequence[FeedEntry]) -> None:
        """Tell the feed these entries are recorded, so they are not answered again."""
        ...

    def release(self, entries: Sequence[FeedEntry]) -> None:
        """Put these entries back unrecorded: a later ``fetch`` answers them again."""
        ...


def sent_digital(
    letter: Letter, *, channel: str, idempotency_key: str, reference: str, detail: str, extra: Mapping[str, str] | None = None,
) -> Receipt:
    """The receipt of a letter a digital mailbox took, under the mailbox's own ``reference``."""
    return Receipt(channel=channel, shipment_id=letter.shipment.id, idempotency_key=idempotency_key, reference=reference,
                   status=Status.SENT_DIGITAL, detail=detail, extra=dict(extra or {}))
