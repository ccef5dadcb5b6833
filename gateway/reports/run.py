"""Writing a report to a file: what ``gateway report`` and the console call.

``source`` is anything that reaches the database: an :class:`~sqlalchemy.engine.Engine`, or an
object with an ``engine`` (the runtime, a repository). ``out`` is a file name or an open binary
file (the console streams to its response).
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy.engine import Engine

from gateway.reports import columns, costs
from gateway.reports.period import period
from gateway.reports.writers import CSV_ENCODING, Progress, write_csv, write_xlsx
from gateway.store import reports as stored

FORMATS = ("xlsx", "csv")


class HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


Source = Engine | HasEngine
Out = str | Path | IO[bytes]


@dataclass(frozen=True, slots=True)
class Written:
    rows: int
    total_kroner: str = ""  # the costs report's grand total, for the operator's eye


def _engine(source: Source) -> Engine:
    return source if isinstance(source, Engine) else source.engine


def count_letters(source: Source, *, start: dt.date | dt.datetime, end: dt.date | dt.datetime,
                  senders: Sequence[str] | None = None) -> int:
    """How many rows :func:`write_letters_report` will write (for a progress bar)."""
    p = period(start, end)
    return stored.count_letters(_engine(source), start=p.start, end=p.end, senders=senders)


def write_letters_report(source: Source, *, start: dt.date | dt.datetime, end: dt.date | dt.datetime, format: str,
                         out: Out, senders: Sequence[str] | None = None, progress: Progress | None = None,
                         mask: Callable[[str], str] | None = None) -> Written:
    """The per-letter report of the letters that came in within the period (dates: whole days in
    Oslo, both included), of ``senders`` only when given. ``progress`` is called with the number
    of rows written since its last call; ``mask`` rewrites every text (a viewer's masked numbers)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    p = period(start, end)
    keys = columns.keys("letters")
    records = stored.letter_records(_engine(source), start=p.start, end=p.end, senders=senders)
    rows = (columns.letter_row(r, keys) for r in records)
    if mask is not None:
        rows = ([mask(v) if isinstance(v, str) else v for v in row] for row in rows)
    headings = columns.headings("letters")
    if format == "xlsx":
        return Written(write_xlsx(out if not isinstance(out, Path) else str(out), columns.table()["letters"]["sheet"],
                                  headings, rows, progress=progress))
    with _text(out) as text:
        return Written(write_csv(text, headings, rows, progress=progress))


def write_costs_report(source: Source, *, start: dt.date | dt.datetime, end: dt.date | dt.datetime, out: Out,
                       senders: Sequence[str] | None = None, format: str = "csv") -> Written:
    """Costs per sender, month and cost code of the letters handed to print within the period,
    as CSV (see :mod:`gateway.reports.writers` for the layout)."""
    if format != "csv":
        raise ValueError(f"the costs report is CSV only, not {format!r}")
    p = period(start, end)
    totals = costs.summed(stored.cost_lines(_engine(source), start=p.start, end=p.end, senders=senders))
    keys = columns.keys("costs")
    with _text(out) as text:
        count = write_csv(text, columns.headings("costs"), costs.cost_rows(totals, keys))
    return Written(count, total_kroner=f"{costs.total_kroner(totals):.2f}".replace(".", ","))


class _text:
    """``out`` as a text file for the CSV writer: opened (and closed) here when it is a name."""

    def __init__(self, out: Out) -> None:
        self.out = out
        self._stack = ExitStack()

    def __enter__(self) -> IO[str]:
        if isinstance(self.out, (str, Path)):
            return self._stack.enter_context(open(self.out, "w", encoding=CSV_ENCODING, newline=""))
        wrapper = io.TextIOWrapper(self.out, encoding=CSV_ENCODING, newline="", write_through=True)
        self._stack.callback(wrapper.detach)  # the caller's file stays open
        return wrapper

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
