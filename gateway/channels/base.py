"""The small interface every delivery channel implements.

``submit`` hands one letter to the channel with an idempotency key that the channel passes
on to its upstream, so a retry after a crash or timeout never makes a second letter.
``poll`` asks what became of letters submitted earlier. Transient trouble (timeouts, 5xx,
connection refused) is :class:`ChannelUnavailable` and is retried with backoff; a refusal
that no retry can fix is :class:`ChannelRejected`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.delivery import Receipt, StatusChange
from gateway.model import Document, Shipment

__all__ = ["Channel", "ChannelError", "ChannelRejected", "ChannelUnavailable", "Letter", "Receipt", "StatusChange"]


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
    name: str

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt: ...

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]: ...
