"""What every console page works with: the runtime's store readers, the templates, the clock,
and the audit of what operators do."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from werkzeug.wrappers import Request, Response

from gateway.console.masking import mask_national_ids
from gateway.console.periods import OSLO
from gateway.console.security import CSRF_FIELD, Gatekeeper, Operator
from gateway.model import Clock, utcnow
from gateway.runtime import Runtime
from gateway.store.console_letters import LetterReader
from gateway.store.console_log import ConsoleLog
from gateway.store.console_overview import OverviewReader
from gateway.store.console_sessions import SessionStore
from gateway.store.statistics import Statistics

TEMPLATES = Path(__file__).with_name("templates")
STATUS_TEXTS: Mapping[str, str] = {
    "RECEIVED": "Mottatt", "ACCEPTED": "Akseptert", "REJECTED": "Avvist", "SENT_DIGITAL": "Sendt digitalt",
    "NOTIFIED": "Varslet", "READ": "Lest", "SENT_TO_PRINT": "Sendt til print", "PRINTED": "Printet",
    "DELIVERED": "Levert", "NOT_DELIVERED": "Ikke levert", "MANUALLY_HANDLED": "Manuelt håndtert",
}

#: What became of an alert's e-mail (``alerts.mail_state``, gateway/store/alert_mail.py); none yet: it waits.
MAIL_STATES: Mapping[str | None, str] = {None: "venter", "sent": "sendt", "duplicate": "sendt før (samme varsel)",
                                         "nobody": "ingen mottaker"}


def _shown(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _when(value: dt.datetime | None) -> str:
    """A stored time as the operator reads it: local time in Oslo, to the second."""
    return "" if value is None else value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")


def _kroner(ore: int | None) -> str:
    return "" if ore is None else f"{ore / 100:.2f} kr"


class Console:
    def __init__(self, runtime: Runtime, *, clock: Clock = utcnow) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.console
        self.clock = clock
        engine = runtime.engine
        self.gate = Gatekeeper(self.settings, SessionStore(engine))
        self.letters = LetterReader(engine)
        self.overview = OverviewReader(engine)
        self.statistics = Statistics(engine)
        self.log = ConsoleLog(engine)
        self.tls = runtime.settings.server.tls
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.templates.filters.update(when=_when, kroner=_kroner, status=lambda s: STATUS_TEXTS.get(str(s), str(s)))

    def now(self) -> dt.datetime:
        return self.clock()

    def render(self, request: Request, operator: Operator | None, template: str, *, status: int = 200,
               **values: Any) -> Response:
        pii: Callable[[object], str] = _shown if operator is not None and operator.admin else mask_national_ids
        html = self.templates.get_template(template).render(
            root=request.script_root, operator=operator, csrf_field=CSRF_FIELD,
            csrf=operator.session.csrf if operator else "", pii=pii, mail_states=MAIL_STATES,
            mail_on=bool(self.runtime.settings.alerts.host), **values)
        return Response(html, status=status, mimetype="text/html")

    def audit(self, request: Request, operator: Operator | None, operation: str, *, outcome: str = "ok",
              detail: str = "", shipment_id: str | None = None, actor: str | None = None) -> None:
        self.log.record(actor=operator.name if operator else actor, operation=operation, outcome=outcome, now=self.now(),
                        detail=detail[:2000], shipment_id=shipment_id, client=client_address(request))


def client_address(request: Request) -> str:
    """The peer's address as the socket says (a header from the client is never trusted for it)."""
    return str(request.environ.get("REMOTE_ADDR") or "unknown")[:64]
