"""The report files: XLSX in openpyxl's write-only mode (rows go to the file as they come, so a
100,000-letter report needs the memory of one row, not of the sheet) and CSV for people and for
finance systems.

CSV is written as Norwegian spreadsheets and finance systems read it: fields separated by
semicolons (the comma is the decimal sign), UTF-8 with a byte-order mark (Excel takes a file
without one for Windows-1252 and garbles æ, ø, å), amounts in kroner with a decimal comma and
two decimals and no thousands separator, times as ``YYYY-MM-DD HH:MM:SS`` in Europe/Oslo.
"""
from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from gateway.reports.columns import Value

#: How many rows pass between two calls of a progress callback.
PROGRESS_EVERY = 500
#: The byte-order mark Excel needs to read a CSV file as UTF-8.
CSV_ENCODING = "utf-8-sig"
CSV_DELIMITER = ";"
_MONEY_FORMAT = "#,##0.00"
#: A text starting with one of these is a formula to a spreadsheet (a title from a sender system
#: like ``=HYPERLINK(...)`` would run): CSV quotes it with ``'``, XLSX stores it as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int], None]


def csv_value(value: Value) -> str:
    """A value as the CSV files write it."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def _counted(rows: Iterable[Sequence[Value]], progress: Progress | None) -> Iterable[Sequence[Value]]:
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if progress is not None and pending == PROGRESS_EVERY:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)


def write_csv(out: IO[str], headings: Sequence[str], rows: Iterable[Sequence[Value]], *,
              progress: Progress | None = None) -> int:
    """Write the rows to ``out`` (opened with ``newline=""`` and :data:`CSV_ENCODING`); answers how many."""
    writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow(headings)
    count = 0
    for row in _counted(rows, progress):
        writer.writerow([csv_value(v) for v in row])
        count += 1
    return count


def write_xlsx(path: str | Path | IO[bytes], sheet: str, headings: Sequence[str], rows: Iterable[Sequence[Value]], *,
               progress: Progress | None = None) -> int:
    """Write the rows to a one-sheet workbook at ``path`` (a file name or a binary file);
    answers how many. Times and amounts are numbers in the sheet, formatted as such."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    try:
        ws = book.create_sheet(sheet)
        bold = Font(bold=True)
        header = []
        for text in headings:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = bold
            header.append(cell)
        ws.append(header)

        def cells(row: Sequence[Value]) -> list[Any]:
            # a datetime gets a date format from openpyxl itself; only amounts need a cell object
            out: list[Any] = []
            for value in row:
                if isinstance(value, Decimal):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = _MONEY_FORMAT
                    out.append(cell)
                elif isinstance(value, str) and value.startswith("="):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.data_type = "s"  # text, never a formula
                    out.append(cell)
                else:
                    out.append(value)
            return out

        count = 0
        for row in _counted(rows, progress):
            ws.append(cells(row))
            count += 1
        book.save(path)
    finally:
        book.close()
    return count
