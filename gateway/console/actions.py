"""The console's pages that change something: login and logout, an admin's actions on a letter
(stop, print now, retry now: each with a reason, each audited), and acknowledging an alert.
Their CSRF token and role are checked before they run (:mod:`gateway.console.app`)."""
from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from gateway.console.context import Console, client_address
from gateway.console.pages import letter, visible_letter
from gateway.console.security import (LOGIN_COOKIE, SESSION_COOKIE, LoginRefused, Operator, delete_cookie, new_login_token, same_token,
                                      set_cookie)
from gateway.dispatch import manual
from gateway.errors import ConflictError
from gateway.store.jobs import OUTLIVE_THE_LETTER

MAX_REASON = 500


def login_form(c: Console, request: Request, operator: Operator | None, *, status: int = 200, error: str | None = None,
               retry_after: int | None = None) -> Response:
    token = new_login_token()
    response = c.render(request, None, "login.html", status=status, login_token=token, error=error,
                        next=_next(request), name=request.form.get("name", "")[:100])
    set_cookie(response, LOGIN_COOKIE, token, tls=c.tls)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def login(c: Console, request: Request, operator: Operator | None) -> Response:
    if not same_token(request.form.get("login_token"), request.cookies.get(LOGIN_COOKIE, "")):
        return c.render(request, None, "error.html", status=403, message="Skjemaet mangler gyldig CSRF-token. Last siden på nytt.")
    name, password = request.form.get("name", "")[:100], request.form.get("password", "")[:1000]
    try:
        who = c.gate.login(name, password, client=client_address(request), now=c.now())
    except LoginRefused as exc:
        c.audit(request, None, "console.login", outcome="rate_limited", actor=name)
        return login_form(c, request, None, status=429, retry_after=exc.retry_after,
                          error=f"For mange mislykkede innlogginger. Prøv igjen om {exc.retry_after} sekunder.")
    if who is None:
        c.audit(request, None, "console.login", outcome="failed", actor=name)
        return login_form(c, request, None, status=401, error="Feil brukernavn eller passord.")
    c.audit(request, who, "console.login")
    response = redirect(_next(request) or request.script_root + "/", code=303)
    set_cookie(response, SESSION_COOKIE, who.token, tls=c.tls)
    delete_cookie(response, LOGIN_COOKIE, tls=c.tls)
    return response


def _next(request: Request) -> str | None:
    """Where to go after login: a console page only (never another site)."""
    target = request.values.get("next", "")
    root = request.script_root + "/"
    if target.startswith(root) and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target[:500]
    return None


def logout(c: Console, request: Request, operator: Operator) -> Response:
    c.gate.logout(operator)
    c.audit(request, operator, "console.logout")
    response = redirect(request.script_root + "/login", code=303)
    delete_cookie(response, SESSION_COOKIE, tls=c.tls)
    return response


def act(c: Console, request: Request, operator: Operator, shipment_id: str, action: str) -> Response:
    """An admin's action on a letter: ``stop``, ``print`` (now) or ``retry`` (now)."""
    stored = visible_letter(c, operator, shipment_id)
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        return letter(c, request, operator, shipment_id, status=400,
                      message=f"Oppgi en begrunnelse (høyst {MAX_REASON} tegn).")
    runtime = c.runtime
    now = runtime.dispatcher.clock()  # the letters' time (a test's clock), as for everything the dispatcher writes
    try:
        if action == "stop":
            manual.stop_shipment(runtime.repository, runtime.dispatcher, shipment_id, reason=reason, operator=operator.name, now=now)
        elif action == "print":
            open_keys = [d.idempotency_key for d in runtime.dispatch_store.deliveries(shipment_id=shipment_id, open_only=True)
                         if d.channel != manual.PRINT]
            manual.print_now(runtime.repository, runtime.dispatcher, shipment_id, reason=reason, operator=operator.name,
                             open_deliveries=open_keys, print_available=manual.PRINT in runtime.dispatcher.channels, now=now)
        elif action == "retry":
            waiting = [j for j in runtime.dispatch_store.pending_jobs(shipment_id)
                       if j["state"] == "pending" and j["kind"] not in OUTLIVE_THE_LETTER]
            manual.retry_now(runtime.repository, runtime.dispatcher, shipment_id, reason=reason, operator=operator.name,
                             waiting_jobs=len(waiting), now=now)
        else:
            raise NotFound()
    except ConflictError as exc:
        c.audit(request, operator, f"console.{action}", outcome="refused", shipment_id=shipment_id, detail=f"{reason}: {exc}")
        return letter(c, request, operator, shipment_id, status=409, message=f"Ikke utført: {exc}")
    c.audit(request, operator, f"console.{action}", shipment_id=shipment_id, detail=f"{stored.status} → {reason}")
    return redirect(f"{request.script_root}/letters/{shipment_id}?done={action}", code=303)


def acknowledge(c: Console, request: Request, operator: Operator, alert_id: int) -> Response:
    alert = c.log.alert(alert_id)
    if alert is None or (operator.senders is not None and alert["shipment_id"] is not None
                         and c.letters.senders_of([alert["shipment_id"]]).get(alert["shipment_id"]) not in operator.senders):
        raise NotFound()
    note = request.form.get("note", "").strip()[:1000]
    done = c.log.acknowledge(alert_id, by=operator.name, note=note, now=c.now())
    c.audit(request, operator, "console.acknowledge_alert", outcome="ok" if done else "already",
            shipment_id=alert["shipment_id"], detail=f"alert {alert_id} ({alert['kind']}): {note}")
    return redirect(f"{request.script_root}/alerts", code=303)
