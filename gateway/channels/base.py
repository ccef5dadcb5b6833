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
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.delivery import Receipt, StatusChange
from gateway.model import Document, Shipment

__all__ = ["Channel", "ChannelError", "ChannelRejected", "ChannelUnavailable", "Letter", "PrintOperations", "Receipt", "StatusChange"]


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


@runtime_checkable
class PrintOperations(Protocol):
    """What only a print channel does: letters wait in batches, and the print house's
    receipts arrive later (:mod:`gateway.dispatch.print_cycle` drives these)."""

    def flush(self, *, force: bool = False) -> list[str]:
        """Close the batches that are due; answers their names."""
        ...

    def overdue_batches(self, now: dt.datetime) -> list[str]:
        """Batches handed over with no receipt in time."""
        ...

    def cancel(self, shipment_id: str) -> bool:
        """Take a letter back while it is still staged; False once the print house has it."""
        ...
