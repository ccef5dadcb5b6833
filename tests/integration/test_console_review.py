"""Attacks on the console found in review (issue #13), each with the fix it needed: spreadsheet
formula injection in the report downloads, and parameters that answered 500 instead of 400."""
from __future__ import annotations

import csv
import datetime as dt
import io

import re
from urllib.parse import urljoin, urlsplit

import openpyxl
import pytest

from gateway.model import Event, Link, Party, Shipment, Status, utcnow
from tests.console_helpers import ADMIN, ConsoleClient, with_console

#: Titles a sender system could give a letter that a spreadsheet would run as formulas.
FORMULAS = ('=HYPERLINK("http://evil.example/","klikk")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)")


@pytest.fixture
def gw(start_gateway, settings_factory, database_url):
    gateway = start_gateway(with_console(settings_factory(database_url)))
    now = utcnow()
    for n, title in enumerate(FORMULAS, start=1):
        gateway.runtime.repository.insert_shipment(
            Shipment(id=f"00000000-0000-4000-8000-{n:012d}", sender="kommune-sak", title=title, recipient=Party(),
                     documents=(), cost_code="=1+1"),
            content_sha256="0" * 64, events=[Event(at=now, kind="accepted", status=Status.ACCEPTED)])
    return gateway


def _admin(gw) -> ConsoleClient:
    c = ConsoleClient(gw.base_url)
    c.login(ADMIN)
    return c


def test_a_title_that_looks_like_a_formula_is_text_in_the_xlsx_report(gw):
    today = dt.date.today().isoformat()
    response = _admin(gw).get(f"/reports/letters?from={today}&to={today}&format=xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.value for cell in cells if cell.data_type == "f"]  # no formula at all
    assert {cell.value for cell in cells if cell.value in FORMULAS} == set(FORMULAS)  # the titles as they were sent


def test_a_title_that_looks_like_a_formula_cannot_run_from_the_csv_report(gw):
    today = dt.date.today().isoformat()
    text = _admin(gw).get(f"/reports/letters?from={today}&to={today}&format=csv").content.decode("utf-8-sig")
    fields = [field for row in list(csv.reader(io.StringIO(text), delimiter=";"))[1:] for field in row]
    assert not [f for f in fields if f[:1] in ("=", "+", "-", "@", "\t", "\r")], fields
    assert {"'" + title for title in FORMULAS} <= set(fields)


@pytest.mark.parametrize("path", ["/audit?before=%C2%B2", "/audit?before=99999999999999999999999",
                                  "/statistics?bucket=day&from=9999-12-30&to=9999-12-31",
                                  "/statistics?bucket=month&to=0001-01-01",
                                  "/reports?from=9999-12-31&to=9999-12-31",
                                  "/reports/letters?from=9999-12-31&to=9999-12-31&format=csv"])
def test_a_parameter_out_of_range_is_answered_not_500(gw, path):
    assert _admin(gw).get(path).status_code in (200, 400)  # a bad cursor is ignored, a bad range refused


# ---------------------------------------------------------------- attacks that held (kept as regressions)

from tests.console_helpers import LIMITED, VIEWER, case_letter  # noqa: E402
from tests.svarut_builders import dokument  # noqa: E402

XSS = '"><script>alert(1)</script></svg><svg onload=alert(2)>'


@pytest.fixture
def sender(gw, svarut_client):
    return svarut_client(gw)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/console//evil.example/x",
                                    "%2F%2Fevil.example", "/console/\\evil.example", "http:/console/", "/consolex/"])
def test_login_never_sends_the_operator_off_the_console(gw, target):
    c = ConsoleClient(gw.base_url)
    page = c.get("/login?next=" + target)
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    response = c.post("/login", {"login_token": token, "name": ADMIN, "password": "admin-passord-1", "next": target}, csrf=False)
    assert response.status_code == 303
    location = urljoin("http://gw.test/", response.headers["Location"])  # as a browser reads it
    assert urlsplit(location).netloc == "gw.test" and urlsplit(location).path.startswith("/console/"), location


