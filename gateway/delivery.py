"""What a channel answers about a letter: the values both the channels and the store speak.

They live below both, so the store can record a receipt without importing a channel.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import field

from gateway.frozen import frozen
from gateway.model import Status


@frozen
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


@frozen
class PrintCost:
    """What a print house charged for one letter, split as its receipt splits it (reports post
    production cost and postage per cost code)."""

    production_ore: int
    postage_ore: int
    sheets: int

    @property
    def total_ore(self) -> int:
        return self.production_ore + self.postage_ore


@frozen
class StatusChange:
    shipment_id: str
    reference: str
    status: Status | None  # None: a failure that sends the letter on to the fallback
    at: dt.datetime
    detail: str = ""
    cost_ore: int | None = None
    failed: bool = False
    print_cost: PrintCost | None = None  # the split of ``cost_ore``, where the receipt gives one


@frozen
class FeedEntry:
    """One message from a channel's own status feed (Digital Post's receipts, Beskedfordeler's
    queue) about the letter the channel knows by ``reference`` (``Receipt.reference``).

    ``status`` is what the letter reached: NOTIFIED, READ, or DELIVERED (the mailbox has it
    and no read status will follow: final). ``failed`` sends the letter to its fallback.
    ``token`` is what the channel needs to acknowledge the entry (a receipt id, a delivery tag).
    """

    reference: str
    status: Status | None
    at: dt.datetime
    detail: str = ""
    failed: bool = False
    token: str = ""
