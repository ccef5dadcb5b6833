"""Recipient registers: the embedded table an operator fills (Norway), and Digital Post's own
registration lookup for Danish recipients."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.dispatch.routing import Reachability, RecipientRegister
from gateway.model import PartyKind
from gateway.store.dispatch import DispatchStore

DANISH = {PartyKind.DK_CPR: "CPR", PartyKind.DK_CVR: "CVR"}


@runtime_checkable
class RegistrationLookup(Protocol):
    """A service that knows whether a Danish number has a digital mailbox (Digital Post does)."""

    def is_registered(self, id_type: str, identifier: str) -> bool:
        """Whether ``identifier``, a number of ``id_type`` ("CPR" or "CVR"), has a mailbox."""
        ...


class DatabaseRegister:
    def __init__(self, store: DispatchStore) -> None:
        self.store = store

    def lookup(self, identifier: str, kind: PartyKind) -> Reachability | None:
        status = self.store.register_lookup(identifier)
        return Reachability(status) if status else None


class CompositeRegister:
    """Danish recipients are asked of Digital Post (when configured); everyone else of the table.

    A Digital Post channel that prints for unregistered recipients itself (SF1601 with
    ``physical_post = "sf1601"``, ``carries_physical_post``) takes every Danish letter: it
    asks the registration at submit and sends the letter as physical post when there is no
    mailbox, so routing must not send those letters to our own print channel.
    """

    def __init__(self, table: RecipientRegister, digitalpost: RegistrationLookup | None) -> None:
        self.table = table
        self.digitalpost = digitalpost

    def lookup(self, identifier: str, kind: PartyKind) -> Reachability | None:
        if kind in DANISH and self.digitalpost is not None:
            if getattr(self.digitalpost, "carries_physical_post", False):
                return Reachability.DIGITAL
            registered = self.digitalpost.is_registered(DANISH[kind], identifier)
            return Reachability.DIGITAL if registered else Reachability.UNREACHABLE
        return self.table.lookup(identifier, kind)
