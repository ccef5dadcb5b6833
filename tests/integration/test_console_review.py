"""Attacks on the console found in review (issue #13), each with the fix it needed: spreadsheet
formula injection in the report downloads, and parameters that answered 500 instead of 400."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from gateway.model import Event, Party, Shipment, Status, utcnow
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
