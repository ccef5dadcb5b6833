"""The dispatcher's words for people, from ``mappings/dispatch_texts.toml``, in the
recipient's language: Danish recipients read Danish, everyone else Norwegian (bokmål)."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from gateway.dispatch.routing import Route
from gateway.model import PartyKind
from gateway.store.health import ChannelHealth
from gateway.resources import load_table

#: Alerts that concern no single letter (a print batch) are for the operator, in this language.
OPERATOR_LANGUAGE = "nb"


@dataclass(frozen=True, slots=True)
class Texts:
    language: str
    table: dict[str, str]

    def __call__(self, key: str, **values: Any) -> str:
        return self.table[key].format(**values)

    def channel(self, name: str | None) -> str:
        """A channel's name for people ("Altinn", "utskrift"); an unknown one as it is called."""
        return self.table.get(f"channel.{name}", name or "")

    def kroner(self, key: str, ore: int | None) -> str:
        """A cost suffix (", kostnad 12.40 kr"), or nothing when the cost is unknown."""
        return "" if ore is None else self(key, kroner=ore / 100)


@functools.cache
def texts(language: str) -> Texts:
    table = load_table("dispatch_texts")
    if language not in table:
        raise LookupError(f"mappings/dispatch_texts.toml has no [{language}] table")
    return Texts(language=language, table=dict(table[language]))


def for_recipient(kind: PartyKind) -> Texts:
    return texts("da" if kind.danish else "nb")


def route_text(texts: Texts, route: Route) -> str:
    """Why a letter takes its route, in the recipient's words."""
    why = texts(f"route.{route.why}") if route.why else ""
    return texts(f"route.{route.reason}", why=why)


def outage_text(texts: Texts, health: ChannelHealth, now: dt.datetime) -> str:
    return texts("outage", channel=texts.channel(health.channel), hours=health.failing_for(now).total_seconds() / 3600,
                 error=health.last_error or texts("unknown_error"))
