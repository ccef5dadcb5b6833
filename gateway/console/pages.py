"""The console's pages that only read: the overview, the letter search, a letter, a document,
the alerts and the audit. Each is a handler ``(console, request, operator, **args)``; the
routes are in :mod:`gateway.console.routes`."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from gateway.console.context import STATUS_TEXTS, Console
from gateway.console.periods import PERIODS, period_starts
from gateway.console.search import SearchError, read_search
from gateway.console.security import Operator
from gateway.store.statistics import PRINT
from gateway.dispatch.manual import GONE_TO_PRINT
from gateway.model import FINAL_STATUSES
from gateway.store.repository import StoredShipment

#: A page of audit rows or alerts.
LOG_PAGE = 100


def overview(c: Console, request: Request, operator: Operator) -> Response:
    now, senders = c.now(), operator.senders
    starts = period_starts(now)
    periods: list[dict[str, Any]] = []
    for name, label in PERIODS:
        letters = c.overview.letters(starts[name], senders=senders)
        periods.append(dict(name=name, label=label, letters=letters, total=sum(letters.values()),
                            deliveries=sorted(c.overview.deliveries(starts[name], senders=senders).items())))
    month = periods[-1]
    printed = sum(n for (channel, _status), n in month["deliveries"] if channel == PRINT)
    # digital deliveries sent this month whose letter was read by its deadline
    read = c.statistics.read_rate(starts["month"], now, senders=senders)
    health = {row["channel"]: row for row in c.overview.channel_health()}
    channels = []
    for name in sorted(set(c.runtime.dispatcher.channels) | set(health)):
        row = health.get(name, {})
        open_until = row.get("open_until")
        state = "åpen (stengt for sending)" if open_until and open_until > now else (
            "feiler" if row.get("consecutive_failures") else "i orden")
        channels.append(dict(name=name, state=state, failures=row.get("consecutive_failures", 0),
                             failing_since=row.get("failing_since"), open_until=open_until, error=row.get("last_error")))
    return c.render(request, operator, "overview.html", periods=periods, statuses=STATUS_TEXTS,
                    read_rate=_share(read.read_in_time, read.digital), digital=read.digital, read=read.read_in_time,
                    print_share=_share(printed, month["total"]), printed=printed,
                    reasons=c.statistics.print_reasons(starts["month"], now, senders=senders, limit=10), queue=c.overview.queue(now),
                    channels=channels, alerts=c.log.alerts(open_only=True, senders=senders, limit=10),
                    open_alerts=c.log.open_alerts(senders=senders))


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def letters(c: Console, request: Request, operator: Operator) -> Response:
    size = _bounded(request.args.get("size"), default=c.settings.page_size, most=4 * c.settings.page_size)
    try:
        search = read_search(request.args, senders=operator.senders)
        page = c.letters.search(search.query, limit=size, after=_cursor(request.args.get("after", "")))
    except SearchError as exc:
        return c.render(request, operator, "letters.html", status=400, values={**request.args}, rows=[], next_url=None,
                        error=str(exc), statuses=STATUS_TEXTS, senders=_senders(c, operator))
    next_url = None
    if page.after is not None:
        after = f"{page.after[0].isoformat()}|{page.after[1]}"
        next_url = "?" + urlencode({**{k: v for k, v in search.values.items() if v}, "size": size, "after": after})
    return c.render(request, operator, "letters.html", values=search.values, rows=page.rows, next_url=next_url, error=None,
                    statuses=STATUS_TEXTS, senders=_senders(c, operator))


def _senders(c: Console, operator: Operator) -> list[str]:
    return [s.name for s in c.runtime.settings.senders if operator.settings.sees(s.name)]


def _bounded(text: str | None, *, default: int, most: int) -> int:
    try:
        return max(1, min(int(text or default), most))
    except ValueError:
        return default


def _cursor(text: str) -> tuple[dt.datetime, str] | None:
    when, _, sid = text.partition("|")
    if not when or not sid:
        return None
    try:
        at = dt.datetime.fromisoformat(when)
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)), sid[:36]


def visible_letter(c: Console, operator: Operator, shipment_id: str) -> StoredShipment:
    """The letter, if this operator may see it; else 404 (whether it exists or not)."""
    stored = c.runtime.repository.get(shipment_id)
    if stored is None or not operator.settings.sees(stored.shipment.sender):
        raise NotFound()
    return stored


def letter(c: Console, request: Request, operator: Operator, shipment_id: str, *, status: int = 200,
           message: str | None = None) -> Response:
    stored = visible_letter(c, operator, shipment_id)
    deliveries = c.runtime.dispatch_store.deliveries(shipment_id=shipment_id)
    c.audit(request, operator, "console.view_letter", shipment_id=shipment_id)
    shipment = stored.shipment
    filing = shipment.case_metadata or shipment.import_metadata
    return c.render(request, operator, "letter.html", status=status, stored=stored, shipment=shipment, filing=filing,
                    events=c.runtime.repository.events(shipment_id), jobs=c.letters.jobs(shipment_id),
                    deliveries=[dict(d=d, receipt=json.dumps(d.receipt, ensure_ascii=False, indent=1, sort_keys=True))
                                for d in deliveries],
                    alerts=c.letters.alerts(shipment_id), links=[_link(link.url, link.text) for link in shipment.links],
                    message=message or _done(request.args.get("done", "")),
                    actionable=stored.status not in FINAL_STATUSES and stored.status not in GONE_TO_PRINT)


_DONE = {"stop": "Brevet er stoppet.", "print": "Brevet er sendt til print.", "retry": "Brevet prøves igjen nå."}


def _done(action: str) -> str | None:
    return _DONE.get(action)


def _link(url: str, text: str) -> dict[str, Any]:
    """A deep link from the letter: a link only when it is http(s) (never ``javascript:``)."""
    return dict(url=url, text=text or url, safe=urlsplit(url).scheme in ("http", "https"))


def document(c: Console, request: Request, operator: Operator, shipment_id: str, position: int) -> Response:
    stored = visible_letter(c, operator, shipment_id)
    documents = stored.shipment.documents
    if not 0 <= position < len(documents):
        raise NotFound()
    doc = documents[position]
    c.audit(request, operator, "console.download_document", shipment_id=shipment_id, detail=f"{position}: {doc.filename}")
    response = Response(c.runtime.documents.chunks(doc.storage_ref), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(doc.filename, safe='')}"
    response.headers["Content-Length"] = str(doc.size)
    return response


def alerts(c: Console, request: Request, operator: Operator) -> Response:
    everything = request.args.get("all") == "1"
    rows = c.log.alerts(open_only=not everything, senders=operator.senders, limit=LOG_PAGE)
    return c.render(request, operator, "alerts.html", alerts=rows, everything=everything)


def audit(c: Console, request: Request, operator: Operator) -> Response:
    before = request.args.get("before", "")
    actor, shipment_id = request.args.get("actor", "").strip()[:100], request.args.get("letter", "").strip()[:36]
    rows = c.log.audit(limit=LOG_PAGE, before_id=int(before) if before.isascii() and before.isdigit() and len(before) < 19 else None, actor=actor or None,
                       shipment_id=shipment_id or None, senders=operator.senders)
    next_url = None
    if len(rows) == LOG_PAGE:
        next_url = "?" + urlencode({"actor": actor, "letter": shipment_id, "before": rows[-1]["id"]})
    return c.render(request, operator, "audit.html", rows=rows, actor=actor, letter=shipment_id, next_url=next_url)
