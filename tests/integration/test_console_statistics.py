"""The console's statistics page over a real socket: volumes per period and channel, the read
rate by the deadline, why letters went to print, costs and the saving, as charts with the
numbers beside them; limited to an operator's senders, masked for viewers."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from lxml import etree, html

from gateway.model import Event, Party, Shipment, Status
from gateway.store import tables
from tests.console_helpers import ADMIN, LIMITED, VIEWER, ConsoleClient, with_console

UTC = dt.timezone.utc
SENT = dt.datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # Tuesday 10 November, Oslo
FNR = "01017012345"


@pytest.fixture
def gw(start_gateway, settings_factory, database_url):
    gateway = start_gateway(with_console(settings_factory(database_url)))
    engine, repo = gateway.runtime.engine, gateway.runtime.repository
    n = 0

    def letter(sender: str, channel: str, *, cost: int | None = None, read: bool = False, reason: str | None = None,
               day: int = 0) -> None:
        nonlocal n
        n += 1
        sid = f"00000000-0000-4000-8000-{n:012d}"
        at = SENT + dt.timedelta(days=day)
        repo.insert_shipment(Shipment(id=sid, sender=sender, title="Vedtak", recipient=Party(), documents=()),
                             content_sha256="0" * 64, events=[Event(at=at, kind="accepted", status=Status.ACCEPTED)])
        with engine.begin() as conn:
            conn.execute(tables.deliveries.insert().values(
                shipment_id=sid, channel=channel, idempotency_key=f"{sid}:{channel}", reference=sid, status="SENT", submitted_at=at,
                read_deadline=None if channel == "print" else at + dt.timedelta(days=7), cost_estimate_ore=2600 if cost else None,
                cost_ore=cost, open=False, receipt={}))
            if read:
                conn.execute(tables.events.insert().values(shipment_id=sid, at=at + dt.timedelta(hours=3), kind="read", detail=""))
            if reason:
                conn.execute(tables.events.insert().values(shipment_id=sid, at=at, kind="routed", channel="print", detail=reason))

    letter("kommune-sak", "altinn3", read=True)
    letter("kommune-sak", "altinn3", read=True, day=1)
    letter("kommune-sak", "altinn3", day=7)  # the next week, never read
    letter("kommune-sak", "print", cost=2500, reason=f"utskrift (reservert mot digital post) {FNR}")
    letter("annen-kommune", "print", cost=3500, reason="utskrift (ingen digital postkasse)", day=1)
    return gateway


def _page(gw, name: str, query: str) -> html.HtmlElement:
    c = ConsoleClient(gw.base_url)
    c.login(name)
    response = c.get("/statistics?" + query)
    assert response.status_code == 200, response.text[:500]
    return html.fromstring(response.text)


def _table(page: html.HtmlElement, table_id: str) -> list[list[str]]:
    return [[cell.text_content().strip() for cell in row.xpath("td")] for row in page.get_element_by_id(table_id).xpath("tr[td]")]


def test_volumes_read_rate_reasons_and_costs(gw):
    page = _page(gw, ADMIN, "bucket=week&from=2026-11-09&to=2026-11-22")
    assert _table(page, "volume") == [["uke 46", "2", "2", "4"], ["uke 47", "1", "0", "1"]]  # altinn3, print, sum
    assert page.get_element_by_id("read-rate").text_content().strip() == "66.7 %"  # 2 of 3 read by their deadline
    reasons = _table(page, "reasons")
    assert sorted(r[0] for r in reasons) == ["rett til print"] * 2 and any(FNR in r[2] for r in reasons)  # admins see it
    assert page.get_element_by_id("printed").text == "2" and page.get_element_by_id("cost").text == "60.00 kr"
    assert page.get_element_by_id("digital").text == "3" and page.get_element_by_id("saving").text == "90.00 kr"  # 3 × 30 kr
    charts = page.xpath("//*[local-name()='svg']")
    assert len(charts) == 2 and all(chart.get("role") == "img" for chart in charts)
    bars = [t.text for t in page.xpath("//*[local-name()='rect']/*[local-name()='title']")]
    assert bars == ["uke 46: altinn3 2", "uke 46: print 2", "uke 47: altinn3 1"]  # no bar for nothing


def test_an_operator_sees_the_figures_of_their_senders_and_a_viewer_no_national_ids(gw):
    limited = _page(gw, LIMITED, "bucket=day&from=2026-11-10&to=2026-11-11")
    assert _table(limited, "volume") == [["10.11", "0", "0"], ["11.11", "1", "1"]]  # print only (annen-kommune), sum
    viewer = _page(gw, VIEWER, "bucket=month&from=2026-11-01&to=2026-11-30")
    text = etree.tostring(viewer, encoding="unicode")
    assert FNR not in text and "*********45" in text  # in the table and in the chart's labels


@pytest.mark.parametrize("query, why", [
    ("bucket=year", "ukjent periode"),
    ("bucket=day&from=2026-13-01", "ÅÅÅÅ-MM-DD"),
    ("bucket=day&from=2026-11-10&to=2026-11-01", "etter til-datoen"),
    ("bucket=day&from=2000-01-01&to=2026-11-01", "for mange perioder"),
])
def test_a_range_that_cannot_be_drawn_is_refused_with_a_reason(gw, query, why):
    c = ConsoleClient(gw.base_url)
    c.login(ADMIN)
    response = c.get("/statistics?" + query)
    assert response.status_code == 400 and why in response.text and re.search(r"<svg", response.text) is None
