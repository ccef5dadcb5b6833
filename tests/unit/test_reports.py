"""The per-letter report (XLSX read back with openpyxl, CSV with csv) and the costs per cost code,
from letters stored as intake and dispatch store them, on SQLite and PostgreSQL."""
import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from gateway.cli import main
from gateway.delivery import PrintCost, Receipt
from gateway.model import CaseMetadata, Event, Party, PartyKind, Shipment, Status
from gateway.reports import columns, period, write_costs_report, write_letters_report
from gateway.resources import load_table
from gateway.store import reports as stored
from gateway.store.dispatch import DispatchStore
from gateway.store.outcome import DeliveryChange, NewDelivery, Outcome

UTC = dt.timezone.utc
# 2026-11-30 23:30 UTC is 1 December 00:30 in Oslo: a December letter
T0 = dt.datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
PRINTED_ID = "00000000-0000-4000-8000-000000000001"
READ_ID = "00000000-0000-4000-8000-000000000002"
CASE = CaseMetadata(case_year=2026, case_sequence_number=123, journal_year=2026, journal_sequence_number=4567,
                    journal_entry_number=4, title="Vedtak")


def _letter(repo, sid, *, sender="kommune", kind=PartyKind.NO_PERSON, cost_code="4100-12", at=T0, case=CASE):
    shipment = Shipment(id=sid, sender=sender, title=f"Vedtak om byggeløyve {sid[-1]}", documents=(), case_metadata=case,
                        cost_code=cost_code, recipient=Party(identifier="01010112345", kind=kind, name="Åse Øvrebø"))
    repo.insert_shipment(shipment, content_sha256="0" * 64, dispatch=False,
                         events=[Event(at=at, kind="received", status=Status.RECEIVED),
                                 Event(at=at, kind="accepted", status=Status.ACCEPTED)])


def _printed(store, sid, at, *, cost=PrintCost(production_ore=540, postage_ore=1600, sheets=2), key_suffix="print"):
    receipt = Receipt(channel="print", shipment_id=sid, idempotency_key=f"{sid}:{key_suffix}", reference=f"job-{sid[-1]}",
                      status=Status.SENT_TO_PRINT, cost_ore=2000)
    store.apply(Outcome(at=at, deliveries=(NewDelivery(receipt=receipt),),
                        events=((sid, Event(at=at, kind="sent_to_print", status=Status.SENT_TO_PRINT, channel="print",
                                            detail="3 sider, 2 ark")),)))
    printed_at = at + dt.timedelta(hours=20)
    store.apply(Outcome(at=printed_at, delivery_changes=(DeliveryChange(
        idempotency_key=f"{sid}:{key_suffix}", status=Status.PRINTED, open=False,
        cost_ore=cost.total_ore if cost else 2140, print_cost=cost),),
        events=((sid, Event(at=printed_at, kind="printed", status=Status.PRINTED, channel="print", detail="3 sider, 2 ark")),)))


@pytest.fixture
def letters(repo):
    store = DispatchStore(repo.engine)
    _letter(repo, PRINTED_ID)
    _printed(store, PRINTED_ID, T0 + dt.timedelta(hours=1))
    _letter(repo, READ_ID, kind=PartyKind.NO_ORGANIZATION, at=T0 + dt.timedelta(hours=2), case=None, cost_code=None)
    at = T0 + dt.timedelta(hours=3)
    store.apply(Outcome(at=at, deliveries=(NewDelivery(receipt=Receipt(
        channel="altinn3", shipment_id=READ_ID, idempotency_key=f"{READ_ID}:altinn3", reference="corr-9",
        status=Status.SENT_DIGITAL)),),
        events=((READ_ID, Event(at=at, kind="sent_digital", status=Status.SENT_DIGITAL, channel="altinn3", detail="Altinn (corr-9)")),
                (READ_ID, Event(at=at + dt.timedelta(hours=5), kind="read", status=Status.READ, channel="altinn3",
                                detail="Altinn: Read")))))
    return repo, store


