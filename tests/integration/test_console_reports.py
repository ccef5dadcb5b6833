"""The console's reports page over a real socket: the per-letter report and the costs per cost
code downloaded (and audited), the costs on screen, an operator's senders only."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from gateway.model import Event, Party, Shipment, Status, utcnow
from gateway.store import tables
from tests.console_helpers import ADMIN, LIMITED, ConsoleClient, with_console


@pytest.fixture
def gw(start_gateway, settings_factory, database_url):
    gateway = start_gateway(with_console(settings_factory(database_url)))
    engine, repo = gateway.runtime.engine, gateway.runtime.repository
    now = utcnow()
    for n, (sender, code) in enumerate((("kommune-sak", "K-100"), ("kommune-sak", "K-100"), ("annen-kommune", "TEKN-1")), start=1):
        sid = f"00000000-0000-4000-8000-{n:012d}"
        repo.insert_shipment(Shipment(id=sid, sender=sender, title=f"Vedtak {n}", recipient=Party(), documents=(), cost_code=code),
                             content_sha256="0" * 64, events=[Event(at=now, kind="accepted", status=Status.ACCEPTED)])
        with engine.begin() as conn:
            conn.execute(tables.deliveries.insert().values(
                shipment_id=sid, channel="print", idempotency_key=f"{sid}:print", reference=sid, status="PRINTED", submitted_at=now,
                cost_ore=2500, production_cost_ore=300, postage_ore=2200, sheets=1, open=False, receipt={}))
    return gateway


def _client(gw, name: str) -> ConsoleClient:
    c = ConsoleClient(gw.base_url)
    c.login(name)
    return c


def test_the_letters_report_downloads_as_xlsx_and_csv_and_is_audited(gw):
    c = _client(gw, ADMIN)
    today = dt.date.today().isoformat()
    xlsx = c.get(f"/reports/letters?from={today}&to={today}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["Content-Disposition"] == f'attachment; filename="brev-{today}-{today}.xlsx"'
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 4 and {r for row in rows[1:] for r in row if isinstance(r, str) and r.startswith("Vedtak")} == {
        "Vedtak 1", "Vedtak 2", "Vedtak 3"}
    text = c.get(f"/reports/letters?from={today}&to={today}&format=csv").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text), delimiter=";"))) == 4
    assert "console.export" in c.get("/audit").text


def test_costs_per_cost_code_on_screen_and_as_csv_for_the_operator_s_senders(gw):
    admin = _client(gw, ADMIN)
    page = admin.get("/reports").text
    assert "K-100" in page and "TEKN-1" in page
    limited = _client(gw, LIMITED)  # annen-kommune only
    page = limited.get("/reports").text
    assert "TEKN-1" in page and "K-100" not in page
    today = dt.date.today().isoformat()
    lines = limited.get(f"/reports/costs?from={today}&to={today}").content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and "annen-kommune;TEKN-1;1;1;3,00;22,00;25,00" in lines[1]
    assert "kommune-sak" not in "".join(lines)


@pytest.mark.parametrize("query, why", [("from=2026-13-01", "ÅÅÅÅ-MM-DD"), ("from=2026-12-02&to=2026-12-01", "etter til-datoen"),
                                        ("from=2020-01-01&to=2026-12-01", "høyst 400 dager"), ("format=pdf", "ukjent format")])
def test_a_period_or_format_the_reports_cannot_cover_is_refused(gw, query, why):
    response = _client(gw, ADMIN).get("/reports/letters?" + query)
    assert response.status_code == 400 and why in response.text
