"""Costs per cost code: production cost, postage and sheets per sender, month (Europe/Oslo, of
the day the letter was handed to print) and ``konteringskode``, one line each, for a finance
system to post as they are.

The lines are summed while the charged deliveries stream past; memory grows with the number of
(sender, month, cost code) lines, not with the number of letters.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from gateway.reports.columns import OSLO, Value, kroner, table
from gateway.store.reports import CostLine


@dataclass(slots=True)
class CostTotal:
    letters: int = 0
    sheets: int = 0
    production_ore: int = 0
    postage_ore: int = 0

    @property
    def total_ore(self) -> int:
        return self.production_ore + self.postage_ore


CostKey = tuple[int, int, str, str]  # year, month, sender, cost code


def summed(lines: Iterable[CostLine]) -> dict[CostKey, CostTotal]:
    totals: dict[CostKey, CostTotal] = {}
    for line in lines:
        at = line.at.astimezone(OSLO)
        key = (at.year, at.month, line.sender, line.cost_code or str(table()["costs"]["no_cost_code"]))
        total = totals.setdefault(key, CostTotal())
        total.letters += 1
        total.sheets += line.sheets
        total.production_ore += line.production_ore
        total.postage_ore += line.postage_ore
    return totals


def cost_rows(totals: dict[CostKey, CostTotal], columns: list[str]) -> Iterator[list[Value]]:
    """One row per line, by period, sender and cost code."""
    text = str(table()["costs"]["text"])
    for (year, month, sender, code), t in sorted(totals.items()):
        values: dict[str, Value] = {
            "year": year, "month": month, "sender": sender, "cost_code": code, "letters": t.letters, "sheets": t.sheets,
            "production_cost": kroner(t.production_ore), "postage": kroner(t.postage_ore), "total": kroner(t.total_ore),
            "text": text.format(sender=sender, year=year, month=month),
        }
        yield [values[key] for key in columns]


def total_kroner(totals: dict[CostKey, CostTotal]) -> Decimal:
    return kroner(sum(t.total_ore for t in totals.values())) or Decimal(0)