def test_text_from_a_sender_is_escaped_on_every_page(gw, sender):
    client, svc = sender
    sid = svc.sendForsendelse(forsendelse=case_letter(
        client, year=2026, sequence=1, document=1, title=XSS,
        dokumenter=[dokument(filnavn="a' &amp; onclick=alert(1).pdf")],
        lenker=[{"urlLenke": "https://kommune.example/a?b=\"><script>", "urlTekst": XSS}]))
    # the SOAP layer refuses javascript: and data: links; a letter that has one anyway (another
    # front, an old row) still gets no link for it
    bad = "00000000-0000-4000-8000-0000000000ff"
    gw.runtime.repository.insert_shipment(
        Shipment(id=bad, sender="kommune-sak", title=XSS, recipient=Party(name=XSS), documents=(),
                 links=(Link(url="javascript:alert(3)", text="j"), Link(url="data:text/html,<script>x</script>", text="d"),
                        Link(url=" JaVaScRiPt:alert(5)", text="k"))),
        content_sha256="0" * 64, events=[Event(at=utcnow(), kind="accepted", status=Status.ACCEPTED, detail=XSS)])
    admin = ConsoleClient(gw.base_url)
    admin.login(ADMIN)
    for path in (f"/letters/{sid}", f"/letters/{bad}", "/letters?title=%22", "/letters", "/", "/statistics", "/reports", f"/audit?letter={sid}"):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert "<script>" not in page.text and "onload=alert" not in page.text.replace("onload=alert(2)&gt;", ""), path
        assert 'href="javascript' not in page.text.lower() and 'href="data:' not in page.text.lower(), path


def test_a_viewer_reaches_the_audit_by_no_other_method_or_spelling(gw):
    viewer = ConsoleClient(gw.base_url)
    viewer.login(VIEWER)
    assert viewer.http.head(viewer.root + "/audit", timeout=30).status_code == 403
    assert viewer.get("/audit/", allow_redirects=False).status_code in (301, 308, 403)
    assert viewer.get("/audit/?x=1").status_code == 403
    assert viewer.get("/audit?actor=ada").status_code == 403
    assert viewer.get("/AUDIT").status_code == 404 and viewer.get("/%61udit").status_code == 403


def test_a_limited_operator_reaches_no_other_sender_through_search_reports_or_statistics(gw, sender):
    client, svc = sender  # kommune-sak; LIMITED sees annen-kommune only
    sid = svc.sendForsendelse(forsendelse=case_letter(client, year=2026, sequence=2, document=1, title="Hemmelig vedtak"))
    limited = ConsoleClient(gw.base_url)
    limited.login(LIMITED)
    for path in ("/letters?sender=kommune-sak", f"/letters?id={sid}", "/letters?title=Hemmelig", "/letters?size=100000"):
        assert f'href="/console/letters/{sid}"' not in limited.get(path).text, path
    today = dt.date.today().isoformat()
    for kind in ("csv", "xlsx"):
        body = limited.get(f"/reports/letters?from={today}&to={today}&format={kind}").content
        assert sid.encode() not in body and b"kommune-sak" not in body
    assert "kommune-sak" not in limited.get("/statistics?bucket=day").text
    assert limited.get(f"/letters/{sid}/documents/0").status_code == 404


def test_each_login_gets_a_new_session_and_logout_needs_the_csrf_token(gw):
    c = ConsoleClient(gw.base_url)
    c.login(ADMIN)
    first = c.http.cookies.get("gateway_console", path="/console")
    c.login(ADMIN)
    second = c.http.cookies.get("gateway_console", path="/console")
    assert first and second and first != second
    assert c.post("/logout", csrf=False).status_code == 403
    assert c.get("/").status_code == 200 and c.get("/").url.endswith("/console/")


def test_metrics_ignore_forwarded_headers(start_gateway, settings_factory):
    import dataclasses

    import requests

    from gateway.config import MetricsSettings
    gw = start_gateway(dataclasses.replace(settings_factory(), metrics=MetricsSettings(allowed_networks=("10.0.0.0/8",))))
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Client-IP"):
        value = "for=10.0.0.1" if header == "Forwarded" else "10.0.0.1"
        response = requests.get(gw.base_url + "/metrics", headers={header: value}, timeout=30)
        assert response.status_code == 403, header
        assert requests.head(gw.base_url + "/metrics", headers={header: value}, timeout=30).status_code == 403


