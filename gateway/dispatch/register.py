"""The embedded recipient register: a table the operator fills from CSV or the CLI."""
from __future__ import annotations

from gateway.dispatch.routing import Reachability
from gateway.store.dispatch import DispatchStore


class DatabaseRegister:
    def __init__(self, store: DispatchStore) -> None:
        self.store = store

    def lookup(self, identifier: str) -> Reachability | None:
        status = self.store.register_lookup(identifier)
        return Reachability(status) if status else None
