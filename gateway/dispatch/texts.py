"""The dispatcher's words for people, from ``mappings/dispatch_texts.toml``, in the
recipient's language: Danish recipients read Danish, everyone else Norwegian (bokmål)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from gateway.model import PartyKind
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
