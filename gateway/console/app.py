"""The console's WSGI application: routes, the session and role check, the CSRF check on every
POST, and the security headers on every answer.

A page is a :class:`Page` in :data:`ROUTES` (a route, a handler, who may see it), a template and a
store query. The reports (XLSX/CSV) and the statistics and costs pages are added here the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import BadRequest, Forbidden, HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from gateway.console import actions, pages, reports_page, statistics_page
from gateway.console.context import Console
from gateway.console.security import CSRF_FIELD, HEADERS, SESSION_COOKIE, Operator, same_token
from gateway.model import Clock, utcnow
from gateway.runtime import Runtime

STATIC = Path(__file__).with_name("static")
#: The files under ``static/`` that are served, with their types (no other name is looked up).
STATIC_FILES = {"console.css": "text/css", "favicon.svg": "image/svg+xml"}
#: The largest form the console takes (a reason, a note, a search): nothing it does needs more.
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Page:
    rule: str
    handler: Callable[..., Response]
    methods: tuple[str, ...] = ("GET",)
    #: Only admins (a viewer gets 403).
    admin: bool = False
    #: Served without a session (the login form).
    public: bool = False


def _letter_action(c: Console, request: Request, operator: Operator, shipment_id: str, action: str) -> Response:
    if request.method == "GET":  # the forms are on the letter's page
        return redirect(f"{request.script_root}/letters/{shipment_id}", code=303)
    return actions.act(c, request, operator, shipment_id, action)


ROUTES: dict[str, Page] = {
    "overview": Page("/", pages.overview),
    "letters": Page("/letters", pages.letters),
    "letter": Page("/letters/<shipment_id>", pages.letter),
    "document": Page("/letters/<shipment_id>/documents/<int:position>", pages.document),
    "act": Page("/letters/<shipment_id>/<any(stop, print, retry):action>", _letter_action, methods=("GET", "POST"), admin=True),
    "alerts": Page("/alerts", pages.alerts),
    "acknowledge": Page("/alerts/<int(max=9223372036854775807):alert_id>/acknowledge", actions.acknowledge, methods=("POST",)),
    "audit": Page("/audit", pages.audit, admin=True),
    "statistics": Page("/statistics", statistics_page.statistics),
    "reports": Page("/reports", reports_page.reports),
    "letters_report": Page("/reports/letters", reports_page.letters_report),
    "costs_report": Page("/reports/costs", reports_page.costs_report),
    "login_form": Page("/login", actions.login_form, public=True),
    "login": Page("/login", actions.login, methods=("POST",), public=True),
    "logout": Page("/logout", actions.logout, methods=("POST",)),
}


class ConsoleApplication:
    def __init__(self, runtime: Runtime, *, clock: Clock = utcnow) -> None:
        self.console = Console(runtime, clock=clock)
        self.routes = Map([Rule(page.rule, endpoint=name, methods=list(page.methods)) for name, page in ROUTES.items()]
                          + [Rule(f"/static/{name}", endpoint=f"static:{name}") for name in STATIC_FILES], strict_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = request.max_form_memory_size = MAX_FORM_BYTES
        request.max_form_parts = 100
        try:
            response = self.dispatch(request)
        except HTTPException as exc:
            response = self.error(request, exc)
        for name, value in HEADERS:
            response.headers[name] = value
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        endpoint, args = self.routes.bind_to_environ(request.environ).match()
        if endpoint.startswith("static:"):
            name = endpoint.partition(":")[2]
            response = Response((STATIC / name).read_bytes(), mimetype=STATIC_FILES[name])
            response.headers["Cache-Control"] = "max-age=3600"
            return response
        if any("\x00" in str(value) for value in (*args.values(), *_texts(request))):
            raise BadRequest("NUL i forespørselen.")  # PostgreSQL stores no NUL in text: refused before any query
        page = ROUTES[endpoint]
        c = self.console
        if page.public:
            return page.handler(c, request, None, **args)
        operator = c.gate.session(request.cookies.get(SESSION_COOKIE), now=c.now())
        if operator is None:
            if request.method != "GET":
                raise Forbidden("Ikke innlogget.")
            return redirect(f"{request.script_root}/login?" + urlencode({"next": request.script_root + request.full_path.rstrip("?")}), code=303)
        if request.method == "POST" and not same_token(request.form.get(CSRF_FIELD), operator.session.csrf):
            c.audit(request, operator, f"console.{endpoint}", outcome="csrf_refused")
            raise Forbidden("Skjemaet mangler gyldig CSRF-token.")
        if page.admin and not operator.admin:
            c.audit(request, operator, f"console.{endpoint}", outcome="forbidden", shipment_id=args.get("shipment_id"))
            raise Forbidden("Dette krever rollen admin.")
        return page.handler(c, request, operator, **args)

    def error(self, request: Request, exc: HTTPException) -> Response:
        if exc.code is None or exc.code < 400:
            return exc.get_response(request.environ)  # type: ignore[return-value]  # a redirect (a trailing slash)
        response = self.console.render(request, None, "error.html", status=exc.code,
                                       message=exc.description if exc.code in (403, 405) else exc.name)
        if exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or ())  # type: ignore[attr-defined]
        return response


def _texts(request: Request) -> Iterable[str]:
    yield from (value for _key, value in request.args.items(multi=True))
    if request.method == "POST":
        yield from (value for _key, value in request.form.items(multi=True))


def build_application(runtime: Runtime) -> ConsoleApplication:
    return ConsoleApplication(runtime)
