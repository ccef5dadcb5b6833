"""The small interface every delivery channel implements.

``submit`` hands one letter to the channel with an idempotency key that the channel passes
on to its upstream, so a retry after a crash or timeout never makes a second letter.
``poll`` asks what became of letters submitted earlier. Transient trouble (timeouts, 5xx,
connection refused) is :class:`ChannelUnavailable` and is retried with backoff; a refusal
that no retry can fix is :class:`ChannelRejected`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.model import Document, Shipment, Status


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    """A shipment on its way out, with access to its document bytes."""

    shipment: Shipment
    content: Callable[[Document], bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """What a channel answered when it took a letter."""

    channel: str
    shipment_id: str
    idempotency_key: str
    reference: str  # the channel's own id (correspondence id, print job id)
    status: Status  # SENT_DIGITAL, SENT_TO_PRINT, ...
    detail: str = ""
    cost_ore: int | None = None  # an estimate where the channel has one
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    shipment_id: str
    reference: str
    status: Status | None  # None: a failure that sends the letter on to the fallback
    at: dt.datetime
    detail: str = ""
    cost_ore: int | None = None
    failed: bool = False


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
    name: str

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt: ...

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]: ...
