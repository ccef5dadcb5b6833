"""The console's store: migration 0006 fills the search columns of letters stored before it,
and the repository fills them on insert; on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from gateway.cli import main
from gateway.model import CaseMetadata, Event, ImportMetadata, Party, PartyKind, PostalAddress, Shipment, Status
from gateway.passwords import verify_password
from gateway.store import migrate, tables
from gateway.store.console_letters import LetterQuery, LetterReader
from gateway.store.engine import create_engine
from gateway.store.repository import Repository
from gateway.stored_form import to_data

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone.utc)
FILED = Shipment(id="00000000-0000-4000-8000-000000000001", sender="a", title="Vedtak om Tilskudd", documents=(),
                 recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON, name="Ola Nordmann"),
                 case_metadata=CaseMetadata(case_year=2026, case_sequence_number=123, journal_year=2026,
                                            journal_sequence_number=4711, journal_entry_number=4))
IMPORTED = Shipment(id="00000000-0000-4000-8000-000000000002", sender="a", title="Søknad", documents=(),
                    recipient=Party(kind=PartyKind.UNKNOWN, address=PostalAddress(name="Kari Hansen", lines=("Gata 1",))),
                    import_metadata=ImportMetadata(case_year=2025, case_sequence_number=9))
COLUMNS = ("case_year", "case_sequence_number", "document_number", "recipient_identifier", "recipient_name_key", "title_key")
EXPECTED = {FILED.id: (2026, 123, 4, "15076500565", "ola nordmann", "vedtak om tilskudd"),
            IMPORTED.id: (2025, 9, None, None, "kari hansen", "søknad")}


def _columns(engine: sa.Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tables.shipments.c.id, *(tables.shipments.c[c] for c in COLUMNS))).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_migration_0006_fills_the_search_columns_of_older_letters(database_url):
    engine = create_engine(database_url)
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        for shipment in (FILED, IMPORTED):
            conn.execute(sa.text("INSERT INTO shipments (id, tenant, status, title, external_ref, content_sha256, data, "
                                 "created_at, status_changed_at) VALUES (:id, 'a', 'ACCEPTED', :title, NULL, :sha, :data, :at, :at)"),
                         dict(id=shipment.id, title=shipment.title, sha="c" * 64, data=json.dumps(to_data(shipment)), at=NOW))
    migrate.upgrade(engine)
    try:
        found = _columns(engine)
        # SQLite's lower() folds ASCII only: "søknad" is lower-case already in the test data
        assert found == EXPECTED
        reader = LetterReader(engine)
        assert [r["id"] for r in reader.search(LetterQuery(case_year=2026, case_sequence_number=123), limit=10).rows] == [FILED.id]
        assert [r["id"] for r in reader.search(LetterQuery(recipient_name="KARI"), limit=10).rows] == [IMPORTED.id]
    finally:
        engine.dispose()


def test_the_repository_fills_them_on_insert_and_the_search_escapes_wildcards(repo):
    for shipment in (FILED, IMPORTED):
        repo.insert_shipment(shipment, content_sha256="c" * 64, events=[Event(at=NOW, kind="received", status=Status.RECEIVED)])
    assert _columns(repo.engine) == EXPECTED
    reader = LetterReader(repo.engine)
    assert [r["id"] for r in reader.search(LetterQuery(title="vedtak om t"), limit=10).rows] == [FILED.id]
    assert reader.search(LetterQuery(title="%"), limit=10).rows == [] and reader.search(LetterQuery(title="_"), limit=10).rows == []
    assert reader.search(LetterQuery(senders=("b",)), limit=10).rows == []
    page = reader.search(LetterQuery(), limit=1)
    assert len(page.rows) == 1 and page.after is not None
    rest = reader.search(LetterQuery(), limit=1, after=page.after)
    assert len(rest.rows) == 1 and rest.after is None and rest.rows[0]["id"] != page.rows[0]["id"]


def test_operator_add_prints_an_entry_to_paste(capsys, monkeypatch):
    import io
    import tomllib

    monkeypatch.setattr("sys.stdin", io.StringIO("hemmelig\n"))
    assert main(["operator", "add", "kari", "--role", "admin", "--sender", "kommune-sak"]) == 0
    [entry] = tomllib.loads(capsys.readouterr().out)["operators"]
    assert entry["name"] == "kari" and entry["role"] == "admin" and entry["senders"] == ["kommune-sak"]
    assert verify_password("hemmelig", entry["password_hash"])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["operator", "hash"]) == 2