def test_chart_labels_and_titles_cannot_leave_the_svg():
    from gateway.charts import bar_chart, stacked_bar_chart
    for svg in (bar_chart([(XSS, 3)], title=XSS), stacked_bar_chart([XSS], {XSS: [1]}, title=XSS)):
        assert "<script>" not in svg and svg.count("<svg") == 1 and svg.count("</svg>") == 1 and svg.endswith("</svg>")


@pytest.mark.parametrize("path", ["/letters?id=zz%00zz", "/letters?after=2026-01-01T00:00:00|zz%00", "/letters?title=%00",
                                  "/letters?recipient=%00", "/letters?ref=%00", "/audit?letter=%00", "/audit?actor=%00",
                                  "/letters?from=0001-01-01", "/letters?to=9999-12-31"])
def test_a_nul_or_a_date_at_the_calendar_s_edge_in_a_search_is_not_a_500(gw, path):
    assert _admin(gw).get(path).status_code in (200, 400)  # PostgreSQL refuses NUL in text: it never gets there


def test_a_nul_in_a_login_name_is_a_failed_login_not_a_500(gw):
    ConsoleClient(gw.base_url).login("a\x00b", "x", expect=400)


@pytest.mark.parametrize("alert_id", ["99999999999999999999", "9223372036854775808"])
def test_acknowledging_an_alert_id_beyond_any_column_is_404(gw, alert_id):
    c = _admin(gw)
    c.get("/alerts")
    assert c.post(f"/alerts/{alert_id}/acknowledge", {"note": "x"}).status_code == 404


def test_a_viewer_s_report_masks_national_identity_numbers_as_the_pages_do(gw):
    sid = "00000000-0000-4000-8000-0000000000aa"
    gw.runtime.repository.insert_shipment(
        Shipment(id=sid, sender="kommune-sak", title="Vedtak til 12345678901", recipient=Party(), documents=()),
        content_sha256="0" * 64, events=[Event(at=utcnow(), kind="accepted", status=Status.ACCEPTED)])
    viewer = ConsoleClient(gw.base_url)
    viewer.login(VIEWER)
    assert "12345678901" not in viewer.get(f"/letters/{sid}").text  # the page masks it ...
    today = dt.date.today().isoformat()
    text = viewer.get(f"/reports/letters?from={today}&to={today}&format=csv").content.decode("utf-8-sig")
    assert "12345678901" not in text and "*********01" in text  # ... and so does the report
    book = openpyxl.load_workbook(io.BytesIO(viewer.get(f"/reports/letters?from={today}&to={today}&format=xlsx").content))
    values = [str(c.value) for row in book.worksheets[0].iter_rows() for c in row]
    assert not [v for v in values if "12345678901" in v] and [v for v in values if "*********01" in v]
    admin = _admin(gw)  # an admin sees numbers, on the page and in the report
    assert "12345678901" in admin.get(f"/reports/letters?from={today}&to={today}&format=csv").content.decode("utf-8-sig")


def test_an_operator_limited_to_some_senders_reads_no_other_sender_s_letters_in_the_audit(gw):
    ours, theirs = "00000000-0000-4000-8000-0000000000b1", "00000000-0000-4000-8000-0000000000b2"
    for sid, sender_name in ((ours, "annen-kommune"), (theirs, "kommune-sak")):
        gw.runtime.repository.insert_shipment(
            Shipment(id=sid, sender=sender_name, title="Vedtak", recipient=Party(), documents=()),
            content_sha256="0" * 64, events=[Event(at=utcnow(), kind="accepted", status=Status.ACCEPTED)])
    admin = _admin(gw)
    admin.get(f"/letters/{theirs}")
    admin.get(f"/letters/{ours}")
    limited = ConsoleClient(gw.base_url)
    limited.login(LIMITED)  # an admin of annen-kommune only
    page = limited.get("/audit").text
    assert ours in page and theirs not in page
    assert f'href="/console/letters/{theirs}"' not in limited.get(f"/audit?letter={theirs}").text
    assert theirs in admin.get("/audit").text