def _by_heading(headings, row):
    return dict(zip(headings, row))


def test_the_xlsx_report_has_a_row_per_letter_with_case_statuses_logs_and_costs(letters, tmp_path):
    repo, _ = letters
    out = tmp_path / "brev.xlsx"
    written = write_letters_report(repo, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 1), format="xlsx", out=out)
    assert written.rows == 2
    book = load_workbook(out, read_only=True)
    sheet = book["Brev"]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    headings = list(rows[0])
    assert headings == columns.headings("letters")
    printed, read = (_by_heading(headings, r) for r in rows[1:])
    assert printed["Forsendelses-ID"] == PRINTED_ID and read["Forsendelses-ID"] == READ_ID
    assert printed["Saksnummer"] == "2026/123" and printed["Dokumentnummer"] == "2026/123-4"
    assert printed["Journalpost"] == "2026/4567" and read["Saksnummer"] is None
    assert printed["Mottakertype"] == "Person" and read["Mottakertype"] == "Virksomhet"
    assert printed["Kanal"] == "Utskrift" and read["Kanal"] == "Altinn 3"
    assert printed["Status"] == "Skrevet ut" and read["Status"] == "Lest"
    # times in Oslo (UTC+1 in December), as spreadsheet datetimes
    assert printed["Mottatt"] == dt.datetime(2026, 12, 1, 0, 30)
    assert printed["Sendt til utskrift"] == dt.datetime(2026, 12, 1, 1, 30)
    assert printed["Skrevet ut"] == dt.datetime(2026, 12, 1, 21, 30)
    assert read["Lest"] == dt.datetime(2026, 12, 1, 8, 30) and read["Skrevet ut"] is None
    assert (printed["Produksjonskostnad (kr)"], printed["Porto (kr)"], printed["Totalkostnad (kr)"]) == (5.4, 16, 21.4)
    assert printed["Ark"] == 2 and printed["Konteringskode"] == "4100-12"
    assert "job-1: Skrevet ut" in printed["Utskriftslogg"] and "Sendt til utskrift: 3 sider, 2 ark" in printed["Utskriftslogg"]
    assert printed["Altinn-logg"] is None
    into = io.BytesIO()  # what the console streams to its answer
    write_letters_report(repo, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 1), format="xlsx", out=into)
    assert [r[0] for r in load_workbook(into, read_only=True)["Brev"].iter_rows(values_only=True)] == [
        "Forsendelses-ID", PRINTED_ID, READ_ID]
    assert read["Altinn-logg"].splitlines() == [
        "2026-12-01 03:30:00 Altinn 3 referanse corr-9: Sendt digitalt",
        "2026-12-01 03:30:00 Sendt digitalt: Altinn (corr-9)",
        "2026-12-01 08:30:00 Lest: Altinn: Read",
    ]


def test_the_csv_report_is_semicolons_utf8_with_bom_and_decimal_commas(letters, tmp_path):
    repo, _ = letters
    out = io.BytesIO()
    write_letters_report(repo.engine, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31), format="csv", out=out)
    data = out.getvalue()
    assert data.startswith("\ufeff".encode()) and not out.closed
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    printed = dict(zip(rows[0], rows[1]))
    assert printed["Tittel"] == "Vedtak om byggeløyve 1"
    assert (printed["Produksjonskostnad (kr)"], printed["Porto (kr)"], printed["Totalkostnad (kr)"]) == ("5,40", "16,00", "21,40")
    assert printed["Mottatt"] == "2026-12-01 00:30:00"


def test_the_period_is_whole_days_in_oslo_and_senders_filter(letters, tmp_path):
    repo, _ = letters
    november = tmp_path / "nov.csv"
    assert write_letters_report(repo, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), format="csv", out=november).rows == 0
    assert write_letters_report(repo, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 1), format="csv", out=november,
                                senders=["andre"]).rows == 0
    exact = period(T0, T0 + dt.timedelta(hours=1))
    assert [r.id for r in stored.letter_records(repo.engine, start=exact.start, end=exact.end)] == [PRINTED_ID]
    with pytest.raises(ValueError):
        period(dt.date(2026, 12, 2), dt.date(2026, 12, 1))


