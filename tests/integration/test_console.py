"""The operator console over a real socket: login, sessions, CSRF, the login rate limit, roles,
masking, search and the admin actions, on SQLite and on PostgreSQL."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from gateway.dispatch.worker import Worker
from gateway.model import utcnow
from gateway.store import tables
from gateway.store.outcome import Alert, Outcome
from tests.conftest import OTHER_PASSWORD, make_certificate
from tests.console_helpers import ADMIN, LIMITED, VIEWER, ConsoleClient, case_letter, with_console
from tests.svarut_builders import PERSON_FNR, forsendelse


@pytest.fixture
def console_gw(start_gateway, settings_factory, database_url):
    return start_gateway(with_console(settings_factory(database_url)))


@pytest.fixture
def sender(console_gw, svarut_client):
    client, svc = svarut_client(console_gw)
    return client, svc


def _send(sender, **fields) -> str:
    client, svc = sender
    return svc.sendForsendelse(forsendelse=case_letter(client, **fields))


def _client(gw, name: str | None = None) -> ConsoleClient:
    c = ConsoleClient(gw.base_url)
    if name:
        c.login(name)
    return c


def test_pages_need_a_login_and_answer_with_the_security_headers(console_gw):
    c = _client(console_gw)
    first = c.get("/letters?case=2026/1", allow_redirects=False)
    assert first.status_code == 303 and "/console/login?next=%2Fconsole%2Fletters%3Fcase%3D2026%2F1" in first.headers["Location"]
    login = c.login(ADMIN)
    assert login.headers["Location"] == "/console/"
    cookie = next(h for h in login.raw.headers.getlist("Set-Cookie") if h.startswith("gateway_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie and "Secure" not in cookie
    page = c.get("/")
    assert page.status_code == 200 and "Oversikt" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text  # usable without JavaScript: there is none


def test_the_session_cookie_is_secure_under_tls(start_gateway, settings_factory, tmp_path):
    cert, key = make_certificate(tmp_path)
    gw = start_gateway(with_console(settings_factory(tls_certificate=str(cert), tls_private_key=str(key))))
    c = ConsoleClient(gw.base_url, verify=str(cert))
    login = c.login(ADMIN)
    cookie = next(h for h in login.raw.headers.getlist("Set-Cookie") if h.startswith("gateway_console="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_wrong_passwords_and_logout(console_gw):
    c = _client(console_gw)
    refused = c.login(ADMIN, "feil", expect=401)
    assert "Feil brukernavn eller passord" in refused.text and "gateway_console=" not in refused.headers.get("Set-Cookie", "")
    c.login("nobody", "x", expect=401)
    c.login(ADMIN)
    assert c.get("/letters").status_code == 200
    assert c.post("/logout").status_code == 303
    assert c.get("/letters", allow_redirects=False).status_code == 303  # the session is gone on the server
    operations = [(r["actor"], r["operation"], r["outcome"]) for r in console_gw.runtime.repository.audit_records()]
    assert (ADMIN, "console.login", "failed") in operations and ("nobody", "console.login", "failed") in operations
    assert (ADMIN, "console.login", "ok") in operations and (ADMIN, "console.logout", "ok") in operations


def test_a_stolen_cookie_stops_working_after_the_idle_time(console_gw):
    c = _client(console_gw, ADMIN)
    with console_gw.runtime.engine.begin() as conn:  # 31 minutes without a request (console.session_idle_minutes = 30)
        conn.execute(tables.console_sessions.update().values(last_seen_at=utcnow() - dt.timedelta(minutes=31)))
    assert c.get("/", allow_redirects=False).status_code == 303
    c.login(ADMIN)
    with console_gw.runtime.engine.begin() as conn:  # active all along, but logged in 13 hours ago (session_max_hours = 12)
        conn.execute(tables.console_sessions.update().values(created_at=utcnow() - dt.timedelta(hours=13)))
    assert c.get("/", allow_redirects=False).status_code == 303
    with console_gw.runtime.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(tables.console_sessions)) == 0
        # the table keeps the token's digest, never the token
        assert c.http.cookies.get("gateway_console") is not None


def test_posts_without_the_csrf_token_are_refused(console_gw, sender):
    sid = _send(sender, year=2026, sequence=7, document=1)
    c = _client(console_gw, ADMIN)
    assert c.post(f"/letters/{sid}/stop", {"reason": "feil mottaker"}, csrf=False).status_code == 403
    assert c.post(f"/letters/{sid}/stop", {"reason": "feil mottaker", "csrf": "gjettet"}, csrf=False).status_code == 403
    assert c.post("/logout", csrf=False).status_code == 403
    assert console_gw.runtime.repository.get(sid).status == "ACCEPTED"
    other = _client(console_gw, VIEWER)  # another session's token is no good either
    assert other.post(f"/letters/{sid}/stop", {"reason": "x", "csrf": c.csrf}, csrf=False).status_code == 403
    # the login form has its own token (double submit): without it, no login
    bare = ConsoleClient(console_gw.base_url)
    assert bare.post("/login", {"name": ADMIN, "password": "admin-passord-1"}, csrf=False).status_code == 403


def test_failed_logins_are_rate_limited_per_account_and_per_address(start_gateway, settings_factory, database_url):
    gw = start_gateway(with_console(settings_factory(database_url), login_max_failures=3, login_window_seconds=600))
    c = _client(gw)
    for _ in range(3):
        c.login(VIEWER, "feil", expect=401)
    locked = c.login(VIEWER, expect=429)  # the right password too, while locked
    assert 590 <= int(locked.headers["Retry-After"]) <= 600
    # the same address is locked for every account now (3 failures from it)
    assert c.login(ADMIN, expect=429).status_code == 429
    with gw.runtime.engine.begin() as conn:  # the address's failures age out of the window; the account's too
        conn.execute(tables.console_login_failures.update().values(at=utcnow() - dt.timedelta(seconds=601)))
    c.login(VIEWER)


def test_a_viewer_cannot_act_nor_read_the_audit_and_sees_masked_numbers(console_gw, sender):
    sid = _send(sender, year=2026, sequence=8, document=2)
    viewer = _client(console_gw, VIEWER)
    page = viewer.get(f"/letters/{sid}")
    assert page.status_code == 200 and PERSON_FNR not in page.text and "*********" + PERSON_FNR[-2:] in page.text
    assert 'action="/console/letters/' + sid + '/stop"' not in page.text
    for action in ("stop", "print", "retry"):
        assert viewer.post(f"/letters/{sid}/{action}", {"reason": "prøver"}).status_code == 403
        assert viewer.get(f"/letters/{sid}/{action}", allow_redirects=False).status_code == 403
    assert viewer.get("/audit").status_code == 403
    assert console_gw.runtime.repository.get(sid).status == "ACCEPTED"
    admin = _client(console_gw, ADMIN)
    assert PERSON_FNR in admin.get(f"/letters/{sid}").text
    audit = admin.get(f"/audit?letter={sid}").text
    assert "console.view_letter" in audit and "forbidden" in audit and VIEWER in audit


def test_an_operator_limited_to_a_sender_sees_only_its_letters(console_gw, sender, svarut_client):
    ours = _send(sender, year=2026, sequence=9, document=1)
    client, other_svc = svarut_client(console_gw, "annen-kommune", OTHER_PASSWORD)
    theirs = other_svc.sendForsendelse(forsendelse=case_letter(client, year=2026, sequence=9, document=1))
    limited = _client(console_gw, LIMITED)
    found = limited.get("/letters?case=2026/9").text
    assert theirs in found and ours not in found
    assert limited.get(f"/letters/{ours}").status_code == 404
    assert limited.get(f"/letters/{ours}/documents/0").status_code == 404
    assert limited.post(f"/letters/{ours}/stop", {"reason": "x"}).status_code == 404


def test_search_by_each_field_with_pages(console_gw, sender):
    ids = [_send(sender, year=2025, sequence=100 + i, document=i, title=f"Tilsagn nr {i}", eksternref=f"EXT-{i}") for i in range(5)]
    other = _send(sender, year=2026, sequence=55, document=3, title="Avslag på søknad")
    c = _client(console_gw, ADMIN)

    def found(query: str) -> list[str]:
        page = c.get("/letters?" + query)
        assert page.status_code == 200, page.text
        return re.findall(r'href="/console/letters/([0-9a-f-]{36})"', page.text)

    assert found("case=2025/102") == [ids[2]]
    assert found("case=2025/103-3") == [ids[3]] and found("case=2025/103-4") == []
    assert found("case=2026/55&doc=3") == [other]
    assert found(f"id={ids[1]}") == [ids[1]]
    assert found("ref=EXT-4") == [ids[4]]
    assert found("title=tilsagn") == ids[::-1]  # prefix, any case, newest first
    assert found("title=avslag") == [other] and found("title=lag") == []  # a prefix, not a substring
    assert found(f"recipient={PERSON_FNR}")[:1] == [other]
    assert found("recipient=ola nord")[:1] == [other]  # the postal name, by prefix
    assert found("status=ACCEPTED&sender=kommune-sak")[:1] == [other]
    today = dt.datetime.now(dt.timezone.utc).astimezone().date()
    assert len(found(f"from={today - dt.timedelta(days=1)}&to={today + dt.timedelta(days=1)}")) == 6
    assert found("to=2020-01-01") == []
    assert c.get("/letters?case=2025").status_code == 400 and c.get("/letters?from=igår").status_code == 400
    # pages of two: three pages, every letter once, newest first
    seen, url = [], "/letters?title=tilsagn&size=2"
    while url:
        page = c.get(url).text
        seen += re.findall(r'href="/console/letters/([0-9a-f-]{36})"', page)
        more = re.search(r'href="\?([^"]+)" id="next-page"', page)
        url = "/letters?" + more.group(1).replace("&amp;", "&") if more else ""
    assert seen == ids[::-1]


def test_admin_stops_a_letter_with_a_reason_and_it_is_audited(console_gw, sender):
    sid = _send(sender, year=2026, sequence=10, document=1)
    c = _client(console_gw, ADMIN)
    c.get(f"/letters/{sid}")
    assert c.post(f"/letters/{sid}/stop", {"reason": ""}).status_code == 400  # a reason is required
    done = c.post(f"/letters/{sid}/stop", {"reason": "feil mottaker"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/letters/{sid}?done=stop")
    runtime = console_gw.runtime
    assert runtime.repository.get(sid).status == "MANUALLY_HANDLED"
    assert runtime.repository.events(sid)[-1].detail == f"feil mottaker ({ADMIN})"
    assert not [j for j in runtime.dispatch_store.pending_jobs(sid) if j["state"] == "pending"]
    again = c.post(f"/letters/{sid}/stop", {"reason": "igjen"})
    assert again.status_code == 409 and "already finished" in again.text
    actions = [(r["actor"], r["operation"], r["outcome"]) for r in runtime.repository.audit_records() if r["shipment_id"] == sid]
    assert (ADMIN, "console.stop", "ok") in actions and (ADMIN, "console.stop", "refused") in actions


def test_admin_sends_a_letter_to_print_now_and_retries_one_now(console_gw, sender):
    runtime = console_gw.runtime
    c = _client(console_gw, ADMIN)
    sid = _send(sender, year=2026, sequence=11, document=1)
    c.get(f"/letters/{sid}")
    assert c.post(f"/letters/{sid}/print", {"reason": "mottaker ba om papir"}).status_code == 303
    assert [(j["kind"], j["channel"]) for j in runtime.dispatch_store.pending_jobs(sid)] == [("submit", "print")]
    Worker(runtime.dispatcher, runtime.dispatch_store, name="t", lease_seconds=60).run_once()
    assert runtime.repository.get(sid).status == "SENT_TO_PRINT"
    assert any(e.kind == "manual_print" and ADMIN in e.detail for e in runtime.repository.events(sid))

    digital_only = _send(sender, year=2026, sequence=12, document=1, kunDigitalLevering=True)
    refused = c.post(f"/letters/{digital_only}/print", {"reason": "papir"})
    assert refused.status_code == 409 and runtime.repository.get(digital_only).status == "ACCEPTED"

    later = utcnow() + dt.timedelta(hours=2)  # its job waits (as after a failed submit's back-off)
    with runtime.engine.begin() as conn:
        conn.execute(tables.jobs.update().where(tables.jobs.c.shipment_id == digital_only).values(run_after=later))
    assert c.post(f"/letters/{digital_only}/retry", {"reason": "Altinn er oppe igjen"}).status_code == 303
    [job] = runtime.dispatch_store.pending_jobs(digital_only)
    assert tables.as_utc(job["run_after"]) <= utcnow()
    assert runtime.repository.events(digital_only)[-1].kind == "manual_retry"


def test_documents_download_and_the_download_is_audited(console_gw, sender, pdf):
    client, svc = sender
    sid = svc.sendForsendelse(forsendelse=forsendelse(client, dokumenter=[{"data": pdf, "ekskluderesFraPrint": False,
                                                                         "filnavn": "Vedtak æøå.pdf", "mimetype": "application/pdf",
                                                                         "skalSigneres": False}]))
    c = _client(console_gw, VIEWER)
    got = c.get(f"/letters/{sid}/documents/0")
    assert got.status_code == 200 and got.content == pdf
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''Vedtak%20%C3%A6%C3%B8%C3%A5.pdf"
    assert c.get(f"/letters/{sid}/documents/1").status_code == 404
    [row] = [r for r in console_gw.runtime.repository.audit_records() if r["operation"] == "console.download_document"]
    assert row["actor"] == VIEWER and row["shipment_id"] == sid and row["client"] == "127.0.0.1"


def test_alerts_are_acknowledged_with_a_note(console_gw, sender):
    sid = _send(sender, year=2026, sequence=13, document=1)
    now = utcnow()
    console_gw.runtime.dispatch_store.apply(Outcome(at=now, alerts=(
        Alert(kind="channel_outage", channel="altinn3", detail="Altinn 3 svarer ikke"),
        Alert(kind="job_failed", channel="print", shipment_id=sid, detail=f"til {PERSON_FNR}: feil"))))
    c = _client(console_gw, VIEWER)
    overview = c.get("/").text
    assert "Åpne varsler (2)" in overview and PERSON_FNR not in overview
    [first, second] = sorted(int(i) for i in re.findall(r'id="alert-(\d+)"', c.get("/alerts").text))
    with console_gw.runtime.engine.begin() as conn:  # the first one's mail went out (gateway/store/alert_mail.py)
        conn.execute(tables.alerts.update().where(tables.alerts.c.id == first).values(mail_state="sent", mailed_at=now))
    row = re.search(rf'<tr id="alert-{first}">(.*?)</tr>', c.get("/alerts").text, re.S).group(1)
    assert "sendt" in row
    assert c.post(f"/alerts/{first}/acknowledge", {"note": "Altinn varslet"}).status_code == 303
    page = c.get("/alerts?all=1").text
    assert f"{VIEWER}, " in page and "Altinn varslet" in page
    assert f'id="alert-{first}"' not in c.get("/alerts").text and f'id="alert-{second}"' in c.get("/alerts").text
    assert c.post(f"/alerts/{first}/acknowledge", {"note": "igjen"}, csrf=False).status_code == 403
    limited = _client(console_gw, LIMITED)  # the other sender's alert is not theirs to see
    assert f'id="alert-{second}"' not in limited.get("/alerts").text and "Åpne varsler (0)" in limited.get("/").text
    assert limited.post(f"/alerts/{second}/acknowledge", {"note": "x"}).status_code == 404


def test_the_overview_counts_the_letters_sent(console_gw, sender):
    for i in range(3):
        _send(sender, year=2026, sequence=20 + i, document=1)
    runtime = console_gw.runtime
    Worker(runtime.dispatcher, runtime.dispatch_store, name="t", lease_seconds=60).run_once()  # one goes to print
    page = _client(console_gw, ADMIN).get("/").text
    today = page[page.index('id="period-today"'):page.index('id="period-week"')]
    assert '<span class="total">3</span>' in today
    assert 'data-status="ACCEPTED">2<' in today and 'data-status="SENT_TO_PRINT">1<' in today
    assert 'data-channel="print" data-status="SENT_TO_PRINT">1<' in today
    assert re.search(r'id="queue-due">2<', page)
