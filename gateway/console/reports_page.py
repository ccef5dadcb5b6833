"""The reports page: the per-letter report (XLSX or CSV) and the costs per cost code (CSV for a
finance system) to download, the costs on screen, and what retention has purged.

A download is written by :mod:`gateway.reports` into a temporary file and streamed from it, so a
report of 100,000 letters costs the console no more memory than the writer needs; each
download is audited (``console.export``) with its period, format and number of rows. An
operator limited to some senders gets those senders' letters only.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from gateway.console.context import Console
from gateway.console.masking import mask_national_ids
from gateway.console.periods import OSLO
from gateway.console.security import Operator
from gateway.reports import FORMATS, write_costs_report, write_letters_report
from gateway.reports.costs import summed
from gateway.store import reports as stored
from gateway.store.retention import recently_purged

MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv; charset=utf-8"}
#: The longest period one download covers (a year of letters is a few hundred thousand rows).
MAX_DAYS = 400


class PeriodError(ValueError):
    """The form's period is not one the reports can cover; the message says why."""


def reports(c: Console, request: Request, operator: Operator, *, status: int = 200, error: str | None = None) -> Response:
    today = c.now().astimezone(OSLO).date()
    first, last = today.replace(day=1), today
    values = dict(request.args) or dict(first=first.isoformat(), last=last.isoformat())
    try:
        start, end = _period(request.args, today=today) if request.args else (first, last)
    except PeriodError as exc:
        start, end, status, error = first, last, 400, str(exc)
    totals = summed(stored.cost_lines(c.runtime.engine, start=_midnight(start), end=_midnight(end + dt.timedelta(days=1)),
                                      senders=operator.senders))
    costs = [dict(year=y, month=m, sender=s, code=code, letters=t.letters, sheets=t.sheets, production=t.production_ore,
                  postage=t.postage_ore, total=t.total_ore) for (y, m, s, code), t in sorted(totals.items())]
    return c.render(request, operator, "reports.html", status=status, error=error, formats=FORMATS,
                    values=dict(first=values.get("from", values.get("first", "")), last=values.get("to", values.get("last", ""))),
                    costs=costs, purged=recently_purged(c.runtime.engine, limit=50, senders=operator.senders))


def letters_report(c: Console, request: Request, operator: Operator) -> Response:
    kind = str(request.args.get("format", "xlsx"))
    if kind not in FORMATS:
        return reports(c, request, operator, status=400, error=f"ukjent format {kind[:10]!r}: xlsx eller csv")
    return _download(c, request, operator, "letters", kind, lambda out, start, end: write_letters_report(
        c.runtime, start=start, end=end, format=kind, out=out, senders=operator.senders,
        mask=None if operator.admin else mask_national_ids).rows)  # a viewer's report masks as the pages do


def costs_report(c: Console, request: Request, operator: Operator) -> Response:
    return _download(c, request, operator, "costs", "csv", lambda out, start, end: write_costs_report(
        c.runtime, start=start, end=end, out=out, senders=operator.senders).rows)


def _download(c: Console, request: Request, operator: Operator, name: str, kind: str, write: Any) -> Response:
    try:
        start, end = _period(request.args, today=c.now().astimezone(OSLO).date())
    except PeriodError as exc:
        return reports(c, request, operator, status=400, error=str(exc))
    spool = tempfile.TemporaryFile(prefix="gateway-report-")
    try:
        rows = write(spool, start, end)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    c.audit(request, operator, "console.export", detail=f"{name} {start.isoformat()}..{end.isoformat()} {kind}, {rows} rader")
    filename = f"{'brev' if name == 'letters' else 'kostnader'}-{start.isoformat()}-{end.isoformat()}.{kind}"
    response = Response(wrap_file(request.environ, spool), mimetype=MEDIA_TYPES[kind], direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Length"] = str(size)
    return response


def _period(args: Any, *, today: dt.date) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(str(args.get("from") or today.replace(day=1).isoformat()))
        end = dt.date.fromisoformat(str(args.get("to") or today.isoformat()))
    except ValueError:
        raise PeriodError("datoer skrives ÅÅÅÅ-MM-DD") from None
    if start > end:
        raise PeriodError("fra-datoen er etter til-datoen")
    if not (start.year > 1 and end.year < dt.MAXYEAR):  # the day after the last must exist
        raise PeriodError(f"datoer fra år 2 til år {dt.MAXYEAR - 1}")
    if (end - start).days >= MAX_DAYS:
        raise PeriodError(f"en rapport dekker høyst {MAX_DAYS} dager; del den opp")
    return start, end


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=OSLO)
