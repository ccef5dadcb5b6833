"""The statistics page: letters per day, week or month by channel, the read rate by the deadline,
why letters went to print, what print cost and what going digital saved, as SVG charts drawn
on the server with the numbers beside them.

The range is whole Oslo days, ``from`` to ``to`` inclusive; without one the page shows the last
31 days, 26 weeks or 12 months. A range is bounded so a chart has at most
:data:`gateway.charts.MAX_BARS` bars.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup
from werkzeug.wrappers import Request, Response

from gateway.charts import MAX_BARS, bar_chart, stacked_bar_chart
from gateway.console.context import Console
from gateway.console.masking import mask_national_ids
from gateway.console.periods import OSLO
from gateway.console.security import Operator
from gateway.documents.printjob import estimate_cost_ore
from gateway.model import LetterClass
from gateway.store.statistics import BUCKETS, bucketed

#: The bucket's name for people, and how far back the page looks when no range is given.
BUCKET_TEXTS = {"day": ("Per dag", dt.timedelta(days=30)), "week": ("Per uke", dt.timedelta(weeks=25)),
                "month": ("Per måned", dt.timedelta(days=335))}
REASON_TEXTS = {"routed": "rett til print", "fallback_print": "etter digital kanal", "manual_print": "operatør", "other": "andre"}
#: Reasons drawn in the chart (the table lists the same).
SHOWN_REASONS = 15


class RangeError(ValueError):
    """The page's parameters do not make a range; the message says why, for the operator."""


def statistics(c: Console, request: Request, operator: Operator) -> Response:
    try:
        bucket, first, last = _range(request.args, today=c.now().astimezone(OSLO).date())
    except RangeError as exc:
        return c.render(request, operator, "statistics.html", status=400, error=str(exc), buckets=_buckets(),
                        values=dict(request.args), figures=None)
    start, end = (dt.datetime.combine(day, dt.time(), tzinfo=OSLO) for day in (first, last + dt.timedelta(days=1)))
    senders = operator.senders
    shown = str if operator.admin else mask_national_ids  # a history text may name a recipient
    volumes = bucketed(c.statistics.volume_by_hour(start, end, senders=senders), bucket)
    periods = _periods(first, last, bucket)
    channels = sorted({name for counts in volumes.values() for name in counts})
    series = {name: [volumes.get(p, {}).get(name, 0) for p in periods] for name in channels}
    labels = [_label(p, bucket) for p in periods]
    reasons = c.statistics.print_reasons(start, end, senders=senders, limit=SHOWN_REASONS)
    costs = c.statistics.costs(start, end, senders=senders)
    one_sheet = estimate_cost_ore(c.runtime.settings.channels.print, sheets=1, color=False, letter_class=LetterClass.B)
    figures: dict[str, Any] = dict(
        rows=[dict(label=label, counts=[series[name][i] for name in channels], total=sum(series[name][i] for name in channels))
              for i, label in enumerate(labels)],
        channels=channels,
        volume_chart=Markup(stacked_bar_chart(labels, series, title=f"Brev sendt {BUCKET_TEXTS[bucket][0].lower()} og kanal")),
        read=c.statistics.read_rate(start, end, senders=senders),
        reasons=[dict(kind=REASON_TEXTS.get(r.kind, r.kind), channel=r.channel, detail=r.detail, letters=r.letters) for r in reasons],
        reason_chart=Markup(bar_chart([(_reason_label(r.kind, shown(r.detail)), r.letters) for r in reasons],
                                      title="Hvorfor brev gikk til print")),
        costs=costs, one_sheet_ore=one_sheet, saving_ore=costs.saving_ore(fallback_per_letter_ore=one_sheet),
    )
    return c.render(request, operator, "statistics.html", error=None, buckets=_buckets(), figures=figures,
                    values=dict(bucket=bucket, first=first.isoformat(), last=last.isoformat()))


def _reason_label(kind: str, detail: str) -> str:
    how = REASON_TEXTS.get(kind, kind)
    return f"{how}: {detail}" if detail else how


def _buckets() -> list[tuple[str, str]]:
    return [(name, BUCKET_TEXTS[name][0]) for name in BUCKETS]


def _range(args: Any, *, today: dt.date) -> tuple[str, dt.date, dt.date]:
    bucket = str(args.get("bucket") or "month")
    if bucket not in BUCKETS:
        raise RangeError(f"ukjent periode {bucket[:20]!r}: dag, uke eller måned")
    try:
        last = dt.date.fromisoformat(args["to"]) if args.get("to") else today
        first = dt.date.fromisoformat(args["from"]) if args.get("from") else _start_of(last - BUCKET_TEXTS[bucket][1], bucket)
    except (ValueError, OverflowError):  # overflow: a default start before year 1
        raise RangeError("datoer skrives ÅÅÅÅ-MM-DD") from None
    if not (first.year > 1 and last.year < dt.MAXYEAR):  # the day after, the Monday or 1st before must exist
        raise RangeError(f"datoer fra år 2 til år {dt.MAXYEAR - 1}")
    if first > last:
        raise RangeError("fra-datoen er etter til-datoen")
    if len(_periods(first, last, bucket)) > MAX_BARS:
        raise RangeError(f"for mange perioder: høyst {MAX_BARS} {BUCKET_TEXTS[bucket][0].lower()}; velg en lengre periode")
    return bucket, first, last


def _start_of(day: dt.date, bucket: str) -> dt.date:
    return day if bucket == "day" else day - dt.timedelta(days=day.weekday()) if bucket == "week" else day.replace(day=1)


def _periods(first: dt.date, last: dt.date, bucket: str) -> list[dt.date]:
    """The first day of every period from ``first`` to ``last`` (stops counting past MAX_BARS + 1)."""
    periods: list[dt.date] = []
    day = _start_of(first, bucket)
    while day <= last and len(periods) <= MAX_BARS:
        periods.append(day)
        day = (day + dt.timedelta(days=1 if bucket == "day" else 7) if bucket != "month"
               else (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1))
    return periods


def _label(day: dt.date, bucket: str) -> str:
    if bucket == "day":
        return day.strftime("%d.%m")
    if bucket == "week":
        return f"uke {day.isocalendar().week}"
    return day.strftime("%m.%Y")
