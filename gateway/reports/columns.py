"""The per-letter report's columns: one letter (:class:`~gateway.store.reports.LetterRecord`)
turned into the values of its row, with headings and labels from ``mappings/reports.toml``.

Times are shown in Europe/Oslo, as naive datetimes (a spreadsheet cell has no zone); amounts
in kroner as :class:`~decimal.Decimal` (exact, two decimals).
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from gateway.resources import load_table
from gateway.store.reports import LetterDelivery, LetterEvent, LetterRecord

OSLO = ZoneInfo("Europe/Oslo")
ALTINN = frozenset({"altinn2", "altinn3"})
PRINT = "print"
PRINT_CHANNELS = frozenset({PRINT})

Value = str | int | Decimal | dt.datetime | None


def local(at: dt.datetime | None) -> dt.datetime | None:
    """``at`` on the clock in Oslo, without its zone (what a spreadsheet cell holds)."""
    return None if at is None else at.astimezone(OSLO).replace(tzinfo=None, microsecond=0)


def kroner(ore: int | None) -> Decimal | None:
    return None if ore is None else (Decimal(ore) / 100).quantize(Decimal("0.01"))


@functools.cache
def table() -> dict[str, Any]:
    return load_table("reports")


def label(group: str, value: str | None) -> str:
    """A status, recipient kind or channel for people; an unknown one as it is called."""
    if value is None:
        return ""
    return str(table()[group].get(value, value))


def headings(report: str) -> list[str]:
    return [c["heading"] for c in table()[report]["columns"]]


def keys(report: str) -> list[str]:
    return [c["key"] for c in table()[report]["columns"]]


def _case_number(case: dict[str, Any]) -> str:
    return f"{case['case_year']}/{case['case_sequence_number']}"


def _document_number(case: dict[str, Any]) -> str:
    """The Noark form saksår/sekvensnummer-dokumentnummer (2026/123-4)."""
    return f"{_case_number(case)}-{case['journal_entry_number']}"


def _journal_entry(case: dict[str, Any]) -> str:
    return f"{case['journal_year']}/{case['journal_sequence_number']}"


def _log(record: LetterRecord, channels: frozenset[str]) -> str:
    """The channel's part of the letter's history, one line per event and delivery."""
    words = table()["log"]
    items: list[tuple[dt.datetime, str]] = [
        (d.submitted_at, words["delivery"].format(at=_stamp(d.submitted_at), channel=label("channel", d.channel),
                                                  reference=d.reference, status=label("status", d.status)))
        for d in record.deliveries if d.channel in channels]
    items += [(e.at, words["event"].format(at=_stamp(e.at), what=label("status", e.status) if e.status else e.kind, detail=e.detail))
              for e in record.events if e.channel in channels]
    return "\n".join(text for _, text in sorted(items, key=lambda item: item[0]))


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")


def _first_times(events: tuple[LetterEvent, ...]) -> dict[str, dt.datetime]:
    """When the letter first reached each status."""
    out: dict[str, dt.datetime] = {}
    for e in events:
        if e.status is not None and e.status not in out:
            out[e.status] = e.at
    return out


def _printed(record: LetterRecord) -> LetterDelivery | None:
    """The print delivery that was charged (the last print delivery when none was yet)."""
    printed = [d for d in record.deliveries if d.channel in PRINT_CHANNELS]
    charged = [d for d in printed if d.cost_ore is not None]
    found = charged or printed
    return found[-1] if found else None


def _channel(record: LetterRecord) -> str:
    return label("channel", record.deliveries[-1].channel) if record.deliveries else ""


_FIELDS: dict[str, Callable[[LetterRecord], Value]] = {
    "id": lambda r: r.id,
    "sender": lambda r: r.sender,
    "external_ref": lambda r: r.external_ref,
    "case_number": lambda r: _case_number(r.case_metadata) if r.case_metadata else None,
    "document_number": lambda r: _document_number(r.case_metadata) if r.case_metadata else None,
    "journal_entry": lambda r: _journal_entry(r.case_metadata) if r.case_metadata else None,
    "title": lambda r: r.title,
    "recipient_kind": lambda r: label("recipient_kind", r.recipient_kind),
    "channel": _channel,
    "status": lambda r: label("status", r.status),
    "created_at": lambda r: local(r.created_at),
    "status_changed_at": lambda r: local(r.status_changed_at),
    "altinn_log": lambda r: _log(r, ALTINN),
    "print_log": lambda r: _log(r, PRINT_CHANNELS),
    "cost_code": lambda r: r.cost_code,
}


def _cost_fields(printed: LetterDelivery | None) -> dict[str, Value]:
    if printed is None:
        return {"sheets": None, "production_cost": None, "postage": None, "total_cost": None}
    total = printed.cost_ore
    production = printed.production_cost_ore if printed.production_cost_ore is not None else total
    return {"sheets": printed.sheets, "production_cost": kroner(production),
            "postage": kroner(printed.postage_ore if printed.production_cost_ore is not None else None),
            "total_cost": kroner(total)}


def letter_row(record: LetterRecord, columns: list[str]) -> list[Value]:
    """The values of ``record``'s row, in the order of ``columns`` (:func:`keys`)."""
    times = _first_times(record.events)
    costs = _cost_fields(_printed(record))
    row: list[Value] = []
    for key in columns:
        if key.startswith("status."):
            row.append(local(times.get(key[len("status."):])))
        elif key in costs:
            row.append(costs[key])
        else:
            row.append(_FIELDS[key](record))
    return row
