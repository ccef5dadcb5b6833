"""Repository and migrations, on SQLite and on PostgreSQL."""
import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.model import Event, Party, Shipment, Status
from gateway.store import migrate
from gateway.store.blobs import FileBlobStore
from gateway.store.engine import create_engine
from gateway.store.repository import IdTaken, Repository
from gateway.store.tables import metadata


@pytest.fixture
def repo(database_url):
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    yield Repository(engine)
    engine.dispose()


def test_migrations_match_tables(repo):
    assert migrate.current_revision(repo.engine) == migrate.head_revision()
    with repo.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_insert_read_and_events(repo):
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
    s = Shipment(id="00000000-0000-4000-8000-000000000001", tenant="a", title="T", recipient=Party(), documents=(), external_ref="R")
    repo.insert_shipment(s, content_sha256="c" * 64, events=[Event(at=now, kind="received", status=Status.RECEIVED)])
    with pytest.raises(IdTaken):
        repo.insert_shipment(s, content_sha256="c" * 64, events=[])
    repo.record_event(s.id, Event(at=now + dt.timedelta(seconds=1), kind="accepted", status=Status.ACCEPTED))
    stored = repo.get(s.id)
    assert stored.shipment == s and stored.status is Status.ACCEPTED
    assert stored.status_changed_at == now + dt.timedelta(seconds=1)
    assert [e.kind for e in repo.events(s.id)] == ["received", "accepted"]
    assert repo.ids_by_external_ref("a", "R") == [s.id] and repo.ids_by_external_ref("b", "R") == []
    assert repo.statuses([s.id, "nope"]) == {s.id: ("a", Status.ACCEPTED, now + dt.timedelta(seconds=1))}


def test_sqlite_is_wal_and_synchronous_full(sqlite_url):
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_blob_store_is_content_addressed(tmp_path):
    store = FileBlobStore(tmp_path)
    ref = store.put(b"hello")
    assert ref == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert store.put(b"hello") == ref and store.get(ref) == b"hello"
    assert store.path(ref).parent.parent.name == "2c"
    assert not list(tmp_path.rglob(".incoming-*"))
