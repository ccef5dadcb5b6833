"""``[console]`` and ``[[operators]]``: the web console and the people who may log in to it."""
from __future__ import annotations

import dataclasses

from gateway.frozen import frozen

__all__ = ["ConsoleSettings", "OPERATOR_ROLES", "OperatorSettings"]

#: ``admin`` may act on letters (stop, print now, retry now) and sees national identity
#: numbers; ``viewer`` only looks, with those numbers masked.
OPERATOR_ROLES = ("admin", "viewer")


@frozen
class OperatorSettings:
    """One person who logs in to the console (``[[operators]]``)."""

    name: str
    password_hash: str = dataclasses.field(repr=False)
    role: str = "viewer"
    #: Only these senders' letters (``[[senders]]`` names) are shown; empty: every sender's.
    senders: tuple[str, ...] = ()

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def sees(self, sender: str) -> bool:
        return not self.senders or sender in self.senders


@frozen
class ConsoleSettings:
    """``[console]``: where the console is served and how long its sessions and lockouts last."""

    enabled: bool = True
    #: A session ends after this long without a request ...
    session_idle_minutes: int = 30
    #: ... and this long after login, whatever happens.
    session_max_hours: int = 12
    #: Failed logins allowed per account, and per client address, within the window; more: 429.
    login_max_failures: int = 5
    login_window_seconds: int = 900
    #: Letters per page in a search (the largest page a request may ask for is four times this).
    page_size: int = 50
    operators: tuple[OperatorSettings, ...] = ()

    def operator(self, name: str) -> OperatorSettings | None:
        return next((o for o in self.operators if o.name == name), None)
