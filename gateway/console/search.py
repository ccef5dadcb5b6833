"""The letter search form: what an operator typed, read into a :class:`LetterQuery`.

A case number may be typed as ``2026/123`` or with its document number, ``2026/123-4``
(Noark's saksnummer and dokumentnummer). Dates are Oslo dates; the range ends after the last day.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from gateway.console.periods import OSLO
from gateway.store.console_letters import LetterQuery

_CASE = re.compile(r"^\s*(\d{4})\s*/\s*(\d{1,9})\s*(?:-\s*(\d{1,9}))?\s*$")
FIELDS = ("id", "ref", "case", "doc", "sender", "recipient", "title", "status", "from", "to")


class SearchError(ValueError):
    """A field that cannot be searched by as typed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Search:
    query: LetterQuery
    values: dict[str, str]

    @property
    def empty(self) -> bool:
        return not any(self.values.values())


def read_search(args: Mapping[str, str], *, senders: tuple[str, ...] | None) -> Search:
    values = {name: str(args.get(name, "")).strip()[:200] for name in FIELDS}
    query = LetterQuery(shipment_id=values["id"] or None, external_ref=values["ref"] or None, sender=values["sender"] or None,
                        title=values["title"] or None, status=values["status"] or None, senders=senders)
    if values["case"]:
        match = _CASE.match(values["case"])
        if match is None:
            raise SearchError("case", "Saksnummer skrives som år/sekvensnummer, for eksempel 2026/123 eller 2026/123-4")
        year, sequence, document = match.groups()
        query = replace(query, case_year=int(year), case_sequence_number=int(sequence),
                        document_number=int(document) if document else None)
    if values["doc"]:
        if not values["doc"].isdigit() or len(values["doc"]) > 9:
            raise SearchError("doc", "Dokumentnummer er et tall")
        query = replace(query, document_number=int(values["doc"]))
    recipient = values["recipient"]
    if recipient:
        compact = recipient.replace(" ", "").replace("-", "")
        if compact.isdigit():
            query = replace(query, recipient_identifier=compact)
        else:
            query = replace(query, recipient_name=recipient)
    start, last = _day(values["from"], "from"), _day(values["to"], "to")
    query = replace(query, created_from=start, created_before=last + dt.timedelta(days=1) if last else None)
    return Search(query=query, values=values)


def _day(text: str, field: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=OSLO).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):  # overflow: 0001-01-01 in Oslo is still year 0 in UTC
        raise SearchError(field, "Datoer skrives som ÅÅÅÅ-MM-DD") from None