def test_letters_are_paged_by_time_and_id_each_exactly_once(repo):
    ids = [f"00000000-0000-4000-8000-00000000001{i}" for i in range(7)]
    for i, sid in enumerate(ids):  # pairs of letters share a time: the id breaks the tie across pages
        _letter(repo, sid, at=T0 + dt.timedelta(minutes=i // 2))
    p = period(dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    got = [r.id for r in stored.letter_records(repo.engine, start=p.start, end=p.end, page_size=2)]
    assert got == ids
    assert stored.count_letters(repo.engine, start=p.start, end=p.end) == 7


def test_costs_per_cost_code_sender_and_month_for_a_finance_system(letters, tmp_path):
    repo, store = letters
    # another letter on the same code and month, one on another code, one for another sender,
    # and one charged without a split (the whole cost is production cost)
    more = [("00000000-0000-4000-8000-000000000003", "kommune", "4100-12"), ("00000000-0000-4000-8000-000000000004", "kommune", "4200-01"),
            ("00000000-0000-4000-8000-000000000005", "skole", "4100-12"), ("00000000-0000-4000-8000-000000000006", "skole", None)]
    for sid, sender, code in more:
        _letter(repo, sid, sender=sender, cost_code=code)
        _printed(store, sid, T0 + dt.timedelta(hours=4), cost=None if code is None else PrintCost(production_ore=600, postage_ore=1600, sheets=3))
    out = tmp_path / "kostnader.csv"
    written = write_costs_report(repo, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31), out=out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == columns.headings("costs")
    assert rows[1:] == [
        ["2026", "12", "kommune", "4100-12", "2", "5", "11,40", "32,00", "43,40", "Brevutsending kommune 2026-12"],
        ["2026", "12", "kommune", "4200-01", "1", "3", "6,00", "16,00", "22,00", "Brevutsending kommune 2026-12"],
        ["2026", "12", "skole", "", "1", "0", "21,40", "0,00", "21,40", "Brevutsending skole 2026-12"],
        ["2026", "12", "skole", "4100-12", "1", "3", "6,00", "16,00", "22,00", "Brevutsending skole 2026-12"],
    ]
    assert written.rows == 4 and written.total_kroner == "108,80"
    only_school = tmp_path / "skole.csv"
    assert write_costs_report(repo, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31), out=only_school, senders=["skole"]).rows == 2


def test_the_cli_writes_both_reports(letters, tmp_path, monkeypatch, capsys):
    repo, _ = letters
    monkeypatch.setenv("GATEWAY_STORAGE_DATABASE_URL", repo.engine.url.render_as_string(hide_password=False))
    out = tmp_path / "brev.xlsx"
    assert main(["report", "letters", "--from", "2026-12-01", "--to", "2026-12-31", "--format", "xlsx", "--out", str(out)]) == 0
    assert "2 letters" in capsys.readouterr().out
    book = load_workbook(out, read_only=True)
    assert sum(1 for _ in book["Brev"].iter_rows()) == 3
    book.close()
    costs = tmp_path / "k.csv"
    assert main(["report", "costs", "--from", "2026-12-01", "--to", "2026-12-31", "--out", str(costs), "--sender", "kommune"]) == 0
    assert "21,40 kr in all" in capsys.readouterr().out
    assert main(["report", "letters", "--from", "2026-12-31", "--to", "2026-12-01", "--out", str(out)]) == 2


def test_every_status_kind_and_column_has_its_words():
    from gateway.reports.columns import _FIELDS

    table = load_table("reports")
    assert {str(s) for s in Status} <= set(table["status"])
    assert {str(k) for k in PartyKind} <= set(table["recipient_kind"])
    known = set(_FIELDS) | {"sheets", "production_cost", "postage", "total_cost"} | {f"status.{s}" for s in Status}
    assert set(columns.keys("letters")) <= known
    assert columns.kroner(1234) == Decimal("12.34")
